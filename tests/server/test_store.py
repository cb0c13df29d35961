"""server.store: the record of runs and metrics, on SQLite and on PostgreSQL.

Every test that takes `store` runs on both databases (tests/support/store_backends.py); those about one
database's own ways (SQLite's WAL, URIs and older files) take `sqlite_store` or a path.
"""

import contextlib
import json
import math
import re
import sqlite3
import threading

import numpy as np
import pytest
from sqlalchemy import text

from server.store import SCHEMA_VERSION, Store, StoreError, to_json_safe
from server.store.schema import metrics, weights
from tests.support.store import CONFIG, NAMED, first_schema_database, record, stored_rows
from tests.support.store_backends import BACKENDS


@pytest.fixture
def store(database):
    store = Store(database)
    store.init_schema()
    yield store
    store.close()


@pytest.fixture
def sqlite_store(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    store.init_schema()
    yield store
    store.close()


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


def test_the_database_is_in_wal_mode(sqlite_store):
    with sqlite3.connect(sqlite_store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert sqlite_store.journal_mode() == "wal"


def read_only_twin(store):
    """Another Store on the same database that may only read it: SQLite's read-only URI, or
    PostgreSQL's default_transaction_read_only for the database's new connections."""
    if store.backend == "sqlite":
        return Store(f"file:{store.path}?mode=ro")
    database = store.engine.url.database
    with store.engine.connect() as conn:
        conn.exec_driver_sql(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')
        conn.commit()
    return Store(store.path)


def test_a_read_only_database_reads_but_refuses_writes_naming_the_cause(store):
    store.create_run("r", CONFIG)
    read_only = read_only_twin(store)
    try:
        assert read_only.get_run("r")["status"] == "queued"
        assert [r["run_id"] for r in read_only.list_runs()] == ["r"]
        for write in (lambda: read_only.create_run("r2", CONFIG), lambda: read_only.append_metric("r", record(0)),
                      lambda: read_only.delete_run("r")):
            with pytest.raises(StoreError) as refused:
                write()
            assert refused.value.reason == "read_only"
            assert str(refused.value).startswith("the database is read-only")
            assert isinstance(refused.value.__cause__, Exception)  # the driver's error, for the logs
    finally:
        read_only.close()


def test_a_session_writes_through_one_held_connection_and_each_write_is_committed(sqlite_store):
    from sqlalchemy import event

    store = sqlite_store
    store.create_run("r1", CONFIG)
    store.close()  # the connections opened from now on say what they run
    writers = []

    def on_connect(dbapi_connection, _record):
        def traced(statement):
            if statement.startswith(("INSERT INTO metrics", "UPDATE runs")):
                writers.append(dbapi_connection)

        dbapi_connection.set_trace_callback(traced)

    event.listen(store.engine, "connect", on_connect)
    with store.session() as session:
        for epoch in range(5):
            session.append_metrics("r1", [record(epoch)])
            # committed at once: another connection (the web thread's) sees it
            assert len(store.get_run("r1")["metrics"]) == epoch + 1
        session.finish_run("r1", "done", {"status": "done"})
        held = writers[0]
    assert len(writers) == 6 and all(conn is held for conn in writers)
    assert store.get_run("r1")["status"] == "done"
    store.append_metrics("r1", [record(5)])  # out of the session: a pooled connection of the store's
    assert store.get_run("r1")["metrics"][-1] == record(5)


def refuse_epoch_99(store):
    """Make the database itself refuse epoch 99 (a trigger)."""
    if store.backend == "sqlite":
        with sqlite3.connect(store.path) as conn:
            conn.execute("CREATE TRIGGER no_99 BEFORE INSERT ON metrics WHEN NEW.epoch = 99"
                         " BEGIN SELECT RAISE(ABORT, 'refused'); END")
        conn.close()
        return
    with store.engine.begin() as conn:
        conn.execute(text("CREATE FUNCTION no_99() RETURNS trigger LANGUAGE plpgsql AS"
                          " $$ BEGIN RAISE EXCEPTION 'refused'; END $$"))
        conn.execute(text("CREATE TRIGGER no_99 BEFORE INSERT ON metrics FOR EACH ROW"
                          " WHEN (NEW.epoch = 99) EXECUTE FUNCTION no_99()"))


def test_a_failed_write_in_a_session_rolls_back_and_the_session_goes_on(store):
    store.create_run("r1", CONFIG)
    refuse_epoch_99(store)
    with store.session() as session:
        session.append_metrics("r1", [record(0)])
        with pytest.raises(StoreError, match="refused") as refused:
            session.append_metrics("r1", [record(1), record(99)])
        assert refused.value.reason == "failed"
        session.append_metrics("r1", [record(2)])
    assert [m["epoch"] for m in store.get_run("r1")["metrics"]] == [0, 2]  # epoch 1 went with 99


# -- origins, filters, pages, deletes, and databases of the first schema -------------------------


def test_a_database_of_the_first_schema_opens_with_all_its_runs(tmp_path):
    path = tmp_path / "first.sqlite"
    first_schema_database(path)
    store = Store(path)
    store.init_schema()
    assert store.schema_version() == SCHEMA_VERSION

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
    import server.store.schema as schema_module

    def broken(run_id, config, origin):
        raise RuntimeError("disk trouble")

    monkeypatch.setattr(schema_module, "search_text", broken)
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


# The schema of server/store.py before schema 3 (SQLite's PRAGMA user_version 2), as it was written.
SECOND_SCHEMA = """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, config TEXT NOT NULL, status TEXT NOT NULL, created_at REAL NOT NULL,
    started_at REAL, finished_at REAL, numpy_version TEXT, summary TEXT, message TEXT, origin TEXT,
    origin_kind TEXT, origin_lab TEXT, origin_batch TEXT, origin_source TEXT,
    search_text TEXT NOT NULL DEFAULT ''
);
CREATE TABLE metrics (run_id TEXT NOT NULL, epoch INTEGER NOT NULL, record TEXT NOT NULL, PRIMARY KEY (run_id, epoch));
CREATE TABLE weights (run_id TEXT PRIMARY KEY, npz BLOB NOT NULL);
CREATE INDEX runs_created_at ON runs (created_at);
CREATE INDEX runs_status ON runs (status, created_at);
CREATE INDEX runs_origin ON runs (origin_kind, origin_lab, status, created_at);
CREATE INDEX runs_batch ON runs (origin_batch, created_at) WHERE origin_batch IS NOT NULL;
CREATE INDEX runs_source ON runs (origin_source, created_at) WHERE origin_source IS NOT NULL;
PRAGMA user_version = 2;
"""


def test_a_database_of_the_second_schema_opens_with_all_its_runs_in_their_order(tmp_path):
    from server.run_query import search_text

    path = tmp_path / "second.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SECOND_SCHEMA)
        # Created in the same instant: the order they were stored in (SQLite's rowid) broke the tie.
        for run_id, origin in [("tie3", {"kind": "dashboard"}), ("tie1", None),
                               ("tie2", {"kind": "lab", "lab": "batchnorm", "batch": "B7", "key": "0-bn"})]:
            conn.execute("INSERT INTO runs (run_id, config, status, created_at, numpy_version, origin, origin_kind,"
                         " origin_lab, origin_batch, origin_source, search_text)"
                         " VALUES (?, ?, 'done', 1000.0, '2.0.0', ?, ?, ?, ?, NULL, ?)",
                         (run_id, json.dumps(NAMED), json.dumps(origin) if origin else None,
                          (origin or {}).get("kind"), (origin or {}).get("lab"), (origin or {}).get("batch"),
                          search_text(run_id, NAMED, origin)))
            conn.executemany("INSERT INTO metrics VALUES (?, ?, ?)", [(run_id, e, json.dumps(record(e))) for e in range(2)])
            conn.execute("INSERT INTO weights VALUES (?, ?)", (run_id, f"PK-{run_id}".encode()))
    conn.close()
    store = Store(path)
    store.init_schema()
    assert store.schema_version() == SCHEMA_VERSION
    assert ids(store.list_runs()) == ["tie2", "tie1", "tie3"]  # newest stored first, as before
    assert ids(store.list_runs(limit=1, offset=1)) == ["tie1"]
    assert ids(store.list_runs(batch="B7")) == ["tie2"] and ids(store.list_runs(origins=("untagged",))) == ["tie1"]
    assert ids(store.list_runs(terms=("baseline",))) == ["tie2", "tie1", "tie3"]
    for run_id in ("tie1", "tie2", "tie3"):
        assert store.get_run(run_id)["metrics"] == [record(0), record(1)]
        assert store.get_weights(run_id) == f"PK-{run_id}".encode()
    store.create_run("after", CONFIG)
    assert ids(store.list_runs())[0] == "after"
    store.close()
    with sqlite3.connect(path) as conn:  # a server of schema 2 still opens it (and finds nothing to do)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


# -- what a failure says (StoreError) ----------------------------------------------------------------

def test_a_database_at_its_cap_says_so(tmp_path):
    store = Store(tmp_path / "capped.sqlite", max_bytes=256 * 1024)
    store.init_schema()
    store.create_run("r", CONFIG)
    with pytest.raises(StoreError) as refused:
        store.finish_run("r", "done", {"status": "done"}, b"x" * 400_000)  # more than the cap
    assert refused.value.reason == "cap"
    assert str(refused.value).startswith("the database would grow past its size cap of 0.25 MB (it holds")
    store.finish_run("r", "done", {"status": "done"})  # what fits is still written
    number = 0
    with pytest.raises(StoreError) as full:
        while True:
            number += 1
            store.create_run(f"filler{number}", {"pad": "x" * 2000})
    assert full.value.reason == "cap" and str(full.value) == "the database is at its size cap of 0.25 MB"
    assert store.get_run("r")["status"] == "done"  # reads go on
    store.close()


def test_a_full_disk_is_told_from_the_cap(tmp_path, monkeypatch):
    import server.store.errors as errors_module

    store = Store(tmp_path / "capped.sqlite", max_bytes=4 * 1024 * 1024)
    store.init_schema()
    store.create_run("r", CONFIG)
    monkeypatch.setattr(errors_module, "free_disk_bytes", lambda path: 10_000)  # less than the cap leaves
    full = store._backend.error(sqlite3.OperationalError("database or disk is full"))
    assert (full.reason, str(full)) == ("disk_full", "the disk is full")
    uncapped = Store(tmp_path / "other.sqlite")
    assert str(uncapped._backend.error(sqlite3.OperationalError("database or disk is full"))) == "the disk is full"
    store.close()


def test_a_database_locked_by_another_process_is_busy(sqlite_store, monkeypatch):
    import server.store.backends as backends

    monkeypatch.setattr(backends, "BUSY_TIMEOUT_S", 0.2)
    store = Store(sqlite_store.path)  # its connections wait 0.2 s for a lock
    store.create_run("r", CONFIG)
    other = sqlite3.connect(sqlite_store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        with pytest.raises(StoreError) as busy:
            store.append_metric("r", record(0))
        assert busy.value.reason == "busy" and "locked by another process" in str(busy.value)
        assert store.get_run("r")["metrics"] == []  # readers are not blocked (WAL)
    finally:
        other.execute("ROLLBACK")
        other.close()
    store.append_metric("r", record(0))
    store.close()


def test_a_file_that_is_not_a_database_is_refused_clearly(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_bytes(b"these are my notes, not a database" * 200)
    store = Store(path)
    with pytest.raises(StoreError) as broken:
        store.init_schema()
    assert broken.value.reason == "failed"
    assert str(broken.value).startswith(f"the database file {path} is not a usable SQLite database")
    assert broken.value.public == "the database file is damaged or not an SQLite database"  # no path


@pytest.mark.parametrize("database, says", [
    ("mysql://u@h/db", "mysql:// databases are not supported"),
    ("postgresql://u@h:port/db", "cannot be read (is its port a number?)"),
    ("postgresql://u:secret@h:5432/", "names no database"),
    ("postgresql://u@:5432/db", "names no host"),
    ("postgresql://u@h:70000/db", "has port 70000"),
])
def test_a_database_url_that_cannot_be_used_is_refused_before_anything_opens(database, says):
    with pytest.raises(ValueError, match=re.escape(says)) as refused:
        Store(database)
    assert "secret" not in str(refused.value)


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


@pytest.fixture(scope="module", params=BACKENDS)
def tagged_store(request, tmp_path_factory):
    """A store of tagged_runs, shared by the tests that only read it (one per backend)."""
    from tests.support.store_backends import fresh_database

    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            database = str(tmp_path_factory.mktemp("tagged") / "runs.sqlite")
        else:
            database = stack.enter_context(fresh_database(request.getfixturevalue("postgres"),
                                                          request.getfixturevalue("postgres_template")))
        store = Store(database)
        store.init_schema()
        stack.callback(store.close)
        tagged_runs(store)
        yield store


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
def test_runs_are_filtered_in_sql(tagged_store, filters, expected):
    store = tagged_store
    assert ids(store.list_runs(**filters)) == expected
    assert store.count_runs(**filters) == len(expected)


def test_pages_split_the_newest_first_order_without_gaps_even_when_times_tie(store, monkeypatch):
    monkeypatch.setattr("server.store.core.time.time", lambda: 1234.5)  # every run created at once
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
    assert stored_rows(store, metrics, "d1") == 0 and stored_rows(store, weights, "d1") == 0
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


# -- PostgreSQL: its schema, its server going away, its size cap -----------------------------------

def test_the_schema_is_created_on_an_empty_postgresql_database_and_again_changes_nothing(postgres_url):
    store = Store(postgres_url)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'")).scalar() == 0
    store.init_schema()
    assert store.schema_version() == SCHEMA_VERSION and store.backend == "postgresql"
    store.create_run("r1", NAMED, origin={"kind": "dashboard"})
    store.finish_run("r1", "done", {"status": "done"}, b"\x00PK\xff" * 1000)  # BYTEA, every byte value

    def schema_objects():
        with store.engine.connect() as conn:
            return sorted(conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                                            " UNION ALL SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"))
                          .scalars())

    made = schema_objects()
    assert {"runs", "metrics", "weights", "schema_version", "runs_seq", "runs_origin", "runs_batch"} <= set(made)
    # Every process starts with init_schema: at once, and again later, nothing changes or fails.
    others = [Store(postgres_url) for _ in range(4)]
    failures = []

    def start(other):
        try:
            other.init_schema()
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=start, args=(other,)) for other in others]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [] and schema_objects() == made
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version FROM schema_version")).scalars().all() == [SCHEMA_VERSION]
    assert store.get_weights("r1") == b"\x00PK\xff" * 1000 and store.get_run("r1")["config"] == NAMED
    for other in others:
        other.close()
    store.close()


def test_a_postgresql_server_that_is_not_there_is_refused_clearly_and_quickly():
    from tests.support.services import free_port

    port = free_port()  # nothing listens there
    store = Store(f"postgresql://playground@127.0.0.1:{port}/runs")
    began = __import__("time").monotonic()
    for call in (store.init_schema, lambda: store.get_run("r"), lambda: store.create_run("r", CONFIG),
                 lambda: store.list_runs()):
        with pytest.raises(StoreError) as refused:
            call()
        assert refused.value.reason == "unavailable"
        assert str(refused.value).startswith(f"the database server at 127.0.0.1:{port} is not reachable")
        assert refused.value.public == "the database server is not reachable"  # no address for clients
    assert __import__("time").monotonic() - began < 5
    store.close()


def test_a_missing_postgresql_database_is_named(postgres):
    store = Store(postgres.admin_url("no_such_database"))
    with pytest.raises(StoreError) as refused:
        store.get_run("r")
    assert refused.value.reason == "unavailable"
    assert str(refused.value) == (f"the database 'no_such_database' does not exist on the database server at"
                                  f" 127.0.0.1:{postgres.port}")
    store.close()


@pytest.fixture
def postgres_store(postgres_database):
    store = Store(postgres_database)
    yield store
    store.close()


def test_a_postgresql_server_that_stops_mid_run_is_reported_and_its_return_is_noticed(postgres, postgres_store):
    store = postgres_store
    store.create_run("r", CONFIG)
    with store.session() as session:
        session.append_metrics("r", [record(0)])
        postgres.stop()
        try:
            for write in (lambda: session.append_metrics("r", [record(1)]), lambda: store.get_run("r"),
                          lambda: store.list_runs(), lambda: store.create_run("r2", CONFIG)):
                with pytest.raises(StoreError) as refused:
                    write()
                assert refused.value.reason == "unavailable", refused.value
                assert f"127.0.0.1:{postgres.port} is not reachable" in str(refused.value)
        finally:
            postgres.start()
        # The pool's ping finds its connections dead and opens new ones: nothing to restart.
        session.append_metrics("r", [record(2)])
    assert [m["epoch"] for m in store.get_run("r")["metrics"]] == [0, 2]
    assert store.create_run("r3", CONFIG) is None


def test_postgresql_connections_stay_within_the_pool(postgres_store):
    store = postgres_store
    from server.store.backends import POOL_OVERFLOW, POOL_SIZE

    store.create_run("r", CONFIG)
    errors = []

    def read():
        try:
            for _ in range(10):
                store.get_run("r")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with store.engine.connect() as conn:
        opened = conn.execute(text("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'playground'"
                                   " AND datname = current_database()")).scalar()
    assert 1 <= opened <= POOL_SIZE + POOL_OVERFLOW


def test_the_postgresql_size_cap_refuses_what_would_not_fit_and_deleting_runs_makes_room(postgres_url):
    import server.store.backends as backends
    from server.store.errors import megabytes

    setup = Store(postgres_url)
    setup.init_schema()
    with setup.engine.connect() as conn:
        empty = conn.execute(backends._DISK_SIZE).scalar()
    setup.close()
    cap = empty + 2 * 1024 * 1024
    store = Store(postgres_url, max_bytes=cap)
    blob = np.random.default_rng(0).bytes(300 * 1024)  # incompressible, as weights are
    stored = []
    with pytest.raises(StoreError) as refused:
        for number in range(20):
            store.create_run(f"r{number}", CONFIG)
            store.append_metrics(f"r{number}", [record(e) for e in range(20)])
            store.finish_run(f"r{number}", "done", {"status": "done"}, blob)
            stored.append(f"r{number}")
    assert refused.value.reason == "cap"
    assert f"size cap of {megabytes(cap)}" in str(refused.value)
    assert 4 <= len(stored) <= 7  # 2 MB of 300 KB runs, give or take the bookkeeping
    with store.engine.connect() as conn:
        assert conn.execute(backends._DISK_SIZE).scalar() <= cap + 512 * 1024  # overshoot: at most a second's writes
    assert store.get_run(stored[0])["status"] == "done"  # reads go on
    # PostgreSQL keeps its files as large after a delete, but the space is free to reuse.
    for run_id in stored[:3]:
        assert store.delete_run(run_id) == "deleted"
    store.create_run("after", CONFIG)
    store.finish_run("after", "done", {"status": "done"}, blob)
    assert store.get_weights("after") == blob
    store.close()


def test_a_forked_child_never_speaks_over_its_parents_postgresql_connections(postgres_store):
    import os

    store = postgres_store

    def backend_pid():
        with store._transaction() as conn:
            return conn.execute(text("SELECT pg_backend_pid()")).scalar()

    parents = backend_pid()
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.write(writer, str(backend_pid()).encode())
        finally:
            os._exit(0)
    os.close(writer)
    childs = int(os.read(reader, 64) or 0)
    os.close(reader)
    os.waitpid(child, 0)
    assert childs and childs != parents  # a connection of its own
    assert backend_pid() == parents  # and the parent's is intact
