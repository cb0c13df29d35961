"""The dashboard in Chromium through nginx (deploy/nginx.conf) in front of one `python -m server`.

nginx listens on its own port and proxies to the web node, as in cluster mode: the page, its scripts,
the JSON API and the Socket.IO websocket all go through it. The web node believes nginx's
X-Forwarded-For (PLAYGROUND_TRUSTED_PROXIES=1) and allows nginx's origin, as deploy/playground.env says.
"""
from __future__ import annotations

import pytest

from tests.support.browser import free_port, running_server
from tests.support.dashboard import GD, api, field, open_dashboard
from tests.support.nginx import nginx_config
from tests.support.services import Unavailable, nginx_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """nginx's base URL, with one web node behind it (which the test never reaches directly)."""
    tmp = tmp_path_factory.mktemp("through_nginx")
    node_port, nginx_port = free_port(), free_port()
    front = f"http://127.0.0.1:{nginx_port}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PLAYGROUND_ALLOWED_ORIGINS", front)
        env.setenv("PLAYGROUND_TRUSTED_PROXIES", "1")
        with running_server(tmp / "runs.sqlite", port=node_port, workers=1, log_path=tmp / "server.log"):
            try:
                with nginx_server(nginx_config([f"127.0.0.1:{node_port}"], nginx_port), nginx_port) as base:
                    assert base == front
                    yield base
            except Unavailable as exc:
                pytest.skip(str(exc))


def frames_of(page):
    """The Socket.IO websockets the page opens, and the text frames each receives."""
    sockets = []

    def opened(ws):
        received = []
        ws.on("framereceived", lambda payload: received.append(payload if isinstance(payload, str) else ""))
        sockets.append((ws.url, received))

    page.on("websocket", opened)
    return sockets


def test_the_dashboard_trains_and_streams_its_epochs_through_nginx(page, server):
    sockets = frames_of(page)
    open_dashboard(page, server)
    page.click('button[data-preset="quick"]')
    field(page, "training.epochs").fill("5")
    field(page, "data.train_size").fill("100")
    page.click("#train")
    page.wait_for_function("document.getElementById('status').dataset.status === 'done'", timeout=60000)

    loss = page.evaluate(f"{GD.format('loss')}.data.map(t => Array.from(t.x))")
    assert loss[0] == [0, 1, 2, 3, 4, 5]  # epoch 0 (before training) to 5, all drawn
    assert page.locator("#progress-epoch").inner_text() == "epoch 5 / 5"

    # The epochs came over a websocket through nginx's port (upgraded there), not by polling.
    ws_prefix = server.replace("http://", "ws://", 1) + "/socket.io/"
    streamed = [frames for url, frames in sockets if url.startswith(ws_prefix) and "transport=websocket" in url]
    assert streamed, f"no websocket through nginx: {[url for url, _ in sockets]}"
    epochs = [frame for frames in streamed for frame in frames if '"run:epoch"' in frame]
    assert len(epochs) == 6, epochs

    # The run is stored and readable through nginx; its permalink page is served there too.
    run_id = page.locator(".run-item").get_attribute("data-run-id")
    stored = api(server, f"/api/runs/{run_id}")
    assert stored["status"] == "done" and len(stored["metrics"]) == 6
    response = page.goto(f"{server}/runs/{run_id}")
    assert response.status == 200 and response.url == f"{server}/runs/{run_id}"
