"""The predict panel in real Chromium against the real server: draw digits with mouse moves, see them recognised."""
import io
import os

import numpy as np
import pytest

from tests.browser_helpers import PageWatch, chromium_path, launch_chromium, running_server

CHROMIUM = chromium_path()
pytestmark = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                                reason="predict browser tests skipped: no Chromium at /usr/bin/chromium "
                                       "(install it: apt-get install -y chromium)")

RUN_ID = "predictrun01"

# strokes in a unit box (x right, y down)
SEVEN = [[(0.2, 0.12), (0.8, 0.12), (0.42, 0.9)]]
ONE = [[(0.52, 0.1), (0.5, 0.9)]]
FOUR = [[(0.3, 0.1), (0.22, 0.55), (0.78, 0.55)], [(0.65, 0.12), (0.65, 0.92)]]


def _store_finished_run(db_path):
    from nnengine.config import parse_config
    from nnengine.network import build_network
    from server.store import Store

    cfg = parse_config({"seed": 0, "data": {"train_size": 50, "validation_size": 0, "test_size": 50},
                        "model": {"hidden_layers": [{"units": 10, "activation": "relu"}]},
                        "optimizer": {"name": "sgd", "lr": 0.1}, "training": {"epochs": 1, "batch_size": 10}})
    store = Store(str(db_path))
    store.init_schema()
    store.create_run(RUN_ID, cfg.to_dict())
    buf = io.BytesIO()
    np.savez(buf, **build_network(cfg.model, cfg.training, np.random.default_rng(0)).state_dict())
    store.finish_run(RUN_ID, "done", {"epochs": 1}, weights_npz_bytes=buf.getvalue())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = tmp_path_factory.mktemp("predict-db") / "runs.sqlite"
    _store_finished_run(db)
    with running_server(db, log_path=db.parent / "server.log") as base:
        yield base


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1100})
    pg = context.new_page()
    yield pg
    context.close()


def draw(page, strokes, size=0.7):
    page.locator("#predict-canvas").scroll_into_view_if_needed()
    box = page.locator("#predict-canvas").bounding_box()
    w, h = box["width"] * size * 0.75, box["height"] * size
    x0, y0 = box["x"] + (box["width"] - w) / 2, box["y"] + (box["height"] - h) / 2
    for stroke in strokes:
        pts = [(x0 + u * w, y0 + v * h) for u, v in stroke]
        page.mouse.move(*pts[0])
        page.mouse.down()
        for p in pts[1:]:
            page.mouse.move(*p, steps=12)
        page.mouse.up()


def requests_done(page, n):
    page.wait_for_function(f"window.predictPanel && window.predictPanel.requests >= {n}", timeout=15000)


@pytest.mark.parametrize("digit,strokes", [(7, SEVEN), (1, ONE), (4, FOUR)])
def test_draw_a_digit_and_see_it_recognised(page, server, digit, strokes):
    watch = PageWatch(page, server)
    page.goto(server + "/")
    page.wait_for_selector("#predict-canvas")
    draw(page, strokes)
    requests_done(page, len(strokes))
    page.wait_for_function("document.getElementById('predict-panel').getAttribute('aria-busy') === null")
    assert page.locator("#predict-digit").inner_text() == str(digit)
    last = page.evaluate("window.predictPanel.last")
    assert last["model"] == "default" and last["prediction"] == digit
    # the 28x28 view shows the input and the chart has ten bars
    lit = page.evaluate("""() => { const d = document.getElementById('predict-input').getContext('2d')
                                      .getImageData(0, 0, 28, 28).data; let n = 0;
                                   for (let i = 0; i < d.length; i += 4) if (d[i] > 128) n++; return n; }""")
    assert lit > 20
    bars = page.evaluate("document.getElementById('predict-chart').data[0].y")
    assert len(bars) == 10 and abs(sum(bars) - 1) < 1e-3 and max(bars) == bars[digit]
    # Clear empties the canvas and the result
    page.click("#predict-clear")
    assert page.locator("#predict-digit").inner_text() == "–"
    empty = page.evaluate("""() => { const d = document.getElementById('predict-canvas').getContext('2d')
                                        .getImageData(0, 0, 280, 280).data; return d.some(v => v !== 0); }""")
    assert not empty
    watch.assert_clean()


def test_non_image_upload_shows_the_error(page, server):
    """A text file sent as an upload: the panel shows the server's JSON error."""
    page.goto(server + "/")
    page.wait_for_selector("#predict-file", state="attached")
    page.set_input_files("#predict-file", files=[{"name": "notes.txt", "mimeType": "image/png",
                                                   "buffer": b"this is not a picture"}])
    requests_done(page, 1)
    page.wait_for_function("document.getElementById('predict-status').classList.contains('predict-error')")
    assert "not a supported image" in page.locator("#predict-status").inner_text().lower()


def test_upload_a_png(page, server):
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (120, 160), (235, 235, 230))
    ImageDraw.Draw(im).line([(60, 20), (60, 140)], fill=(20, 20, 90), width=12)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    page.goto(server + "/")
    page.wait_for_selector("#predict-file", state="attached")
    page.set_input_files("#predict-file", files=[{"name": "one.png", "mimeType": "image/png",
                                                   "buffer": buf.getvalue()}])
    requests_done(page, 1)
    page.wait_for_function("document.getElementById('predict-digit').textContent === '1'")


def test_run_page_offers_its_run_as_model(page, server):
    page.goto(f"{server}/runs/{RUN_ID}")
    page.wait_for_selector("#predict-canvas")
    assert page.eval_on_selector("#predict-model", "s => s.value") == RUN_ID
    draw(page, ONE)
    requests_done(page, 1)
    last = page.evaluate("window.predictPanel.last")
    assert last is not None and last["model"] == RUN_ID
    page.select_option("#predict-model", "default")
    requests_done(page, 2)
    page.wait_for_function("window.predictPanel.last && window.predictPanel.last.model === 'default'")
    assert page.locator("#predict-digit").inner_text() == "1"


def test_a_photo_over_the_upload_cap_is_shrunk_in_the_browser_and_recognised(page, server):
    """A 12 MP phone-sized JPEG of a '1' with sensor noise is over 2 MB; the page shrinks it and says so."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(0)
    im = Image.new("RGB", (4032, 3024), (225, 222, 215))
    ImageDraw.Draw(im).line([(2016, 700), (2016, 2300)], fill=(30, 30, 110), width=140)
    noisy = np.asarray(im, dtype=np.int16) + rng.integers(-40, 41, size=(3024, 4032, 1), dtype=np.int16)
    buf = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=95)
    assert buf.tell() > 2 * 1024 * 1024, "the test picture must be over the server's upload cap"

    page.goto(server + "/")
    page.wait_for_selector("#predict-file", state="attached")
    page.set_input_files("#predict-file", files=[{"name": "photo.jpg", "mimeType": "image/jpeg",
                                                   "buffer": buf.getvalue()}])
    requests_done(page, 1)
    page.wait_for_function("document.getElementById('predict-digit').textContent === '1'")
    status = page.inner_text("#predict-status")
    assert "4032×3024" in status and "shrunk" in status
