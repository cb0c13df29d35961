"""server.store: the SQLite record of runs and metrics."""

import json
import math
import sqlite3
import threading

import numpy as np
import pytest

from server.store import Store, to_json_safe

CONFIG = {"seed": 0, "training": {"epochs": 3}}


def record(epoch, loss=1.0):
    return {"epoch": epoch, "train_loss": loss, "train_acc": 0.5,
            "test_loss": loss, "test_acc": 0.5, "elapsed_s": 0.1 * epoch}


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    store.init_schema()
    return store


def test_a_run_round_trips(store):
    store.create_run("r1", CONFIG)
    run = store.get_run("r1")
    assert run["status"] == "queued"
    assert run["config"] == CONFIG
    assert run["metrics"] == [] and run["summary"] is None
    assert run["numpy_version"] == np.__version__
    assert run["created_at"] > 0 and run["started_at"] is None

    store.set_status("r1", "running")
    for epoch in (1, 0, 2):  # stored in any order, read back by epoch
        store.append_metric("r1", record(epoch))
    store.finish_run("r1", "done", {"status": "done", "best_test_acc": 0.5}, b"npz-bytes")

    run = store.get_run("r1")
    assert run["status"] == "done"
    assert [r["epoch"] for r in run["metrics"]] == [0, 1, 2]
    assert run["metrics"][1] == record(1)
    assert run["summary"] == {"status": "done", "best_test_acc": 0.5}
    assert run["started_at"] <= run["finished_at"]
    assert store.get_weights("r1") == b"npz-bytes"


def test_unknown_runs_are_none(store):
    assert store.get_run("nope") is None
    assert store.get_weights("nope") is None


def test_list_runs_is_newest_first_and_limited(store):
    for i in range(5):
        store.create_run(f"r{i}", {"seed": i})
    runs = store.list_runs(limit=3)
    assert [r["run_id"] for r in runs] == ["r4", "r3", "r2"]
    assert runs[0]["config"] == {"seed": 4}
    assert set(runs[0]) >= {"run_id", "status", "created_at", "finished_at", "summary", "config", "last_epoch"}


def test_listed_runs_carry_their_last_stored_epoch(store):
    store.create_run("r1", CONFIG)
    store.create_run("r2", CONFIG)
    store.append_metrics("r1", [record(0), record(1), record(2)])
    epochs = {r["run_id"]: r["last_epoch"] for r in store.list_runs()}
    assert epochs == {"r1": 2, "r2": None}  # a running run's progress shows in /runs


def test_mark_interrupted_only_touches_unfinished_runs(store):
    for run_id, status in [("q", "queued"), ("r", "running"), ("d", "done"), ("s", "stopped")]:
        store.create_run(run_id, CONFIG)
        store.set_status(run_id, status)
    assert store.mark_interrupted() == 2
    statuses = {r["run_id"]: r["status"] for r in store.list_runs()}
    assert statuses == {"q": "interrupted", "r": "interrupted", "d": "done", "s": "stopped"}
    assert "stopped before" in store.get_run("r")["message"]
    assert store.mark_interrupted() == 0


def test_non_finite_numbers_are_stored_as_null(store):
    # Browsers' JSON.parse rejects NaN/Infinity, so they must never be written.
    store.create_run("r", CONFIG)
    store.append_metric("r", {"epoch": 0, "train_loss": float("nan"), "test_loss": np.float32("inf")})
    store.finish_run("r", "diverged", {"final": {"train_loss": float("-inf")}})
    run = store.get_run("r")
    assert run["metrics"] == [{"epoch": 0, "train_loss": None, "test_loss": None}]
    assert run["summary"] == {"final": {"train_loss": None}}


def test_to_json_safe_makes_numpy_scalars_plain():
    value = to_json_safe({"a": np.float32(0.5), "b": [np.int64(3), math.inf], "c": (1, "x")})
    assert value == {"a": 0.5, "b": [3, None], "c": [1, "x"]}
    json.dumps(value, allow_nan=False)


def test_writes_from_many_threads(store):
    store.create_run("r", CONFIG)
    errors = []

    def write(start):
        try:
            for epoch in range(start, start + 20):
                store.append_metric("r", record(epoch))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i * 20,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [r["epoch"] for r in store.get_run("r")["metrics"]] == list(range(80))


def test_the_database_is_in_wal_mode(store):
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_read_only_database_reads_but_refuses_writes(store):
    store.create_run("r", CONFIG)
    read_only = Store(f"file:{store.path}?mode=ro")
    assert read_only.get_run("r")["status"] == "queued"
    with pytest.raises(sqlite3.OperationalError):
        read_only.create_run("r2", CONFIG)
    with pytest.raises(sqlite3.OperationalError):
        read_only.append_metric("r", record(0))


def test_a_session_writes_through_one_connection_and_each_write_is_committed(store, monkeypatch):
    opened = []
    real_connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: opened.append(1) or real_connect(*a, **k))
    store.create_run("r1", CONFIG)
    assert len(opened) == 1
    with store.session() as session:
        for epoch in range(5):
            session.append_metrics("r1", [record(epoch)])
            # committed at once: another connection (the web thread's) sees it
            assert len(store.get_run("r1")["metrics"]) == epoch + 1
        session.finish_run("r1", "done", {"status": "done"})
    assert len(opened) == 1 + 1 + 5  # create, the session's one, five reads
    assert store.get_run("r1")["status"] == "done"


def test_a_failed_write_in_a_session_rolls_back_and_the_session_goes_on(store):
    store.create_run("r1", CONFIG)
    with sqlite3.connect(store.path) as conn:  # the database refuses epoch 99
        conn.execute("CREATE TRIGGER no_99 BEFORE INSERT ON metrics WHEN NEW.epoch = 99"
                     " BEGIN SELECT RAISE(ABORT, 'refused'); END")
    with store.session() as session:
        session.append_metrics("r1", [record(0)])
        with pytest.raises(sqlite3.Error, match="refused"):
            session.append_metrics("r1", [record(1), record(99)])
        session.append_metrics("r1", [record(2)])
    assert [m["epoch"] for m in store.get_run("r1")["metrics"]] == [0, 2]  # epoch 1 went with 99
