"""The predict panel in real Chromium against the real server: draw digits with mouse moves, see them recognised."""
import base64
import io
import json

import numpy as np
import pytest

from tests.support.browser import PageWatch

RUN_ID = "predictrun01"

# strokes in a unit box (x right, y down)
SEVEN = [[(0.2, 0.12), (0.8, 0.12), (0.42, 0.9)]]
ONE = [[(0.52, 0.1), (0.5, 0.9)]]
FOUR = [[(0.3, 0.1), (0.22, 0.55), (0.78, 0.55)], [(0.65, 0.12), (0.65, 0.92)]]


def _store_finished_run(db_path):
    from nnengine.config import parse_config
    from nnengine.models import build_network
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
def server_options():
    return {}  # the server's own number of workers


@pytest.fixture(scope="module")
def seed_database():
    return _store_finished_run


@pytest.fixture(scope="module")
def page_options():
    """1280x1100; each test watches its page itself."""
    return {"height": 1100, "timeout": 30000, "watch": False}


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


def upload_a_one(page, server, name, mime_type, data):
    """Upload a picture of a '1' on the dashboard and wait until the panel says '1'."""
    page.goto(server + "/")
    page.wait_for_selector("#predict-file", state="attached")
    page.set_input_files("#predict-file", files=[{"name": name, "mimeType": mime_type, "buffer": data}])
    requests_done(page, 1)
    page.wait_for_function("document.getElementById('predict-digit').textContent === '1'")


def test_upload_a_png(page, server):
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (120, 160), (235, 235, 230))
    ImageDraw.Draw(im).line([(60, 20), (60, 140)], fill=(20, 20, 90), width=12)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    upload_a_one(page, server, "one.png", "image/png", buf.getvalue())


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

    upload_a_one(page, server, "photo.jpg", "image/jpeg", buf.getvalue())
    status = page.inner_text("#predict-status")
    assert "4032×3024" in status and "shrunk" in status


# ------------------------------------------------------------------ the dashboard's own runs as models

TINY = {  # trains in a second or two
    "seed": 1,
    "data": {"train_size": 100, "validation_size": 0, "test_size": 200},
    "model": {"hidden_layers": [{"units": 20, "activation": "relu"}]},
    "optimizer": {"name": "sgd", "lr": 0.1},
    "training": {"epochs": 3, "batch_size": 50},
}


def _hash(config):
    return "#config=" + base64.urlsafe_b64encode(json.dumps(config).encode()).decode().rstrip("=")


def _train_on_dashboard(page, server, config):
    """Open the dashboard with `config`, press Train, wait until the run ends; its id and final status."""
    page.goto(server + "/" + _hash(config))
    page.wait_for_function("window.playground && window.playground.builder")
    page.click("#train")
    page.wait_for_function("['done', 'stopped', 'diverged', 'error'].includes("
                           "document.getElementById('status').dataset.status)", timeout=60000)
    item = page.locator(".run-item").last
    return item.get_attribute("data-run-id"), page.eval_on_selector("#status", "s => s.dataset.status")


def _model_options(page):
    return page.eval_on_selector_all("#predict-model option", "os => os.map(o => [o.value, o.textContent])")


def test_a_run_trained_on_the_dashboard_is_offered_as_a_model(page, server):
    watch = PageWatch(page, server)
    run_id, status = _train_on_dashboard(page, server, TINY)
    assert status == "done"
    page.wait_for_function(f"[...document.querySelectorAll('#predict-model option')].some(o => o.value === '{run_id}')",
                           timeout=10000)
    options = dict(_model_options(page))
    assert list(options)[0] == "default"
    # a readable name: its short name in the run list and its description, not the bare id
    assert "#1" in options[run_id] and "784-20-10" in options[run_id], options
    assert run_id not in options[run_id]
    # the default model stays selected until the user picks the run
    assert page.eval_on_selector("#predict-model", "s => s.value") == "default"
    draw(page, ONE)
    requests_done(page, 1)
    page.wait_for_function("window.predictPanel.last !== null")
    assert page.evaluate("window.predictPanel.last.model") == "default"
    page.select_option("#predict-model", run_id)
    requests_done(page, 2)
    page.wait_for_function(f"window.predictPanel.last && window.predictPanel.last.model === '{run_id}'")
    last = page.evaluate("window.predictPanel.last")
    assert len(last["probabilities"]) == 10 and abs(sum(last["probabilities"]) - 1) < 1e-3
    assert "#1" in page.inner_text("#predict-status")
    watch.assert_clean()


