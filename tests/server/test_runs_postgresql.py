"""The app on PostgreSQL (`--db postgresql://...`): runs stream, are stored, listed, read back and
deleted as on SQLite; with the database server down every reader and writer gets a clear refusal
(a JSON 503, an ack {error}), and all works again once it is back. Needs Debian's postgresql
(see tests/support/store_backends.py: skipped without it, failed without it under CI)."""

import pytest

from tests.support.configs import tiny_config
from tests.support.runs import wait_status
from tests.support.sockets import SocketUser, socket_client

ORIGIN = {"Origin": "http://localhost:5000"}


@pytest.fixture
def pg_app(make_app, postgres_url):
    """An app on an empty PostgreSQL database (it creates the schema at start)."""
    return make_app(DATABASE=postgres_url)


@pytest.fixture
def pg_user(pg_app):
    sio = socket_client(pg_app)
    yield SocketUser(sio)
    if sio.is_connected():
        sio.disconnect()


def test_a_run_streams_is_stored_listed_read_back_and_deleted(pg_app, pg_user):
    assert pg_app.extensions["store"].backend == "postgresql"
    client = pg_app.test_client()
    run_id = pg_user.start(tiny_config(epochs=4))["run_id"]
    name, done = pg_user.wait_finished(run_id)
    assert name == "run:done" and done["summary"]["status"] == "done"
    streamed = pg_user.events("run:epoch", run_id)
    assert [e["epoch"] for e in streamed] == [0, 1, 2, 3, 4]

    listed = client.get("/api/runs?facets=1").get_json()
    assert [r["run_id"] for r in listed["runs"]] == [run_id] and listed["total"] == 1
    assert listed["runs"][0]["last_epoch"] == 4 and listed["facets"]["statuses"] == {"done": 1}
    stored = client.get(f"/api/runs/{run_id}").get_json()
    assert stored["status"] == "done" and stored["summary"] == done["summary"]
    assert stored["metrics"] == [{k: v for k, v in e.items() if k != "run_id"} for e in streamed]
    weights = client.get(f"/api/runs/{run_id}/weights.npz")
    assert weights.status_code == 200 and weights.data[:2] == b"PK"
    assert pg_user.emit("run:watch", {"run_id": run_id})["metrics"] == stored["metrics"]
    # a re-run names its source, found by the search words
    rerun = pg_user.emit("run:start", {"config": tiny_config(epochs=1), "origin": {"kind": "rerun", "source": run_id}})
    pg_user.wait_finished(rerun["run_id"])
    assert [r["run_id"] for r in client.get("/api/runs?q=re-run").get_json()["runs"]] == [rerun["run_id"]]

    assert client.delete(f"/api/runs/{run_id}", headers=ORIGIN).status_code == 204
    assert client.get(f"/api/runs/{run_id}").status_code == 404
    assert client.get(f"/api/runs/{run_id}/weights.npz").status_code == 404
    assert client.get(f"/api/runs/{rerun['run_id']}").get_json()["origin"]["source_exists"] is False


def test_a_run_left_running_by_a_previous_process_is_marked_interrupted(make_app, postgres_url):
    first = make_app(DATABASE=postgres_url)
    first.extensions["store"].create_run("leftrunning", tiny_config())
    first.extensions["store"].set_status("leftrunning", "running")
    second = make_app(DATABASE=postgres_url)  # a restart: same database, schema already there
    assert second.test_client().get("/api/runs/leftrunning").get_json()["status"] == "interrupted"


def test_with_the_database_server_down_every_request_is_refused_clearly_then_served_again(
        postgres, pg_app, pg_user):
    client = pg_app.test_client()
    kept = pg_user.start(tiny_config(epochs=1))["run_id"]
    pg_user.wait_finished(kept)
    postgres.stop()
    try:
        for path in ("/api/runs", f"/api/runs/{kept}", f"/api/runs/{kept}/weights.npz", f"/runs/{kept}"):
            response = client.get(path)
            assert response.status_code == 503, path
            assert response.headers["Retry-After"] == "5"
            if path.startswith("/api/"):
                assert response.get_json() == {
                    "error": "the run database is unavailable: the database server is not reachable"}, path
        assert client.delete(f"/api/runs/{kept}", headers=ORIGIN).status_code == 503
        assert pg_user.emit("run:start", {"config": tiny_config()}) == {
            "error": "the run could not be recorded: the database server is not reachable"}
        assert pg_user.emit("run:watch", {"run_id": kept}) == {
            "error": "the run could not be read: the database server is not reachable"}
        assert client.get("/api/schema").status_code == 200  # what needs no database is served
        assert client.get("/").status_code == 200
    finally:
        postgres.start()
    assert client.get(f"/api/runs/{kept}").get_json()["status"] == "done"
    run_id = pg_user.start(tiny_config(epochs=1))["run_id"]
    assert pg_user.wait_finished(run_id)[0] == "run:done"
    assert wait_status(pg_app, run_id, ("done",))["metrics"][-1]["epoch"] == 1


def test_a_run_whose_database_goes_away_mid_run_tells_its_client(postgres, pg_app, pg_user, gated_train):
    run_id = pg_user.start(tiny_config())["run_id"]
    pg_user.wait_for("run:epoch", run_id)
    postgres.stop()
    try:
        gated_train.release.set()
        name, payload = pg_user.wait_finished(run_id)
    finally:
        postgres.start()
    assert name == "run:error"
    assert payload["error"] == ("the run finished (done) but could not be saved: the database server is not reachable"
                                " (missing: its weights and how it ended)")
    # The epoch stored before the server went stays; the run is not recorded as finished and whole.
    stored = pg_app.test_client().get(f"/api/runs/{run_id}").get_json()
    assert [m["epoch"] for m in stored["metrics"]] == [0]
    assert stored["status"] != "done"


def test_an_app_started_before_its_database_server_works_once_the_server_is_up(postgres, make_app, postgres_url):
    postgres.stop()
    try:
        app = make_app(DATABASE=postgres_url)  # starts anyway: pages are served, the store refuses
        client = app.test_client()
        assert client.get("/api/runs").status_code == 503
        assert client.get("/api/schema").status_code == 200
    finally:
        postgres.start()
    # The schema the start could not create is created by the first request that reaches the server.
    assert client.get("/api/runs").get_json()["total"] == 0
    user = SocketUser(socket_client(app, client))
    run_id = user.start(tiny_config(epochs=1))["run_id"]
    assert user.wait_finished(run_id)[0] == "run:done"
    assert client.get(f"/api/runs/{run_id}").get_json()["status"] == "done"
    user.sio.disconnect()
