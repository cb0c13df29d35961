"""server.store: the SQLite record of runs and metrics."""

import json
import math
import sqlite3
import threading

import numpy as np
import pytest

from server.store import Store, to_json_safe
from tests.support.store import CONFIG, NAMED, first_schema_database, record


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


# -- origins, filters, pages, deletes, and databases of the first schema -------------------------


def test_a_database_of_the_first_schema_opens_with_all_its_runs(tmp_path):
    path = tmp_path / "first.sqlite"
    first_schema_database(path)
    store = Store(path)
    store.init_schema()
    assert store.schema_version() == 2

    old = store.get_run("old1")
    assert old["config"] == NAMED and old["status"] == "done" and old["numpy_version"] == "1.26.4"
    assert old["summary"] == {"status": "done"} and old["finished_at"] == 1001.0
    assert old["metrics"] == [record(e) for e in range(3)]
    assert old["origin"] is None  # stored before origins: untagged
    assert store.get_weights("old1") == b"PK-old1-weights"
    assert store.get_weights("old2") is None
    assert [r["run_id"] for r in store.list_runs()] == ["old3", "old2", "old1"]
    assert [r["last_epoch"] for r in store.list_runs()] == [2, 2, 2]
    assert [r["run_id"] for r in store.list_runs(origins=("untagged",))] == ["old3", "old2", "old1"]
    # the old runs' words were computed during the upgrade
    assert [r["run_id"] for r in store.list_runs(terms=("baseline", "adam"))] == ["old1"]
    assert store.mark_interrupted() == 1  # the old queued run, as at any start

    with sqlite3.connect(path) as conn:  # weights left the runs table for their own
        columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
        assert "weights" not in columns and {"origin", "origin_kind", "search_text"} <= columns
    conn.close()
    store.init_schema()  # a second start changes nothing
    assert len(store.list_runs()) == 3 and store.get_weights("old1") == b"PK-old1-weights"
    store.create_run("new", CONFIG, origin={"kind": "dashboard"})
    assert store.get_run("new")["origin"] == {"kind": "dashboard"}


def test_an_upgrade_that_fails_leaves_the_first_schema_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "first.sqlite"
    first_schema_database(path)
    import server.store as store_module

    def broken(run_id, config, origin):
        raise RuntimeError("disk trouble")

    monkeypatch.setattr(store_module, "search_text", broken)
    with pytest.raises(RuntimeError, match="disk trouble"):
        Store(path).init_schema()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
        assert conn.execute("SELECT weights FROM runs WHERE run_id = 'old1'").fetchone()[0] == b"PK-old1-weights"
    conn.close()
    monkeypatch.undo()
    store = Store(path)
    store.init_schema()
    assert store.get_weights("old1") == b"PK-old1-weights"


def tagged_runs(store):
    """Seven runs of every origin, oldest first."""
    runs = [
        ("d1", {"kind": "dashboard"}, NAMED, "done"),
        ("b1", {"kind": "lab", "lab": "batchnorm", "batch": "B1", "key": "0-bn", "label": "Batch norm"}, CONFIG, "done"),
        ("b2", {"kind": "lab", "lab": "batchnorm", "batch": "B1", "key": "0-plain", "label": "Normal"}, CONFIG, "diverged"),
        ("o1", {"kind": "lab", "lab": "overfitting", "batch": "B2", "key": "dropout"}, CONFIG, "running"),
        ("u1", None, CONFIG, "stopped"),
        ("x1", {"kind": "rerun", "source": "d1"}, NAMED, "done"),
        ("d2", {"kind": "dashboard"}, {**CONFIG, "name": "100% sure_thing"}, "queued"),
    ]
    for run_id, origin, config, status in runs:
        store.create_run(run_id, config, origin=origin)
        store.set_status(run_id, status)
    return [r[0] for r in reversed(runs)]


def ids(runs):
    return [r["run_id"] for r in runs]


