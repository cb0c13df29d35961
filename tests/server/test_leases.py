"""Leases: only runs whose process is gone are marked interrupted, never those of a live server
on the same database (the store on both databases, then apps, then two real server processes)."""

import os
import sqlite3
import subprocess
import sys
import time

import pytest
import requests
from sqlalchemy import text

from server.store import LEASE_RENEW_S, LEASE_TTL_S, SCHEMA_VERSION, Store, new_owner, owner_is_dead
from tests.support.configs import long_config, tiny_config
from tests.support.runs import wait_status
from tests.support.server_process import Listener, ServerProcess
from tests.support.sockets import SocketUser, socket_client
from tests.support.store import CONFIG


@pytest.fixture
def store(database):
    store = Store(database)
    store.init_schema()
    yield store
    store.close()


def dead_owner():
    """The owner name of a process of this machine that has ended."""
    child = subprocess.run([sys.executable, "-c", "from server.store import new_owner; print(new_owner())"],
                           capture_output=True, text=True, check=True)
    return child.stdout.strip()


def statuses(store):
    return {run["run_id"]: run["status"] for run in store.list_runs()}


def test_only_runs_whose_lease_lapsed_or_whose_owner_is_gone_are_expired(store):
    mine = new_owner()
    store.create_run("live", CONFIG, lease_owner=mine)
    store.create_run("ownerless", CONFIG)  # as a server of schema 3 stored it
    store.create_run("orphan", CONFIG, lease_owner=dead_owner())
    store.create_run("elsewhere", CONFIG, lease_owner="another-host/1/1/abcd")
    store.create_run("finished", CONFIG, lease_owner=dead_owner())
    store.finish_run("finished", "done", {"status": "done"})

    assert sorted(store.expire_leases()) == ["orphan", "ownerless"]
    assert statuses(store) == {"live": "queued", "ownerless": "interrupted", "orphan": "interrupted",
                               "elsewhere": "queued", "finished": "done"}
    assert "server stopped" in store.get_run("orphan")["message"]
    assert store.expire_leases() == []  # nothing more to do: nothing written

    # Another machine's run is known only by its lease: once it lapses, it is expired too.
    later = time.time() + LEASE_TTL_S + 1
    assert store.renew_leases(mine, ["live"], ttl=LEASE_TTL_S + 60) == {"live"}
    assert store.expire_leases(now=later) == ["elsewhere"]
    assert statuses(store)["live"] == "queued"


def test_a_renewed_lease_keeps_a_run_alive_past_its_first_term(store):
    owner = new_owner()
    store.create_run("r", CONFIG, lease_owner=owner, lease_ttl=1)
    store.set_status("r", "running")
    assert store.expire_leases(now=time.time() + 5) == ["r"]

    store.create_run("s", CONFIG, lease_owner=owner, lease_ttl=1)
    assert store.renew_leases(owner, ["s", "r", "unknown"], ttl=60) == {"s"}  # r finished (interrupted)
    assert store.expire_leases(now=time.time() + 5) == []
    assert store.expire_leases(now=time.time() + 61) == ["s"]
    assert store.renew_leases(owner, []) == set()


def test_owners_of_this_machine_are_told_dead_or_alive():
    assert not owner_is_dead(new_owner())
    assert owner_is_dead(dead_owner())
    host, pid, started, token = new_owner().split("/")
    assert owner_is_dead(f"{host}/{pid}/{int(started) - 1}/{token}")  # the same PID, another process
    assert not owner_is_dead(f"elsewhere/{pid}/1/x") and not owner_is_dead("not an owner")


