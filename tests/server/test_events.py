"""The Socket.IO API: run:start, run:stop, run:watch and the events of a run."""

import time

import pytest

from tests.support.configs import long_config, tiny_config
from tests.support.runs import wait_status
from tests.support.sockets import SocketUser, socket_client


def without_elapsed(records):
    return [{k: v for k, v in r.items() if k not in ("elapsed_s", "run_id")} for r in records]


def test_a_run_streams_epochs_in_order_then_done(user, client):
    ack = user.start(tiny_config(epochs=4))
    assert ack["queue_position"] == 0
    run_id = ack["run_id"]
    name, done = user.wait_finished(run_id)
    assert name == "run:done"
    assert done["summary"]["status"] == "done"
    assert done["summary"]["epochs_completed"] == 4

    epochs = user.events("run:epoch", run_id)
    assert [e["epoch"] for e in epochs] == [0, 1, 2, 3, 4]
    assert set(epochs[0]) >= {"run_id", "epoch", "train_loss", "train_acc", "test_loss",
                              "test_acc", "elapsed_s"}
    names = [e["name"] for e in user.inbox.snapshot()]
    assert names == ["run:started"] + ["run:epoch"] * 5 + ["run:done"]

    # The permalink holds exactly what was streamed.
    stored = client.get(f"/api/runs/{run_id}").get_json()
    assert stored["status"] == "done"
    assert stored["metrics"] == [{k: v for k, v in e.items() if k != "run_id"} for e in epochs]
    assert stored["summary"] == done["summary"]


def test_rerunning_a_stored_config_gives_identical_metrics(user, client):
    first = user.start(tiny_config(epochs=3))["run_id"]
    user.wait_finished(first)
    stored = client.get(f"/api/runs/{first}").get_json()

    second = user.start(stored["config"])["run_id"]
    user.wait_finished(second)
    again = client.get(f"/api/runs/{second}").get_json()
    assert again["config"] == stored["config"]
    assert without_elapsed(again["metrics"]) == without_elapsed(stored["metrics"])


def test_a_long_run_stops_quickly(user, client):
    run_id = user.start(long_config())["run_id"]
    user.wait_for("run:epoch", run_id)
    asked = time.monotonic()
    assert user.emit("run:stop", {"run_id": run_id}) == {"ok": True}
    name, done = user.wait_finished(run_id, timeout=5)
    assert time.monotonic() - asked < 2
    assert name == "run:done" and done["summary"]["status"] == "stopped"
    assert client.get(f"/api/runs/{run_id}").get_json()["status"] == "stopped"


def test_each_client_only_hears_its_own_runs(new_user):
    alice, bob = new_user(), new_user()
    a = alice.start(tiny_config())["run_id"]
    b = bob.start(tiny_config(epochs=4))["run_id"]
    alice.wait_finished(a)
    bob.wait_finished(b)
    assert {e["run_id"] for e in alice.events()} == {a}
    assert {e["run_id"] for e in bob.events()} == {b}
    assert len(bob.events("run:epoch")) == 5


@pytest.mark.parametrize("change, field", [
    (lambda c: c["training"].update(epochs=0), "training.epochs"),
    (lambda c: c["model"]["hidden_layers"][0].update(units="ten"), "model.hidden_layers[0].units"),
    (lambda c: c["model"]["hidden_layers"][0].update(activation="nope"),
     "model.hidden_layers[0].activation"),
    (lambda c: c["optimizer"].update(name="sgdd"), "optimizer.name"),
])
def test_an_invalid_config_is_answered_with_the_field(user, change, field):
    config = tiny_config()
    change(config)
    ack = user.emit("run:start", {"config": config})
    assert set(ack) == {"error", "errors"}
    assert field in [e["field"] for e in ack["errors"]]
    assert field in ack["error"]
    assert user.events() == []


@pytest.mark.parametrize("args", [
    (),
    (None,),
    ("config",),
    ([1, 2],),
    ({},),
    ({"config": "not an object"},),
    ({"config": [1]},),
    ({"config": {}}, {"config": {}}),
    ({"config": {"name": "x" * 200_000}},),
])
def test_a_malformed_start_payload_gets_an_error(user, args):
    ack = user.sio.emit("run:start", *args, callback=True)
    assert isinstance(ack, dict) and isinstance(ack["error"], str)
    assert "run_id" not in ack


@pytest.mark.parametrize("event", ["run:stop", "run:watch"])
@pytest.mark.parametrize("args", [(), ("abc",), ({},), ({"run_id": 5},),
                                  ({"run_id": "../../etc"},), ({"run_id": "x" * 500},)])
def test_malformed_stop_and_watch_payloads_get_an_error(user, event, args):
    ack = user.sio.emit(event, *args, callback=True)
    assert isinstance(ack, dict) and "error" in ack


def test_stopping_an_unknown_or_finished_run_is_an_error(user):
    assert "error" in user.emit("run:stop", {"run_id": "unknownrun123"})
    run_id = user.start(tiny_config())["run_id"]
    user.wait_finished(run_id)
    assert "error" in user.emit("run:stop", {"run_id": run_id})


