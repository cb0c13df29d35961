"""Hardening over a real `python -m server` process and real Socket.IO clients:
foreign origins and DNS-rebinding hosts, and the server killed mid-run.

The server subprocess and the clients come from tests/support/server_process.py.
"""

import os
import sqlite3
import time

import pytest
import requests
import socketio

from tests.support.configs import diverging_config, long_config, tiny_config
from tests.support.images import digit, hostile, png
from tests.support.server_process import Listener, ServerProcess, close_all
from tests.support.sockets import WAIT_S


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("server")
    process = ServerProcess(str(folder),
                            env={"PLAYGROUND_ALLOWED_ORIGINS": "http://lab.example:8080"}).wait_ready()
    yield process
    process.stop()


# -- origins and hosts, over the wire ----------------------------------------------------

def test_the_configured_origin_connects_over_websocket_and_trains(server):
    client = Listener(server.url, websocket_extra_options={"origin": "http://lab.example:8080",
                                                           "host": "lab.example:8080"})
    client.connect()
    try:
        ack = client.sio.call("run:start", {"config": tiny_config()}, timeout=5)
        run_id = ack["run_id"]
        client.wait(lambda events: any(n == "run:done" for n, _ in events))
        assert {d["run_id"] for _, d in client.events} == {run_id}
    finally:
        client.close()


@pytest.mark.parametrize("options", [
    {"origin": "http://evil.com"},
    {"origin": "http://localhost:5000"},  # not in PLAYGROUND_ALLOWED_ORIGINS any more
    {"origin": "null"},  # sandboxed iframes and file:// pages
    {"origin": "http://lab.example:8080", "host": "evil.com"},  # DNS rebinding
    {"origin": "http://lab.example:8080", "host": "lab.example.evil.com:8080"},
])
def test_foreign_origins_and_hosts_cannot_open_a_websocket(server, options):
    client = Listener(server.url, websocket_extra_options=options)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect()
    assert not client.sio.connected


def test_foreign_origins_and_hosts_cannot_poll_either(server):
    handshake = server.url + "/socket.io/?EIO=4&transport=polling"
    assert requests.get(handshake, headers={"Origin": "http://evil.com"}).status_code == 403
    assert requests.get(handshake, headers={"Host": "evil.com"}).status_code == 400
    ok = requests.get(handshake, headers={"Origin": "http://lab.example:8080"})
    assert ok.status_code == 200 and b"sid" in ok.content
    # The polling transport with a foreign origin through the real client, too.
    client = Listener(server.url)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(transport="polling", headers={"Origin": "http://evil.com"})


def test_a_cross_site_form_post_is_refused(server):
    response = requests.post(server.url + "/api/validate", json=tiny_config(),
                             headers={"Origin": "http://evil.com"})
    assert response.status_code == 403 and "origin" in response.json()["error"]
    response = requests.post(server.url + "/api/predict", files={"image": ("x.png", b"x")},
                             headers={"Origin": "http://evil.com"})
    assert response.status_code == 403


# -- a real server's runs and predictions (child processes) ------------------------------------

LAB = {"origin": "http://lab.example:8080", "host": "lab.example:8080"}


def finished(client, config, timeout=WAIT_S):
    run_id = client.sio.call("run:start", {"config": config}, timeout=5)["run_id"]
    client.wait(lambda ev: any(n in ("run:done", "run:error") and d["run_id"] == run_id for n, d in ev),
                timeout)
    return run_id, next((n, d) for n, d in client.events
                        if n in ("run:done", "run:error") and d["run_id"] == run_id)


def test_a_diverging_run_ends_as_diverged_on_a_real_server(server):
    client = Listener(server.url, websocket_extra_options=LAB).connect()
    try:
        run_id, (name, done) = finished(client, diverging_config())
    finally:
        client.close()
    assert name == "run:done" and done["summary"]["status"] == "diverged"
    assert "learning rate" in done["summary"]["message"]
    stored = requests.get(f"{server.url}/api/runs/{run_id}").json()
    assert stored["status"] == "diverged" and stored["summary"] == done["summary"]


def test_hostile_uploads_leave_a_real_server_serving(server):
    client = Listener(server.url, websocket_extra_options=LAB).connect()
    try:
        run_id, (name, _) = finished(client, tiny_config())
    finally:
        client.close()
    assert name == "run:done"
    url = server.url + "/api/predict"
    for label, data in hostile().items():
        response = requests.post(url, files={"image": ("d.png", data)}, data={"run_id": run_id}, timeout=10)
        assert 400 <= response.status_code < 500, label
        assert response.headers["Content-Type"] == "application/json", label
    good = requests.post(url, files={"image": ("d.png", png(digit()))}, data={"run_id": run_id}, timeout=10)
    assert good.status_code == 200 and good.json()["prediction"] in range(10)
    assert requests.get(server.url + "/api/schema", timeout=5).status_code == 200


# -- behind a reverse proxy -------------------------------------------------------------------

