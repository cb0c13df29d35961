"""The lab computations of nnengine.labs, checked against the book's equations and settings."""
import math

import numpy as np
import pytest

from nnengine.config import parse_config
from nnengine.labs import LAB_SLUGS, LABS, experiments, histograms, paths, search_lab
from nnengine.labs.__main__ import main as labs_main
from nnengine.labs.functions import FUNCTIONS
from nnengine.labs.registry import COMMANDS
from nnengine.optimizers import OPTIMIZERS
from nnengine.presets import preset

# ---------------------------------------------------------------- optimizer paths


def _book_grad(x, y):
    return x / 10.0, 2.0 * y


def test_book_paths_start_at_the_books_point_with_31_points():
    result = paths.run_paths()
    assert [p["name"] for p in result["paths"]] == ["sgd", "momentum", "adagrad", "adam"]
    assert [p["hyperparams"]["lr"] for p in result["paths"]] == [0.95, 0.1, 1.5, 0.3]
    for p in result["paths"]:
        assert (p["x"][0], p["y"][0]) == (-7.0, 2.0)
        assert len(p["x"]) == len(p["y"]) == len(p["f"]) == 31
        assert p["diverged_at"] is None


def test_sgd_path_is_x_minus_lr_times_gradient():
    lr = 0.95
    path = paths.optimizer_path("book", {"name": "sgd", "lr": lr}, steps=30)
    x, y = -7.0, 2.0
    for i in range(30):
        gx, gy = _book_grad(x, y)
        x, y = x - lr * gx, y - lr * gy
        assert path["x"][i + 1] == pytest.approx(x, rel=1e-15, abs=1e-300)
        assert path["y"][i + 1] == pytest.approx(y, rel=1e-15, abs=1e-300)
        assert path["f"][i + 1] == pytest.approx(x ** 2 / 20 + y ** 2, rel=1e-14)