def test_a_run_stored_earlier_is_offered_on_a_fresh_dashboard(page, server):
    page.goto(server + "/")
    page.wait_for_function(f"[...document.querySelectorAll('#predict-model option')].some(o => o.value === '{RUN_ID}')",
                           timeout=10000)
    options = dict(_model_options(page))
    assert options[RUN_ID].startswith(f"stored run {RUN_ID[:6]}") and "784-" in options[RUN_ID], options
    assert page.eval_on_selector("#predict-model", "s => s.value") == "default"
    assert page.locator("#predict-model-note").is_hidden()  # no "finished" note for an old run


def test_a_diverged_run_is_not_offered(page, server):
    """A diverged run stores no weights (server/runs/outcome.py KEEP_WEIGHTS): picking it could only fail."""
    diverging = json.loads(json.dumps(TINY))
    diverging["model"]["hidden_layers"][0]["activation"] = "identity"
    diverging["optimizer"]["lr"] = 1e6
    run_id, status = _train_on_dashboard(page, server, diverging)
    assert status == "diverged"
    page.wait_for_timeout(2500)  # the panel looks at the run list every 2 s
    assert run_id not in dict(_model_options(page))


# ------------------------------------------------------------------ a failed prediction leaves nothing stale

def _blank_png():
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (200, 200), (255, 255, 255)).save(buf, "PNG")
    return {"name": "blank.png", "mimeType": "image/png", "buffer": buf.getvalue()}


NOT_AN_IMAGE = {"name": "notes.png", "mimeType": "image/png", "buffer": b"this is not a picture"}

LIT_PIXELS = """() => { const d = document.getElementById('predict-input').getContext('2d')
                          .getImageData(0, 0, 28, 28).data; let n = 0;
                        for (let i = 0; i < d.length; i += 4) if (d[i] > 128) n++; return n; }"""
BARS = "Array.from(document.getElementById('predict-chart').data[0].y)"


@pytest.mark.parametrize("bad,message", [(_blank_png, "no digit"), (lambda: NOT_AN_IMAGE, "not a supported image")])
def test_a_failed_prediction_clears_the_previous_result(page, server, bad, message):
    page.goto(server + "/")
    page.wait_for_selector("#predict-canvas")
    draw(page, SEVEN)
    requests_done(page, 1)
    page.wait_for_function("document.getElementById('predict-digit').textContent === '7'")
    assert page.evaluate(LIT_PIXELS) > 20 and max(page.evaluate(BARS)) > 0.5

    page.set_input_files("#predict-file", files=[bad()])
    requests_done(page, 2)
    page.wait_for_function("document.getElementById('predict-status').classList.contains('predict-error')")
    assert message in page.inner_text("#predict-status").lower()
    assert page.inner_text("#predict-digit") == "?"
    assert page.inner_text("#predict-confidence") == ""
    assert page.evaluate(LIT_PIXELS) == 0, "the previous 28x28 preview is still shown"
    assert page.evaluate(BARS) == [0] * 10, "the previous probabilities are still shown"
    assert page.evaluate("window.predictPanel.last") is None

    # and a good picture afterwards is recognised again
    draw(page, ONE)
    requests_done(page, 3)
    page.wait_for_function("document.getElementById('predict-digit').textContent === '1'")
    assert page.evaluate(LIT_PIXELS) > 20


def test_the_old_result_is_marked_while_a_new_input_is_recognised(page, server):
    """While the server works on a new picture, the previous result is visibly marked as not its answer."""
    page.goto(server + "/")
    page.wait_for_selector("#predict-canvas")
    draw(page, SEVEN)
    requests_done(page, 1)
    page.wait_for_function("document.getElementById('predict-digit').textContent === '7'")
    assert "predict-stale" not in page.get_attribute("#predict-panel", "class")

    held = []
    page.route("**/api/predict", lambda route: held.append(route))
    page.set_input_files("#predict-file", files=[_blank_png()])
    page.wait_for_function("document.getElementById('predict-panel').getAttribute('aria-busy') === 'true'")
    assert "predict-stale" in page.get_attribute("#predict-panel", "class")
    # dimmed (after a short delay, so that a quick answer does not flicker)
    page.wait_for_function("""() => ['.predict-seen', '.predict-chart-wrap'].every(
                                  s => parseFloat(getComputedStyle(document.querySelector(s)).opacity) < 0.5)""")
    assert held, "the request was not intercepted"
    held[0].continue_()
    page.unroute("**/api/predict")
    requests_done(page, 2)
    page.wait_for_function("document.getElementById('predict-status').classList.contains('predict-error')")
    assert page.evaluate(LIT_PIXELS) == 0 and page.evaluate(BARS) == [0] * 10
    assert "predict-stale" not in page.get_attribute("#predict-panel", "class")