def test_a_database_of_schema_3_gains_the_lease_columns_and_keeps_its_runs(database):
    store = Store(database)
    store.init_schema()
    store.create_run("old", CONFIG)
    store.finish_run("old", "done", {"status": "done"}, b"PK-old")
    store.create_run("left", CONFIG)
    # Back to schema 3 as it was written: no lease columns, version 3.
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE runs DROP COLUMN lease_owner"))
        conn.execute(text("ALTER TABLE runs DROP COLUMN lease_expires"))
        conn.execute(text("DELETE FROM schema_version WHERE version > 3"))
        if store.backend == "sqlite":
            conn.execute(text("PRAGMA user_version = 3"))
    store.close()

    store = Store(database)
    store.init_schema()
    assert store.schema_version() == SCHEMA_VERSION == 4
    assert store.get_run("old")["status"] == "done" and store.get_weights("old") == b"PK-old"
    assert store.expire_leases() == ["left"]  # a run of a server of schema 3 has no lease
    store.create_run("new", CONFIG, lease_owner=new_owner())
    assert store.expire_leases() == [] and store.get_run("new")["status"] == "queued"
    store.close()


# -- apps ------------------------------------------------------------------------------------


def test_a_second_app_on_the_same_database_leaves_the_first_ones_live_runs_alone(make_app):
    first = make_app()
    user = SocketUser(socket_client(first, first.test_client()))
    live = user.start(long_config())["run_id"]
    user.wait_for("run:epoch", live, count=1)
    first.extensions["store"].create_run("orphan", tiny_config(), lease_owner=dead_owner())

    second = make_app()  # its start expires leases
    stored = second.extensions["store"].get_run(live)
    assert stored["status"] == "running"
    assert second.extensions["store"].get_run("orphan")["status"] == "interrupted"
    # The first app goes on storing its run, and finishes it.
    assert first.extensions["runs"].stop(live)
    assert wait_status(second, live, ("stopped",))["status"] == "stopped"
    user.sio.disconnect()


def test_the_lease_of_a_running_run_is_renewed_while_it_trains(make_app, monkeypatch):
    import server.runs.local

    monkeypatch.setattr(server.runs.local, "LEASE_RENEW_S", 0.05)
    app = make_app()
    manager, store = app.extensions["runs"], app.extensions["store"]
    from nnengine.config import parse_config

    run_id = manager.submit(parse_config(long_config()), "sid")

    def lease():
        with store.engine.connect() as conn:
            return conn.execute(text("SELECT lease_owner, lease_expires FROM runs WHERE run_id = :r"),
                                {"r": run_id}).one()

    owner, first = lease()
    assert owner == manager.backend.lease_owner and first > time.time() + LEASE_TTL_S - 5
    deadline = time.monotonic() + 10
    while lease()[1] <= first and time.monotonic() < deadline:
        time.sleep(0.02)
    assert lease()[1] > first
    manager.stop(run_id)
    wait_status(app, run_id, ("stopped",))
    manager.shutdown()
    assert manager.backend._leases.stopped


# -- two real servers on one SQLite file ----------------------------------------------------


def test_two_servers_on_one_sqlite_file_mark_only_a_killed_ones_runs(tmp_path):
    os.makedirs(tmp_path / "a")
    os.makedirs(tmp_path / "b")
    first = ServerProcess(str(tmp_path / "a")).wait_ready()
    database = first.db
    second = None
    client = Listener(first.url).connect()
    try:
        live = client.sio.call("run:start", {"config": long_config()}, timeout=5)["run_id"]
        client.wait(lambda ev: any(n == "run:epoch" and d["run_id"] == live for n, d in ev))

        second = ServerProcess(str(tmp_path / "b"), args=("--db", database)).wait_ready()
        assert requests.get(f"{second.url}/api/runs/{live}").json()["status"] == "running"
        seen = len([1 for n, d in client.events if n == "run:epoch" and d["run_id"] == live])
        client.wait(lambda ev: len([1 for n, d in ev if n == "run:epoch" and d["run_id"] == live]) > seen + 2)

        first.kill()  # SIGKILL: nothing of it runs after
        client.close()
        # The second server's own rounds find the killed server's run (its process is gone).
        deadline = time.monotonic() + LEASE_RENEW_S + 10
        while time.monotonic() < deadline:
            run = requests.get(f"{second.url}/api/runs/{live}").json()
            if run["status"] != "running":
                break
            time.sleep(0.2)
        assert run["status"] == "interrupted" and "server stopped" in run["message"]
    finally:
        client.close()
        first.stop()
        if second is not None:
            second.stop()
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
