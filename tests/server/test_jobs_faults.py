"""Faults: clients that leave, a full database, failing engines, diverging runs, and
runs trained in child processes (a crash there ends one run, nothing else).

The server killed with SIGKILL mid-run is in test_server_process.py (it needs a
real process to kill).
"""

import multiprocessing
import os
import sqlite3

import pytest

from nnengine.config import parse_config
from server.runs import RunManager
from server.store import Store
from tests.support.configs import diverging_config, exploding_config, long_config, tiny_config
from tests.support.runs import wait_status
from tests.support.sockets import SocketUser, socket_client


# -- clients that leave ---------------------------------------------------------------------

def test_a_client_that_disconnects_mid_run_leaves_a_finished_stored_run(app, user):
    run_id = user.start(tiny_config(epochs=40))["run_id"]
    user.wait_for("run:epoch", run_id, count=2)
    user.sio.disconnect()
    run = wait_status(app, run_id, ("done",), timeout=30)
    assert [m["epoch"] for m in run["metrics"]] == list(range(41))
    assert run["summary"]["status"] == "done"
    assert app.extensions["store"].get_weights(run_id) is not None


# -- the engine fails or diverges --------------------------------------------------------------

def test_a_diverging_run_ends_as_diverged_over_the_socket(user, client):
    run_id = user.start(diverging_config())["run_id"]
    name, done = user.wait_finished(run_id)
    assert name == "run:done"
    assert done["summary"]["status"] == "diverged"
    assert "learning rate" in done["summary"]["message"]
    stored = client.get(f"/api/runs/{run_id}").get_json()
    assert stored["status"] == "diverged" and stored["summary"] == done["summary"]
    # Streamed and stored records are plain JSON: no NaN or Infinity tokens.
    assert b"NaN" not in client.get(f"/api/runs/{run_id}").data
    assert client.get(f"/api/runs/{run_id}/weights.npz").status_code == 404  # NaN weights are not kept


def test_a_loss_that_explodes_while_finite_ends_as_diverged_over_the_socket(user, client):
    run_id = user.start(exploding_config())["run_id"]
    name, done = user.wait_finished(run_id)
    assert name == "run:done"
    summary = done["summary"]
    assert summary["status"] == "diverged" and summary["epochs_completed"] == 1
    assert summary["message"].startswith("the training loss exploded to ")
    assert "over 100 times its starting" in summary["message"] and "learning rate" in summary["message"]
    stored = client.get(f"/api/runs/{run_id}").get_json()
    assert stored["status"] == "diverged" and stored["message"] == summary["message"]
    assert [m["epoch"] for m in stored["metrics"]] == [0, 1]
    assert client.get(f"/api/runs/{run_id}/weights.npz").status_code == 404


def test_an_engine_exception_ends_that_run_only(new_user, monkeypatch):
    import nnengine.trainer

    real_train = nnengine.trainer.train

    def explode_for_seed_1(config, **kwargs):
        if config.seed == 1:
            raise FloatingPointError("engine exploded")
        return real_train(config, **kwargs)

    monkeypatch.setattr(nnengine.trainer, "train", explode_for_seed_1)
    alice, bob = new_user(), new_user()
    good = alice.start(tiny_config(epochs=20))["run_id"]
    bad_config = tiny_config()
    bad_config["seed"] = 1
    bad = bob.start(bad_config)["run_id"]
    name, error = bob.wait_finished(bad)
    assert name == "run:error" and error["error"] == "FloatingPointError: engine exploded"
    name, done = alice.wait_finished(good, timeout=30)
    assert name == "run:done" and done["summary"]["epochs_completed"] == 20
    assert bob.events("run:epoch") == [] and {e["run_id"] for e in alice.events()} == {good}


# -- a full database ---------------------------------------------------------------------------

