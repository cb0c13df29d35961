"""Maxout layers in headless Chromium against the real server: the builder offers the type with its fields
and output shape, the network trains and shares through its link, the run's page lists the layer, the
look-inside lab draws each unit's pieces, and the activation-histograms lab takes maxout as the activation.
Screenshots go to /tmp/shots/maxout/.

Skipped (with the reason shown) only when Chromium is missing and $CI is unset.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.dashboard import GD, api, field, open_dashboard

SHOTS = Path("/tmp/shots/maxout")


@pytest.fixture(scope="module")
def page_options():
    """1280x900 at 2x pixels (sharp screenshots)."""
    return {"height": 900, "scale": 2, "timeout": 30000}


def shapes(page):
    return page.locator(".layer-shape").all_inner_texts()


def test_build_a_maxout_network_train_it_share_it_and_look_inside(page, server):
    # the builder checks each finished edit with POST /api/validate, which answers the invalid configs on
    # the way (a conv layer after the maxout one, pieces 1) with 400 (and Chromium logs every 4xx response)
    page.watch.allow_console = ("/api/validate",)
    open_dashboard(page, server)
    page.evaluate("window.playground.builder.setConfig({model: {hidden_layers: [{units: 40}]}})")
    assert "Maxout" in field(page, "model.hidden_layers[0].type").inner_text()
    # the dense layer becomes a maxout layer: it keeps its units, gets pieces and dropout, loses activation
    field(page, "model.hidden_layers[0].type").select_option("maxout")
    assert field(page, "model.hidden_layers[0].units").input_value() == "40"
    assert field(page, "model.hidden_layers[0].pieces").input_value() == "2"
    assert field(page, "model.hidden_layers[0].dropout").count() == 1
    assert field(page, "model.hidden_layers[0].activation").count() == 0
    assert field(page, "model.hidden_layers[0].batch_norm").count() == 0
    assert shapes(page) == ["40"]
    words = page.locator('[data-shape-words-for="0"]')
    assert words.inner_text() == "numbers, each the max of 2 pieces"
    field(page, "model.hidden_layers[0].pieces").fill("3")
    assert words.inner_text() == "numbers, each the max of 3 pieces"
    layer = page.locator(".layer-maxout")
    assert "each unit outputs the largest of its k affine pieces" in layer.inner_text()
    assert "k, the affine pieces per unit" in layer.locator('[data-field-wrap="model.hidden_layers[0].pieces"] .tip').get_attribute("data-tip")
    assert "Maxout:" in page.locator(".layer-head .tip").first.get_attribute("data-tip")

    # after a conv and a pool layer the maps are flattened before it
    page.click('[data-action="add-layer"]')
    field(page, "model.hidden_layers[1].type").select_option("conv")
    page.click('[data-action="add-layer"]')
    field(page, "model.hidden_layers[2].type").select_option("pool")
    page.click('button[data-action="up"][data-index="1"]')
    page.click('button[data-action="up"][data-index="2"]')
    assert [field(page, f"model.hidden_layers[{i}].type").input_value() for i in range(3)] == ["conv", "pool", "maxout"]
    assert shapes(page) == ["8×28×28", "8×14×14", "40"]
    flatten = page.locator('[data-flatten-for="2"]')
    assert flatten.is_visible() and "8×14×14 = 1,568 numbers" in flatten.inner_text()
    # back to a flat network: the input is 784 pixels again
    page.click('button[data-action="remove"][data-index="0"]')
    page.click('button[data-action="remove"][data-index="0"]')
    assert shapes(page) == ["40"] and "Input: 784 pixels" in page.inner_text("#input-note")
    page.click('[data-action="add-layer"]')                 # a copy of the maxout layer
    field(page, "model.hidden_layers[1].units").fill("20")
    field(page, "model.hidden_layers[1].dropout").fill("0.2")
    field(page, "model.hidden_layers[1].dropout").dispatch_event("change")
    assert shapes(page) == ["40", "20"]

    config = page.evaluate("window.playground.config()")
    assert config["model"]["hidden_layers"] == [
        {"type": "maxout", "units": 40, "pieces": 3, "dropout": 0},
        {"type": "maxout", "units": 20, "pieces": 3, "dropout": 0.2}]
    assert api(server, "/api/validate", config).get("ok") is True
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".layers").screenshot(path=str(SHOTS / "builder-maxout.png"))

    # a refused value is marked at its field with the server's message
    field(page, "model.hidden_layers[1].pieces").fill("1")
    field(page, "model.hidden_layers[1].pieces").dispatch_event("change")
    page.wait_for_selector('[data-error-for="model.hidden_layers[1].pieces"]')
    assert "from 2 to 10, got 1" in page.inner_text('[data-error-for="model.hidden_layers[1].pieces"]')
    field(page, "model.hidden_layers[1].pieces").fill("3")
    field(page, "model.hidden_layers[1].pieces").dispatch_event("change")

    # the share link carries the maxout layers
    fresh = page.context.new_page()
    open_dashboard(fresh, server, "#" + page.url.split("#", 1)[1])
    assert fresh.evaluate("window.playground.config()")["model"] == config["model"]
    assert field(fresh, "model.hidden_layers[0].type").input_value() == "maxout"
    fresh.close()

    # train a few epochs
    field(page, "data.train_size").fill("100")
    field(page, "training.epochs").fill("3")
    field(page, "optimizer.name").select_option("adam")
    page.click("#train")
    page.wait_for_function("document.getElementById('status').dataset.status === 'done'", timeout=120000)
    acc = page.evaluate(f"{GD.format('acc')}.data.map(t => Array.from(t.y))")
    assert acc[0][-1] > acc[0][0]
    run_id = page.locator(".run-item").get_attribute("data-run-id")
    assert "maxout40(k=3)-maxout20(k=3)" in page.inner_text(".run-item")

    # its page lists the layers; look inside draws three pieces per unit
    page.goto(f"{server}/runs/{run_id}")
    page.wait_for_function(f"{GD.format('loss')}.data.length > 0")
    arch = page.inner_text(".arch")
    assert "maxout: 40 units, each the max of 3 affine pieces → 40" in arch
    assert "maxout: 20 units, each the max of 3 affine pieces, dropout 0.2 → 20" in arch
    page.goto(f"{server}/labs/inside/{run_id}")
    page.wait_for_selector("#filters .maxout-unit canvas")
    assert page.locator("#filters .maxout-unit").count() == 40
    assert page.locator("#filters .maxout-unit").first.locator("canvas").count() == 3
    assert "each unit's 3 pieces" in page.inner_text("#filters-title")
    assert "pieces scaled together" in page.inner_text(".colour-key")
    page.wait_for_selector("#chart-acts .main-svg")
    assert "layer 1 Maxout k=3" in page.inner_text("#chart-acts")
    assert "W1 maxout 784×40×3" in page.inner_text("#chart-weights")
    page.screenshot(path=str(SHOTS / "inside-maxout-run.png"), full_page=True)


def test_the_histograms_lab_takes_maxout_as_the_activation(page, server):
    page.goto(f"{server}/labs/histograms")
    page.wait_for_selector("#grid .main-svg")
    pieces = page.locator("#f-pieces")
    assert not pieces.is_visible()                          # only for maxout
    page.select_option("#f-activation", "maxout")
    assert pieces.is_visible() and pieces.input_value() == "2"
    page.wait_for_function("document.getElementById('grid-title').textContent.startsWith('maxout (2 pieces)')")
    assert "Xavier, not He" in page.inner_text("#grid-look")
    assert "root mean square" in page.inner_text("#stats")
    pieces.fill("3")
    page.wait_for_function("document.getElementById('grid-title').textContent.startsWith('maxout (3 pieces)')")
    assert "3 pieces" in page.inner_text("#grid-look")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "histograms-maxout.png"), full_page=True)
