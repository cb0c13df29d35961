"""Every lab page in Chromium (Playwright, system Chromium): it draws, raises no page error and
requests nothing from another host. Screenshots go to /tmp/shots/labs/.

Skipped (with the reason shown) only when /usr/bin/chromium is missing and $CI is unset.
"""
import base64
import json
from pathlib import Path

import pytest

from tests.support.browser import PageWatch, running_server

SHOTS = Path("/tmp/shots/labs")


def settings_hash(settings):
    return "#s=" + base64.urlsafe_b64encode(json.dumps(settings).encode()).decode().rstrip("=")


# page -> (address, a selector that exists once the lab has drawn)
PAGES = {
    "index": ("/labs", ".lab-card"),
    "paths": ("/labs/paths", "#charts .cell-chart .main-svg"),
    "histograms": ("/labs/histograms", "#grid .main-svg"),
    "optimizers": ("/labs/optimizers", "#plan:not(:empty)"),
    "init": ("/labs/init", "#plan:not(:empty)"),
    "batchnorm": ("/labs/batchnorm", "#grid .main-svg"),
    "overfitting": ("/labs/overfitting", "#variants .main-svg"),
    "search": ("/labs/search", "#chart-scatter .main-svg"),
    "gradcheck": ("/labs/gradcheck", "#results tbody tr"),
    "inside": ("/labs/inside", "#run-line a, #run-line:has-text('finished run')"),
    "probe": ("/labs/probe", "#dream-rows[data-done]"),
}


@pytest.fixture(scope="module")
def page_options():
    """1400x1000; each test watches its page itself."""
    return {"width": 1400, "height": 1000, "timeout": 30000, "watch": False}


# the histograms lab with each of the book's activations: its "what to look for" line follows the activation
PAGES.update({f"histograms-{a}": ("/labs/histograms" + settings_hash({"activation": a}), "#grid .main-svg")
              for a in ("tanh", "relu")})


@pytest.mark.parametrize("name", list(PAGES))
def test_lab_page_draws_cleanly(server, page, name):
    path, ready = PAGES[name]
    watch = PageWatch(page, server)
    page.goto(server + path)
    page.wait_for_selector(ready, state="attached", timeout=60000)
    page.wait_for_timeout(300)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    watch.assert_clean()
    assert page.locator("#page-notice:visible").count() == 0
    if name != "index":
        # every lab writes its settings into the address: the page is its own share link
        assert "s=" in page.evaluate("location.hash")
    if name.startswith("histograms"):
        activation = name.partition("-")[2] or "sigmoid"
        assert page.locator("#grid-look").text_content().lower().startswith(activation)
    text = page.locator("body").inner_text()
    assert "NaN" not in text and "undefined" not in text


def test_paths_link_reproduces_the_settings_and_animates(server, page):
    watch = PageWatch(page, server)
    page.goto(server + "/labs/paths" + settings_hash({"function": "himmelblau", "steps": 7, "speed": 60,
                                                       "optimizers": [{"name": "adam", "lr": 0.3}, {"name": "eve", "lr": 0.3}]}))
    page.wait_for_selector("#charts .cell-chart .main-svg")
    assert page.locator("#f-function").input_value() == "himmelblau"
    assert page.locator("#charts .chart-cell").count() == 2
    page.wait_for_function("document.getElementById('step-label').textContent === 'step 7 / 7'", timeout=10000)
    page.click("#step-back")
    assert page.locator("#step-label").text_content() == "step 6 / 7"
    watch.assert_clean()