def test_behind_a_trusted_proxy_the_start_limit_is_per_forwarded_address(tmp_path):
    server = ServerProcess(str(tmp_path), env={"PLAYGROUND_TRUSTED_PROXIES": "1",
                                               "PLAYGROUND_START_RATE": "off",
                                               "PLAYGROUND_START_RATE_PER_ADDRESS": "1/60"}).wait_ready()
    clients = []
    try:
        def start_from(address):
            client = Listener(server.url, websocket_extra_options={"header": {"X-Forwarded-For": address}})
            clients.append(client.connect())
            return client.sio.call("run:start", {"config": tiny_config()}, timeout=5)

        assert "run_id" in start_from("192.0.2.1")
        assert "run_id" in start_from("192.0.2.2")
        refusal = start_from("192.0.2.1")["error"]
        assert "too many runs started" in refusal and "address 192.0.2.1" in refusal
    finally:
        close_all(clients)
        server.stop()


# -- the server killed mid-run -----------------------------------------------------------

def descendants(pid):
    """Process ids below `pid` (Linux /proc), e.g. the forkserver and training children."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_stopping_the_server_stores_the_running_run_as_stopped(tmp_path, how):
    server = ServerProcess(str(tmp_path)).wait_ready()
    client = Listener(server.url).connect()
    try:
        run_id = client.sio.call("run:start", {"config": long_config()}, timeout=5)["run_id"]
        client.wait(lambda ev: any(n == "run:epoch" and d["run_id"] == run_id for n, d in ev))
        if how == "ctrl-c":
            server.interrupt()
        else:
            server.stop()
    finally:
        client.close()
        server.stop()
    assert server.proc.returncode == 0, server.log()
    with sqlite3.connect(server.db) as conn:
        status, message = conn.execute("SELECT status, message FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        epochs = conn.execute("SELECT COUNT(*) FROM metrics WHERE run_id = ?", (run_id,)).fetchone()[0]
    assert status == "stopped" and "stopped during epoch" in message
    assert epochs >= 1


def test_sigkill_mid_run_keeps_stored_runs_and_marks_the_unfinished_one(tmp_path):
    server = ServerProcess(str(tmp_path)).wait_ready()
    client = Listener(server.url).connect()
    try:
        finished = client.sio.call("run:start", {"config": tiny_config(epochs=4)}, timeout=5)["run_id"]
        client.wait(lambda ev: any(n == "run:done" and d["run_id"] == finished for n, d in ev))
        before = requests.get(f"{server.url}/api/runs/{finished}").json()
        weights = requests.get(f"{server.url}/api/runs/{finished}/weights.npz").content

        running = client.sio.call("run:start", {"config": long_config()}, timeout=5)["run_id"]
        client.wait(lambda ev: any(n == "run:epoch" and d["run_id"] == running and d["epoch"] >= 1
                                   for n, d in ev))
        helpers = descendants(server.proc.pid) if os.path.isdir("/proc") else []
        server.kill()  # SIGKILL to the master and its worker: no finally, no shutdown, no atexit
        # The training process does not go on training for nobody.
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in helpers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in helpers if alive(pid)]
    finally:
        client.close()
        server.stop()

    # What the dead process left: WAL mode, the finished run whole, the other one 'running'.
    with sqlite3.connect(server.db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        statuses = dict(conn.execute("SELECT run_id, status FROM runs"))
    assert statuses == {finished: "done", running: "running"}

    restarted = ServerProcess(str(tmp_path), port=server.port).wait_ready()
    try:
        after = requests.get(f"{restarted.url}/api/runs/{finished}").json()
        assert after == {**before, "queue_position": None}
        assert requests.get(f"{restarted.url}/api/runs/{finished}/weights.npz").content == weights
        interrupted = requests.get(f"{restarted.url}/api/runs/{running}").json()
        assert interrupted["status"] == "interrupted"
        assert "server stopped" in interrupted["message"]
        assert len(interrupted["metrics"]) >= 2  # the epochs stored before the kill stay
        assert [m["epoch"] for m in interrupted["metrics"]] == list(range(len(interrupted["metrics"])))
        # And the restarted server trains.
        client = Listener(restarted.url).connect()
        try:
            run_id = client.sio.call("run:start", {"config": tiny_config()}, timeout=5)["run_id"]
            client.wait(lambda ev: any(n == "run:done" and d["run_id"] == run_id for n, d in ev))
        finally:
            client.close()
    finally:
        restarted.stop()


def test_with_its_master_killed_the_worker_stops_its_runs_and_exits(tmp_path):
    """Gunicorn's master supervises the process that serves; if the master dies, the worker does
    not serve on unsupervised: it stops its runs (stored as 'stopped') and exits, helpers too."""
    server = ServerProcess(str(tmp_path)).wait_ready()
    client = Listener(server.url).connect()
    try:
        run_id = client.sio.call("run:start", {"config": long_config()}, timeout=5)["run_id"]
        client.wait(lambda ev: any(n == "run:epoch" and d["run_id"] == run_id for n, d in ev))
        helpers = descendants(server.proc.pid)
        assert helpers  # the worker, its forkserver, the training process
        server.kill_master()
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in helpers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in helpers if alive(pid)]
        # Its client was told before the socket closed.
        client.wait(lambda ev: any(n == "run:done" and d["run_id"] == run_id for n, d in ev), timeout=1)
    finally:
        client.close()
        server.stop()
    with sqlite3.connect(server.db) as conn:
        status = conn.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()[0]
    assert status == "stopped"
