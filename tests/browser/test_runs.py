"""Stored runs that stay tidy, in Chromium against the real server: /runs filters, pages and deletes;
a run's page is titled by its name and shows Stop only while its run trains; the run pickers group
runs by where they came from.

The server starts on a database already holding 60 runs of every origin (written through the store,
as the server writes them); tests that delete or train make runs of their own.
"""
from __future__ import annotations

import json
import time
import urllib.request

import pytest


CONFIG = {
    "seed": 3, "data": {"train_size": 100, "validation_size": 0, "test_size": None},
    "model": {"hidden_layers": [{"units": 30, "activation": "relu", "batch_norm": False, "dropout": 0.0}],
              "weight_init": "he", "weight_init_std": 0.01, "loss": "cross_entropy"},
    "optimizer": {"name": "sgd", "lr": 0.1},
    "training": {"epochs": 4, "batch_size": 50, "weight_decay": 0.0},
}
DESCRIPTION = "784-30-10 relu, sgd lr 0.1, 100 train, batch 50, 4 epochs, seed 3"


def record(epoch):
    return {"epoch": epoch, "train_loss": 2.3 - 0.3 * epoch, "train_acc": 0.1 + 0.2 * epoch,
            "test_loss": 2.3 - 0.2 * epoch, "test_acc": 0.1 + 0.15 * epoch, "elapsed_s": 0.1 * epoch}


def store_run(store, run_id, origin=None, name=None, status="done"):
    config = dict(CONFIG, **({"name": name} if name else {}))
    store.create_run(run_id, config, origin=origin)
    store.append_metrics(run_id, [record(e) for e in range(5)])
    store.finish_run(run_id, status, {"status": status, "final": record(4), "elapsed_s": 0.4},
                     b"npz" if status == "done" else None)


def lab(slug, batch, key, label):
    return {"kind": "lab", "lab": slug, "batch": batch, "key": key, "label": label}


@pytest.fixture(scope="module")
def seed_database():
    def seed(db_path):
        from server.store import Store

        store = Store(db_path)
        store.init_schema()
        # oldest first: the dashboard's runs, then the labs' (the newest, which must not bury them)
        store_run(store, "untagged01")
        store_run(store, "untagged02", status="stopped")
        store_run(store, "dashnamed1", {"kind": "dashboard"}, name="Baseline named")
        for i in range(11):
            store_run(store, f"dash{i:02d}", {"kind": "dashboard"}, status="diverged" if i == 5 else "done")
        store_run(store, "rerun00001", {"kind": "rerun", "source": "dashnamed1"}, name="Baseline named")
        for i in range(4):
            label = ["Overfitting", "Weight decay 0.1", "Dropout 0.2", "Both"][i]
            store_run(store, f"over{i:02d}", lab("overfitting", "ofbatch1", str(i), label))
        for i in range(41):
            key = f"{i // 2}-{'bn' if i % 2 else 'plain'}"
            store_run(store, f"bn{i:02d}", lab("batchnorm", "bnbatch1" if i < 32 else "bnbatch2", key,
                                               "Batch norm" if i % 2 else "Normal"))
    return seed


@pytest.fixture(scope="module")
def page_options():
    return {"height": 900}


def api(server, path, method="GET", body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server + path, data=data, method=method,
                                 headers={"Content-Type": "application/json", "Origin": server})
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status, (json.load(res) if res.status != 204 else None)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def shown_ids(page):
    return page.eval_on_selector_all("#runs-body tr[data-run-id]", "rows => rows.map(r => r.dataset.runId)")


def wait_rows(page, count_text):
    page.wait_for_function(f"document.getElementById('runs-count').textContent === {json.dumps(count_text)}")


def train(server, config, origin=None):
    """Start a run through the socket API (as a page does); returns its id at once."""
    import socketio

    client = socketio.Client()
    client.connect(server, transports=["websocket"])
    try:
        ack = client.call("run:start", {"config": config, **({"origin": origin} if origin else {})}, timeout=10)
    finally:
        client.disconnect()
    assert "run_id" in ack, ack
    return ack["run_id"]