def test_paths_refused_steps_are_explained_at_the_field_and_the_old_charts_marked(server, page):
    """Steps 0 or 100000: the field says what it accepts, and the charts say they are from the last valid
    settings; fixing the field brings fresh charts. A link with steps 0 shows the server's message there."""
    watch = PageWatch(page, server, allow_console=("400",))   # the browser logs the refused POST of the link
    page.goto(server + "/labs/paths")
    page.wait_for_selector("#charts .cell-chart .main-svg")
    page.wait_for_function("document.getElementById('step-label').textContent.endsWith('/ 30')")
    assert page.locator("#f-steps-error").is_hidden() and page.locator("#stale-note").is_hidden()
    for bad in ("0", "100000"):
        page.fill("#f-steps", bad)
        error = page.locator("#f-steps-error")
        assert error.is_visible()
        assert "whole number from 1 to 2,000" in error.inner_text() and f"got {bad}" in error.inner_text()
        assert page.locator("#f-steps").get_attribute("aria-invalid") == "true"
        assert page.locator("#stale-note").is_visible()
        assert "last valid settings (30 steps)" in page.locator("#stale-note").inner_text()
        assert "is-stale" in page.locator("#charts").get_attribute("class")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "paths-steps-refused.png"))
    page.fill("#f-steps", "7")
    page.wait_for_function("document.getElementById('step-label').textContent.endsWith('/ 7')", timeout=10000)
    assert page.locator("#f-steps-error").is_hidden() and page.locator("#stale-note").is_hidden()
    assert "is-stale" not in page.locator("#charts").get_attribute("class")
    # a learning rate of 0 is refused at its row in the same way
    page.fill("#opt-rows .opt-row:nth-child(2) input", "0")
    assert "Momentum must be a number above 0" in page.locator("#opt-error").inner_text()
    assert page.locator("#stale-note").is_visible()

    page.goto("about:blank")   # a new page load, not just a new hash
    page.goto(server + "/labs/paths" + settings_hash({"steps": 0}))
    page.wait_for_selector("#f-steps-error:not([hidden])", timeout=10000)
    assert "steps must be a whole number from 1 to 2000, got 0" in page.locator("#f-steps-error").inner_text().lower()
    assert page.locator("#page-notice").is_hidden()
    assert page.locator("#stale-note").inner_text() == "Nothing to show until the marked field is fixed."
    watch.assert_clean()


def test_paths_all_17_optimizers_get_distinct_colours(server, page):
    watch = PageWatch(page, server)
    page.goto(server + "/labs/paths")
    page.wait_for_selector("#charts .cell-chart .main-svg")
    page.click("#opt-all")
    page.wait_for_function("document.querySelectorAll('#ends tbody tr').length === 17", timeout=20000)
    page.wait_for_function("[...document.querySelectorAll('#charts .chart-cell .cell-chart')].filter((d) => d.data).length === 17",
                           timeout=20000)
    swatches = page.evaluate("[...document.querySelectorAll('#ends .sw')].map((e) => getComputedStyle(e).backgroundColor)")
    rows = page.evaluate("[...document.querySelectorAll('#opt-rows .opt-swatch')].map((e) => getComputedStyle(e).backgroundColor)")
    lines = page.evaluate("[...document.querySelectorAll('#charts .chart-cell .cell-chart')].map((d) => d.data[2].line.color)")
    assert len(set(swatches)) == len(swatches) == 17
    assert rows == swatches
    assert len(set(lines)) == 17
    page.check("#overlay")
    page.wait_for_selector("#charts .lab-chart .main-svg")
    overlay = page.evaluate("document.querySelector('#charts .lab-chart').data.filter((t) => t.mode === 'lines+markers').map((t) => t.line.color)")
    assert len(set(overlay)) == 17
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "paths-all17-one-chart.png"), full_page=True)
    watch.assert_clean()