def test_watching_a_finished_run_returns_its_record(user, new_user):
    run_id = user.start(tiny_config())["run_id"]
    user.wait_finished(run_id)
    viewer = new_user()
    ack = viewer.emit("run:watch", {"run_id": run_id})
    assert ack["run_id"] == run_id and ack["status"] == "done"
    assert [m["epoch"] for m in ack["metrics"]] == [0, 1, 2, 3]
    assert ack["config"]["training"]["epochs"] == 3
    assert "error" in viewer.emit("run:watch", {"run_id": "unknownrun123"})


def test_watching_a_running_run_streams_the_rest(user, new_user):
    run_id = user.start(long_config())["run_id"]
    user.wait_for("run:epoch", run_id)
    viewer = new_user()
    ack = viewer.emit("run:watch", {"run_id": run_id})
    assert ack["status"] == "running"
    seen = {m["epoch"] for m in ack["metrics"]}
    live = viewer.wait_for("run:epoch", run_id)[0]
    assert live["epoch"] >= 1
    # Join-then-read: nothing in between can be missed.
    assert set(range(live["epoch"])) <= seen | {live["epoch"]}
    user.emit("run:stop", {"run_id": run_id})
    assert viewer.wait_finished(run_id)[1]["summary"]["status"] == "stopped"


def test_queue_positions_with_one_worker(make_app, gated_train):
    app = make_app(MAX_CONCURRENT_RUNS=1)
    user = SocketUser(socket_client(app))
    first = user.start(tiny_config())
    second = user.start(tiny_config())
    assert first["queue_position"] == 0
    assert second["queue_position"] == 1
    assert user.wait_for("run:queued", second["run_id"])[0]["position"] == 1
    assert user.emit("run:watch", {"run_id": second["run_id"]})["status"] == "queued"

    gated_train.release.set()
    user.wait_finished(first["run_id"])
    user.wait_finished(second["run_id"])
    started = [e["run_id"] for e in user.events("run:started")]
    assert started == [first["run_id"], second["run_id"]]
    user.sio.disconnect()


def test_the_per_client_limit(make_app, gated_train):
    # The address may hold more than one connection: this is the limit of a connection.
    app = make_app(MAX_CONCURRENT_RUNS=1, MAX_QUEUED_PER_CLIENT=2, MAX_QUEUED_PER_ADDRESS=3)
    user = SocketUser(socket_client(app))
    other = SocketUser(socket_client(app))
    user.start(tiny_config())
    user.start(tiny_config())
    ack = user.emit("run:start", {"config": tiny_config()})
    assert "run_id" not in ack and "2 runs" in ack["error"]
    assert "run_id" in other.emit("run:start", {"config": tiny_config()})
    gated_train.release.set()
    user.sio.disconnect()
    other.sio.disconnect()


def test_an_engine_exception_is_reported_and_the_next_run_works(user, monkeypatch):
    import nnengine.trainer

    real_train = nnengine.trainer.train
    calls = []

    def explode_once(config, **kwargs):
        calls.append(config)
        if len(calls) == 1:
            raise RuntimeError("engine exploded")
        return real_train(config, **kwargs)

    monkeypatch.setattr(nnengine.trainer, "train", explode_once)
    bad = user.start(tiny_config())["run_id"]
    name, error = user.wait_finished(bad)
    assert name == "run:error" and "engine exploded" in error["error"]

    good = user.start(tiny_config())["run_id"]
    assert user.wait_finished(good)[0] == "run:done"


def test_a_disconnected_clients_run_keeps_going_and_is_stored(app, user):
    run_id = user.start(tiny_config(epochs=5))["run_id"]
    user.sio.disconnect()
    run = wait_status(app, run_id, ("done",))
    assert len(run["metrics"]) == 6


def test_a_read_only_database_refuses_runs_but_keeps_serving(make_app, tmp_path):
    writable = make_app()  # creates the schema
    writable.extensions["store"].create_run("oldrun1234", tiny_config())
    app = make_app(DATABASE=f"file:{tmp_path / 'runs.sqlite'}?mode=ro")
    client = app.test_client()
    user = SocketUser(socket_client(app, client))

    ack = user.emit("run:start", {"config": tiny_config()})
    assert "run_id" not in ack
    assert ack["error"] == "the run could not be recorded: the database is read-only"
    # Reads and everything else still work.
    assert client.get("/api/runs").status_code == 200
    assert client.get("/api/schema").status_code == 200
    assert user.emit("run:watch", {"run_id": "oldrun1234"})["status"] in ("queued", "interrupted")
    user.sio.disconnect()


def test_two_apps_in_one_process_have_their_own_socket_servers(make_app, tmp_path):
    """A run started on one app streams to its client only: the other app's clients see nothing."""
    first = make_app()
    second = make_app(DATABASE=str(tmp_path / "other.sqlite"))
    assert first.extensions["socketio"] is not second.extensions["socketio"]
    mine = SocketUser(socket_client(first))
    neighbour = SocketUser(socket_client(second))

    run_id = mine.start(tiny_config())["run_id"]
    assert mine.wait_finished(run_id)[0] == "run:done"
    assert mine.events("run:epoch", run_id)
    assert neighbour.events() == []
    # The other app's server works: its own run reaches its own client, and not the first one's.
    other_id = neighbour.start(tiny_config())["run_id"]
    assert neighbour.wait_finished(other_id)[0] == "run:done"
    assert mine.events(run_id=other_id) == []
    mine.sio.disconnect()
    neighbour.sio.disconnect()
