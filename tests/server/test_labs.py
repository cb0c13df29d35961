"""The labs' JSON endpoints (Flask test client) and the search lab's socket events."""
import copy

import numpy as np
import pytest

from nnengine.config import parse_config
from nnengine.data import load_pool
from nnengine.labs import LAB_SLUGS
from nnengine.presets import preset
from nnengine import search as search_module
from nnengine.trainer import TrainResult, load_splits, train

from tests.support.configs import tiny_config
from tests.support.runs import wait_status
from tests.support.sockets import SocketUser, socket_client

SEARCH_CONFIG = {
    "seed": 0,
    "data": {"train_size": 60, "validation_size": 30, "test_size": 0},
    "model": {"hidden_layers": [{"units": 10, "activation": "relu"}]},
    "optimizer": {"name": "sgd", "lr": 0.1},
    "training": {"epochs": 2, "batch_size": 20},
}


@pytest.fixture
def lclient(labs_app):
    return labs_app.test_client()


@pytest.fixture
def luser(labs_app, lclient):
    sio = socket_client(labs_app, lclient)
    yield SocketUser(sio)
    if sio.is_connected():
        sio.disconnect()


# ---------------------------------------------------------------- pages

def test_every_lab_page_and_the_index_render(lclient):
    index = lclient.get("/labs")
    assert index.status_code == 200
    html = index.get_data(as_text=True)
    for slug in LAB_SLUGS:
        if slug != "inside":
            assert f'href="/labs/{slug}"' in html
        res = lclient.get(f"/labs/{slug}")
        assert res.status_code == 200, slug
        # the probe lab's page has panels of its own (static/js/pages/probe/)
        page = "probe.js" if slug == "probe" else f"labs/{slug}.js"
        assert f'src="/static/js/pages/{page}"' in res.get_data(as_text=True)
    assert lclient.get("/labs/nope").status_code == 404
    assert lclient.get("/labs/inside/abc_DEF-1").status_code == 200


# ---------------------------------------------------------------- JSON endpoints

def test_labs_list(lclient):
    body = lclient.get("/api/labs").get_json()
    assert [lab["slug"] for lab in body["labs"]] == list(LAB_SLUGS)


def test_paths_get_gives_the_books_experiment(lclient):
    body = lclient.get("/api/labs/paths").get_json()
    assert [p["name"] for p in body["paths"]] == ["sgd", "momentum", "adagrad", "adam"]
    assert body["start"] == [-7.0, 2.0] and body["steps"] == 30
    assert len(body["contour"]["z"]) == len(body["contour"]["y"])
    sgd = body["paths"][0]
    assert sgd["x"][1] == pytest.approx(-7.0 - 0.95 * (-7.0 / 10))
    assert sgd["y"][1] == pytest.approx(2.0 - 0.95 * 2 * 2.0)


def test_paths_post_and_query_settings(lclient):
    body = lclient.post("/api/labs/paths", json={
        "function": "himmelblau", "steps": 5, "start": [0, 0], "grid": False,
        "optimizers": [{"name": "eve"}, {"name": "santa_sss", "lr": 0.05}]}).get_json()
    assert [len(p["x"]) for p in body["paths"]] == [6, 6] and "contour" not in body
    q = lclient.get('/api/labs/paths?function=saddle&steps=7&optimizers=[{"name":"nadam"}]').get_json()
    assert q["function"]["name"] == "saddle" and len(q["paths"][0]["x"]) == 8
    defaults = lclient.get("/api/labs/paths/defaults").get_json()
    assert len(defaults["optimizers"]) == 17 and defaults["book"]["steps"] == 30


@pytest.mark.parametrize("body, word", [
    ({"steps": 10**6}, "steps"), ({"optimizers": [{"name": "nope"}]}, "nope"), ({"function": 3}, "function"),
])
def test_paths_bad_input_is_a_400_with_a_message(lclient, body, word):
    res = lclient.post("/api/labs/paths", json=body)
    assert res.status_code == 400 and word in res.get_json()["error"]
    assert lclient.post("/api/labs/paths", data="x", content_type="text/plain").status_code == 400


@pytest.mark.parametrize("body, field", [
    ({"steps": 0}, "steps"), ({"steps": 100000}, "steps"), ({"start": [1]}, "start"), ({"function": "nope"}, "function"),
    ({"optimizers": [{"name": "sgd", "lr": 0.5}, {"name": "adam", "lr": -1}]}, "optimizers[1]"),
])
def test_paths_bad_input_names_its_field(lclient, body, field):
    """The page shows the message at the field it names (the Steps box, the second optimizer row...)."""
    res = lclient.post("/api/labs/paths", json=body)
    assert res.status_code == 400
    errors = res.get_json()["errors"]
    assert [e["field"] for e in errors] == [field] and errors[0]["message"]