def test_gradcheck_follows_a_new_config_in_its_address(server, page):
    """Changing the #config= part of an open gradient-check page checks the new network (hashchange)."""
    watch = PageWatch(page, server)
    page.goto(server + "/labs/gradcheck")
    page.wait_for_function("document.getElementById('summary').dataset.status === 'done'", timeout=30000)
    assert "784-100x6-10" in page.locator("#summary-detail").inner_text()
    config = {"data": {"train_size": 60, "test_size": 40},
              "model": {"hidden_layers": [{"units": 7, "activation": "tanh", "batch_norm": True}]},
              "optimizer": {"name": "sgd", "lr": 0.1}, "training": {"epochs": 1, "batch_size": 20}}
    encoded = base64.urlsafe_b64encode(json.dumps(config).encode()).decode().rstrip("=")
    page.evaluate("(hash) => { location.hash = hash; }", "#config=" + encoded)
    page.wait_for_function("document.getElementById('summary-detail').textContent.includes('784-7-10')", timeout=30000)
    assert page.locator("#summary").get_attribute("data-status") == "done"
    assert json.loads(page.locator("#config-text").input_value())["model"]["hidden_layers"][0]["units"] == 7
    assert page.locator("#preset").input_value() == ""
    assert page.locator("#results tbody tr").count() == 6   # W, b, gamma, beta, W, b
    # a damaged #config= keeps the network shown and says why
    page.evaluate("() => { location.hash = '#config=%%%'; }")
    page.wait_for_selector("#page-notice:visible")
    assert "could not be read" in page.locator("#page-notice").inner_text()
    page.wait_for_function("document.getElementById('summary').dataset.status === 'done'", timeout=30000)
    assert "784-7-10" in page.locator("#summary-detail").inner_text()
    assert page.locator("#page-notice").is_visible()   # the check's answer does not hide the warning
    watch.assert_clean()


def test_overfitting_lab_trains_the_books_dropout_and_can_add_an_inverted_run(server, page):
    watch = PageWatch(page, server)
    page.goto(server + "/labs/overfitting")
    page.wait_for_selector("#variants .main-svg", state="attached")
    assert page.locator("#f-dropout_style").input_value() == "book"
    assert page.locator("#f-epochs").input_value() == "301"
    assert page.locator("#plan").inner_text().startswith("4 runs of 301 epochs")
    assert "Dropout 0.2, book style" in page.locator("#variants").inner_text()
    page.select_option("#f-dropout_style", "compare")
    page.wait_for_function("document.querySelectorAll('#variants .chart-cell').length === 5")
    titles = page.locator("#variants h3").all_inner_texts()
    assert titles[2:4] == ["Dropout 0.2, book style", "Dropout 0.2, inverted"]
    assert page.locator("#plan").inner_text().startswith("5 runs of 301 epochs")
    # a link from before the style setting existed trained inverted dropout, and keeps doing so
    page.goto(server + "/labs/overfitting" + settings_hash({"epochs": 200, "train_size": 300, "weight_decay": 0.1,
                                                             "dropout": 0.2, "layers": 6, "units": 100, "lr": 0.01,
                                                             "seed": 0}))
    page.reload()
    page.wait_for_selector("#variants .main-svg", state="attached")
    assert page.locator("#f-dropout_style").input_value() == "inverted"
    assert page.locator("#f-epochs").input_value() == "200"
    watch.assert_clean()


def test_batchnorm_lab_calls_a_diverged_run_part_of_the_lesson(server, page):
    """Weights of std 1 without batch norm overflow at once: the bar names that as the lesson, not a failure."""
    watch = PageWatch(page, server)
    page.goto(server + "/labs/batchnorm")
    page.wait_for_selector("#grid .main-svg", state="attached")
    assert page.locator("#f-batch_norm_eps").input_value() == "0.000001"     # the book's 10e-7
    small = {"scales": 2, "epochs": 2, "train_size": 100, "layers": 5}
    for settings, eps in ((small, "0.00001"),                                # a link from before the setting
                          ({**small, "batch_norm_eps": 1e-6}, "0.000001")):
        page.goto(server + "/labs/batchnorm" + settings_hash(settings))
        page.reload()
        page.wait_for_selector("#grid .main-svg", state="attached")
        assert page.locator("#f-batch_norm_eps").input_value() == eps
    page.click("#run")
    page.wait_for_function("document.querySelector('.lab-progress .progress').dataset.state === 'done'", timeout=60000)
    text = page.locator(".lab-progress-text").inner_text()
    assert text.startswith("4 of 4 finished")
    assert ("1 diverged (no batch norm, w = 1): weights that large blow the signal up, which is part of the lesson"
            in text), text
    assert "failed" not in text
    watch.assert_clean()


