"""A new user's first hour, in headless Chromium against the real server: the network a fresh
dashboard starts from, the dashboard at phone width (390 px), a refused Train, the 404 pages,
probabilities that are never "100.0 %", and "Book settings" only on the labs that have them.

Skipped, with the reason shown, only when Chromium is missing and $CI is unset.
"""
from __future__ import annotations

import json

import pytest

from tests.support.dashboard import SMALL, api, b64url, field, open_dashboard, unb64url

PHONE = {"width": 390, "height": 844}
# The labs whose settings are one of the book's chapter-6 experiments (design §5).
BOOK_LABS = {"paths", "optimizers", "histograms", "init", "batchnorm", "overfitting", "search"}


def long_run():
    config = json.loads(json.dumps(SMALL))
    config["training"]["epochs"] = 1000
    return config


def status(page):
    return page.get_attribute("#status", "data-status")


def progress(page):
    return page.evaluate("""() => [document.getElementById('progress-epoch').textContent,
        document.getElementById('progress-time').textContent, document.getElementById('progress-fill').style.width,
        document.getElementById('progress').getAttribute('aria-valuenow')]""")


# ------------------------------------------------------------------------------- default network

def test_a_fresh_dashboard_starts_from_the_books_overfitting_network(pages, server):
    page = pages()
    open_dashboard(page, server)
    schema = api(server, "/api/schema")
    want = schema["presets"]["overfitting"]["config"]
    assert page.locator(".layer").count() == 6
    assert [field(page, f"model.hidden_layers[{i}].units").input_value() for i in range(6)] == ["100"] * 6
    config = page.evaluate("window.playground.config()")
    assert config["seed"] == want["seed"]
    for section in ("data", "model", "optimizer", "training"):
        assert {k: config[section][k] for k in want[section]} == want[section], section
    assert unb64url(page.url.split("#config=", 1)[1]) == config   # the address says so too
    intro = page.inner_text("#intro-text")
    assert "100\u00a0% right" in intro and "784-100×6-10" in intro
    # the config defaults keep their one layer: a link without hidden layers means what it meant
    assert len(schema["default_config"]["model"]["hidden_layers"]) == 1
    other = pages()
    open_dashboard(other, server, "#config=" + b64url({"training": {"epochs": 3}}))
    assert other.locator(".layer").count() == 1

    # an untouched Train trains exactly that network (tests/nnengine/test_first_network.py: it memorises)
    page.click("#train")
    page.wait_for_function("document.querySelector('.run-item')")
    run_id = page.get_attribute(".run-item", "data-run-id")
    stored = api(server, f"/api/runs/{run_id}")["config"]
    assert [layer["units"] for layer in stored["model"]["hidden_layers"]] == [100] * 6
    assert stored["training"]["epochs"] == want["training"]["epochs"] and stored["data"] == want["data"]
    page.click("#stop")
    page.wait_for_function("['stopped', 'done'].includes(document.getElementById('status').dataset.status)")


# ------------------------------------------------------------------------------- phone width

def test_at_phone_width_the_builder_is_a_tap_away_and_ends_with_a_train_button(pages, server):
    page = pages(**PHONE, phone=True)
    open_dashboard(page, server, "#config=" + b64url(long_run()))
    jump = page.locator('.runbar a[href="#builder-title"]')
    box = jump.bounding_box()
    assert box["y"] + box["height"] <= PHONE["height"]                  # on the first screen
    assert box["y"] < page.locator("#chart-loss").bounding_box()["y"]   # above the charts
    address = page.url
    jump.tap()
    page.wait_for_function("Math.abs(document.getElementById('builder-title').getBoundingClientRect().top - 20) < 20")
    assert page.evaluate("document.activeElement.id") == "builder-title"
    assert page.url == address          # the address keeps the builder's config (no #builder-title)

    # the builder ends with Train and Stop, below its last field
    end = page.locator("#train-end")
    last_field = page.locator('[data-field="training.weight_decay"]').bounding_box()
    assert end.bounding_box()["y"] > last_field["y"] + last_field["height"]
    assert end.is_enabled() and page.locator("#stop-end").is_disabled()
    end.tap()
    page.wait_for_function("document.querySelector('.run-item')")
    page.wait_for_function("!document.getElementById('stop').disabled && !document.getElementById('stop-end').disabled")
    bar = page.locator("#charts-top").bounding_box()    # it shows the run it started
    assert bar["y"] >= -1 and bar["y"] + bar["height"] <= PHONE["height"]
    assert page.locator("#train").is_enabled() and end.is_enabled()
    page.locator("#stop-end").tap()
    page.wait_for_function("document.getElementById('status').dataset.status === 'stopped'")
    assert page.locator("#stop").is_disabled() and page.locator("#stop-end").is_disabled()
    assert "stopped at epoch" in page.inner_text("#status")