def fill(path, max_bytes):
    """Fill the database up to `max_bytes` (as the app's cap counts it), to the last byte."""
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA max_page_count = {max_bytes // 4096}")
        conn.execute("CREATE TABLE IF NOT EXISTS filler (data BLOB)")
        count = 0
        # The filler table takes the free pages, small runs the room left in the runs' pages.
        for table, sizes in (("filler", (32768, 4096, 512, 64, 8)), ("runs", (256, 16, 1))):
            for size in sizes:
                while True:
                    count += 1
                    try:
                        if table == "filler":
                            conn.execute("INSERT INTO filler VALUES (?)", (b"x" * size,))
                        else:
                            conn.execute("INSERT INTO runs (run_id, config, status, created_at, seq)"
                                         " VALUES (?, ?, 'done', 0, (SELECT MAX(seq) + 1 FROM runs))",
                                         (f"filler{count}", "{" + " " * size + "}"))
                        conn.commit()
                    except sqlite3.OperationalError as exc:
                        assert "full" in str(exc)
                        conn.rollback()
                        break


def test_a_full_database_refuses_new_runs_clearly_and_keeps_serving(make_app, tmp_path):
    path = tmp_path / "runs.sqlite"
    first = make_app()
    first.extensions["store"].create_run("oldrun1234", tiny_config())
    first.extensions["store"].finish_run("oldrun1234", "done", {"status": "done"})
    fill(path, 1024 * 1024)

    app = make_app(DATABASE_MAX_MB=1)  # already at its cap
    client = app.test_client()
    user = SocketUser(socket_client(app, client))
    ack = user.emit("run:start", {"config": tiny_config()})
    assert "run_id" not in ack
    assert ack["error"] == "the run could not be recorded: the database is at its size cap of 1 MB"
    assert client.get("/api/runs").status_code == 200
    assert client.get("/api/runs/oldrun1234").get_json()["status"] == "done"
    assert user.emit("run:watch", {"run_id": "oldrun1234"})["status"] == "done"
    assert client.post("/api/validate", json=tiny_config()).status_code == 200
    user.sio.disconnect()


def test_a_run_whose_weights_do_not_fit_is_still_recorded_as_finished(make_app, tmp_path):
    app = make_app(DATABASE_MAX_MB=0.5)
    client = app.test_client()
    user = SocketUser(socket_client(app, client))
    config = tiny_config(epochs=2)
    config["model"]["hidden_layers"] = [{"units": 300}]  # 784 x 300 float32 weights: 0.9 MB
    run_id = user.start(config)["run_id"]
    name, payload = user.wait_finished(run_id, timeout=30)
    assert name == "run:error"
    assert payload["error"].startswith("the run finished (done) but could not be saved: the database would"
                                       " grow past its size cap of 0.5 MB (it holds 0.")
    assert payload["summary"]["status"] == "done"
    stored = client.get(f"/api/runs/{run_id}").get_json()
    assert stored["status"] == "done"  # not left 'running' until the next start
    assert "not fully saved: the database would grow past its size cap of 0.5 MB" in stored["message"]
    assert [m["epoch"] for m in stored["metrics"]] == [0, 1, 2]
    assert client.get(f"/api/runs/{run_id}/weights.npz").status_code == 404
    # A smaller run still fits and is stored whole.
    small = user.start(tiny_config())["run_id"]
    assert user.wait_finished(small)[0] == "run:done"
    assert client.get(f"/api/runs/{small}/weights.npz").status_code == 200
    user.sio.disconnect()


def test_the_database_is_in_wal_mode(app):
    assert app.extensions["store"].journal_mode() == "wal"


# -- runs in child processes -----------------------------------------------------------------

class Recorder:
    def __init__(self):
        import threading

        self.events = []
        self.cond = threading.Condition()

    def __call__(self, event, data, room):
        assert room == data["run_id"]
        with self.cond:
            self.events.append((event, data))
            self.cond.notify_all()

    def finished(self, run_id, timeout=30):
        def found():
            return next(((n, d) for n, d in self.events
                         if d["run_id"] == run_id and n in ("run:done", "run:error")), None)
        with self.cond:
            assert self.cond.wait_for(found, timeout), [n for n, _ in self.events]
            return found()

    def of(self, run_id, name):
        with self.cond:
            return [d for n, d in self.events if d["run_id"] == run_id and n == name]


@pytest.fixture
def process_manager(tmp_path):
    managers = []

    def factory(mp_context=None, workers=2):
        store = Store(tmp_path / "runs.sqlite")
        store.init_schema()
        recorder = Recorder()
        manager = RunManager(store, recorder, max_workers=workers, max_queued_per_client=8,
                             isolation="process", nice=5, mp_context=mp_context)
        managers.append(manager)
        return manager, recorder, store

    yield factory
    for manager in managers:
        manager.shutdown(wait=True)


def strip(records):
    return [{k: v for k, v in r.items() if k not in ("elapsed_s", "run_id")} for r in records]


def test_a_run_in_a_child_process_gives_the_same_numbers_as_in_a_thread(process_manager, tmp_path):
    manager, recorder, store = process_manager()
    run_id = manager.submit(parse_config(tiny_config(epochs=4)), "sid")
    name, done = recorder.finished(run_id)
    assert name == "run:done" and done["summary"]["status"] == "done"
    streamed = recorder.of(run_id, "run:epoch")
    stored = store.get_run(run_id)
    assert strip(stored["metrics"]) == strip(streamed) and len(streamed) == 5
    assert store.get_weights(run_id) is not None

    from nnengine.trainer import train

    in_thread = train(parse_config(tiny_config(epochs=4)))
    assert strip(streamed) == strip(in_thread.records)


def test_a_child_process_run_stops_quickly(process_manager):
    import time

    manager, recorder, store = process_manager()
    run_id = manager.submit(parse_config(long_config()), "sid")
    with recorder.cond:
        recorder.cond.wait_for(lambda: recorder.of(run_id, "run:epoch"), 30)
    asked = time.monotonic()
    assert manager.stop(run_id)
    name, done = recorder.finished(run_id)
    assert time.monotonic() - asked < 3
    assert done["summary"]["status"] == "stopped" and store.get_run(run_id)["status"] == "stopped"


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
@pytest.mark.parametrize("failure, message", [
    ("raise", "MemoryError: the engine ran out of memory"),
    ("exit", "the training process ended unexpectedly (exit code 3)"),
])
def test_a_crashing_child_ends_its_run_only(process_manager, monkeypatch, failure, message):
    """With fork, the child inherits the patched trainer: seed 1 fails, the others train."""
    import nnengine.trainer

    real_train = nnengine.trainer.train

    def failing(config, **kwargs):
        if config.seed == 1:
            if failure == "exit":
                os._exit(3)  # a segfault or the OOM killer look like this
            raise MemoryError("the engine ran out of memory")
        return real_train(config, **kwargs)

    monkeypatch.setattr(nnengine.trainer, "train", failing)
    manager, recorder, store = process_manager(mp_context=multiprocessing.get_context("fork"))
    good = manager.submit(parse_config(tiny_config(epochs=10)), "a")
    bad_config = tiny_config()
    bad_config["seed"] = 1
    bad = manager.submit(parse_config(bad_config), "b")
    name, error = recorder.finished(bad)
    assert name == "run:error" and error["error"] == message
    assert store.get_run(bad)["status"] == "error" and store.get_run(bad)["message"] == message
    assert recorder.finished(good)[0] == "run:done"
    after = manager.submit(parse_config(tiny_config()), "b")
    assert recorder.finished(after)[0] == "run:done"

