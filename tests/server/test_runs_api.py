"""Stored runs that stay tidy: run:start's origin, GET /api/runs's filters and pages, DELETE /api/runs/<id>."""

import threading

import pytest

from nnengine.config import parse_config
from tests.support.configs import tiny_config
from tests.support.runs import wait_status
from tests.support.sockets import WAIT_S, SocketUser, socket_client
from tests.support.store import NAMED, first_schema_database

LAB = {"kind": "lab", "lab": "batchnorm", "batch": "batch-1", "key": "3-bn", "label": "Batch norm"}


def start(user, origin=None, **training):
    payload = {"config": tiny_config(**training)}
    if origin is not None:
        payload["origin"] = origin
    return user.emit("run:start", payload)


def trained(user, origin=None, **training):
    ack = start(user, origin, **training)
    assert "run_id" in ack, ack
    user.wait_finished(ack["run_id"])
    return ack["run_id"]


def count(client):
    return client.get("/api/runs").get_json()["total"]


# -- run:start's origin --------------------------------------------------------------

@pytest.mark.parametrize("origin, stored", [
    ("dashboard", {"kind": "dashboard"}),
    ({"kind": "dashboard"}, {"kind": "dashboard"}),
    (LAB, {**LAB, "lab_title": "Batch normalisation"}),
    ({"kind": "lab", "lab": "overfitting", "batch": "b_2", "label": "  Dropout  "},
     {"kind": "lab", "lab": "overfitting", "batch": "b_2", "label": "Dropout",
      "lab_title": "Overfitting, weight decay and dropout"}),
])
def test_the_origin_of_a_run_is_stored_and_returned(user, client, origin, stored):
    run_id = trained(user, origin)
    assert client.get(f"/api/runs/{run_id}").get_json()["origin"] == stored
    assert client.get("/api/runs").get_json()["runs"][0]["origin"] == stored


def test_without_an_origin_a_run_is_untagged_as_before(user, client):
    run_id = trained(user)  # the socket contract's payload {config}
    other = user.emit("run:start", {"config": tiny_config(), "origin": None})["run_id"]
    user.wait_finished(other)
    for rid in (run_id, other):
        assert client.get(f"/api/runs/{rid}").get_json()["origin"] is None
    assert client.get("/api/runs?origin=untagged").get_json()["total"] == 2


def test_a_rerun_names_its_source(user, client):
    source = trained(user, "dashboard")
    rerun = trained(user, {"kind": "rerun", "source": source})
    origin = client.get(f"/api/runs/{rerun}").get_json()["origin"]
    assert origin == {"kind": "rerun", "source": source, "source_exists": True, "source_name": None}
    assert [r["run_id"] for r in client.get(f"/api/runs?source={source}").get_json()["runs"]] == [rerun]


def test_a_rerun_keeps_its_sources_name_once_the_source_is_deleted(user, client):
    config = dict(tiny_config(), name="baseline")
    ack = user.emit("run:start", {"config": config, "origin": "dashboard"})
    user.wait_finished(ack["run_id"])
    source = ack["run_id"]
    rerun = user.emit("run:start", {"config": config, "origin": {"kind": "rerun", "source": source}})["run_id"]
    user.wait_finished(rerun)
    assert client.get(f"/api/runs/{rerun}").get_json()["origin"] == {
        "kind": "rerun", "source": source, "source_name": "baseline", "source_exists": True}
    assert client.delete(f"/api/runs/{source}").status_code == 204
    assert client.get(f"/api/runs/{rerun}").get_json()["origin"] == {
        "kind": "rerun", "source": source, "source_name": "baseline", "source_exists": False}
    assert client.get("/api/runs").get_json()["runs"][0]["origin"]["source_name"] == "baseline"


