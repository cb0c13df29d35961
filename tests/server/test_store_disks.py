"""A really full disk, a read-only mount, a read-only file, and a database of an older schema that
cannot be upgraded: stored runs are still read (the lists, a run's page, run:watch, predictions
with its weights), and every refusal names the cause.

The disks are real (a 4 MB tmpfs, tests/support/disks.py); where mounting is not allowed, those
tests are skipped, and the ones on an SQLite URI opened read-only (``mode=ro``) still run.
"""

import os
import sqlite3

import pytest

import server.store.core as store_core
from server.store import SCHEMA_VERSION, Store, StoreError
from tests.support.configs import tiny_config
from tests.support.disks import read_only_file, small_disk  # noqa: F401 (a fixture)
from tests.support.images import digit_image, post
from tests.support.sockets import SocketUser, socket_client
from tests.support.store import NAMED, first_schema_database, record

DISK_FULL = "the disk is full"
READ_ONLY = "the database is read-only"


def trained_run(app):
    """A finished run with its weights, trained and stored by the app."""
    user = SocketUser(socket_client(app, app.test_client()))
    run_id = user.start(tiny_config(epochs=2))["run_id"]
    assert user.wait_finished(run_id)[0] == "run:done"
    user.sio.disconnect()
    return run_id


def assert_reads_work(app, run_id):
    """Everything that only reads a stored run answers as usual."""
    client = app.test_client()
    listed = client.get("/api/runs")
    assert listed.status_code == 200, listed.get_json()
    assert run_id in [run["run_id"] for run in listed.get_json()["runs"]]
    stored = client.get(f"/api/runs/{run_id}")
    assert stored.status_code == 200 and stored.get_json()["status"] == "done"
    assert [m["epoch"] for m in stored.get_json()["metrics"]] == [0, 1, 2]
    assert client.get(f"/runs/{run_id}").status_code == 200
    assert client.get(f"/api/runs/{run_id}/weights.npz").status_code == 200
    predicted = post(client, digit_image(3), run_id=run_id)
    assert predicted.status_code == 200, predicted.get_json()
    user = SocketUser(socket_client(app, client))
    watched = user.emit("run:watch", {"run_id": run_id})
    assert watched["status"] == "done" and len(watched["metrics"]) == 3
    return user


def assert_start_refused(user, cause):
    ack = user.emit("run:start", {"config": tiny_config()})
    assert ack == {"error": f"the run could not be recorded: {cause}"}
    user.sio.disconnect()


def test_a_read_only_mount_is_read_after_a_restart_and_writes_say_it_is_read_only(make_app, small_disk):
    database = small_disk.file("runs.sqlite")
    first = make_app(DATABASE=database)
    run_id = trained_run(first)
    first.extensions["runs"].shutdown()
    first.extensions["store"].close()  # the last connection: the -wal and -shm files go
    assert not os.path.exists(database + "-shm")
    small_disk.read_only()

    app = make_app(DATABASE=database)  # a restart on the read-only mount
    user = assert_reads_work(app, run_id)
    assert_start_refused(user, READ_ONLY)


def test_a_mount_that_turns_read_only_under_a_running_app(make_app, small_disk):
    app = make_app(DATABASE=small_disk.file("runs.sqlite"))
    run_id = trained_run(app)
    app.extensions["store"].close()  # no pooled connection left: every read opens the file again
    small_disk.read_only()
    user = assert_reads_work(app, run_id)
    assert_start_refused(user, READ_ONLY)


def test_a_full_disk_is_read_after_a_restart_and_writes_say_it_is_full(make_app, small_disk):
    database = small_disk.file("runs.sqlite")
    first = make_app(DATABASE=database)
    run_id = trained_run(first)
    first.extensions["runs"].shutdown()
    first.extensions["store"].close()
    small_disk.fill()

    app = make_app(DATABASE=database)
    user = assert_reads_work(app, run_id)
    assert_start_refused(user, DISK_FULL)
    small_disk.free()  # room again: runs are stored again
    user = SocketUser(socket_client(app, app.test_client()))
    again = user.start(tiny_config())["run_id"]
    assert user.wait_finished(again)[0] == "run:done"
    user.sio.disconnect()


def test_a_run_that_fills_the_disk_ends_saying_so_and_the_reads_go_on(make_app, small_disk):
    app = make_app(DATABASE=small_disk.file("runs.sqlite"))
    run_id = trained_run(app)
    small_disk.fill()
    user = SocketUser(socket_client(app, app.test_client()))
    ack = user.emit("run:start", {"config": tiny_config()})
    assert ack == {"error": f"the run could not be recorded: {DISK_FULL}"}
    assert_reads_work(app, run_id)
    user.sio.disconnect()