def test_histograms_endpoint_counts(lclient):
    body = lclient.get("/api/labs/histograms").get_json()
    assert body["activation"] == "sigmoid" and len(body["inits"]) == 4
    for init in body["inits"]:
        assert [sum(layer["counts"]) for layer in init["layers"]] == [100_000] * 5
    tanh = lclient.post("/api/labs/histograms", json={"activation": "tanh", "bins": 10,
                                                     "inits": [{"init": "std", "std": 0.5}]}).get_json()
    assert tanh["range"] == [-1, 1] and len(tanh["inits"][0]["layers"][0]["counts"]) == 10
    bad = lclient.get("/api/labs/histograms?activation=nope")
    assert bad.status_code == 400 and "nope" in bad.get_json()["error"]


GRADCHECK_CONFIGS = [
    preset("overfitting"),
    preset("overfitting_weight_decay"),
    preset("overfitting_dropout"),
    {"model": {"hidden_layers": [{"units": 30, "activation": "tanh", "batch_norm": True, "dropout": 0.3}] * 2,
               "loss": "binary_cross_entropy"}, "training": {"weight_decay": 0.05}},
    {"model": {"hidden_layers": [{"units": 20, "activation": "sigmoid"}], "loss": "mean_squared_error"}},
]


@pytest.mark.parametrize("config", GRADCHECK_CONFIGS)
def test_gradcheck_endpoint_errors_are_tiny_in_float64(lclient, config):
    res = lclient.post("/api/labs/gradcheck", json={"config": config, "batch": 3, "max_entries": 8})
    assert res.status_code == 200, res.get_json()
    rows = res.get_json()
    network = [l for l in config["model"]["hidden_layers"]]
    assert len([r for r in rows if r["param"].endswith(".W")]) == len(network) + 1
    for row in rows:
        assert set(row) >= {"param", "shape", "rel_error"}
        if row["rel_error"] is None:
            # only a gradient that is zero by construction (a bias just before batch norm)
            assert row["status"] == "zero" and row["param"].endswith(".b")
            assert any(l["batch_norm"] for l in network)
        else:
            assert row["rel_error"] < 1e-6, row
    first = rows[0]
    assert first["param"] == "0.W" and first["shape"] == [784, network[0]["units"]]


def test_gradcheck_detail_and_errors(lclient):
    body = lclient.post("/api/labs/gradcheck?detail=1", json={"config": preset("quick")}).get_json()
    assert body["dtype"] == "float64" and body["ok"] is True and body["max_rel_error"] < 1e-6
    assert body["config"]["training"]["dtype"] == "float64"
    bad = lclient.post("/api/labs/gradcheck", json={"config": {"model": {"hidden_layers": "x"}}})
    assert bad.status_code == 400 and bad.get_json()["errors"][0]["field"] == "model.hidden_layers"
    assert lclient.post("/api/labs/gradcheck", json={"config": preset("quick"), "batch": 0}).status_code == 400


def test_gradcheck_detects_a_wrong_backward(monkeypatch):
    """The check is not vacuous: a backward with a bug is reported as a mismatch."""
    from nnengine.activations import ReLU
    from nnengine.labs.gradcheck_lab import gradcheck

    original = ReLU.backward
    monkeypatch.setattr(ReLU, "backward", lambda self, dout: 1.5 * original(self, dout))
    result = gradcheck(preset("quick"), batch=3, max_entries=5)
    assert not result["ok"]
    assert any(r["status"] == "mismatch" for r in result["params"])


def test_run_config_endpoints(lclient):
    bn = lclient.get("/api/labs/batchnorm/runs").get_json()
    assert len(bn["runs"]) == 32
    assert [r["config"]["model"]["weight_init_std"] for r in bn["runs"][::2]] == pytest.approx(
        np.logspace(0, -4, 16).tolist())
    opt = lclient.post("/api/labs/optimizers/runs", json={"iterations": 100, "train_size": 1000,
                                                         "optimizers": [{"name": "adam", "lr": 0.01}]}).get_json()
    assert len(opt["runs"]) == 1 and opt["meta"]["iterations"] >= 100
    assert lclient.get("/api/labs/init/runs?iterations=64").get_json()["meta"]["epochs"] == 2
    assert len(lclient.get("/api/labs/overfitting/runs?epochs=5").get_json()["runs"]) == 4
    bad = lclient.get("/api/labs/overfitting/runs?epochs=0")
    assert bad.status_code == 400 and bad.get_json()["errors"][0]["field"] == "epochs"
    assert lclient.get("/api/labs/paths/runs").status_code == 404
    setup = lclient.get("/api/labs/search/setup").get_json()
    assert setup["config"]["data"]["validation_size"] == 100