def place(page, preset, top):
    """Scroll the page so that the preset's button is `top` px below the top of the window."""
    page.evaluate("""([name, top]) => { const b = document.querySelector(`button[data-preset="${name}"]`);
        window.scrollTo(0, b.getBoundingClientRect().top + window.scrollY - top); }""", [preset, top])


def preset_top(page, preset):
    return page.evaluate(f"document.querySelector('button[data-preset=\"{preset}\"]').getBoundingClientRect().top")


def test_tapping_a_preset_leaves_the_page_where_it_was(pages, server):
    page = pages(**PHONE, phone=True, allow_console=("/api/validate",))   # an invalid setting: a 400
    open_dashboard(page, server)
    for name in ("quick", "overfitting", "small_cnn", "overfitting_dropout", "overfitting_weight_decay"):
        place(page, name, 300)
        y, top = page.evaluate("window.scrollY"), preset_top(page, name)
        page.tap(f'button[data-preset="{name}"]')
        page.wait_for_timeout(400)      # the settings are checked 250 ms after an edit
        assert page.evaluate("window.scrollY") == y, name
        assert preset_top(page, name) == pytest.approx(top, abs=1), name
        assert page.evaluate("document.activeElement.dataset.preset") == name   # the focus stays on it

    # The error summary above the presets goes with the old settings: the tapped preset still stays put
    field(page, "training.epochs").fill("0")
    page.click("#train")
    page.wait_for_selector("#error-summary:not([hidden])")
    place(page, "quick", 300)
    top = preset_top(page, "quick")
    page.tap('button[data-preset="quick"]')
    assert page.locator("#error-summary").is_hidden()
    assert preset_top(page, "quick") == pytest.approx(top, abs=1)
    page.wait_for_function("document.getElementById('status').dataset.status === 'idle'")  # no red marks left


# What does not fit a select's box: its options (or only the chosen one, for lists of runs, whose
# names are long by design and read in full in the picker) against the box a width of `auto` would give.
CUT_SELECTS = """(selectedOnly) => {
  const cut = [];
  for (const select of document.querySelectorAll('select')) {
    if (!select.offsetParent) continue;
    const probe = select.cloneNode(true);
    probe.removeAttribute('id');
    if (select.matches(selectedOnly)) {
      probe.replaceChildren(...[...select.options].filter((o) => o.selected).map((o) => o.cloneNode(true)));
    }
    probe.style.cssText = 'position:absolute;visibility:hidden;left:0;top:0;width:auto;min-width:0;max-width:none;flex:none';
    select.parentElement.append(probe);
    if (probe.offsetWidth > select.offsetWidth + 0.5) {
      cut.push(`${select.dataset.field || select.id || select.className}: needs ${probe.offsetWidth}px, has ${select.offsetWidth}px`);
    }
    probe.remove();
  }
  return cut;
}"""
RUN_LISTS = "#predict-model, .stored-select, #run-select"