@pytest.mark.parametrize("filters, expected", [
    ({}, ["d2", "x1", "u1", "o1", "b2", "b1", "d1"]),
    ({"origins": ("dashboard",)}, ["d2", "d1"]),
    ({"origins": ("lab",)}, ["o1", "b2", "b1"]),
    ({"origins": ("lab:batchnorm",)}, ["b2", "b1"]),
    ({"origins": ("rerun",)}, ["x1"]),
    ({"origins": ("untagged",)}, ["u1"]),
    ({"origins": ("dashboard", "rerun", "untagged")}, ["d2", "x1", "u1", "d1"]),
    ({"statuses": ("queued", "running")}, ["d2", "o1"]),
    ({"statuses": ("done",), "origins": ("lab",)}, ["b1"]),
    ({"batch": "B1"}, ["b2", "b1"]),
    ({"source": "d1"}, ["x1"]),
    ({"terms": ("adam",)}, ["x1", "d1"]),                 # the optimizer
    ({"terms": ("baseline", "tanh")}, ["x1", "d1"]),      # name and activation, both must match
    ({"terms": ("baseline", "relu")}, []),
    ({"terms": ("batch normalisation",)}, ["b2", "b1"]),  # the lab's title
    ({"terms": ("normal",)}, ["b2", "b1"]),               # a lab label (and the title)
    ({"terms": ("re-run",)}, ["x1"]),
    ({"terms": ("100%",)}, ["d2"]),                       # % and _ are matched as themselves
    ({"terms": ("e_t",)}, ["d2"]),
    ({"terms": ("1%",)}, []),                             # not a wildcard: '1' then anything
    ({"terms": ("s_r",)}, []),                            # nor is _ ("sur" is there, "s_r" is not)
    ({"terms": ("B1",)}, ["b2", "b1"]),                   # the batch id, case-insensitively
])
def test_runs_are_filtered_in_sql(store, filters, expected):
    tagged_runs(store)
    assert ids(store.list_runs(**filters)) == expected
    assert store.count_runs(**filters) == len(expected)


def test_pages_split_the_newest_first_order_without_gaps_even_when_times_tie(store, monkeypatch):
    monkeypatch.setattr("server.store.time.time", lambda: 1234.5)  # every run created at once
    for i in range(25):
        store.create_run(f"r{i:02d}", CONFIG)
        store.append_metrics(f"r{i:02d}", [record(e) for e in range(i % 4)])
    pages = [store.list_runs(limit=10, offset=offset) for offset in (0, 10, 20, 30)]
    assert [len(p) for p in pages] == [10, 10, 5, 0]
    assert sum((ids(p) for p in pages), []) == [f"r{i:02d}" for i in reversed(range(25))]
    assert [r["last_epoch"] for r in pages[2]] == [None if i % 4 == 0 else i % 4 - 1 for i in reversed(range(5))]
    assert store.count_runs() == 25


def test_the_origin_and_its_counts_are_returned(store):
    tagged_runs(store)
    assert store.get_run("b1")["origin"] == {"kind": "lab", "lab": "batchnorm", "batch": "B1", "key": "0-bn",
                                             "label": "Batch norm"}
    listed = {r["run_id"]: r["origin"] for r in store.list_runs()}
    assert listed["u1"] is None and listed["d1"] == {"kind": "dashboard"}
    # a re-run says what it re-ran: its source's id and name, and whether it is still stored
    assert listed["x1"] == {"kind": "rerun", "source": "d1", "source_exists": True, "source_name": "Baseline net"}
    assert store.get_run("x1")["origin"] == listed["x1"]
    assert sorted(store.origin_counts(), key=str) == sorted(
        [("dashboard", None, 2), ("lab", "batchnorm", 2), ("lab", "overfitting", 1), (None, None, 1),
         ("rerun", None, 1)], key=str)
    assert store.status_counts() == {"done": 3, "diverged": 1, "running": 1, "stopped": 1, "queued": 1}


def test_a_deleted_run_takes_its_metrics_and_weights_with_it(store):
    tagged_runs(store)
    store.append_metrics("d1", [record(0), record(1)])
    store.finish_run("d1", "done", {"status": "done"}, b"npz")
    assert store.delete_run("d1") == "deleted"
    assert store.get_run("d1") is None and store.get_weights("d1") is None
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM metrics WHERE run_id = 'd1'").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM weights WHERE run_id = 'd1'").fetchone()[0] == 0
    conn.close()
    assert store.delete_run("d1") == "unknown"
    # its re-run stays, and says that its source is gone
    assert store.get_run("x1")["origin"] == {"kind": "rerun", "source": "d1", "source_exists": False,
                                             "source_name": None}


def test_a_queued_or_running_run_is_never_deleted(store):
    tagged_runs(store)
    assert store.delete_run("d2") == "active"   # queued
    assert store.delete_run("o1") == "active"   # running
    assert store.get_run("d2") and store.get_run("o1")


def test_finish_run_without_weights_removes_stored_ones(store):
    store.create_run("r", CONFIG)
    store.finish_run("r", "done", {"status": "done"}, b"npz")
    store.finish_run("r", "done", {"status": "done"}, None)  # e.g. recorded again after a full disk
    assert store.get_weights("r") is None
    store.finish_run("missing", "done", {"status": "done"}, b"npz")  # no run: no orphan weights
    assert store.get_weights("missing") is None
