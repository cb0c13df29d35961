"""deploy/nginx.conf, filled in and run by a real nginx in front of a real `python -m server`.

The web node serves with only 3 threads (2 for websockets), so that anything which holds one of
them shows: slow uploads must be read by nginx and never reach it.
"""

import socket
import time

import pytest
import requests

from tests.support.configs import tiny_config
from tests.support.nginx import nginx_config
from tests.support.server_process import Listener, ServerProcess, close_all
from tests.support.services import Unavailable, free_port, nginx_server

CAP = 2 * 1024 * 1024  # the app's MAX_CONTENT_LENGTH
THREADS = 3


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    front_port = free_port()
    process = ServerProcess(str(tmp_path_factory.mktemp("node")), workers=1, args=("--threads", str(THREADS)), env={
        "PLAYGROUND_ALLOWED_ORIGINS": f"http://127.0.0.1:{front_port}",
        "PLAYGROUND_TRUSTED_PROXIES": "1",
        "PLAYGROUND_START_RATE": "off",
        "PLAYGROUND_START_RATE_PER_ADDRESS": "1/60",
    }).wait_ready()
    process.front_port = front_port
    yield process
    process.stop()


@pytest.fixture(scope="module")
def front(node):
    """nginx's base URL, in front of the node."""
    try:
        with nginx_server(nginx_config([f"127.0.0.1:{node.port}"], node.front_port), node.front_port) as base:
            yield base
    except Unavailable as exc:
        pytest.skip(str(exc))


def test_the_placeholders_are_all_filled():
    text = nginx_config(["127.0.0.1:5001", "127.0.0.1:5002"], 8080)
    assert "{web_nodes}" not in text and "{listen}" not in text and "{prefix}" in text
    assert "server 127.0.0.1:5001; server 127.0.0.1:5002;" in text and "listen 127.0.0.1:8080;" in text
    with pytest.raises(ValueError):
        nginx_config([], 8080)


def test_pages_and_the_api_are_served_through_nginx(front):
    assert requests.get(front + "/", timeout=10).status_code == 200
    schema = requests.get(front + "/api/schema", timeout=10)
    assert schema.status_code == 200 and schema.headers["Content-Type"].startswith("application/json")


def test_a_body_over_the_cap_is_refused_by_nginx_as_json(front):
    response = requests.post(front + "/api/predict", files={"image": ("big.png", b"\0" * (CAP + 1))},
                             timeout=10)
    assert response.status_code == 413
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"error": "the request is larger than the 2 MB (2097152 bytes) this server accepts"}
    # Just under the cap, the app itself answers (it is no picture).
    small = requests.post(front + "/api/predict", files={"image": ("x.png", b"\0" * 1000)}, timeout=10)
    assert small.status_code in (400, 415) and "error" in small.json()


def slow_uploads(port, count):
    """`count` connections that each send a request's headers and 10 bytes of its body, then stall."""
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n0123456789")
        sockets.append(sock)
    return sockets


def test_slow_uploads_wait_in_nginx_and_never_hold_the_nodes_threads(node, front):
    stalled = slow_uploads(node.front_port, 8)
    try:
        time.sleep(0.5)  # time for them to reach the node, if nginx passed them on
        began = time.monotonic()
        assert requests.get(front + "/api/schema", timeout=5).status_code == 200
        assert requests.get(node.url + "/api/schema", timeout=5).status_code == 200
        assert time.monotonic() - began < 2
    finally:
        for sock in stalled:
            sock.close()
    # Without nginx, as many such uploads as the node has threads hold them all: nothing else is answered.
    direct = slow_uploads(node.port, THREADS)
    try:
        time.sleep(0.5)
        with pytest.raises(requests.Timeout):
            requests.get(node.url + "/api/schema", timeout=2)
    finally:
        for sock in direct:
            sock.close()
    # The threads come back once the uploads are gone.
    deadline, answered = time.monotonic() + 10, False
    while not answered and time.monotonic() < deadline:
        try:
            answered = requests.get(node.url + "/api/schema", timeout=2).status_code == 200
        except requests.RequestException:
            pass
    assert answered


def test_sockets_upgrade_through_nginx_and_a_forged_address_is_replaced(front):
    clients = []
    try:
        def start(forged):
            client = Listener(front, websocket_extra_options={"header": {"X-Forwarded-For": forged}})
            clients.append(client.connect(transport="websocket"))
            return client.sio.call("run:start", {"config": tiny_config()}, timeout=10)

        first = start("192.0.2.1")
        assert "run_id" in first
        clients[0].wait(lambda events: any(name == "run:done" for name, _ in events), timeout=30)
        assert any(name == "run:epoch" for name, _ in clients[0].events)
        # nginx sends $remote_addr, not what the client claims: both count as 127.0.0.1.
        refusal = start("192.0.2.2")["error"]
        assert "from address 127.0.0.1" in refusal and "192.0.2" not in refusal
    finally:
        close_all(clients)
