"""Conv and pool layers in the dashboard's builder, in headless Chromium against the real server:
build a convolutional network row by row, see each layer's output shape, get the server's message at
the field for a window that does not fit, train, share the network through the link, look inside the
run.  Screenshots go to /tmp/shots/conv/ (the builder with conv layers, at 2x for reading).

Skipped (with the reason shown) only when Chromium is missing and $CI is unset.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.support.dashboard import GD, api, field, open_dashboard

SHOTS = Path("/tmp/shots/conv")


@pytest.fixture(scope="module")
def page_options():
    """1280x900 at 2x pixels (sharp screenshots)."""
    return {"height": 900, "scale": 2, "timeout": 30000}


def shapes(page):
    return page.locator(".layer-shape").all_inner_texts()


def test_build_a_conv_network_train_it_and_share_it(page, server):
    open_dashboard(page, server)
    page.click('button[data-preset="quick"]')  # one hidden layer of 100
    assert shapes(page) == ["100"]
    # layer 1 becomes a conv layer: its fields follow the type, the output shape shows what it does
    field(page, "model.hidden_layers[0].type").select_option("conv")
    for key in ("filters", "kernel", "stride", "pad", "activation", "batch_norm", "dropout"):
        assert field(page, f"model.hidden_layers[0].{key}").count() == 1, key
    assert field(page, "model.hidden_layers[0].units").count() == 0
    assert shapes(page) == ["8×28×28"]
    assert "Input: a 1×28×28 image" in page.inner_text("#input-note")
    field(page, "model.hidden_layers[0].filters").fill("6")
    field(page, "model.hidden_layers[0].pad").fill("0")             # 28 - 5 + 1 = 24, shown while typing
    assert shapes(page) == ["6×24×24"]
    field(page, "model.hidden_layers[0].batch_norm").check()

    # + a max-pool layer and a dense layer after it
    page.click('[data-action="add-layer"]')
    field(page, "model.hidden_layers[1].type").select_option("pool")
    assert field(page, "model.hidden_layers[1].size").input_value() == "2"
    assert field(page, "model.hidden_layers[1].activation").count() == 0
    page.click('[data-action="add-layer"]')
    field(page, "model.hidden_layers[2].type").select_option("dense")
    field(page, "model.hidden_layers[2].units").fill("32")
    field(page, "model.hidden_layers[2].units").dispatch_event("change")
    assert shapes(page) == ["6×24×24", "6×12×12", "32"]
    flatten = page.locator('[data-flatten-for="2"]')
    assert flatten.is_visible() and "6×12×12 = 864 numbers" in flatten.inner_text()

    config = page.evaluate("window.playground.config()")
    assert config["model"]["hidden_layers"] == [
        {"type": "conv", "filters": 6, "kernel": 5, "stride": 1, "pad": 0, "activation": "relu",
         "batch_norm": True, "dropout": 0},
        {"type": "pool", "size": 2, "stride": 2},
        {"units": 32, "activation": "relu", "batch_norm": False, "dropout": 0}]
    assert api(server, "/api/validate", config).get("ok") is True

    # the share link carries the conv layers and a fresh page restores them
    link = page.url
    fresh = page.context.new_page()
    open_dashboard(fresh, server, "#" + link.split("#", 1)[1])
    assert fresh.evaluate("window.playground.config()")["model"] == config["model"]
    assert field(fresh, "model.hidden_layers[0].type").input_value() == "conv"
    assert field(fresh, "model.hidden_layers[1].type").input_value() == "pool"
    assert shapes(fresh) == ["6×24×24", "6×12×12", "32"]
    fresh.close()

    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".layers").screenshot(path=str(SHOTS / "builder-conv-layers.png"))

    # train a few epochs: the charts fill, the run is stored with its conv layers
    field(page, "data.train_size").fill("100")
    field(page, "training.epochs").fill("3")
    field(page, "optimizer.name").select_option("adam")
    page.click("#train")
    page.wait_for_function("document.getElementById('status').dataset.status === 'done'", timeout=120000)
    loss = page.evaluate(f"{GD.format('loss')}.data.map(t => Array.from(t.x))")
    assert loss[0] == [0, 1, 2, 3] and len(loss[1]) == 4
    acc = page.evaluate(f"{GD.format('acc')}.data.map(t => Array.from(t.y))")
    assert acc[0][-1] > acc[0][0]
    run_id = page.locator(".run-item").get_attribute("data-run-id")
    stored = api(server, f"/api/runs/{run_id}")
    assert stored["status"] == "done" and stored["config"]["model"]["hidden_layers"][0]["type"] == "conv"
    assert "conv6(5×5)-pool2-32" in page.inner_text(".run-item")
    page.screenshot(path=str(SHOTS / "dashboard-conv-run.png"))

    # its permalink lists the layers with their shapes, and the look-inside lab draws the kernels
    page.goto(f"{server}/runs/{run_id}")
    page.wait_for_function(f"{GD.format('loss')}.data.length > 0")
    arch = page.inner_text(".arch")
    assert "conv: 6 filters 5×5, stride 1, padding 0, relu, batch norm → 6×24×24" in arch
    assert "max-pool: 2×2 windows, stride 2 → 6×12×12" in arch
    page.goto(f"{server}/labs/inside/{run_id}")
    page.wait_for_selector("#filters canvas")
    assert page.locator("#filters canvas").count() == 6
    assert page.locator("#filters canvas").first.get_attribute("width") == "5"
    assert "kernels" in page.inner_text("#filters-title")
    page.wait_for_selector("#chart-acts .main-svg")
    page.screenshot(path=str(SHOTS / "inside-conv-run.png"), full_page=True)


def test_a_window_that_does_not_fit_is_marked_at_its_field(page, server):
    # the builder checks each finished edit with POST /api/validate, which answers an invalid config
    # with 400 (and Chromium logs every 4xx response in the console)
    page.watch.allow_console = ("/api/validate",)
    layers = [{"type": "pool", "size": 2, "stride": 2}] * 4 + [{"type": "conv", "filters": 4, "kernel": 3, "pad": 0}]
    config = {"model": {"hidden_layers": layers}}
    text = base64.urlsafe_b64encode(json.dumps(config).encode()).decode().rstrip("=")
    open_dashboard(page, server, "#config=" + text)
    path = "model.hidden_layers[4].kernel"
    error = page.locator(f'.field-error[data-error-for="{path}"]')
    error.wait_for()                 # the link's config is checked on load
    expected = next(e["message"] for e in api(server, "/api/validate", page.evaluate("window.playground.config()"))["errors"]
                    if e["field"] == path)
    assert error.inner_text().strip() == expected and "does not fit the 1x1x1 input" in expected
    assert field(page, path).get_attribute("aria-invalid") == "true"
    assert shapes(page)[3:] == ["1×1×1", "–"]
    # a conv layer after a dense one: the message lands at that layer's type
    field(page, "model.hidden_layers[4].kernel").fill("1")
    field(page, "model.hidden_layers[4].kernel").dispatch_event("change")
    page.wait_for_function(f"!document.querySelector('.field-error[data-error-for=\"{path}\"]')")
    page.click('[data-action="add-layer"]')
    field(page, "model.hidden_layers[5].type").select_option("dense")
    page.click('[data-action="add-layer"]')
    field(page, "model.hidden_layers[6].type").select_option("conv")
    page.click("#train")
    type_error = page.locator('.field-error[data-error-for="model.hidden_layers[6].type"]')
    type_error.wait_for()
    assert "cannot follow a dense layer (hidden layer 6 is dense)" in type_error.inner_text()
    # on a line of its own under the layer's title row, as wide as the card
    assert type_error.evaluate("e => !e.closest('.layer-head') && e.previousElementSibling.matches('.layer-head')")


def test_small_cnn_preset(page, server):
    open_dashboard(page, server)
    page.click('button[data-preset="small_cnn"]')
    assert [field(page, f"model.hidden_layers[{i}].type").input_value() for i in range(3)] == ["conv", "pool", "dense"]
    assert shapes(page) == ["8×28×28", "8×14×14", "100"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".sidebar").screenshot(path=str(SHOTS / "builder-small-cnn.png"))