def wait_status(server, run_id, statuses, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        status, run = api(server, f"/api/runs/{run_id}")
        if run["status"] in statuses:
            return run
        assert time.monotonic() < deadline, run["status"]
        time.sleep(0.1)


# ------------------------------------------------------------------------------- /runs

def test_runs_page_pages_and_filters_by_origin_status_text_and_batch(page, server):
    page.goto(server + "/runs")
    wait_rows(page, "1–50 of 60 runs")
    assert len(shown_ids(page)) == 50 and shown_ids(page)[0] == "bn40"
    assert page.inner_text("#page-info") == "Page 1 of 2"
    assert page.is_disabled("#page-prev")
    page.click("#page-next")
    wait_rows(page, "51–60 of 60 runs")
    assert shown_ids(page) == [f"dash{i:02d}" for i in range(6, -1, -1)] + ["dashnamed1", "untagged02", "untagged01"]
    assert "page=2" in page.url and page.is_disabled("#page-next")

    # From: the choices carry how many runs each origin has
    options = page.eval_on_selector_all("#origin-filter option", "os => os.map(o => [o.value, o.textContent.trim()])")
    assert ["lab:batchnorm", "Batch normalisation (41)"] in options
    assert page.eval_on_selector("#origin-filter option[value='lab:batchnorm']", "o => o.parentNode.label") == "one lab"
    assert ["dashboard", "the dashboard (12)"] in options and ["untagged", "no origin (older runs) (2)"] in options
    page.select_option("#origin-filter", "lab:overfitting")
    wait_rows(page, "1–4 of 4 matching runs")
    assert shown_ids(page) == ["over03", "over02", "over01", "over00"]
    assert "origin=lab%3Aoverfitting" in page.url and "page=" not in page.url
    row = page.locator('#runs-body tr[data-run-id="over01"]')
    assert row.locator(".c-origin").inner_text() == "Overfitting, weight decay and dropout lab · Weight decay 0.1 · batch ofbatch1"

    page.select_option("#origin-filter", "dashboard")
    page.select_option("#status-filter", "diverged")
    wait_rows(page, "1–1 of 1 matching run")
    assert shown_ids(page) == ["dash05"]
    page.select_option("#status-filter", "")
    page.select_option("#origin-filter", "")

    page.fill("#runs-q", "baseline")   # searched as you type
    wait_rows(page, "1–2 of 2 matching runs")
    assert shown_ids(page) == ["rerun00001", "dashnamed1"]
    rerun = page.locator('#runs-body tr[data-run-id="rerun00001"] .c-origin')
    assert rerun.inner_text() == "re-run of Baseline named"
    assert rerun.locator("a").get_attribute("href") == "/runs/dashnamed1"
    page.fill("#runs-q", "-bn bnbatch2")
    wait_rows(page, "1–4 of 4 matching runs")  # the lab's keys of the second batch's batch-norm runs
    page.fill("#runs-q", "\"batch normalisation\" bnbatch2")
    wait_rows(page, "1–9 of 9 matching runs")  # the lab's title, quoted
    page.fill("#runs-q", "no such run anywhere")
    page.wait_for_function("document.querySelector('#runs-body .empty')")
    assert "No stored run matches these filters" in page.inner_text("#runs-body")
    page.fill("#runs-q", "")
    wait_rows(page, "1–50 of 60 runs")

    # a batch link shows that batch only, with a chip to leave it
    page.locator('#runs-body tr[data-run-id="bn40"] a.batch-link').click()
    wait_rows(page, "1–9 of 9 matching runs")
    assert page.is_visible("#batch-chip") and "batch=bnbatch2" in page.url
    page.click("#batch-clear")
    page.wait_for_function("document.getElementById('batch-chip').hidden")
    assert "batch=" not in page.url

    # the filters live in the address: a reload keeps them
    page.goto(server + "/runs?origin=lab%3Abatchnorm&status=done&page=3")
    wait_rows(page, "1–41 of 41 matching runs")  # there is no page 3: the last page is shown
    assert page.input_value("#origin-filter") == "lab:batchnorm" and page.input_value("#status-filter") == "done"
    assert page.is_hidden("#pager") and "page=" not in page.url


def test_a_bad_filter_in_the_address_is_said_not_crashed(page, server):
    page.watch.allow_console += ("/api/runs?status=finished",)  # the browser logs the 400 it is shown
    page.goto(server + "/runs?status=finished")
    page.wait_for_function("!document.getElementById('page-notice').hidden")
    assert "status must be one of" in page.inner_text("#page-notice")


def test_delete_runs_from_the_list_per_row_and_ticked(page, server):
    ids = []
    for i in range(4):
        run_id = train(server, dict(CONFIG, name=f"doomed {i}"), "dashboard")
        wait_status(server, run_id, ("done",))
        ids.append(run_id)
    page.goto(server + "/runs?q=doomed")
    wait_rows(page, "1–4 of 4 matching runs")

    # per row, with a confirmation: dismissed keeps it, accepted deletes it
    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.locator(f'#runs-body tr[data-run-id="{ids[0]}"] button.run-delete').click()
    assert asked and "doomed 0" in asked[0] and "cannot be undone" in asked[0]
    assert api(server, f"/api/runs/{ids[0]}")[0] == 200
    page.once("dialog", lambda d: d.accept())
    page.locator(f'#runs-body tr[data-run-id="{ids[0]}"] button.run-delete').click()
    wait_rows(page, "1–3 of 3 matching runs")
    assert "Deleted run “doomed 0”." in page.inner_text("#page-notice")
    assert api(server, f"/api/runs/{ids[0]}")[0] == 404
    assert api(server, f"/api/runs/{ids[0]}/weights.npz")[0] == 404

    # the ticked ones
    for run_id in ids[1:3]:
        page.locator(f'#runs-body tr[data-run-id="{run_id}"] input.run-pick').check()
    assert page.inner_text("#delete-ticked") == "Delete 2 ticked"
    page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
    page.click("#delete-ticked")
    wait_rows(page, "1–1 of 1 matching run")
    assert asked[-1].startswith("Delete 2 runs?")
    assert shown_ids(page) == [ids[3]] and page.is_hidden("#delete-ticked")
    assert "Deleted 2 of 2 runs." in page.inner_text("#page-notice")
    assert [api(server, f"/api/runs/{i}")[0] for i in ids] == [404, 404, 404, 200]
    assert api(server, f"/api/runs/{ids[3]}", "DELETE")[0] == 204  # the other tests count the fixture's runs


def test_a_running_run_cannot_be_deleted_from_the_list(page, server):
    page.watch.allow_console += ("409 (CONFLICT)",)  # the refusal the page explains
    long = json.loads(json.dumps(CONFIG))
    long["training"]["epochs"] = 1000
    long["name"] = "still training"
    run_id = train(server, long, "dashboard")
    try:
        wait_status(server, run_id, ("running",))
        page.goto(server + "/runs?q=%22still+training%22")
        wait_rows(page, "1–1 of 1 matching run")
        assert page.locator("button.run-delete").is_disabled()
        page.locator("input.run-pick").check()
        page.once("dialog", lambda d: d.accept())
        page.click("#delete-ticked")
        page.wait_for_function("document.getElementById('page-notice').textContent.includes('still queued or running')")
        assert api(server, f"/api/runs/{run_id}")[0] == 200
    finally:
        import socketio

        client = socketio.Client()
        client.connect(server, transports=["websocket"])
        client.call("run:stop", {"run_id": run_id}, timeout=10)
        client.disconnect()
    wait_status(server, run_id, ("stopped",))
    assert api(server, f"/api/runs/{run_id}", "DELETE")[0] == 204


# ------------------------------------------------------------------------------- a run's page

def test_a_stored_runs_page_is_titled_by_its_name_and_has_no_stop(page, server):
    page.goto(server + "/runs/dashnamed1")
    page.wait_for_function("document.getElementById('run-description').textContent !== 'Loading the stored run…'")
    assert page.title() == "Baseline named · Deep Learning from Scratch"
    assert page.inner_text("#run-title") == "Baseline named"
    assert page.inner_text("#run-description") == DESCRIPTION
    assert page.inner_text("#run-origin") == "Trained on the dashboard."
    assert page.is_hidden("#stop") and page.is_enabled("#delete-run")

    # unnamed: titled by its description, as the dashboard describes it
    page.goto(server + "/runs/dash03")
    page.wait_for_function("document.title.startsWith('784-')")
    assert page.title() == f"{DESCRIPTION} · Deep Learning from Scratch"
    assert page.inner_text("#run-title") == DESCRIPTION and page.is_hidden("#run-description")
    assert page.is_hidden("#stop")

    # a re-run says which run it re-ran, with a link
    page.goto(server + "/runs/rerun00001")
    page.wait_for_function("!document.getElementById('run-origin').hidden")
    assert page.inner_text("#run-origin") == "A re-run of Baseline named: the same settings and seed, trained again."
    assert page.get_attribute("#run-origin a", "href") == "/runs/dashnamed1"
    page.goto(server + "/runs/bn03")
    page.wait_for_function("!document.getElementById('run-origin').hidden")
    assert page.inner_text("#run-origin") == "From the Batch normalisation lab · Batch norm · batch bnbatch1"


def test_stop_shows_while_a_watched_run_trains_and_goes_when_it_finishes(page, server):
    long = json.loads(json.dumps(CONFIG))
    long["training"]["epochs"] = 1000
    run_id = train(server, long, "dashboard")
    page.goto(f"{server}/runs/{run_id}")
    page.wait_for_function("['queued', 'running'].includes(document.getElementById('status').dataset.status)")
    assert page.is_visible("#stop") and page.is_disabled("#delete-run")
    page.wait_for_function("document.getElementById('status').dataset.status === 'running'", timeout=60000)
    page.click("#stop")   # the watched run ends (stopped): Stop goes, Delete comes
    page.wait_for_function("document.getElementById('run-page').dataset.status === 'stopped'", timeout=60000)
    assert page.is_hidden("#stop") and page.is_enabled("#delete-run")
    assert api(server, f"/api/runs/{run_id}", "DELETE")[0] == 204


def test_a_rerun_is_stored_as_a_rerun_of_its_source_and_a_page_deletes_its_run(page, server):
    source = train(server, dict(CONFIG, name="to re-run"), "dashboard")
    wait_status(server, source, ("done",))
    page.goto(f"{server}/runs/{source}")
    page.wait_for_function("!document.getElementById('rerun').disabled")
    page.click("#rerun")
    page.wait_for_function("document.querySelectorAll('.run-item').length === 2 && "
                           "document.querySelectorAll('.run-item')[1].dataset.status === 'done'")
    assert page.is_hidden("#stop")   # the re-run finished too
    rerun = page.locator(".run-item").nth(1).get_attribute("data-run-id")
    assert api(server, f"/api/runs/{rerun}")[1]["origin"] == {
        "kind": "rerun", "source": source, "source_exists": True, "source_name": "to re-run"}

    page.once("dialog", lambda d: d.accept())
    page.click("#delete-run")
    page.wait_for_url("**/runs")
    page.wait_for_function("document.getElementById('page-notice').textContent.startsWith('Deleted run')")
    assert api(server, f"/api/runs/{source}")[0] == 404
    # the re-run stays, and says that its source is gone
    page.goto(f"{server}/runs/{rerun}")
    page.wait_for_function("!document.getElementById('run-origin').hidden")
    assert "re-run of to re-run (deleted)" in page.inner_text("#run-origin")
    assert page.locator("#run-origin a").count() == 0
    assert api(server, f"/api/runs/{rerun}", "DELETE")[0] == 204


# ------------------------------------------------------------------------------- the run pickers

def test_the_model_list_and_add_a_stored_run_offer_the_dashboards_runs_first(page, server):
    page.goto(server + "/")
    # options join as the server confirms each run's weights (a HEAD request each)
    page.wait_for_function("document.querySelectorAll('#predict-model option').length === 1 + 11 + 1 + 1 + 4 + 10")
    groups = page.eval_on_selector_all(
        "#predict-model optgroup", "gs => gs.map(g => [g.label, [...g.children].map(o => o.value)])")
    labels = [label for label, _ in groups]
    assert (labels.index("Dashboard runs") < labels.index("Re-runs") < labels.index("Earlier runs")
            < labels.index("Lab: Batch normalisation"))
    grouped = dict(groups)
    assert "dashnamed1" in grouped["Dashboard runs"] and "dash05" not in grouped["Dashboard runs"]  # diverged: no weights
    assert grouped["Re-runs"] == ["rerun00001"] and grouped["Earlier runs"] == ["untagged01"]
    assert set(grouped["Lab: Overfitting, weight decay and dropout"]) == {"over00", "over01", "over02", "over03"}
    # each lab's newest (10), asked for apart: the 41 batch-norm runs do not push the others out
    assert grouped["Lab: Batch normalisation"] == [f"bn{i:02d}" for i in range(40, 30, -1)]
    assert page.eval_on_selector("#predict-model", "s => s.options[0].value") == "default"
    bn = page.locator('#predict-model option[value="bn33"]').text_content()
    assert "Batch norm" in bn and "784-30-10" in bn

    select = page.locator(".stored-select")
    select.focus()
    page.wait_for_function("document.querySelectorAll('.stored-select optgroup').length >= 4")
    picker = page.eval_on_selector_all(".stored-select optgroup", "gs => gs.map(g => [g.label, g.children.length])")
    assert [label for label, _ in picker][:3] == ["Dashboard runs", "Re-runs", "Earlier runs"]
    assert dict(picker)["Lab: Batch normalisation"] == 41 and dict(picker)["Earlier runs"] == 2
    select.select_option("dash03")
    page.click(".stored-picker button:has-text('Add')")
    page.locator('.run-item[data-run-id="dash03"]').wait_for()


# ------------------------------------------------------------------------------- lab runs are tagged

def test_a_labs_runs_are_stored_with_the_lab_and_one_batch(page, server):
    import base64

    settings = {"epochs": 2, "train_size": 100, "layers": 1, "units": 10}
    page.goto(server + "/labs/overfitting#s=" + base64.urlsafe_b64encode(json.dumps(settings).encode()).decode().rstrip("="))
    page.wait_for_function("!document.getElementById('run').disabled")
    page.click("#run")
    page.wait_for_function("document.querySelector('.lab-progress-text').textContent.startsWith('4 of 4 finished')",
                           timeout=120000)
    status, body = api(server, "/api/runs?origin=lab:overfitting&limit=4")
    runs = body["runs"]
    batches = {r["origin"]["batch"] for r in runs}
    assert len(batches) == 1 and batches != {"ofbatch1"}  # one new batch for the four
    origins = sorted((r["origin"]["key"], r["origin"]["label"]) for r in runs)
    assert len(origins) == 4 and all(r["origin"]["lab"] == "overfitting" for r in runs)
    assert all(r["origin"]["lab_title"] == "Overfitting, weight decay and dropout" for r in runs)
    page.goto(server + "/runs?origin=lab%3Aoverfitting&batch=" + batches.pop())
    wait_rows(page, "1–4 of 4 matching runs")
    page.click("#pick-page")
    page.once("dialog", lambda d: d.accept())
    page.click("#delete-ticked")   # the whole batch, in two clicks
    page.wait_for_function("document.querySelector('#runs-body .empty')")
    assert api(server, "/api/runs?origin=lab:overfitting")[1]["total"] == 4  # the fixture's batch