@pytest.mark.parametrize("path, preset", [("/", None), ("/", "small_cnn"), ("/labs/paths", None),
                                          ("/labs/optimizers", None), ("/labs/init", None), ("/labs/histograms", None),
                                          ("/labs/gradcheck", None), ("/labs/inside", None)])
def test_no_select_is_cut_off_at_phone_width(pages, server, path, preset):
    page = pages(**PHONE, phone=True)
    page.goto(server + path)
    page.wait_for_load_state("networkidle")
    if preset:
        page.tap(f'button[data-preset="{preset}"]')   # conv, pool and dense layers
    elif path == "/":
        page.wait_for_function("/right\\)$/.test(document.querySelector('#predict-model option').textContent)")
        field(page, "optimizer.name").select_option("rmsprop_graves")   # the longest name
    assert page.evaluate(CUT_SELECTS, RUN_LISTS) == []


def test_the_paths_labs_step_buttons_stay_on_the_sliders_row(pages, server):
    page = pages(**PHONE, phone=True)
    page.goto(server + "/labs/paths")
    page.wait_for_selector("#charts .cell-chart .main-svg")
    middles = """() => ['play', 'step-back', 'step', 'step-fwd'].map((id) => {
        const r = document.getElementById(id).getBoundingClientRect(); return r.top + r.height / 2; })"""
    for _ in ("playing", "paused"):
        ys = page.evaluate(middles)
        assert max(ys) - min(ys) < 2, ys
        page.click("#play")
    right = page.evaluate("document.getElementById('step-fwd').getBoundingClientRect().right")
    assert right <= PHONE["width"]


# ------------------------------------------------------------------------------- a refused Train

def test_a_refused_train_clears_the_previous_runs_progress_bar(pages, server):
    page = pages(allow_console=("/api/validate",))   # an invalid setting is answered with a 400
    open_dashboard(page, server, "#config=" + b64url(SMALL))
    page.click("#train")
    page.wait_for_function("document.getElementById('status').dataset.status === 'done'")
    epoch, took, width, now = progress(page)
    assert epoch == "epoch 4 / 4" and took.startswith("took ") and width == "100%" and now == "100"

    # the server refuses the settings
    field(page, "training.epochs").fill("100000")
    page.click("#train")
    page.wait_for_function("document.getElementById('status').dataset.status === 'invalid'")
    assert progress(page) == ["epoch – / –", "", "0%", "0"]

    # another run, then a refusal that names no setting (a rate or queue limit): both Train buttons
    # wait for the answer together, and the bar is empty from the press on
    field(page, "training.epochs").fill("4")
    page.click("#train")
    page.wait_for_function("document.getElementById('status').dataset.status === 'done'")
    assert progress(page)[0] == "epoch 4 / 4"
    page.evaluate("""() => { window.playground.live.start = () => new Promise((answer) => { window.answer = answer; }); }""")
    page.click("#train")
    page.wait_for_function("typeof window.answer === 'function'")
    assert page.locator("#train").is_disabled() and page.locator("#train-end").is_disabled()
    assert progress(page) == ["epoch – / –", "", "0%", "0"]
    page.evaluate("window.answer({ error: 'this connection already has 4 runs queued; wait for one to finish' })")
    page.wait_for_function("document.getElementById('status').dataset.status === 'error'")
    assert page.inner_text("#status") == "Not started: this connection already has 4 runs queued; wait for one to finish"
    assert progress(page) == ["epoch – / –", "", "0%", "0"]
    assert page.locator("#train").is_enabled() and page.locator("#train-end").is_enabled()


# ------------------------------------------------------------------------------- 404 pages