@pytest.mark.parametrize("name", [n for n in PAGES if "-" not in n])
def test_lab_page_fits_a_phone(server, browser, name):
    """At 390 px wide every lab page fits: no horizontal scrolling."""
    path, ready = PAGES[name]
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(server + path)
        page.wait_for_selector(ready, state="attached", timeout=60000)
        page.wait_for_timeout(300)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()


def test_search_runs_in_worker_processes_and_narrows(server, page):
    watch = PageWatch(page, server)
    page.goto(server + "/labs/search" + settings_hash({"trials": 3, "epochs": 2, "layers": 1, "samples": 100, "top": 2}))
    page.wait_for_selector("#chart-scatter .main-svg")
    page.wait_for_function("!document.getElementById('run').disabled", timeout=10000)
    page.click("#run")
    page.wait_for_function("document.querySelector('.lab-progress-text').textContent.startsWith('Done')", timeout=60000)
    assert page.locator("#best-table tbody tr").count() == 2
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "search-done.png"), full_page=True)
    page.click("#narrow")
    lr_from = float(page.locator("#f-lr_from").input_value())
    assert -6 <= lr_from <= -2
    watch.assert_clean()


def test_look_inside_a_finished_run(server, page):
    """Train a tiny run through the socket API (as the labs do), then look inside it."""
    import socketio as sio_client
    import threading

    done = threading.Event()
    client = sio_client.Client()
    client.on("run:done", lambda payload: done.set())
    client.connect(server, transports=["websocket"])
    try:
        ack = client.call("run:start", {"config": {
            "data": {"train_size": 60, "test_size": 40}, "model": {"hidden_layers": [{"units": 16}, {"units": 8}]},
            "optimizer": {"name": "adam", "lr": 0.01}, "training": {"epochs": 3, "batch_size": 20}}}, timeout=15)
        assert "run_id" in ack, ack
        assert done.wait(30), "the run did not finish"
    finally:
        client.disconnect()
    watch = PageWatch(page, server)
    page.goto(f"{server}/labs/inside/{ack['run_id']}")
    page.wait_for_selector("#filters canvas", timeout=20000)
    assert page.locator("#filters canvas").count() == 16
    assert page.locator("#chart-acts .main-svg").count() >= 1
    page.screenshot(path=str(SHOTS / "inside-run.png"), full_page=True)
    # on a phone: one histogram per row, titles apart, no horizontal scrolling
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.wait_for_selector("#filters canvas", timeout=20000)
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for chart in ("#chart-weights", "#chart-acts"):
        boxes = page.evaluate(f"""[...document.querySelectorAll('{chart} .annotation-text')].map((t) => {{
            const r = t.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }})""")
        assert boxes
        assert all(right <= 390 for _, _, right, _ in boxes)
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                apart = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
                assert apart, (chart, a, b)
    page.screenshot(path=str(SHOTS / "inside-run-phone.png"), full_page=True)
    watch.assert_clean()


def test_with_listing_turned_off_the_pages_say_so(tmp_path, browser, monkeypatch):
    """PLAYGROUND_LIST_RUNS=off: /api/runs answers 403, and /runs and the look-inside lab explain that runs
    are opened by their links instead of showing an empty list or an error."""
    monkeypatch.setenv("PLAYGROUND_LIST_RUNS", "off")
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        with running_server(tmp_path / "runs.sqlite") as base:
            page = context.new_page()
            watch = PageWatch(page, base, allow_console=("403",))   # the browser logs the refused fetch
            page.goto(base + "/runs")
            assert page.locator("#listing-off").is_visible()
            assert "Listing the stored runs is turned off" in page.locator("#listing-off").inner_text()
            assert not page.locator("#runs-card").is_visible() and not page.locator("#page-notice").is_visible()
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "runs-listing-off.png"), full_page=True)
            page.goto(base + "/labs/inside")
            page.wait_for_function("document.getElementById('run-line').textContent.includes('turned off')")
            assert page.locator("#run-select").is_disabled()
            page.screenshot(path=str(SHOTS / "inside-listing-off.png"), full_page=True)
            watch.assert_clean()
    finally:
        context.close()
