"""`python -m server` is Gunicorn (server/serving.py): a real process, real sockets.

What is checked: it serves pages, the API and Socket.IO over websocket with no development-server
warning; SIGTERM stops a running run cleanly and exits within seconds; a port in use is one line
and status 1; the thread pool's bound holds (websockets past it are refused, pages still answer);
a stalled request gives its thread back.
"""

import socket
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
import requests
import socketio

from tests.support.configs import long_config, tiny_config
from tests.support.paths import ROOT
from tests.support.server_process import Listener, ServerProcess, close_all

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Gunicorn's worker needs POSIX; tested on Linux")


def test_python_m_server_is_gunicorn_and_streams_runs_over_websocket(tmp_path):
    server = ServerProcess(str(tmp_path)).wait_ready()
    client = Listener(server.url).connect(transport="websocket")
    try:
        page = requests.get(server.url + "/", timeout=5)
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert page.headers["Server"].startswith("gunicorn")
        assert requests.get(server.url + "/api/schema", timeout=5).json()["optimizers"]
        assert client.sio.transport() == "websocket"

        tiny = client.sio.call("run:start", {"config": tiny_config(epochs=3)}, timeout=5)["run_id"]
        client.wait(lambda ev: any(n == "run:done" and d["run_id"] == tiny for n, d in ev))
        epochs = [d["epoch"] for n, d in client.events if n == "run:epoch" and d["run_id"] == tiny]
        assert epochs == [0, 1, 2, 3]

        running = client.sio.call("run:start", {"config": long_config()}, timeout=5)["run_id"]
        client.wait(lambda ev: any(n == "run:epoch" and d["run_id"] == running for n, d in ev))
        began = time.monotonic()
        server.proc.terminate()
        server.proc.wait(10)
        took = time.monotonic() - began
    finally:
        client.close()
        server.stop()
    assert server.proc.returncode == 0, server.log()
    assert took < 5, f"SIGTERM took {took:.1f} s"
    log = server.log()
    assert "development server" not in log.lower() and "werkzeug" not in log.lower()
    assert "Traceback" not in log, log
    with sqlite3.connect(server.db) as conn:
        statuses = dict(conn.execute("SELECT run_id, status FROM runs"))
    assert statuses == {tiny: "done", running: "stopped"}


def test_a_port_in_use_exits_1_with_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        began = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "server", "--port", str(port),
                               "--db", str(tmp_path / "runs.sqlite")],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "in use" in done.stderr
    assert done.stdout == ""  # no banner for a server that is not there
    assert time.monotonic() - began < 15  # no retries


def test_websockets_past_the_thread_bound_are_refused_and_pages_still_answer(tmp_path):
    # 4 threads: 3 for live connections, 1 kept for everything else.
    server = ServerProcess(str(tmp_path), args=["--threads", "4"]).wait_ready()
    clients, refused = [], 0
    try:
        for _ in range(5):
            client = Listener(server.url)
            try:
                clients.append(client.connect(transport="websocket"))
            except socketio.exceptions.ConnectionError:
                refused += 1
        assert (len(clients), refused) == (3, 2)
        # Idle websockets hold 3 threads; the page and the API are still served at once.
        began = time.monotonic()
        assert requests.get(server.url + "/api/schema", timeout=5).status_code == 200
        assert requests.get(server.url + "/", timeout=5).status_code == 200
        assert time.monotonic() - began < 2
        # What the refused ones got: a 503 that says why, not a hang.
        answer = requests.get(server.url + "/socket.io/?EIO=4&transport=polling", timeout=5)
        assert answer.status_code == 503 and "limit" in answer.json()["error"]
        # A connection that ends gives its thread back.
        clients.pop().sio.disconnect()
        deadline = time.monotonic() + 5
        while True:
            try:
                clients.append(Listener(server.url).connect(transport="websocket"))
                break
            except socketio.exceptions.ConnectionError:
                assert time.monotonic() < deadline, "the freed thread was not given back"
                time.sleep(0.2)
    finally:
        close_all(clients)
        server.stop()


STALLED_SERVER = textwrap.dedent("""
    import sys
    from server import create_app
    from server.serving import listen, serve

    listener = listen("127.0.0.1", 0)
    port = listener.getsockname()[1]
    print(port, flush=True)
    settings = {"DATABASE": sys.argv[1], "PORT": port}
    sys.exit(serve(lambda: create_app(settings), listener, threads=2, read_timeout=1.0))
""")


def test_a_stalled_request_gives_its_thread_back(tmp_path):
    errors = open(tmp_path / "stderr", "w+")
    proc = subprocess.Popen([sys.executable, "-c", STALLED_SERVER, str(tmp_path / "runs.sqlite")], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=errors, text=True)
    stalled = []
    try:
        url = f"http://127.0.0.1:{int(proc.stdout.readline())}"
        deadline = time.monotonic() + 30
        while True:
            try:
                assert requests.get(url + "/api/schema", timeout=2).status_code == 200
                break
            except requests.RequestException:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        # As many half-sent requests as there are threads, each holding one...
        for _ in range(2):
            sock = socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])))
            sock.sendall(b"GET /api/schema HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # no blank line: never ends
            stalled.append(sock)
        time.sleep(0.3)
        # ...are cut off after the read timeout, and the next request is served.
        began = time.monotonic()
        assert requests.get(url + "/api/schema", timeout=10).status_code == 200
        assert time.monotonic() - began < 5
        for sock in stalled:  # closed without an answer
            sock.settimeout(5)
            assert sock.recv(1024) == b""
    finally:
        for sock in stalled:
            sock.close()
        proc.terminate()
        proc.wait(15)
        errors.seek(0)
        log = errors.read()
        errors.close()
    assert "Traceback" not in log, log  # a stalled client is not the server's error
