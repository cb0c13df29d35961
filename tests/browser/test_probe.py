"""The "Probe a network" lab in Chromium: every panel driven by clicks, drags and drawing, against the real
server with two trained runs stored. Screenshots of each panel go to /tmp/probe_shots/."""
import base64
import json
from pathlib import Path

import pytest

SHOTS = Path("/tmp/probe_shots")
RUNS = {"probeplain1": ("Plain network", 0.0), "probedecay1": ("Weight decay 0.01", 0.01)}


def _seed(db_path):
    from nnengine.config import parse_config
    from nnengine.models import weights_npz
    from nnengine.trainer import train
    from server.store import Store

    store = Store(str(db_path))
    store.init_schema()
    for run_id, (name, decay) in RUNS.items():
        config = parse_config({"name": name, "seed": 1, "data": {"train_size": 1000, "test_size": 500},
                               "model": {"hidden_layers": [{"units": 64}, {"units": 32}]},
                               "optimizer": {"name": "adam", "lr": 0.003},
                               "training": {"epochs": 10, "batch_size": 50, "weight_decay": decay}})
        store.create_run(run_id, config.to_dict())
        store.finish_run(run_id, "done", {"epochs": 10}, weights_npz_bytes=weights_npz(train(config).network))
    store.close()


@pytest.fixture(scope="module")
def seed_database():
    return _seed


@pytest.fixture(scope="module")
def page_options():
    return {"width": 1400, "height": 1000, "timeout": 30000}


def settings_hash(settings):
    return "#s=" + base64.urlsafe_b64encode(json.dumps(settings).encode()).decode().rstrip("=")