@pytest.mark.parametrize("origin, field, says", [
    ("lab", "origin", "as text can only be 'dashboard'"),
    (["dashboard"], "origin", "must be an object"),
    (7, "origin", "got int"),
    ({}, "origin.kind", "must be one of dashboard, lab, rerun, got None"),
    ({"kind": "script"}, "origin.kind", "got 'script'"),
    ({"kind": "dashboard", "lab": "x"}, "origin.lab", "is not a field of a dashboard origin"),
    ({"kind": "lab", "batch": "b"}, "origin.lab", "batchnorm, init, optimizers, overfitting"),
    ({"kind": "lab", "lab": "paths", "batch": "b"}, "origin.lab", "got 'paths'"),
    ({"kind": "lab", "lab": "init"}, "origin.batch", "got None"),
    ({"kind": "lab", "lab": "init", "batch": "../etc"}, "origin.batch", "letters, digits"),
    ({"kind": "lab", "lab": "init", "batch": "b", "key": 3}, "origin.key", "plain text"),
    ({"kind": "lab", "lab": "init", "batch": "b", "label": "x" * 121}, "origin.label", "1 to 120 characters"),
    ({"kind": "lab", "lab": "init", "batch": "b", "label": "a\nb"}, "origin.label", "plain text"),
    ({"kind": "lab", "lab": "init", "batch": "b", "label": "  "}, "origin.label", "plain text"),
    ({"kind": "lab", "lab": "init", "batch": "b", "source": "x"}, "origin.source", "not a field of a lab origin"),
    ({"kind": "rerun"}, "origin.source", "must be the id of a stored run"),
    ({"kind": "rerun", "source": "x", "source_name": "forged"}, "origin.source_name", "is not a field of a rerun origin"),
    ({"kind": "rerun", "source": "no such run"}, "origin.source", "must be the id of a stored run"),
    ({"kind": "rerun", "source": "unknownrun123"}, "origin.source", "names no stored run"),
])
def test_a_bad_origin_is_refused_in_the_ack_and_nothing_is_stored(user, client, origin, field, says):
    ack = start(user, origin)
    assert "run_id" not in ack
    assert ack["error"].startswith(field + " ") and says in ack["error"], ack
    assert ack["errors"] == [{"field": field, "message": ack["error"][len(field) + 1:]}]
    assert count(client) == 0
    assert "run_id" in start(user, "dashboard")  # the connection goes on


def test_a_bad_origin_costs_no_start(make_app):
    app = make_app(START_RATE="1/60")
    sio = socket_client(app)
    try:
        for _ in range(3):
            ack = sio.emit("run:start", {"config": tiny_config(), "origin": {"kind": "?"}}, callback=True)
            assert ack["error"].startswith("origin.kind")
        ack = sio.emit("run:start", {"config": tiny_config(), "origin": "dashboard"}, callback=True)
        assert "run_id" in ack, ack  # the one start of the minute was not spent on the refusals
    finally:
        sio.disconnect()


# -- GET /api/runs: filters, pages, facets ---------------------------------------------

@pytest.fixture
def tagged(app, user):
    """Runs of every origin (oldest first): 2 dashboard, 3 batch-norm lab (2 batches), 1 re-run, 1 untagged."""
    d1 = trained(user, "dashboard")
    runs = {"d1": d1}
    runs["b1"] = trained(user, {**LAB, "batch": "one"})
    runs["b2"] = trained(user, {**LAB, "batch": "one", "key": "3-plain", "label": "Normal"})
    runs["b3"] = trained(user, {**LAB, "batch": "two"})
    runs["x1"] = trained(user, {"kind": "rerun", "source": d1})
    runs["u1"] = trained(user)
    runs["d2"] = trained(user, "dashboard", epochs=1)
    return runs