def test_momentum_adagrad_adam_paths_follow_the_books_equations():
    steps = 30
    mom = paths.optimizer_path("book", {"name": "momentum", "lr": 0.1}, steps=steps)
    ada = paths.optimizer_path("book", {"name": "adagrad", "lr": 1.5}, steps=steps)
    adam = paths.optimizer_path("book", {"name": "adam", "lr": 0.3}, steps=steps)
    p = np.array([-7.0, 2.0]); v = np.zeros(2)
    q = np.array([-7.0, 2.0]); h = np.zeros(2)
    r = np.array([-7.0, 2.0]); m = np.zeros(2); s = np.zeros(2)
    for t in range(1, steps + 1):
        v = 0.9 * v - 0.1 * np.array(_book_grad(*p)); p = p + v
        g = np.array(_book_grad(*q)); h = h + g * g; q = q - 1.5 * g / (np.sqrt(h) + 1e-7)
        g = np.array(_book_grad(*r)); m = m + 0.1 * (g - m); s = s + 0.001 * (g * g - s)
        r = r - 0.3 * math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * m / (np.sqrt(s) + 1e-7)
        assert (mom["x"][t], mom["y"][t]) == pytest.approx(tuple(p), rel=1e-12, abs=1e-12)
        assert (ada["x"][t], ada["y"][t]) == pytest.approx(tuple(q), rel=1e-12, abs=1e-12)
        assert (adam["x"][t], adam["y"][t]) == pytest.approx(tuple(r), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_all_seventeen_optimizers_give_finite_paths_with_the_labs_defaults(function):
    result = paths.run_paths(function, [{"name": name} for name in OPTIMIZERS], steps=30, grid=False)
    assert len(result["paths"]) == 17
    for p in result["paths"]:
        assert p["diverged_at"] is None, (function, p["name"])
        assert len(p["x"]) == 31
        assert all(math.isfinite(v) for v in p["x"] + p["y"] + p["f"])


def test_a_diverging_path_ends_at_its_last_finite_point():
    p = paths.optimizer_path("book", {"name": "sgd", "lr": 30.0}, steps=200)
    assert p["diverged_at"] is not None and len(p["x"]) == p["diverged_at"]
    assert all(abs(v) <= paths.ESCAPE for v in p["x"] + p["y"])


def test_contour_grid_is_f_on_the_window():
    grid = paths.contour_grid("book", points=11)
    assert len(grid["x"]) == len(grid["y"]) == 11 and len(grid["z"]) == 11
    assert grid["z"][5][5] == pytest.approx(0.0, abs=1e-9)                 # f(0, 0)
    assert grid["z"][0][0] == pytest.approx((-10) ** 2 / 20 + (-5) ** 2)   # f(-10, -5)


def test_other_functions_have_their_minima_where_the_gradient_vanishes():
    for fn in FUNCTIONS.values():
        for x, y in fn.minima:
            gx, gy = fn.grad(x, y)
            assert abs(gx) < 1e-4 and abs(gy) < 1e-4, fn.name
        # the hand-written gradient matches central differences
        x, y, h = 0.3, -0.7, 1e-6
        gx, gy = fn.grad(x, y)
        assert gx == pytest.approx((fn.f(x + h, y) - fn.f(x - h, y)) / (2 * h), rel=1e-6, abs=1e-6)
        assert gy == pytest.approx((fn.f(x, y + h) - fn.f(x, y - h)) / (2 * h), rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("bad, message", [
    ({"steps": 0}, "steps"), ({"optimizers": [{"name": "nope"}]}, "unknown optimizer"),
    ({"optimizers": [{"name": "sgd", "lr": -1}]}, "lr"), ({"start": [1]}, "start"),
    ({"function": "nope"}, "unknown function"), ({"optimizers": [{"name": "sgd", "bogus": 1}]}, "bogus"),
])
def test_paths_reject_bad_settings_with_a_message(bad, message):
    settings = {"function": "book", **bad}
    with pytest.raises(ValueError, match=message):
        paths.run_paths(settings["function"], settings.get("optimizers"), settings.get("start"),
                        settings.get("steps", 30))


def test_paths_errors_name_the_field():
    with pytest.raises(paths.PathsSettingsError) as info:
        paths.run_paths(steps=0)
    assert info.value.errors == [{"field": "steps", "message": "must be a whole number from 1 to 2000, got 0"}]
    assert str(info.value) == "steps must be a whole number from 1 to 2000, got 0"
    with pytest.raises(ValueError) as info:
        paths.run_paths(optimizers=[{"name": "sgd"}, {"name": "nope"}])
    assert info.value.errors[0]["field"] == "optimizers[1]" and "unknown optimizer" in info.value.errors[0]["message"]


# ---------------------------------------------------------------- activation histograms

def test_histograms_come_from_the_books_network():
    result = histograms.activation_histograms("sigmoid")
    assert (result["samples"], result["units"], result["layers"], result["bins"]) == (1000, 100, 5, 30)
    assert [i["label"] for i in result["inits"]] == ["std 1", "std 0.01", "Xavier (1/√n)", "He (√(2/n))"]
    for init in result["inits"]:
        assert len(init["layers"]) == 5
        for layer in init["layers"]:
            assert len(layer["counts"]) == 30 and len(layer["edges"]) == 31
            assert sum(layer["counts"]) == layer["total"] == 100_000
    # the same numbers by hand: x ~ N(0, 1) (1000, 100), then 5 x (a = x @ W, W ~ N(0, 1), sigmoid)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((1000, 100))
    for layer in result["inits"][0]["layers"]:
        a = 1 / (1 + np.exp(-(a @ rng.standard_normal((100, 100)))))
        counts, _ = np.histogram(a, bins=30, range=(0, 1))
        assert layer["counts"] == counts.tolist()


def _share(layer, lo, hi):
    edges, counts = layer["edges"], layer["counts"]
    inside = sum(c for c, left, right in zip(counts, edges, edges[1:]) if left >= lo - 1e-12 and right <= hi + 1e-12)
    return inside / layer["total"]


def test_sigmoid_with_std_1_saturates_and_std_001_concentrates_at_one_half():
    result = histograms.activation_histograms("sigmoid")
    std1, std001, xavier = result["inits"][0], result["inits"][1], result["inits"][2]
    for layer in std1["layers"]:
        # most values are stuck near 0 or 1, where sigmoid's gradient vanishes
        assert _share(layer, 0.0, 0.1) + _share(layer, 0.9, 1.0) > 0.6
    for layer in std001["layers"]:
        assert _share(layer, 0.4, 0.6) > 0.99          # every unit says the same: lost expressiveness
        assert layer["std"] < 0.03
    for layer in xavier["layers"]:
        assert layer["saturated"] < 0.01 * layer["total"] and layer["std"] > 0.1


def test_relu_vanishes_with_std_001_and_keeps_its_spread_with_he():
    result = histograms.activation_histograms("relu")
    std001, he = result["inits"][1], result["inits"][3]
    assert std001["layers"][-1]["max"] < 1e-4
    stds = [layer["std"] for layer in he["layers"]]
    assert max(stds) / min(stds) < 1.5
    for layer in result["inits"][0]["layers"]:
        assert sum(layer["counts"]) == 100_000 and layer["above"] + layer["below"] <= 100_000


def test_tanh_range_and_any_activation():
    result = histograms.activation_histograms("tanh", [{"init": "xavier"}], bins=20)
    assert result["range"] == [-1.0, 1.0] and len(result["inits"][0]["layers"][0]["counts"]) == 20
    for name in ("swish", "elu", "softplus"):
        out = histograms.activation_histograms(name, [{"init": "he"}], samples=100)
        assert all(sum(layer["counts"]) == 10_000 for layer in out["inits"][0]["layers"])


@pytest.mark.parametrize("kwargs, message", [
    ({"activation": "nope"}, "unknown activation"), ({"layers": 0}, "layers"),
    ({"inits": [{"init": "std", "std": -1}]}, "std"), ({"inits": [{"init": "lecun"}]}, "init"),
    ({"samples": 10000, "units": 1000, "layers": 10}, "limit"),
])
def test_histograms_reject_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        histograms.activation_histograms(**kwargs)


# ---------------------------------------------------------------- the MNIST labs' configs

def test_batchnorm_grid_has_the_books_16_scales_with_and_without_batch_norm():
    result = experiments.batchnorm_runs()
    runs = result["runs"]
    assert len(runs) == 32
    expected = np.logspace(0, -4, num=16)
    assert result["meta"]["scales"] == pytest.approx(expected.tolist(), rel=1e-12)
    for i, scale in enumerate(expected):
        pair = runs[2 * i: 2 * i + 2]
        assert [r["group"] for r in pair] == ["bn", "plain"]
        for run in pair:
            config = run["config"]
            assert run["scale"] == pytest.approx(scale) and run["cell"] == i
            assert config["model"]["weight_init"] == "std"
            assert config["model"]["weight_init_std"] == pytest.approx(scale, rel=1e-12)
            layers = config["model"]["hidden_layers"]
            assert [layer["units"] for layer in layers] == [100] * 5
            assert all(layer["batch_norm"] == (run["group"] == "bn") for layer in layers)
            assert config["data"]["train_size"] == 1000
            assert config["optimizer"] == {"name": "sgd", "lr": 0.01}
            assert (config["training"]["epochs"], config["training"]["batch_size"]) == (20, 100)
            parse_config(config)


def test_optimizer_and_init_labs_match_the_books_iterations():
    opt = experiments.optimizer_runs()
    assert [r["config"]["optimizer"]["lr"] for r in opt["runs"]] == [0.01, 0.01, 0.01, 0.001]
    assert [r["group"] for r in opt["runs"]] == ["sgd", "momentum", "adagrad", "adam"]
    meta = opt["meta"]
    assert meta["iterations_per_epoch"] == math.ceil(4000 / 128)
    assert 2000 <= meta["iterations"] < 2000 + meta["iterations_per_epoch"]
    for run in opt["runs"]:
        c = run["config"]
        assert [layer["units"] for layer in c["model"]["hidden_layers"]] == [100] * 4
        assert {layer["activation"] for layer in c["model"]["hidden_layers"]} == {"relu"}
        assert c["training"]["batch_size"] == 128 and c["data"]["train_size"] == 4000
        assert c["training"]["epochs"] == meta["epochs"]
    init = experiments.init_runs({"iterations": 500})
    assert [(r["config"]["model"]["weight_init"], r["config"]["model"]["weight_init_std"]) for r in init["runs"]][0] == ("std", 0.01)
    assert [r["config"]["model"]["weight_init"] for r in init["runs"]] == ["std", "xavier", "he"]
    assert init["meta"]["iterations"] >= 500
    assert all(r["config"]["optimizer"] == {"name": "sgd", "lr": 0.01} for r in init["runs"])


def test_overfitting_lab_uses_the_presets():
    runs = {r["key"]: r["config"] for r in experiments.overfitting_runs()["runs"]}
    assert list(runs) == ["baseline", "weight_decay", "dropout", "both"]
    for key, name in (("baseline", "overfitting"), ("weight_decay", "overfitting_weight_decay"),
                      ("dropout", "overfitting_dropout")):
        expected = preset(name)
        expected["training"]["epochs"] = 301              # every variant runs the book's dropout epochs
        expected = parse_config(expected).to_dict()
        got = dict(runs[key]); got.pop("name")
        assert got == expected
    assert runs["dropout"]["training"]["epochs"] == preset("overfitting_dropout")["training"]["epochs"] == 301
    both = runs["both"]
    assert both["training"]["weight_decay"] == 0.1
    assert {layer["dropout"] for layer in both["model"]["hidden_layers"]} == {0.2}
    assert {c["model"]["dropout_style"] for c in runs.values()} == {"book"}


def test_overfitting_lab_shows_either_dropout_style_or_both_side_by_side():
    inverted = experiments.overfitting_runs({"dropout_style": "inverted"})["runs"]
    assert [r["key"] for r in inverted] == ["baseline", "weight_decay", "dropout", "both"]
    assert {r["config"]["model"]["dropout_style"] for r in inverted} == {"inverted"}
    assert inverted[2]["label"] == "Dropout 0.2, inverted"

    plan = experiments.overfitting_runs({"dropout_style": "compare", "epochs": 5})
    runs = {r["key"]: r for r in plan["runs"]}
    assert list(runs) == ["baseline", "weight_decay", "dropout", "dropout_inverted", "both"]
    book, other = runs["dropout"]["config"], runs["dropout_inverted"]["config"]
    assert runs["dropout"]["label"] == "Dropout 0.2, book style"
    assert (book["model"]["dropout_style"], other["model"]["dropout_style"]) == ("book", "inverted")
    assert runs["dropout_inverted"]["dropout_style"] == "inverted"
    # the same run but for the style: same data, weights and masks
    book["model"].pop("dropout_style"); other["model"].pop("dropout_style")
    book.pop("name"); other.pop("name")
    assert book == other
    assert runs["both"]["config"]["model"]["dropout_style"] == "book"

    with pytest.raises(experiments.SettingsError) as info:
        experiments.overfitting_runs({"dropout_style": "both"})
    assert info.value.errors[0]["field"] == "dropout_style"
    assert "book, inverted, compare" in info.value.errors[0]["message"]


def test_batchnorm_lab_uses_the_books_eps():
    runs = experiments.batchnorm_runs({"scales": 2})["runs"]
    assert {r["config"]["model"]["batch_norm_eps"] for r in runs} == {1e-6}
    runs = experiments.batchnorm_runs({"scales": 2, "batch_norm_eps": 1e-5})["runs"]
    assert {r["config"]["model"]["batch_norm_eps"] for r in runs} == {1e-5}
    with pytest.raises(experiments.SettingsError) as info:
        experiments.batchnorm_runs({"batch_norm_eps": 0})
    assert info.value.errors[0]["field"] == "batch_norm_eps"


def test_search_setup_is_the_books_split():
    setup = experiments.search_setup()
    data = setup["config"]["data"]
    assert (data["train_size"], data["validation_size"], data["test_size"]) == (400, 100, 0)
    assert len(setup["config"]["model"]["hidden_layers"]) == 6
    assert setup["config"]["training"]["epochs"] == 50 and setup["trials"] == 100
    assert setup["lr"] == [1e-6, 1e-2] and setup["weight_decay"] == [1e-8, 1e-4]


def test_lab_settings_errors_name_the_field():
    with pytest.raises(experiments.SettingsError) as info:
        experiments.optimizer_runs({"iterations": 0, "bogus": 1, "optimizers": [{"name": "adam", "lr": -1}]})
    fields = {e["field"] for e in info.value.errors}
    assert {"iterations", "bogus"} <= fields


# ---------------------------------------------------------------- narrowing

def test_narrow_takes_the_best_trials_by_validation_accuracy():
    results = [{"trial": 0, "lr": 1e-3, "weight_decay": 1e-6, "val_acc": 0.80, "test_acc": 0.1},
               {"trial": 1, "lr": 5e-3, "weight_decay": 1e-7, "val_acc": 0.75, "test_acc": 0.99},
               {"trial": 2, "lr": 1e-5, "weight_decay": 1e-5, "val_acc": 0.10, "test_acc": 0.99},
               {"trial": 3, "lr": 1e-2, "weight_decay": 1e-8, "val_acc": None}]
    ranges = search_lab.narrow(results, top=2)
    assert ranges["lr"] == [1e-3, 5e-3] and ranges["weight_decay"] == [1e-7, 1e-6]
    assert [r["trial"] for r in ranges["from"]] == [0, 1]
    single = search_lab.narrow(results, top=1)
    assert single["lr"] == [5e-4, 2e-3]
    with pytest.raises(ValueError):
        search_lab.narrow([{"lr": 1, "weight_decay": 1, "val_acc": None}])


# ---------------------------------------------------------------- registry and CLI

def test_labs_index_lists_every_lab_once():
    assert len(set(LAB_SLUGS)) == len(LABS) == 10
    assert all(lab["title"] and lab["summary"] for lab in LABS)


def test_cli_prints_json_and_fails_cleanly(capsys):
    import io
    import json
    out, err = io.StringIO(), io.StringIO()
    assert labs_main(["paths", '{"steps": 2, "grid": false}'], out, err) == 0
    result = json.loads(out.getvalue())
    assert len(result["paths"][0]["x"]) == 3
    out, err = io.StringIO(), io.StringIO()
    assert labs_main(["histograms", '{"layers": 99}'], out, err) == 2
    assert err.getvalue().count("\n") == 1 and "layers" in err.getvalue() and out.getvalue() == ""


def test_look_inside_rebuilds_the_trainers_initial_weights():
    from nnengine.labs.inside import initial_network
    from nnengine.trainer import train

    config = parse_config({"data": {"train_size": 50, "test_size": 20}, "model": {"hidden_layers": [{"units": 8}]},
                           "optimizer": {"name": "sgd", "lr": 1e-300}, "training": {"epochs": 1}})
    trained = train(config).network          # a learning rate of 1e-300 leaves every weight where it started
    start = initial_network(config)
    for key, value in trained.params.items():
        assert np.array_equal(value, start.params[key]), key


def test_cli_trains_a_labs_runs():
    import io
    import json
    out, err = io.StringIO(), io.StringIO()
    settings = '{"epochs": 1, "train_size": 50, "layers": 1, "units": 10}'
    assert labs_main(["overfitting", settings, "--train"], out, err) == 0, err.getvalue()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    done = [line for line in lines if line.get("event") == "done"]
    assert [line["key"] for line in done] == ["baseline", "weight_decay", "dropout", "both"]
    assert {line["key"] for line in lines if line.get("epoch") == 1} == {"baseline", "weight_decay", "dropout", "both"}


@pytest.mark.parametrize("lab", COMMANDS)
def test_every_lab_has_its_own_help(lab):
    import io
    import json
    out, err = io.StringIO(), io.StringIO()
    assert labs_main([lab, "--help"], out, err) == 0 and err.getvalue() == ""
    text = out.getvalue()
    assert text.startswith(f"usage: python -m nnengine.labs {lab} [SETTINGS_JSON]")
    assert ("[--train]" in text.splitlines()[0]) == (lab in experiments.LAB_RUNS)
    defaults = {"optimizers": experiments.OPTIMIZERS_DEFAULTS, "init": experiments.INIT_DEFAULTS,
                "batchnorm": experiments.BATCHNORM_DEFAULTS, "overfitting": experiments.OVERFITTING_DEFAULTS,
                "search": experiments.SEARCH_DEFAULTS}.get(lab)
    if defaults is not None:   # the settings it lists are the ones the lab reads by default
        listed = json.loads(next(line for line in text.splitlines() if line.startswith("  {")))
        assert listed == defaults
        assert experiments.LAB_RUNS.get(lab, experiments.search_setup)(listed)["settings"] == defaults
    other = io.StringIO()
    assert labs_main([lab, "{}", "-h"], other, io.StringIO()) == 0 and other.getvalue() == text


def test_lab_help_in_a_real_process_and_for_an_unknown_lab():
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "nnengine.labs", "batchnorm", "--help"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == "" and "train_size" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "nnengine.labs", "nope", "--help"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "unknown lab 'nope'" in proc.stderr and "batchnorm" in proc.stderr