def test_a_read_only_file_says_it_is_read_only_not_a_disk_error(tmp_path):
    path = tmp_path / "runs.sqlite"
    store = Store(path)
    store.init_schema()
    store.create_run("r", NAMED)
    store.close()
    try:
        context = read_only_file(path)
        context.__enter__()
    except OSError as exc:
        pytest.skip(f"a file cannot be bind-mounted here ({exc})")
    try:
        store = Store(path)
        store.init_schema()  # nothing to write: the schema is this one, the file in WAL mode
        assert store.get_run("r")["config"] == NAMED
        with pytest.raises(StoreError) as refused:
            store.create_run("r2", NAMED)
        assert (refused.value.reason, refused.value.public) == ("read_only", READ_ONLY)
        assert "I/O" not in str(refused.value)
        store.close()
    finally:
        context.__exit__(None, None, None)


# -- a database of an older schema that cannot be upgraded ---------------------------------------


def assert_first_schema_is_read(store):
    assert [run["run_id"] for run in store.list_runs()] == ["old3", "old2", "old1"]
    assert [run["last_epoch"] for run in store.list_runs()] == [2, 2, 2]
    assert [run["run_id"] for run in store.list_runs(terms=("baseline", "adam"))] == ["old1"]
    assert [run["run_id"] for run in store.list_runs(limit=1, offset=1)] == ["old2"]
    assert store.count_runs(statuses=("done",)) == 1
    old = store.get_run("old1")
    assert old["config"] == NAMED and old["metrics"] == [record(e) for e in range(3)] and old["origin"] is None
    assert store.get_weights("old1") == b"PK-old1-weights" and store.get_weights("old2") is None
    assert store.schema_version() == 0


def test_a_read_only_database_of_the_first_schema_is_read_as_it_is(tmp_path):
    path = tmp_path / "first.sqlite"
    first_schema_database(path)
    store = Store(f"file:{path}?mode=ro")  # opened read-only: even root cannot write through it
    with pytest.raises(StoreError) as refused:
        store.init_schema()
    assert refused.value.reason == "read_only"
    assert_first_schema_is_read(store)
    with pytest.raises(StoreError) as refused:
        store.create_run("new", NAMED)
    assert refused.value.reason == "read_only"
    assert str(refused.value).startswith("the database is read-only; the database's older schema (version 0)"
                                         " could not be upgraded, so its runs can be read but not written")
    store.close()
    with sqlite3.connect(path) as conn:  # untouched
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    conn.close()


def test_an_app_on_a_read_only_first_schema_database_lists_and_shows_its_runs(make_app, tmp_path):
    path = tmp_path / "first.sqlite"
    first_schema_database(path)
    app = make_app(DATABASE=f"file:{path}?mode=ro")
    client = app.test_client()
    listed = client.get("/api/runs")
    assert listed.status_code == 200, listed.get_json()
    assert [run["run_id"] for run in listed.get_json()["runs"]] == ["old3", "old2", "old1"]
    assert client.get("/api/runs/old1").get_json()["metrics"] == [record(e) for e in range(3)]
    assert client.get("/runs/old1").status_code == 200
    user = SocketUser(socket_client(app, client))
    assert user.emit("run:watch", {"run_id": "old2"})["status"] == "stopped"
    ack = user.emit("run:start", {"config": tiny_config()})
    assert ack["error"].startswith(f"the run could not be recorded: {READ_ONLY} (its older schema")
    user.sio.disconnect()


def test_a_first_schema_database_on_a_full_disk_is_read_then_upgraded_once_there_is_room(
        small_disk, monkeypatch):
    path = small_disk.file("first.sqlite")
    first_schema_database(path)
    small_disk.fill()
    store = Store(path)
    with pytest.raises(StoreError) as refused:
        store.init_schema()  # the upgrade rebuilds the runs table: no room for it
    assert refused.value.reason == "disk_full"
    assert_first_schema_is_read(store)
    with pytest.raises(StoreError) as refused:
        store.create_run("new", NAMED)
    assert refused.value.public.startswith(f"{DISK_FULL} (its older schema could not be upgraded")

    small_disk.free()
    monkeypatch.setattr(store_core, "UPGRADE_RETRY_S", 0.0)
    store.create_run("new", NAMED)  # the write tries the upgrade again first
    assert store.schema_version() == SCHEMA_VERSION
    assert [run["run_id"] for run in store.list_runs()] == ["new", "old3", "old2", "old1"]
    assert store.get_weights("old1") == b"PK-old1-weights"
    store.close()