def listed(client, query):
    response = client.get(f"/api/runs?{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_list_filters_by_origin_status_text_and_batch(client, tagged):
    t = tagged
    assert [r["run_id"] for r in listed(client, "")["runs"]] == [t[k] for k in ("d2", "u1", "x1", "b3", "b2", "b1", "d1")]
    for query, keys in [
        ("origin=dashboard", ["d2", "d1"]),
        ("origin=lab:batchnorm", ["b3", "b2", "b1"]),
        ("origin=lab&batch=one", ["b2", "b1"]),
        ("origin=rerun", ["x1"]),
        ("origin=dashboard,rerun,untagged", ["d2", "u1", "x1", "d1"]),
        ("origin=lab:overfitting", []),
        ("status=done&origin=dashboard", ["d2", "d1"]),
        ("status=active", []),
        ("q=Normal", ["b3", "b2", "b1"]),         # the lab's title "Batch normalisation" and a label
        ("q=normal+3-plain", ["b2"]),
        ("q=%22batch+norm%22+one", ["b2", "b1"]),
        (f"q={t['u1'][:9]}", ["u1"]),              # a run's id
    ]:
        body = listed(client, query)
        assert [r["run_id"] for r in body["runs"]] == [t[k] for k in keys], query
        assert body["total"] == len(keys), query


def test_the_list_pages_and_says_how_many_runs_match(client, tagged):
    first = listed(client, "limit=3")
    second = listed(client, "limit=3&offset=3")
    last = listed(client, "limit=3&offset=6")
    assert (first["total"], first["limit"], first["offset"]) == (7, 3, 0)
    assert [len(p["runs"]) for p in (first, second, last)] == [3, 3, 1]
    every = [r["run_id"] for p in (first, second, last) for r in p["runs"]]
    assert every == [r["run_id"] for r in listed(client, "")["runs"]]
    assert listed(client, "offset=50")["runs"] == []
    lab_page = listed(client, "origin=lab&limit=2&offset=2")
    assert [r["run_id"] for r in lab_page["runs"]] == [tagged["b1"]] and lab_page["total"] == 3
    run = first["runs"][0]
    assert {"run_id", "status", "created_at", "finished_at", "summary", "config"} <= set(run)  # design.md's keys
    assert run["last_epoch"] == 1 and "metrics" not in run


def test_facets_count_every_origin_and_status(client, tagged):
    facets = listed(client, "facets=1&limit=1")["facets"]
    origins = {f["origin"]: f for f in facets["origins"]}
    assert {k: f["count"] for k, f in origins.items()} == {"dashboard": 2, "lab:batchnorm": 3, "rerun": 1, "untagged": 1}
    assert origins["lab:batchnorm"]["title"] == "Batch normalisation"
    assert facets["statuses"] == {"done": 7}
    assert "facets" not in listed(client, "")


@pytest.mark.parametrize("query, says", [
    ("limit=0", "limit must be a whole number from 1 to 1,000, got '0'"),
    ("limit=1001", "limit must be a whole number from 1 to 1,000"),
    ("limit=ten", "got 'ten'"),
    ("limit=2.5", "limit must be a whole number"),
    ("offset=-1", "offset must be a whole number from 0"),
    ("origin=script", "origin must be one of dashboard, rerun, lab, untagged, lab:batchnorm"),
    ("origin=dashboard,lab:paths", "got 'lab:paths'"),
    ("status=finished", "status must be one of queued, running, done"),
    ("status=done,active,nope", "got 'nope'"),
    ("q=" + "x" * 201, "q must be at most 200 characters, got 201"),
    ("q=" + "+".join("abcdefghijk"), "q may have at most 10 words, got 11"),
    ("batch=a/b", "batch must be an id"),
    ("source=%20", "source must be an id"),
    ("facets=maybe", "facets must be 1 or 0"),
    ("page=2", "unknown query parameter 'page'; allowed: origin, status, q, batch, source, limit, offset"),
    ("limit=5&limit=6", "limit is given 2 times"),
])
def test_a_bad_list_query_is_a_400_that_names_it(client, query, says):
    response = client.get(f"/api/runs?{query}")
    assert response.status_code == 400
    assert says in response.get_json()["error"]


def test_the_list_still_refuses_when_listing_is_off(make_app):
    client = make_app(LIST_RUNS=False).test_client()
    assert client.get("/api/runs?origin=lab").status_code == 403


# -- DELETE /api/runs/<run_id> --------------------------------------------------------

def test_delete_removes_the_run_its_metrics_and_its_weights(app, client, user):
    run_id = trained(user, "dashboard")
    keep = trained(user, "dashboard")
    assert client.get(f"/api/runs/{run_id}/weights.npz").status_code == 200
    response = client.delete(f"/api/runs/{run_id}", headers={"Origin": "http://localhost:5000"})
    assert response.status_code == 204 and response.data == b""
    for path in (f"/api/runs/{run_id}", f"/api/runs/{run_id}/weights.npz", f"/runs/{run_id}"):
        assert client.get(path).status_code == 404, path
    assert [r["run_id"] for r in client.get("/api/runs").get_json()["runs"]] == [keep]
    from server.store.schema import metrics
    from tests.support.store import stored_rows

    assert stored_rows(app.extensions["store"], metrics, run_id) == 0
    again = client.delete(f"/api/runs/{run_id}")
    assert again.status_code == 404 and again.get_json() == {"error": f"unknown run {run_id}"}


@pytest.mark.parametrize("run_id", ["unknownrun123", "bad%20id!"])
def test_deleting_an_unknown_run_is_a_json_404(client, run_id):
    response = client.delete(f"/api/runs/{run_id}")
    assert response.status_code == 404 and "unknown run" in response.get_json()["error"]


@pytest.fixture
def one_worker(make_app):
    """An app that trains one run at a time, and a socket user of it."""

    app = make_app(MAX_CONCURRENT_RUNS=1)
    sio = socket_client(app)
    yield app, SocketUser(sio)
    if sio.is_connected():
        sio.disconnect()


def test_a_queued_or_running_run_is_not_deleted(one_worker, gated_train):
    app, user = one_worker
    client = app.test_client()
    running = start(user, "dashboard")["run_id"]
    queued = start(user, "dashboard")["run_id"]
    wait_status(app, running, ("running",))
    for run_id, status in ((running, "running"), (queued, "queued")):
        response = client.delete(f"/api/runs/{run_id}")
        assert response.status_code == 409, run_id
        assert response.get_json() == {"error": f"run {run_id} is queued or running; stop it first, then delete it"}
        assert client.get(f"/api/runs/{run_id}").get_json()["status"] == status
    gated_train.release.set()
    user.wait_finished(queued)
    assert client.delete(f"/api/runs/{running}").status_code == 204
    assert client.delete(f"/api/runs/{queued}").status_code == 204


def test_a_run_the_database_calls_active_is_not_deleted_even_if_no_worker_has_it(app, client):
    # e.g. a queued run being stopped: it has left the queue, its outcome is not written yet
    app.extensions["store"].create_run("leftqueue1", tiny_config())
    assert client.delete("/api/runs/leftqueue1").status_code == 409
    assert app.extensions["store"].get_run("leftqueue1")["status"] == "queued"


def test_a_delete_waits_for_a_run_being_submitted_and_then_refuses(app, monkeypatch):
    """A delete that arrives while submit() is recording a run (stored, not yet in the queue) waits
    for it (the manager's lock) and refuses it (queued), instead of deleting a run about to train."""
    manager, store = app.extensions["runs"], app.extensions["store"]
    recording, release = threading.Event(), threading.Event()
    real_create = store.create_run

    def slow_create(*args, **kwargs):
        real_create(*args, **kwargs)
        recording.set()
        assert release.wait(WAIT_S)

    monkeypatch.setattr(store, "create_run", slow_create)
    monkeypatch.setattr("nnengine.trainer.train", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained")))
    manager.max_workers = 0  # nothing leaves the queue
    submitted = threading.Thread(target=manager.submit, args=(parse_config(tiny_config()), "sid"),
                                 kwargs={"run_id": "beingmade1"})
    submitted.start()
    assert recording.wait(WAIT_S)
    outcome = []
    deleting = threading.Thread(target=lambda: outcome.append(manager.delete("beingmade1")))
    deleting.start()
    deleting.join(0.2)
    assert deleting.is_alive() and not outcome  # waits for submit to finish recording
    release.set()
    submitted.join(WAIT_S)
    deleting.join(WAIT_S)
    assert outcome == ["active"] and store.get_run("beingmade1") is not None


def test_a_cross_site_delete_is_refused(app, client, user):
    run_id = trained(user, "dashboard")
    for origin in ("http://evil.com", "http://localhost:5001", "null"):
        response = client.delete(f"/api/runs/{run_id}", headers={"Origin": origin})
        assert response.status_code == 403, origin
        assert "origin" in response.get_json()["error"]
    assert client.get(f"/api/runs/{run_id}").status_code == 200  # still there
    assert client.delete(f"/api/runs/{run_id}", headers={"Host": "evil.com"}).status_code == 400
    assert client.delete(f"/api/runs/{run_id}", headers={"Origin": "http://127.0.0.1:5000"}).status_code == 204


# -- a database of the first schema ---------------------------------------------------

def test_the_app_opens_a_database_of_the_first_schema_with_its_runs(make_app, tmp_path):
    path = tmp_path / "first.sqlite"
    first_schema_database(path)
    client = make_app(DATABASE=str(path)).test_client()
    body = client.get("/api/runs?facets=1").get_json()
    assert [r["run_id"] for r in body["runs"]] == ["old3", "old2", "old1"]
    assert [r["status"] for r in body["runs"]] == ["interrupted", "stopped", "done"]  # old3 was left queued
    assert body["facets"]["origins"] == [{"origin": "untagged", "count": 3}]
    assert client.get("/api/runs/old1").get_json()["config"] == NAMED
    assert client.get("/api/runs/old1/weights.npz").data == b"PK-old1-weights"
    page = client.get("/runs/old1")
    assert page.status_code == 200 and b"<title>Baseline net" in page.data
    assert client.get("/api/runs?q=baseline").get_json()["total"] == 1
    assert client.delete("/api/runs/old2").status_code == 204


def test_a_deleted_runs_queue_place_is_free_at_once(app, client, user):
    """An address that trained and deleted its whole queue's worth of runs may start again at once."""
    limit = app.extensions["queue_limit"].limit
    for _ in range(limit):
        run_id = trained(user, "dashboard")
        assert client.delete(f"/api/runs/{run_id}", headers={"Origin": "http://localhost:5000"}).status_code == 204
    assert app.extensions["queue_limit"].places.runs_of("127.0.0.1") == {}
    assert "run_id" in start(user, "dashboard")