def test_narrow_endpoint(lclient):
    results = [{"lr": 1e-3, "weight_decay": 1e-6, "val_acc": 0.9}, {"lr": 1e-2, "weight_decay": 1e-5, "val_acc": 0.8},
               {"lr": 1e-6, "weight_decay": 1e-8, "val_acc": 0.1}]
    body = lclient.post("/api/labs/search/narrow", json={"results": results, "top": 2}).get_json()
    assert body["lr"] == [1e-3, 1e-2] and body["weight_decay"] == [1e-6, 1e-5]
    assert lclient.post("/api/labs/search/narrow", json={"results": "x"}).status_code == 400


def test_inside_a_finished_run(labs_app, lclient, luser):
    ack = luser.start(tiny_config())
    run_id = ack["run_id"]
    luser.wait_finished(run_id)
    wait_status(labs_app, run_id, ("done",))
    body = lclient.get(f"/api/labs/inside/{run_id}?samples=40&images=4").get_json()
    assert body["split"] == "test" and body["samples"] == 40
    assert [w["shape"] for w in body["weights"]] == [[784, 10], [10, 10]]
    assert len(body["activations"]) == 1 and sum(body["activations"][0]["counts"]) == 40 * 10
    assert len(body["first_layer"]["images"]) == 4 and len(body["first_layer"]["images"][0]) == 784
    assert max(max(abs(v) for v in img) for img in body["first_layer"]["images"]) == 127
    assert lclient.get("/api/labs/inside/nope").status_code == 404


# ---------------------------------------------------------------- the search: validation split only

def test_search_samples_log_uniformly_within_its_ranges():
    config = parse_config(SEARCH_CONFIG)
    lr = search_module.LogRange(1e-6, 1e-2)
    wd = search_module.LogRange(1e-8, 1e-4)
    trials = search_module.sample_trials(config, 2000, lr, wd)
    lrs = np.array([t["lr"] for t in trials])
    wds = np.array([t["weight_decay"] for t in trials])
    assert lrs.min() >= 1e-6 and lrs.max() <= 1e-2 and wds.min() >= 1e-8 and wds.max() <= 1e-4
    # uniform in log10: each decade holds about a quarter of the samples
    hist, _ = np.histogram(np.log10(lrs), bins=4, range=(-6, -2))
    assert hist.min() > 400


def test_a_trials_val_acc_is_the_accuracy_on_the_validation_split():
    config = parse_config({**SEARCH_CONFIG, "data": {"train_size": 60, "validation_size": 30, "test_size": 50}})
    trial = {"trial": 0, "lr": 0.05, "weight_decay": 1e-5}
    result = search_module.run_trial(config, trial)
    # the same training, by hand: its network evaluated on each split of the same seeded draw
    cfg = search_module.trial_config(config, trial["lr"], trial["weight_decay"])
    trained = train(cfg)
    splits = load_splits(cfg, np.random.default_rng(cfg.seed))
    val_loss, val_acc = trained.network.evaluate(splits.x_val, splits.t_val)
    _, test_acc = trained.network.evaluate(splits.x_test, splits.t_test)
    assert result["val_acc"] == val_acc and result["val_loss"] == pytest.approx(val_loss)
    assert len(splits.x_val) == 30
    # the validation images are neither training nor test images
    x, _ = load_pool()
    as_rows = lambda a: {r.tobytes() for r in (a * 255).round().astype(np.uint8)}
    assert not as_rows(splits.x_val) & as_rows(splits.x_train)
    assert not as_rows(splits.x_val) & as_rows(splits.x_test)


