"""End-to-end tests of the dashboard in headless Chromium against the real server.

Runs `python -m server --port <free> --db <tmp>` once for the module and drives the pages with
Playwright (sync API). Every page is watched: a test fails on a page error, a console error or a
request to any host other than the test server (no CDN, nothing leaves the machine).

Skipped, with the reason shown, only when Chromium is missing and $CI is unset; on CI a missing
Chromium is a failure (tests/browser/conftest.py). Timing figures are printed (see them with `pytest -s`), not asserted.
"""
from __future__ import annotations

import json
import re
import time

import pytest

from tests.support.browser import PageWatch
from tests.support.dashboard import GD, SMALL, api, b64url, field, open_dashboard, unb64url


# ------------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def finished_run(server):
    """A small stored run, trained through the socket API (not the UI)."""
    import socketio

    done = {}
    client = socketio.Client()
    client.on("run:done", lambda data: done.setdefault(data["run_id"], data))
    client.connect(server, transports=["websocket"])  # websocket-client sends Origin: <server> itself
    try:
        ack = client.call("run:start", {"config": SMALL}, timeout=10)
        assert "run_id" in ack, ack
        deadline = time.monotonic() + 60  # generous: the machine may be busy
        while ack["run_id"] not in done and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        client.disconnect()
    run = api(server, f"/api/runs/{ack['run_id']}")
    while run["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)
        run = api(server, f"/api/runs/{ack['run_id']}")
    assert run["status"] == "done", run
    return run


# ------------------------------------------------------------------------------- tests

def test_build_a_network_and_train(page, server):
    open_dashboard(page, server)
    page.click('button[data-preset="quick"]')  # one hidden layer of 100
    assert page.locator(".layer").count() == 1
    page.click('[data-action="add-layer"]')
    assert page.locator(".layer").count() == 2
    field(page, "model.hidden_layers[1].units").fill("50")
    # reorder: the 50-unit layer moves up
    page.click('.layer[data-index="1"] [data-action="up"]')
    assert field(page, "model.hidden_layers[0].units").input_value() == "50"
    assert field(page, "model.hidden_layers[1].units").input_value() == "100"

    field(page, "optimizer.name").select_option("sgd")
    field(page, "optimizer.name").select_option("adam")
    # the hyperparameter fields follow the optimizer
    assert field(page, "optimizer.beta1").input_value() == "0.9"
    assert field(page, "optimizer.lr").input_value() == "0.001"
    assert field(page, "optimizer.momentum").count() == 0
    field(page, "training.epochs").fill("5")
    field(page, "data.train_size").fill("100")

    t0 = time.perf_counter()
    page.click("#train")
    page.wait_for_function(f"{GD.format('loss')}.data.length > 0 && {GD.format('loss')}.data[0].x.length >= 1",
                           polling="raf")
    wall_ms = (time.perf_counter() - t0) * 1000
    page.wait_for_function("document.getElementById('status').dataset.status === 'done'")
    timing = page.evaluate("window.playground.timing()")
    in_page_ms = timing["firstPlotAt"] - timing["clickAt"]
    print(f"\n[latency] Train click -> first plotted epoch (first run of a fresh server): {in_page_ms:.0f} ms in the page "
          f"(ack {timing['ackAt'] - timing['clickAt']:.0f} ms), {wall_ms:.0f} ms seen from the test")

    loss = page.evaluate(f"{GD.format('loss')}.data.map(t => ({{x: Array.from(t.x), y: Array.from(t.y)}}))")
    acc = page.evaluate(f"{GD.format('acc')}.data.map(t => Array.from(t.y))")
    gap = page.evaluate(f"{GD.format('gap')}.data.map(t => Array.from(t.y))")
    assert len(loss) == 2 and loss[0]["x"] == [0, 1, 2, 3, 4, 5]  # epoch 0 = before training
    assert len(loss[1]["x"]) == 6
    assert all(0 <= a <= 100 for a in acc[0] + acc[1])
    assert gap[0] == pytest.approx([a - b for a, b in zip(acc[0], acc[1])])
    assert "done" in page.inner_text("#status")
    assert page.locator("#progress-epoch").inner_text() == "epoch 5 / 5"

    # the run is in the compare list with its colour and a permalink
    item = page.locator(".run-item")
    assert item.count() == 1
    assert item.get_attribute("data-status") == "done"
    run_id = item.get_attribute("data-run-id")
    stored = api(server, f"/api/runs/{run_id}")
    assert stored["config"]["optimizer"]["name"] == "adam"
    assert [layer["units"] for layer in stored["config"]["model"]["hidden_layers"]] == [50, 100]
    assert loss[0]["y"] == [m["train_loss"] for m in stored["metrics"]]


def test_preset_fills_the_builder(page, server):
    open_dashboard(page, server)
    presets = api(server, "/api/schema")["presets"]
    page.click('button[data-preset="overfitting_weight_decay"]')
    want = presets["overfitting_weight_decay"]["config"]
    assert page.locator(".layer").count() == len(want["model"]["hidden_layers"]) == 6
    assert field(page, "training.weight_decay").input_value() == "0.1"
    assert field(page, "training.epochs").input_value() == "200"
    assert field(page, "data.train_size").input_value() == "300"
    assert field(page, "model.hidden_layers[5].units").input_value() == "100"
    page.click('button[data-preset="overfitting_dropout"]')
    assert field(page, "training.weight_decay").input_value() == "0"
    assert all(field(page, f"model.hidden_layers[{i}].dropout").input_value() == "0.2" for i in range(6))
    config, want = page.evaluate("window.playground.config()"), presets["overfitting_dropout"]["config"]
    for section in ("model", "optimizer", "data"):
        assert config[section] == want[section], section
    assert config["seed"] == want["seed"]
    assert {k: config["training"][k] for k in want["training"]} == want["training"]
    # the std field is shown only for the "std" initialiser
    assert not page.locator('[data-field-wrap="model.weight_init_std"]').is_visible()
    field(page, "model.weight_init").select_option("std")
    assert page.locator('[data-field-wrap="model.weight_init_std"]').is_visible()
    # the book's presets use the book's dropout and batch-norm epsilon, and the builder says so
    assert field(page, "model.dropout_style").input_value() == "book"
    assert field(page, "model.batch_norm_eps").input_value() == "0.000001"
    assert page.inner_text("#dropout-note").startswith("The book's dropout: kept units pass unscaled in training")
    field(page, "model.dropout_style").select_option("inverted")
    assert page.inner_text("#dropout-note").startswith("Inverted dropout: kept units ×1/(1 − p) in training")
    assert page.evaluate("window.playground.config().model.dropout_style") == "inverted"
    page.click('button[data-preset="quick"]')             # not a book preset: today's defaults
    assert field(page, "model.dropout_style").input_value() == "inverted"
    assert field(page, "model.batch_norm_eps").input_value() == "0.00001"


def test_an_old_link_keeps_inverted_dropout_and_eps_1e_5(page, server):
    """A share link from before dropout_style / batch_norm_eps existed must not pick up the book's
    values the builder may be showing: a missing key means what it meant then."""
    old = json.loads(json.dumps(SMALL))
    old["model"]["hidden_layers"][0].update(dropout=0.2, batch_norm=True)
    assert "dropout_style" not in old["model"] and "batch_norm_eps" not in old["model"]
    open_dashboard(page, server)
    page.click('button[data-preset="overfitting_dropout"]')    # the builder now shows book / 1e-6
    assert field(page, "model.dropout_style").input_value() == "book"
    page.evaluate(f"location.hash = 'config={b64url(old)}'")    # the old link pasted into the address
    page.wait_for_function("window.playground.config().model.hidden_layers.length === 1")
    config = page.evaluate("window.playground.config()")
    assert (config["model"]["dropout_style"], config["model"]["batch_norm_eps"]) == ("inverted", 1e-5)
    assert field(page, "model.dropout_style").input_value() == "inverted"
    assert field(page, "model.batch_norm_eps").input_value() == "0.00001"
    # the address is re-written with the link's meaning spelled out, never the book's values
    written = unb64url(page.url.split("#config=", 1)[1])
    assert (written["model"]["dropout_style"], written["model"]["batch_norm_eps"]) == ("inverted", 1e-5)
    assert api(server, "/api/validate", written)["config"] == api(server, "/api/validate", old)["config"]

    fresh = page.context.new_page()
    fresh.goto(f"{server}/#config={b64url(old)}")
    fresh.wait_for_function("window.playground && window.playground.builder")
    assert fresh.evaluate("window.playground.config().model.dropout_style") == "inverted"
    assert fresh.evaluate("window.playground.config().model.batch_norm_eps") == 1e-5
    fresh.close()


@pytest.mark.parametrize("path,value,fixed", [("model.hidden_layers[0].units", "0", "3"),
                                              ("training.epochs", "100000", "3"),
                                              ("model.batch_norm_eps", "0", "0.000001")])
def test_invalid_value_is_marked_at_the_field(page, server, path, value, fixed):
    open_dashboard(page, server)
    field(page, path).fill(value)
    config = page.evaluate("window.playground.config()")
    expected = api(server, "/api/validate", config)
    message = next(e["message"] for e in expected["errors"] if e["field"] == path)
    page.click("#train")
    error = page.locator(f'.field-error[data-error-for="{path}"]')
    error.wait_for()
    assert error.inner_text().strip() == message
    assert error.evaluate("e => getComputedStyle(e).color") == "rgb(179, 38, 30)"  # red
    assert field(page, path).get_attribute("aria-invalid") == "true"
    summary = page.locator("#error-summary")
    assert summary.is_visible() and message in summary.inner_text()
    assert page.locator("#status").get_attribute("data-status") == "invalid"
    assert page.locator(".run-item").count() == 0
    # fixing the value clears the mark
    field(page, path).fill(fixed)
    field(page, path).dispatch_event("change")
    page.wait_for_function(f"!document.querySelector('.field-error[data-error-for=\"{path}\"]')")


def test_permalink_draws_stored_metrics_and_rerun_is_identical(page, server, finished_run):
    run_id = finished_run["run_id"]
    t0 = time.perf_counter()
    page.goto(f"{server}/runs/{run_id}")
    page.wait_for_function(f"{GD.format('loss')}.data.length > 0 && {GD.format('loss')}.data[0].x.length > 0",
                           polling="raf")
    print(f"\n[latency] permalink navigation -> charts drawn: {(time.perf_counter() - t0) * 1000:.0f} ms")
    metrics = finished_run["metrics"]
    traces = page.evaluate(f"{GD.format('loss')}.data.map(t => ({{x: Array.from(t.x), y: Array.from(t.y)}}))")
    assert traces[0]["x"] == [m["epoch"] for m in metrics] == [0, 1, 2, 3, 4]
    assert traces[0]["y"] == [m["train_loss"] for m in metrics]
    assert traces[1]["y"] == [m["test_loss"] for m in metrics]
    assert "784-30-10 relu, sgd lr 0.1" in page.inner_text("#run-title")  # unnamed: titled by its description
    assert "Training images" in page.inner_text("#config-view")
    assert ("Dropout style\tinverted: kept units ×1/(1 − p) while training, unchanged at test time (no layer has "
            "dropout)") in page.inner_text("#config-view")
    assert json.loads(page.text_content("#config-json")) == finished_run["config"]
    assert page.get_attribute("#download", "href") == f"/api/runs/{run_id}/weights.npz"
    weights = page.request.get(f"{server}/api/runs/{run_id}/weights.npz")
    assert weights.status == 200 and weights.body()[:2] == b"PK"
    href = page.get_attribute("#open-builder", "href")
    assert href.startswith("/#config=") and unb64url(href[len("/#config="):]) == finished_run["config"]

    page.click("#rerun")
    page.wait_for_function("document.querySelectorAll('.run-item').length === 2 && "
                           "document.querySelectorAll('.run-item')[1].dataset.status === 'done'")
    assert page.evaluate(f"{GD.format('loss')}.data.length") == 4
    assert page.evaluate(f"{GD.format('loss')}.data[2].x.length") == 5
    for chart in ("loss", "acc", "gap"):
        ys = page.evaluate(f"{GD.format(chart)}.data.map(t => Array.from(t.y))")
        half = len(ys) // 2
        assert ys[:half] == ys[half:], chart  # original and re-run: the same numbers
    notice = page.locator("#rerun-notice")
    notice.wait_for()
    assert "exactly" in notice.inner_text()
    assert page.locator(".run-item").count() == 2


def test_config_hash_round_trips_and_tampered_hash_shows_a_message(page, server, browser):
    open_dashboard(page, server)
    page.click('[data-action="add-layer"]')
    field(page, "model.hidden_layers[1].units").fill("33")
    field(page, "model.hidden_layers[1].activation").select_option("tanh")
    field(page, "model.hidden_layers[1].batch_norm").check()
    field(page, "model.hidden_layers[1].dropout").fill("0.3")
    field(page, "seed").fill("7")
    field(page, "optimizer.name").select_option("momentum")
    field(page, "optimizer.momentum").fill("0.8")
    config = page.evaluate("window.playground.config()")
    url = page.url
    assert "#config=" in url
    assert unb64url(url.split("#config=", 1)[1]) == config  # the address holds the config

    other = page.context.new_page()
    other_watch = PageWatch(other, server, allow_console=page.watch.allow_console)
    other.goto(url)
    other.wait_for_function("window.playground && window.playground.builder")
    assert other.evaluate("window.playground.config()") == config
    assert field(other, "model.hidden_layers[1].units").input_value() == "33"
    assert field(other, "model.hidden_layers[1].activation").input_value() == "tanh"
    assert field(other, "model.hidden_layers[1].batch_norm").is_checked()
    assert field(other, "optimizer.momentum").input_value() == "0.8"
    assert other.locator("#hash-notice").is_hidden()
    other.close()
    other_watch.assert_clean()

    for broken in (url.split("#config=", 1)[1][:-9], "%%%not-base64", b64url([1, 2, 3])):
        fresh = page.context.new_page()
        fresh.goto(f"{server}/#config={broken}")
        fresh.wait_for_function("window.playground && window.playground.builder")
        notice = fresh.locator("#hash-notice")
        assert notice.is_visible()
        assert "could not be read" in notice.inner_text() and "default" in notice.inner_text()
        assert fresh.locator(".layer").count() == 6  # the default network: the book's 784-100x6-10
        assert field(fresh, "model.hidden_layers[0].units").input_value() == "100"
        assert fresh.is_enabled("#train")
        fresh.close()


def test_runs_page_lists_stored_runs(page, server, finished_run):
    run_id = finished_run["run_id"]
    page.goto(server + "/runs")
    row = page.locator(f'#runs-body tr[data-run-id="{run_id}"]')
    row.wait_for()
    text = row.inner_text()
    assert "done" in text and "784-30-10 relu, sgd lr 0.1" in text and "4/4" in text
    final = finished_run["metrics"][-1]
    assert f"{100 * final['test_acc']:.1f}\u00a0%" in text
    row.locator("a.run-link").click()
    page.wait_for_url(f"**/runs/{run_id}")
    page.wait_for_function(f"{GD.format('loss')}.data.length > 0")


def test_tick_stored_runs_and_compare_them_on_the_dashboard(page, server, finished_run):
    run_id = finished_run["run_id"]
    page.goto(server + "/runs")
    row = page.locator(f'#runs-body tr[data-run-id="{run_id}"]')
    row.wait_for()
    compare = page.locator("#compare")
    assert compare.inner_text() == "Tick runs to compare them"
    row.locator("input.run-pick").check()
    assert compare.inner_text() == "Compare 1 on the dashboard"
    compare.click()
    page.wait_for_url(f"**/?compare={run_id}*")
    page.wait_for_function("window.playground && window.playground.list.get(%r)" % run_id)
    page.wait_for_function(f"{GD.format('loss')}.data.length > 0 && {GD.format('loss')}.data[0].x.length === 5")
    # the builder holds the compared run's settings, ready for a variant
    assert field(page, "model.hidden_layers[0].units").input_value() == "30"
    assert field(page, "training.epochs").input_value() == "4"
    # taking it off the list takes it off all three charts (and the address), without a page error
    page.locator(f'.run-item[data-run-id="{run_id}"] button[aria-label^="Remove run"]').click()
    for chart in ("loss", "acc", "gap"):
        page.wait_for_function(f"{GD.format(chart)}.data.length === 0")
    assert "compare=" not in page.url


def test_compare_a_stored_run_and_toggle_it(page, server, finished_run):
    open_dashboard(page, server)
    run_id = finished_run["run_id"]
    select = page.locator(".stored-select")
    select.focus()
    page.wait_for_function(f"document.querySelector('.stored-select option[value=\"{run_id}\"]')")
    select.select_option(run_id)
    page.click(".stored-picker button:has-text('Add')")
    item = page.locator(f'.run-item[data-run-id="{run_id}"]')
    item.wait_for()
    page.wait_for_function(f"{GD.format('acc')}.data.length === 2 && {GD.format('acc')}.data[0].x.length === 5")
    colour = page.evaluate(f"{GD.format('acc')}.data[0].line.color")
    assert page.evaluate(f"{GD.format('acc')}.data[1].line.dash") == "dash"
    assert colour in item.locator(".swatch").get_attribute("style")
    item.locator("input.run-visible").uncheck()
    page.wait_for_function(f"{GD.format('loss')}.data[0].visible === false")
    item.locator("input.run-visible").check()
    page.wait_for_function(f"{GD.format('loss')}.data[0].visible === true")


def test_stop_a_running_run(page, server):
    long_run = json.loads(json.dumps(SMALL))
    long_run["training"]["epochs"] = 1000
    open_dashboard(page, server, "#config=" + b64url(long_run))
    page.click("#train")
    page.wait_for_function(f"{GD.format('loss')}.data.length && {GD.format('loss')}.data[0].x.length >= 1",
                           polling="raf")
    timing = page.evaluate("window.playground.timing()")
    print(f"\n[latency] Train click -> first plotted epoch (small network, warm server): "
          f"{timing['firstPlotAt'] - timing['clickAt']:.0f} ms in the page")
    page.wait_for_function(f"{GD.format('loss')}.data[0].x.length >= 3")
    assert page.inner_text("#progress-epoch").endswith("/ 1000")
    assert "elapsed" in page.inner_text("#progress-time")
    page.click("#stop")
    page.wait_for_function("document.getElementById('status').dataset.status === 'stopped'")
    stopped_at = int(re.search(r"stopped at epoch (\d+) of 1000", page.inner_text("#status")).group(1))
    # the bar, the status line and the charts agree on the last epoch trained
    assert page.inner_text("#progress-epoch") == f"epoch {stopped_at} / 1000"
    assert page.evaluate(f"Array.from({GD.format('loss')}.data[0].x).pop()") == stopped_at
    assert page.locator(".run-item").get_attribute("data-status") == "stopped"


def test_streamed_epochs_are_drawn_in_batches_and_all_arrive(page, server):
    """Charts redraw at most every 200 ms and the epoch text likewise (charts.js, live.js): a fast
    run's 150 epochs take far fewer redraws than epochs, and every point and the final text are there."""
    fast = json.loads(json.dumps(SMALL))
    fast["training"]["epochs"] = 150
    open_dashboard(page, server, "#config=" + b64url(fast))
    page.evaluate("""() => {
        window.__redraws = 0; window.__texts = 0;
        const extend = Plotly.extendTraces;
        Plotly.extendTraces = function (el, ...rest) {
            if (el.id === 'chart-loss') window.__redraws++;
            return extend.call(this, el, ...rest);
        };
        new MutationObserver(() => window.__texts++).observe(document.getElementById('progress-epoch'),
                                                             {childList: true, characterData: true, subtree: true});
    }""")
    t0 = time.perf_counter()
    page.click("#train")
    page.wait_for_function("document.getElementById('status').dataset.status === 'done'", timeout=120000)
    elapsed_ms = (time.perf_counter() - t0) * 1000
    redraws, texts = page.evaluate("[window.__redraws, window.__texts]")
    allowed = elapsed_ms / 200 + 3  # one per 200 ms, the first epoch at once and the last at done
    print(f"\n[streaming] 150 epochs in {elapsed_ms:.0f} ms: {redraws} chart redraws, {texts} epoch texts")
    assert redraws <= allowed and texts <= allowed + 1  # +1: the text done writes
    assert page.evaluate(f"{GD.format('loss')}.data[0].x.length") == 151
    assert page.locator("#progress-epoch").inner_text() == "epoch 150 / 150"


def test_a_runs_first_epoch_is_drawn_at_once_when_redraws_are_throttled(page, server):
    """Redraws are spaced by their cost, but a new run's first point does not wait for the spacing
    (it would wait up to a second after the redraw that put the run on the charts)."""
    open_dashboard(page, server)
    first, second, later = page.evaluate("""async () => {
        const charts = window.playground.charts;
        const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
        const record = (epoch) => ({ epoch, train_loss: 2 - epoch / 10, test_loss: 2, train_acc: 0.1, test_acc: 0.1 });
        charts.addRun({ id: "probe", color: "#000", label: "probe", epochs: 10 });
        await frame();                 // the redraw that adds the run
        charts.flushCost = 100;        // as if a redraw took 100 ms: the next may come 1 s after this one
        charts.flushedAt = performance.now();
        charts.push("probe", record(0));
        await frame(); await frame();
        const first = charts.points("probe");
        charts.push("probe", record(1));
        await frame(); await frame();
        const second = charts.points("probe");
        await new Promise((r) => setTimeout(r, 1200));
        return [first, second, charts.points("probe")];
    }""")
    assert (first, second, later) == (1, 1, 2)


def test_run_descriptions_name_what_differs_from_the_defaults(page, server):
    """Runs that differ only in loss, data, batch, epochs, seed or precision must not read the same
    in the run lists (dashboard, /runs, "Add a stored run")."""
    open_dashboard(page, server)
    described = page.evaluate("""async () => {
        const { describeConfig } = await import("/static/js/format.js");
        const base = { seed: 0, data: { train_size: 300, validation_size: 0, test_size: null },
            model: { hidden_layers: [{ units: 100, activation: "relu", batch_norm: false, dropout: 0 }],
                     weight_init: "he", weight_init_std: 0.01, loss: "cross_entropy" },
            optimizer: { name: "sgd", lr: 0.01 },
            training: { epochs: 200, batch_size: 100, weight_decay: 0, dtype: "float32" } };
        const variant = (f) => { const c = JSON.parse(JSON.stringify(base)); f(c); return describeConfig(c); };
        return [describeConfig(base),
            variant((c) => { c.model.loss = "mean_squared_error"; }),
            variant((c) => { c.model.loss = "binary_cross_entropy"; }),
            variant((c) => { c.data.train_size = 5000; }),
            variant((c) => { c.data.test_size = 0; }),
            variant((c) => { c.data.validation_size = 500; }),
            variant((c) => { c.training.dtype = "float64"; }),
            variant((c) => { c.training.batch_size = 50; }),
            variant((c) => { c.training.epochs = 20; }),
            variant((c) => { c.seed = 3; }),
            variant((c) => { c.model.weight_init = "std"; }),
            variant((c) => { c.model.weight_init = "xavier"; }),
            variant((c) => { c.model.hidden_layers[0].dropout = 0.2; }),
            variant((c) => { c.model.hidden_layers[0].dropout = 0.2; c.model.dropout_style = "book"; }),
            variant((c) => { c.model.hidden_layers[0].batch_norm = true; }),
            variant((c) => { c.model.hidden_layers[0].batch_norm = true; c.model.batch_norm_eps = 1e-6; })];
    }""")
    # a run stored without dropout_style used inverted dropout, and says so
    assert described[-4:] == ["784-100-10 relu, sgd lr 0.01, dropout 0.2 inverted",
                              "784-100-10 relu, sgd lr 0.01, dropout 0.2 book-style",
                              "784-100-10 relu, sgd lr 0.01, batch norm",
                              "784-100-10 relu, sgd lr 0.01, batch norm ε 1e-6"]
    assert described[0] == "784-100-10 relu, sgd lr 0.01"
    assert len(set(described)) == len(described), described
    assert "MSE loss" in described[1] and "5000 train" in described[3] and "seed 3" in described[9]


def test_the_builder_says_how_many_images_are_tested_and_warns_when_none_are(page, server):
    open_dashboard(page, server)
    assert page.inner_text("#data-note") == "Tested on 4,700 other images (the rest of the 5,000)."
    field(page, "data.train_size").fill("5000")
    field(page, "data.train_size").dispatch_event("input")
    note = page.locator("#data-note")
    assert "No test images are left" in note.inner_text() and "warn" in note.get_attribute("class")
    field(page, "data.train_size").fill("4000")
    field(page, "data.train_size").dispatch_event("input")
    assert note.inner_text().startswith("Tested on 1,000 other images") and "warn" not in note.get_attribute("class")


@pytest.mark.parametrize("path", ["/", "/runs", "run"])
def test_pages_fit_a_phone_screen_without_sideways_scrolling(page, server, finished_run, path):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server + (f"/runs/{finished_run['run_id']}" if path == "run" else path))
    page.wait_for_load_state("networkidle")
    too_wide = page.evaluate("""() => [...document.querySelectorAll("body *")]
        .filter((e) => e.getBoundingClientRect().right > 391 && e.offsetParent !== null)
        .map((e) => `${e.tagName}.${e.className}`).slice(0, 5)""")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, too_wide