def shot(page, panel, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(panel).screenshot(path=str(SHOTS / f"{name}.png"))


def open_probe(page, server, path="/labs/probe/probeplain1", hash=""):
    page.goto(server + path + hash)
    page.wait_for_selector("#dream-rows[data-done]", state="attached", timeout=60000)
    page.wait_for_function("document.getElementById('attack-line').textContent.includes('grey level')", timeout=30000)


def test_dreams_form_and_compare_two_runs(page, server):
    open_probe(page, server, hash=settings_hash({"compare": "probedecay1", "steps": 80}))
    rows = page.locator(".probe-dream-row")
    assert rows.count() == 2
    assert rows.nth(0).locator(".probe-dream-label").inner_text() == "Plain network"
    assert rows.nth(1).locator(".probe-dream-label").inner_text() == "Weight decay 0.01"
    assert rows.nth(0).locator("canvas").count() == 10
    captions = rows.nth(0).locator("figcaption").all_inner_texts()
    assert [c.split()[0] for c in captions] == [str(d) for d in range(10)] and all("%" in c for c in captions)
    assert "80 steps of gradient ascent" in page.inner_text("#dream-settings")
    # the chart of each dream's own probability has a line per digit, the last point of each the caption's
    lines = page.evaluate("document.getElementById('dream-chart').data.map((t) => t.y[t.y.length - 1])")
    assert len(lines) == 10 and all(0 <= p <= 1 for p in lines)
    # the pictures are not blank: a dream has bright and dark pixels
    spread = page.evaluate("""(() => { const c = document.querySelector('.probe-dream canvas');
        const d = c.getContext('2d').getImageData(0, 0, 28, 28).data; let lo = 255, hi = 0;
        for (let i = 0; i < d.length; i += 4) { lo = Math.min(lo, d[i]); hi = Math.max(hi, d[i]); } return hi - lo; })()""")
    assert spread > 100
    shot(page, "#dreams-panel", "dreams")
    # a new setting dreams again, and the address keeps it
    page.fill("#f-steps", "40")
    page.wait_for_function("document.getElementById('dream-settings').textContent.startsWith('40 steps')", timeout=30000)
    assert "s=" in page.evaluate("location.hash")


def test_adversarial_of_a_test_image_then_of_a_drawing(page, server):
    open_probe(page, server)
    line = page.inner_text("#attack-line")
    assert "turns test image" in line and "To you it still looks like" in line
    assert page.inner_text("#attack-change-caption").startswith("Change (ε = ")
    assert "grey levels" in page.inner_text("#attack-scale")
    names = page.evaluate("document.getElementById('attack-chart').data.map((t) => t.name)")
    assert len(names) == 3 and "the original answer" in names[0] and "the new answer" in names[1]
    page.click("#attack-check")
    page.wait_for_function("document.getElementById('attack-check-line').textContent.includes('the same answer')")
    shot(page, "#attack-panel", "adversarial")
    # toward a chosen digit
    page.select_option("#f-target", "3")
    page.wait_for_function("document.getElementById('attack-line').textContent.includes('(the digit asked for)')", timeout=30000)
    assert "Adversarial: 3" in page.inner_text("#attack-result-caption")
    # a drawn digit: the pad, a stroke, and the attack runs on it
    page.locator("#attack-digit .probe-tab", has_text="Draw your own").click()
    pad = page.locator("#attack-digit canvas.probe-pad").bounding_box()
    page.mouse.move(pad["x"] + pad["width"] * 0.5, pad["y"] + pad["height"] * 0.15)
    page.mouse.down()
    page.mouse.move(pad["x"] + pad["width"] * 0.52, pad["y"] + pad["height"] * 0.85, steps=15)
    page.mouse.up()
    page.wait_for_function("document.getElementById('attack-line').textContent.includes('your drawing')", timeout=30000)


def test_robustness_curves_of_two_runs(page, server):
    open_probe(page, server, hash=settings_hash({"compare": "probedecay1"}))
    assert page.locator("#robust-charts").is_hidden()
    page.click("#robust-go")
    page.wait_for_selector("#robust-panel[data-done]", state="attached", timeout=60000)
    names = page.evaluate("document.getElementById('robust-noise').data.map((t) => t.name)")
    assert names == ["Plain network", "Weight decay 0.01"]
    accuracy = page.evaluate("document.getElementById('robust-noise').data[0].y")
    assert accuracy[0] > accuracy[-1]                    # noise costs accuracy
    assert page.locator("#robust-noise-examples canvas").count() == len(accuracy)
    assert "Under the strongest noise" in page.inner_text("#robust-line")
    shot(page, "#robust-panel", "robustness")


def test_surgery_by_clicks_and_by_ranking(page, server):
    open_probe(page, server)
    page.wait_for_function("document.getElementById('surgery-panel').dataset.updates >= 1")
    intact = page.inner_text("#surgery-accuracy")
    assert page.locator("#surgery-grid .probe-unit").count() == 32          # the last hidden layer
    updates = int(page.get_attribute("#surgery-panel", "data-updates"))
    for unit in range(8):
        page.click(f"#surgery-grid .probe-unit[data-unit='{unit}']")
    page.wait_for_function(f"document.getElementById('surgery-panel').dataset.updates >= {updates + 8}")
    assert page.locator("#surgery-grid .probe-unit.off").count() == 8
    assert page.get_attribute("#surgery-grid .probe-unit[data-unit='3']", "aria-pressed") == "true"
    assert "intact" in page.inner_text("#surgery-intact") and "units off" in page.inner_text("#surgery-line")
    assert float(page.get_attribute("#surgery-panel", "data-elapsed-ms")) < 300
    # the k most important of the first layer
    page.select_option("#surgery-layer", "0")
    assert page.locator("#surgery-grid .probe-unit").count() == 64
    page.fill("#surgery-k", "6")
    page.click("#surgery-topk")
    page.wait_for_function("document.querySelectorAll('#surgery-grid .probe-unit.off').length === 6")
    page.wait_for_function("document.getElementById('surgery-line').textContent.includes('6 in layer 1')")
    assert "matters most" in page.inner_text("#surgery-rank-line")
    assert page.locator("#surgery-bars .main-svg").count() >= 1
    shot(page, "#surgery-panel", "surgery")
    page.click("#surgery-reset")
    page.wait_for_function(f"document.getElementById('surgery-accuracy').textContent === {json.dumps(intact)}")
    assert page.locator("#surgery-grid .probe-unit.off").count() == 0


def test_morph_slider_and_flips(page, server):
    open_probe(page, server)
    page.wait_for_selector("#morph-panel[data-done]", state="attached", timeout=30000)
    slider = page.locator("#morph-slider")
    slider.fill("0")
    page.wait_for_function("document.getElementById('morph-line').textContent.startsWith('At s = 0.00')")
    first = page.inner_text("#morph-line")
    slider.fill("40")
    page.wait_for_function("document.getElementById('morph-line').textContent.startsWith('At s = 1.00')")
    last = page.inner_text("#morph-line")
    assert "answers 1" in first and "answers 7" in last and "It flips from" in last
    flips = page.evaluate("document.getElementById('morph-chart').layout.annotations.map((a) => a.text)")
    assert flips and all("→" in text for text in flips)
    slider.fill("20")
    shot(page, "#morph-panel", "morph")
    # another pair: B becomes a 0
    page.locator("#morph-b-digit .probe-example").first.click()
    page.wait_for_function("document.getElementById('morph-chart').data[0].line.width === 3", timeout=30000)


def test_the_default_model_and_switching_networks(page, server):
    page.goto(server + "/labs/probe")
    page.wait_for_selector("#dream-rows[data-done]", state="attached", timeout=90000)
    assert page.inner_text("#subject-line").startswith("The default model")
    assert page.locator("#surgery-layer option").count() == 3                  # conv, conv, dense
    page.wait_for_function("document.querySelectorAll('#run-select option').length === 3")
    page.select_option("#run-select", "probedecay1")
    page.wait_for_function("document.getElementById('subject-line').textContent.startsWith('Weight decay 0.01')")
    assert page.evaluate("location.pathname") == "/labs/probe/probedecay1"
    page.wait_for_selector("#dream-rows[data-done]", state="attached", timeout=60000)
    assert page.locator("#surgery-layer option").count() == 2
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "page.png"), full_page=True)


def test_an_unknown_run_says_so(page, server):
    page.goto(server + "/labs/probe/nosuchrun")
    page.wait_for_selector("#page-notice:not([hidden])")
    assert "There is no stored run nosuchrun" in page.inner_text("#page-notice")
    page.watch.console_errors.clear()      # the 404s the page was told about