def test_search_ranks_by_val_acc_never_test_acc(monkeypatch):
    """With a trainer whose test accuracy is the reverse of its validation accuracy, the ranking
    follows validation."""
    def fake_train(config, **kwargs):
        lr = config.optimizer.hyperparams["lr"]
        record = {"epoch": 1, "train_acc": 0.5, "train_loss": 1.0, "val_loss": 1.0,
                  "val_acc": lr * 100, "test_acc": 1 - lr * 100, "test_loss": 1.0, "elapsed_s": 0.0}
        return TrainResult("done", [record])

    monkeypatch.setattr(search_module, "train", fake_train)
    config = parse_config(SEARCH_CONFIG)
    trials = [{"trial": i, "lr": lr, "weight_decay": 0.0} for i, lr in enumerate([0.001, 0.005, 0.002])]
    results = list(search_module.search(config, trials, workers=1))
    assert [r["val_acc"] for r in results] == pytest.approx([0.1, 0.5, 0.2])
    assert [r["trial"] for r in search_module.best(results, 3)] == [1, 2, 0]
    with pytest.raises(Exception, match="validation"):
        list(search_module.search(parse_config(tiny_config()), trials, workers=1))


# ---------------------------------------------------------------- the search over Socket.IO

def test_search_start_streams_trials_then_done(luser):
    ack = luser.emit("search:start", {"config": SEARCH_CONFIG, "trials": 3, "lr": [1e-3, 1e-1],
                                      "weight_decay": [1e-8, 1e-4]})
    assert "search_id" in ack, ack
    sid = ack["search_id"]
    assert len(ack["trials"]) == 3 and all(1e-3 <= t["lr"] <= 1e-1 for t in ack["trials"])
    [done] = luser.inbox.wait_until(
        lambda events: [e["args"][0] for e in events if e["name"] == "search:done" and e["args"][0]["search_id"] == sid],
        timeout=60)
    trials = [e for e in luser.events("search:trial") if e["search_id"] == sid]
    assert sorted(t["trial"] for t in trials) == [0, 1, 2]
    assert [t["done"] for t in trials] == [1, 2, 3] and all(t["total"] == 3 for t in trials)
    assert all(len(t["curve"]) == 3 and "val_acc" in t["curve"][-1] for t in trials)
    assert done["status"] == "done" and done["results"] == 3
    accs = [b["val_acc"] for b in done["best"]]
    assert accs == sorted(accs, reverse=True)
    lo, hi = done["narrowed"]["lr"]
    assert lo == min(b["lr"] for b in done["best"]) and hi == max(b["lr"] for b in done["best"])


def test_search_start_refuses_bad_input(luser):
    no_val = copy.deepcopy(SEARCH_CONFIG)
    no_val["data"]["validation_size"] = 0
    assert "validation" in luser.emit("search:start", {"config": no_val, "trials": 2})["error"]
    assert "trials" in luser.emit("search:start", {"config": SEARCH_CONFIG, "trials": 0})["error"]
    assert "lr" in luser.emit("search:start", {"config": SEARCH_CONFIG, "trials": 2, "lr": [1, 0.1]})["error"]
    assert "error" in luser.emit("search:start", {"config": {"seed": -1}})
    assert "error" in luser.emit("search:start", "nonsense")
    assert "error" in luser.emit("search:stop", {"search_id": "s-none"})


def test_search_start_names_every_field_at_fault_and_the_budget(luser):
    ack = luser.emit("search:start", {"config": SEARCH_CONFIG, "trials": 0, "lr": [1, 0.1], "sampler_seed": "x"})
    assert [e["field"] for e in ack["errors"]] == ["trials", "lr", "sampler_seed"]
    assert ack["error"].startswith("trials must be a whole number from 1 to 1000, got 0; lr must be [lo, hi]")
    dear = copy.deepcopy(SEARCH_CONFIG)
    dear["data"]["train_size"], dear["training"]["epochs"] = 4000, 1000
    ack = luser.emit("search:start", {"config": dear, "trials": 1000})
    assert "over the budget of 2e+13" in ack["error"] and ack["errors"][0]["field"] == "search"


def test_search_stop_ends_it_early(labs_app, luser):
    config = copy.deepcopy(SEARCH_CONFIG)
    config["training"]["epochs"] = 30
    ack = luser.emit("search:start", {"config": config, "trials": 50})
    sid = ack["search_id"]
    luser.wait_for("search:trial")
    assert luser.emit("search:stop", {"search_id": sid}) == {"ok": True}
    [done] = luser.inbox.wait_until(
        lambda events: [e["args"][0] for e in events if e["name"] == "search:done"], timeout=30)
    assert done["status"] == "stopped" and done["results"] < 50
    assert labs_app.extensions["labs_search"].active() == []