@pytest.mark.parametrize("path, title, says, first_link", [
    ("/runs/nosuchrun123", "Run not found", "There is no run nosuchrun123 on this server.", "/runs"),
    ("/labs/inside/not%20a%20run", "Run not found", "There is no run not a run on this server.", "/labs/inside"),
    ("/labs/nosuchlab", "Lab not found", "There is no lab called nosuchlab. The labs are:", "/labs"),
    ("/no/such/page", "Page not found", "There is no page at /no/such/page.", "/"),
])
def test_the_404_page_says_what_was_not_found(pages, server, path, title, says, first_link):
    for width in (1280, PHONE["width"]):
        page = pages(width=width, allow_console=("404",))   # Chromium logs the page's own 404
        response = page.goto(server + path)
        assert response.status == 404
        card = page.locator(".notfound")
        assert card.locator("h1").inner_text() == title
        assert says in card.inner_text()
        assert page.title().startswith(title)
        links = card.locator(".notfound-links a")
        assert links.first.get_attribute("href") == first_link
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        if title == "Lab not found":
            listed = card.locator(".notfound-labs a").evaluate_all("as => as.map((a) => a.getAttribute('href'))")
            assert listed == [f"/labs/{lab['slug']}" for lab in api(server, "/api/labs")["labs"]]


# ------------------------------------------------------------------------------- certainty

def test_percentages_never_round_to_certain_or_to_zero(pages, server):
    page = pages()
    open_dashboard(page, server)
    shown = page.evaluate("""async () => {
        const { percent, pct } = await import('/static/js/format.js');
        return [percent(0.99996), percent(0.9994), percent(1), percent(0), percent(0.00004), percent(0.0004),
                pct(0.99996), pct(0.996, 0), pct(0.004, 0), pct(1), pct(null)];
    }""")
    assert [s.replace("\u00a0", " ") for s in shown] == [
        "> 99.9", "99.9", "100.0", "0.0", "< 0.1", "< 0.1", "> 99.9 %", "> 99 %", "< 1 %", "100.0 %", "–"]


def test_the_predict_panel_shows_a_near_certainty_as_more_than_99_9_percent(pages, server):
    page = pages()
    probabilities = [0.0] * 10
    probabilities[7], probabilities[1], probabilities[2] = 0.99997, 0.00002, 0.00001
    answer = {"prediction": 7, "probabilities": probabilities, "input": [[0.0] * 28] * 28, "model": "default"}
    page.route("**/api/predict", lambda route: route.fulfill(status=200, content_type="application/json",
                                                             body=json.dumps(answer)))
    page.goto(server + "/")
    page.wait_for_function("window.predictPanel")
    page.locator("#predict-canvas").scroll_into_view_if_needed()
    box = page.locator("#predict-canvas").bounding_box()
    page.mouse.move(box["x"] + 140, box["y"] + 60)
    page.mouse.down()
    page.mouse.move(box["x"] + 140, box["y"] + 220, steps=5)
    page.mouse.up()
    page.wait_for_function("document.getElementById('predict-digit').textContent === '7'")
    assert page.inner_text("#predict-confidence").replace("\u00a0", " ") == "> 99.9% sure"
    bars = page.evaluate("Array.from(document.getElementById('predict-chart').data[0].customdata)")
    assert [b.replace("\u00a0", " ") for b in bars] == [
        "0.0%", "< 0.1%", "< 0.1%", "0.0%", "0.0%", "0.0%", "0.0%", "> 99.9%", "0.0%", "0.0%"]


# ------------------------------------------------------------------------------- labs

def test_book_settings_appear_only_on_the_labs_that_have_book_settings(pages, server):
    labs = [lab["slug"] for lab in api(server, "/api/labs")["labs"]]
    assert BOOK_LABS < set(labs) and {"gradcheck", "inside"} <= set(labs) - BOOK_LABS
    page = pages(watch=False)   # each lab is left before it has drawn (test_labs.py watches them draw)
    for slug in labs:
        page.goto(f"{server}/labs/{slug}", wait_until="domcontentloaded")
        reset = page.locator("#reset")
        if slug in BOOK_LABS:
            assert reset.inner_text() == "↺ Book settings", slug
        else:
            assert reset.inner_text() == "↺ Defaults", slug
            assert "Book settings" not in page.inner_text(".lab-head"), slug