def test_a_queued_run_shows_its_queue_position_not_the_previous_runs_clock(page, server):
    open_dashboard(page, server)
    shown = page.evaluate("""async () => {
        const { StatusPanel } = await import("/static/js/components/status.js");
        const el = {};
        for (const k of ["line", "bar", "fill", "epoch", "time", "stop"]) el[k] = document.createElement(k === "stop" ? "button" : "div");
        const panel = new StatusPanel(el);
        panel.follow({ id: "a", short: "#1", epochs: 10 });
        panel.started("a");                        // its clock ticks every 500 ms
        panel.follow({ id: "b", short: "#2", epochs: 10 });
        panel.queued("b", 1);
        await new Promise((r) => setTimeout(r, 1200));
        return [el.line.textContent, el.time.textContent];
    }""")
    assert shown[0].startswith("Run #2: queued, position 1") and shown[1] == "queue position 1"


def test_times_read_in_seconds_a_run_at_chance_is_called_out_and_log_ticks_are_numbers(page, server):
    open_dashboard(page, server)
    texts = page.evaluate("""async () => {
        const { duration } = await import("/static/js/format.js");
        const { StatusPanel } = await import("/static/js/components/status.js");
        const el = {};
        for (const k of ["line", "bar", "fill", "epoch", "time", "stop"]) el[k] = document.createElement(k === "stop" ? "button" : "div");
        const panel = new StatusPanel(el);
        panel.follow({ id: "a", short: "#1", epochs: 20 });
        panel.finished("a", { status: "done", elapsed_s: 0.43, final: { epoch: 20, train_acc: 0.107, test_acc: 0.1 } });
        return [duration(4.34, { tenths: true }), duration(75.2, { tenths: true }), duration(0.4), el.line.textContent, el.time.textContent];
    }""")
    assert texts[:3] == ["4.3 s", "1:15", "0:00"]
    assert "done in 0.4 s" in texts[3] and "no better than guessing" in texts[3] and texts[4] == "took 0.4 s"
    page.check("#log-loss")
    page.wait_for_function(f"{GD.format('loss')}.layout.yaxis.type === 'log'")
    assert page.evaluate(f"{GD.format('loss')}.layout.yaxis.tickformat") == "~g"  # 0.2, not a bare 2


def test_pages_load_only_from_the_test_server(page, server, finished_run):
    for path in ("/", "/runs", f"/runs/{finished_run['run_id']}"):
        page.goto(server + path)
        page.wait_for_load_state("networkidle")
    assert page.watch.requests, "no request was recorded"
    host = server.split("//", 1)[1]
    assert all(host in url for url in page.watch.requests if not url.startswith(("data:", "blob:")))
    assert any(url.endswith("/static/vendor/plotly-basic.min.js") for url in page.watch.requests)
    assert any("/socket.io/" in url for url in page.watch.requests)  # the dashboard's live connection
