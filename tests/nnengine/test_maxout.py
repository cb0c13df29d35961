"""Maxout (Goodfellow et al. 2013): the layer against its equation, its gradients, the config that asks
for it (validation, shapes, costs), networks built from that config (gradients, init, weight decay,
state, evaluation replicas, training) and its place in the activation-histograms lab."""
import numpy as np
import pytest

from nnengine.config import LIMITS, ConfigError, MaxoutLayerConfig, parse_config
from nnengine.conv import Conv2D, Flatten, MaxPool2D, Reshape
from nnengine.cost import count_parameters, count_weights, estimated_cost, layer_shapes
from nnengine.evaluation import REPLICABLE, StackedEvaluation
from nnengine.gradcheck import check_layer, eval_numerical_gradient, rel_error
from nnengine.labs import histograms
from nnengine.labs.inside import maxout_images
from nnengine.labs.gradcheck_lab import gradcheck
from nnengine.maxout import Maxout
from nnengine.models import build_network
from nnengine.trainer import train
from tests.support.gradients import check_whole_network

TOL = 1e-7


def make_maxout(rng, d_in=5, units=4, pieces=3, dtype=np.float64, **kwargs):
    return Maxout(rng.standard_normal((d_in, pieces * units)).astype(dtype),
                  rng.standard_normal(pieces * units).astype(dtype), pieces, **kwargs)


def naive_maxout(x, W, b, units, pieces):
    """h_i(x) = max_j z_ij, z_ij = x^T W_ij + b_ij, one unit and one piece at a time; piece j of unit i
    is column j * units + i."""
    out = np.empty((x.shape[0], units))
    for n in range(x.shape[0]):
        for i in range(units):
            out[n, i] = max(x[n] @ W[:, j * units + i] + b[j * units + i] for j in range(pieces))
    return out


def errors_of(fn):
    with pytest.raises(ConfigError) as info:
        fn()
    return {e["field"]: e["message"] for e in info.value.errors}


def config_errors(layers, **sections):
    return errors_of(lambda: parse_config({"model": {"hidden_layers": layers}, **sections}))


# ----------------------------------------------------------------------------- the layer
@pytest.mark.parametrize("pieces", [2, 3, 5])
def test_forward_is_the_max_over_each_units_affine_pieces(pieces):
    rng = np.random.default_rng(pieces)
    layer = make_maxout(rng, d_in=6, units=4, pieces=pieces)
    x = rng.standard_normal((7, 6))
    out = layer.forward(x, True)
    assert out.shape == (7, 4)
    np.testing.assert_allclose(out, naive_maxout(x, layer.params["W"], layer.params["b"], 4, pieces), rtol=1e-12)


@pytest.mark.parametrize("pieces", [2, 3, 5])
def test_maxout_gradients(pieces):
    rng = np.random.default_rng(10 + pieces)
    errors = check_layer(make_maxout(rng, pieces=pieces), rng.standard_normal((6, 5)), rng)
    assert set(errors) == {"x", "W", "b"}
    assert max(errors.values()) < TOL, errors


def test_maxout_without_dx_skips_it_and_keeps_param_grads():
    rng = np.random.default_rng(1)
    full = make_maxout(rng)
    first = Maxout(full.params["W"].copy(), full.params["b"].copy(), 3, need_dx=False)
    x, dout = rng.standard_normal((6, 5)), rng.standard_normal((6, 4))
    full.forward(x, True)
    first.forward(x, True)
    assert full.backward(dout) is not None and first.backward(dout) is None
    for key in ("W", "b"):
        np.testing.assert_array_equal(first.grads[key], full.grads[key])
    errors = check_layer(Maxout(full.params["W"], full.params["b"], 3, need_dx=False), x, rng)
    assert set(errors) == {"W", "b"} and max(errors.values()) < TOL


def test_backward_leaves_dout_and_x_alone_and_refills_its_own_arrays():
    rng = np.random.default_rng(2)
    layer = make_maxout(rng)
    W, b, dW, db = layer.params["W"], layer.params["b"], layer.grads["W"], layer.grads["b"]
    x, dout = rng.standard_normal((6, 5)), rng.standard_normal((6, 4))
    x0, dout0 = x.copy(), dout.copy()
    layer.forward(x, True)
    layer.backward(dout)
    assert np.array_equal(dout, dout0) and np.array_equal(x, x0)
    assert layer.params["W"] is W and layer.params["b"] is b
    assert layer.grads["W"] is dW and layer.grads["b"] is db     # filled in place, not rebound


def test_the_gradient_of_a_tie_goes_to_the_first_maximal_piece():
    W = np.array([[1.0, 2.0, 1.0, 2.0, -5.0, 0.0]])       # 2 units x 3 pieces, grouped by piece
    b = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 2.0])
    layer = Maxout(W.copy(), b.copy(), 3)
    x = np.array([[1.0]])
    # unit 0: pieces 1, 1, -5 (a tie of pieces 0 and 1); unit 1: pieces 2, 2, 2 (a three-way tie)
    np.testing.assert_array_equal(layer.forward(x, True), [[1.0, 2.0]])
    layer.backward(np.array([[10.0, 100.0]]))
    np.testing.assert_array_equal(layer.grads["b"], [10.0, 100.0, 0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(layer.grads["W"], [[10.0, 100.0, 0.0, 0.0, 0.0, 0.0]])


def test_a_nan_piece_shows_in_the_output():
    layer = Maxout(np.array([[1.0, np.nan]]), np.zeros(2), 2)
    assert np.isnan(layer.forward(np.array([[1.0]]), True)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_infer_gives_forwards_numbers_and_keeps_no_state(dtype):
    rng = np.random.default_rng(3)
    layer = make_maxout(rng, d_in=8, units=6, pieces=4, dtype=dtype)
    x_train, x = rng.standard_normal((5, 8)).astype(dtype), rng.standard_normal((9, 8)).astype(dtype)
    layer.forward(x_train, True)
    kept_x, kept_arg = layer.x, layer.arg.copy()
    y, owned = layer.infer(x, owned=False)
    assert owned and y.dtype == dtype and y.shape == (9, 6)
    assert layer.x is kept_x and np.array_equal(layer.arg, kept_arg)
    np.testing.assert_array_equal(y, layer.forward(x, False))


def test_maxout_rejects_bad_shapes():
    with pytest.raises(ValueError):
        Maxout(np.zeros((3, 6)), np.zeros(5), 2)
    with pytest.raises(ValueError):
        Maxout(np.zeros((3, 7)), np.zeros(7), 2)


# ----------------------------------------------------------------------------- the config
def test_a_maxout_layer_reads_fills_its_defaults_and_round_trips():
    config = parse_config({"model": {"hidden_layers": [{"type": "maxout", "units": 50, "pieces": 3, "dropout": 0.2},
                                                       {"type": "maxout"}]}})
    assert config.model.hidden_layers == (MaxoutLayerConfig(50, 3, 0.2), MaxoutLayerConfig(100, 2, 0.0))
    doc = config.to_dict()
    assert doc["model"]["hidden_layers"] == [{"type": "maxout", "units": 50, "pieces": 3, "dropout": 0.2},
                                             {"type": "maxout", "units": 100, "pieces": 2, "dropout": 0.0}]
    assert parse_config(doc) == config and parse_config(doc).to_dict() == doc
    assert layer_shapes(config.model) == [(50,), (100,)]


@pytest.mark.parametrize("layer, field, words", [
    ({"type": "maxout", "pieces": 1}, "pieces", "from 2 to 10, got 1"),
    ({"type": "maxout", "pieces": 11}, "pieces", "from 2 to 10, got 11"),
    ({"type": "maxout", "pieces": 2.5}, "pieces", "whole number from 2 to 10, got 2.5"),
    ({"type": "maxout", "units": 0}, "units", "from 1 to 2048, got 0"),
    ({"type": "maxout", "units": 2048, "pieces": 3}, "pieces",
     "2048 x 3 = 6144 affine values, over the limit of 4096 per maxout layer; allowed with 2048 units: at most 2"),
    ({"type": "maxout", "dropout": 0.95}, "dropout", "at most 0.9, got 0.95"),
    ({"type": "maxout", "activation": "relu"}, "activation", "no separate activation"),
    ({"type": "maxout", "batch_norm": False}, "batch_norm", "no batch norm"),
    ({"type": "maxout", "filters": 3}, "filters", "unknown key for a maxout layer; allowed: type, units, pieces, dropout"),
])
def test_bad_maxout_fields_are_refused_at_their_field(layer, field, words):
    errors = config_errors([{"units": 10}, layer])
    assert list(errors) == [f"model.hidden_layers[1].{field}"]
    assert words in errors[f"model.hidden_layers[1].{field}"]


def test_a_maxout_layer_is_flat_like_a_dense_one():
    conv, pool = {"type": "conv", "filters": 2, "kernel": 3}, {"type": "pool", "size": 2}
    config = parse_config({"model": {"hidden_layers": [conv, pool, {"type": "maxout", "units": 7, "pieces": 3}]}})
    assert layer_shapes(config.model) == [(2, 28, 28), (2, 14, 14), (7,)]
    errors = config_errors([{"type": "maxout", "units": 7}, conv])
    assert "a conv layer cannot follow a maxout layer (hidden layer 1 is maxout)" in errors["model.hidden_layers[1].type"]


def test_costs_count_every_piece():
    config = parse_config({"model": {"hidden_layers": [{"type": "maxout", "units": 100, "pieces": 3},
                                                       {"units": 50}]}})
    # 784 -> 300 affine values -> max -> 100 -> 50 -> 10
    assert count_weights(config.model) == 784 * 300 + 100 * 50 + 50 * 10
    assert count_parameters(config.model) == 785 * 300 + 101 * 50 + 51 * 10
    dense = parse_config({"model": {"hidden_layers": [{"units": 300}, {"units": 50}]}})
    assert count_weights(config.model) < count_weights(dense.model)      # the max halves the next layer's input
    assert estimated_cost(config) == 200 * (4 * 300 + 4700) * count_weights(config.model)


def test_a_maxout_run_over_the_compute_budget_is_refused():
    wide = [{"type": "maxout", "units": 1024, "pieces": 4}] * 10
    errors = config_errors(wide, training={"epochs": 1000}, data={"train_size": 4000})
    assert "over the budget" in errors["training.epochs"]


def test_schema_offers_maxout_and_its_limits():
    from nnengine.schema import schema
    s = schema()
    assert "maxout" in s["layer_types"]
    assert s["limits"]["pieces"] == [2, 10] and s["limits"]["maxout_width"] == LIMITS["maxout_width"]


# ----------------------------------------------------------------------------- networks from configs
def network_of(hidden, weight_decay=0.0, init="xavier", seed=0, dtype="float64", n_in=784, n_out=10, std=0.01):
    config = parse_config({"model": {"hidden_layers": hidden, "weight_init": init, "weight_init_std": std},
                           "training": {"weight_decay": weight_decay, "dtype": dtype}})
    rng = np.random.default_rng(seed)
    return build_network(config.model, config.training, rng, n_in=n_in, n_out=n_out, dtype=np.dtype(dtype)), rng


MIXED = [{"type": "maxout", "units": 5, "pieces": 3},
         {"units": 6, "activation": "tanh", "batch_norm": True, "dropout": 0.2},
         {"type": "maxout", "units": 4, "pieces": 2, "dropout": 0.3}]


def test_layers_follow_the_config():
    net, _ = network_of(MIXED, n_in=6, n_out=4)
    assert [type(layer).__name__ for layer in net.layers] == [
        "Maxout", "Affine", "BatchNorm", "Tanh", "Dropout", "Maxout", "Dropout", "Affine"]
    assert net.params["0.W"].shape == (6, 15) and net.params["5.W"].shape == (6, 8)
    assert net.params["7.W"].shape == (4, 4)
    assert net.layers[0].need_dx is False and net.layers[5].need_dx is True
    assert net.decayed == ["0.W", "1.W", "5.W", "7.W"]
    assert Maxout in REPLICABLE


def test_gradient_of_whole_network_with_maxout_from_config():
    """Maxout (first, no dx), dense with batch norm and dropout, maxout with dropout, output, softmax
    cross-entropy and weight decay, every entry of every parameter against central differences."""
    net, rng = network_of(MIXED, weight_decay=0.1, n_in=6, n_out=4)
    x = rng.standard_normal((8, 6))
    t = rng.integers(0, 4, size=8)
    worst = check_whole_network(net, x, t)
    assert set(worst) == set(net.params)
    assert max(worst.values()) < TOL, worst


def test_gradient_of_a_conv_pool_maxout_network_from_config():
    net, rng = network_of([{"type": "conv", "filters": 2, "kernel": 3, "pad": 1, "activation": "tanh"},
                           {"type": "pool", "size": 4},
                           {"type": "maxout", "units": 3, "pieces": 2}], weight_decay=0.05)
    assert [type(layer) for layer in net.layers[:5]] == [Reshape, Conv2D, type(net.layers[2]), MaxPool2D, Flatten]
    assert isinstance(net.layers[5], Maxout) and net.params["5.W"].shape == (2 * 7 * 7, 6)
    x = np.random.default_rng(5).random((3, 784))
    t = np.array([3, 1, 7])

    def loss_of(_):
        return net.loss(x, t, train=True)

    loss_of(None)
    net.backward()
    analytic = {key: value.copy() for key, value in net.grads.items()}
    for key, param in net.params.items():
        numeric = eval_numerical_gradient(loss_of, param)
        assert rel_error(analytic[key], numeric) < 1e-6, key


@pytest.mark.parametrize("init, std", [("he", lambda fan_in: np.sqrt(2 / fan_in)),
                                       ("xavier", lambda fan_in: 1 / np.sqrt(fan_in)),
                                       ("std", lambda fan_in: 0.05)])
def test_weight_init_uses_the_dense_fan_in(init, std):
    net, _ = network_of([{"type": "maxout", "units": 300, "pieces": 4}, {"type": "maxout", "units": 200, "pieces": 3}],
                        init=init, std=0.05, dtype="float32")
    maxouts = [layer for layer in net.layers if isinstance(layer, Maxout)]
    for layer, fan_in, width in zip(maxouts, (784, 300), (1200, 600)):
        assert layer.params["W"].shape == (fan_in, width) and layer.params["W"].dtype == np.float32
        assert layer.params["W"].std() == pytest.approx(std(fan_in), rel=0.03)
        assert not layer.params["b"].any()


def test_weight_decay_reaches_maxout_weights_not_biases():
    hidden = [{"type": "maxout", "units": 4, "pieces": 2}]
    plain, rng = network_of(hidden, n_in=6, n_out=3)
    decayed, _ = network_of(hidden, weight_decay=0.3, n_in=6, n_out=3)
    x, t = rng.standard_normal((5, 6)), np.array([0, 1, 2, 0, 1])
    results = []
    for net in (plain, decayed):
        loss = net.loss(x, t)
        net.backward()
        results.append((loss, {k: v.copy() for k, v in net.grads.items()}))
    (plain_loss, g), (decay_loss, gd) = results
    squares = sum(float(np.vdot(plain.params[k], plain.params[k])) for k in ("0.W", "1.W"))
    assert decay_loss - plain_loss == pytest.approx(0.5 * 0.3 * squares, rel=1e-12)
    np.testing.assert_allclose(gd["0.W"] - g["0.W"], 0.3 * plain.params["0.W"], atol=1e-14)
    assert np.array_equal(gd["0.b"], g["0.b"])


def test_state_dict_round_trip_restores_predictions():
    net, rng = network_of(MIXED, dtype="float32")
    x = rng.random((20, 784), dtype=np.float32)
    for _ in range(3):
        net.loss(x, rng.integers(0, 10, 20))
        net.backward()
        for key, grad in net.grads.items():
            net.params[key] -= 0.1 * grad
    state = net.state_dict()
    assert {"0.W", "0.b", "5.W", "5.b"} <= set(state) and state["0.W"].shape == (784, 15)
    again, _ = network_of(MIXED, seed=9, dtype="float32")
    assert not np.array_equal(again.predict(x), net.predict(x))
    again.load_state_dict(state)
    assert np.array_equal(again.predict(x), net.predict(x))
    wrong, _ = network_of([{"type": "maxout", "units": 5, "pieces": 2}] + MIXED[1:], dtype="float32")
    with pytest.raises(ValueError, match="'0.W'"):
        wrong.load_state_dict(state)


@pytest.mark.parametrize("workers", [1, 2])
def test_stacked_evaluation_with_replicas_matches_forward(workers):
    net, rng = network_of(MIXED, dtype="float32")
    x = rng.random((2500, 784), dtype=np.float32)
    t = rng.integers(0, 10, 2500)
    with StackedEvaluation(net, [(x[:1000], t[:1000]), (x[1000:], t[1000:])], dtype=np.float32,
                           workers=workers) as evaluate:
        assert evaluate.workers == workers
        results = evaluate()
        net.params["0.W"] *= 2.0          # replicas take the network's state anew at every evaluation
        doubled = evaluate()
    assert doubled != results
    for (loss, acc), (a, b) in zip(doubled, [(0, 1000), (1000, 2500)]):
        scores = net.forward(x[a:b], train=False)
        assert acc == pytest.approx(np.mean(scores.argmax(axis=1) == t[a:b]))
        assert loss == pytest.approx(net.loss_fn.forward(scores, t[a:b]), rel=1e-5)


def test_a_maxout_network_learns_and_reruns_bit_for_bit():
    config = parse_config({"seed": 3, "data": {"train_size": 200, "test_size": 300},
                           "model": {"hidden_layers": [{"type": "maxout", "units": 30, "pieces": 2, "dropout": 0.1}]},
                           "optimizer": {"name": "adam", "lr": 0.003},
                           "training": {"epochs": 5, "batch_size": 50, "weight_decay": 0.001}})
    first = train(config)
    assert first.status == "done"
    records = [{k: v for k, v in r.items() if k != "elapsed_s"} for r in first.records]
    assert records[-1]["train_acc"] > 0.8 and records[-1]["test_acc"] > 0.6
    again = train(config)
    assert [{k: v for k, v in r.items() if k != "elapsed_s"} for r in again.records] == records
    assert all(np.array_equal(a, b) for a, b in zip(first.network.state_dict().values(),
                                                    again.network.state_dict().values()))


def test_the_gradient_check_lab_checks_maxout_weights():
    result = gradcheck({"model": {"hidden_layers": [{"type": "maxout", "units": 6, "pieces": 3, "dropout": 0.2},
                                                    {"type": "maxout", "units": 5, "pieces": 2}]}},
                       batch=3, max_entries=15)
    assert result["ok"], result["params"]
    labels = [p["label"] for p in result["params"]]
    assert labels[:2] == ["Maxout 1 · W", "Maxout 1 · b"] and "Maxout 2 · W" in labels
    assert result["max_rel_error"] < 1e-6


# ----------------------------------------------------------------------------- the histograms lab
def test_histograms_lab_draws_maxout_layers_as_the_activation():
    result = histograms.activation_histograms("maxout", samples=500, units=50, layers=4, pieces=2)
    assert result["pieces"] == 2 and result["range"] == [-2.0, 4.0]
    assert [i["label"] for i in result["inits"]] == ["std 1", "std 0.01", "Xavier (1/√n)", "He (√(2/n))"]
    assert all(sum(layer["counts"]) == 500 * 50 for i in result["inits"] for layer in i["layers"])
    rms = {i["label"]: [np.hypot(layer["mean"], layer["std"]) for layer in i["layers"]] for i in result["inits"]}
    # max(z1, z2) of two zero-mean pieces has E[h^2] = Var z: Xavier (Var z = E[x^2]) keeps the scale,
    # He (twice that) grows it by sqrt 2 per layer, std 0.01 shrinks it tenfold per layer (n = 50: 0.07)
    assert all(0.85 < r < 1.15 for r in rms["Xavier (1/√n)"])
    he = rms["He (√(2/n))"]
    assert all(1.15 < b / a < 1.7 for a, b in zip(he, he[1:])) and 2.3 < he[3] / he[0] < 3.5
    assert all(b < a / 10 for a, b in zip(rms["std 0.01"], rms["std 0.01"][1:]))


def test_histograms_lab_maxout_is_the_networks_own_layer():
    outs = histograms.forward_activations("maxout", "xavier", samples=20, units=8, layers=2, seed=4, pieces=3)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((20, 8))
    for out in outs:
        W = 1 / np.sqrt(8) * rng.standard_normal((8, 24))
        x = naive_maxout(x, W, np.zeros(24), 8, 3)
        np.testing.assert_allclose(out, x, rtol=1e-12)
    with pytest.raises(ValueError, match="pieces must be a whole number from 2 to 10, got 1"):
        histograms.activation_histograms("maxout", pieces=1)
    with pytest.raises(ValueError, match="samples x units x layers x pieces = 6000000"):
        histograms.activation_histograms("maxout", samples=10000, units=100, layers=1, pieces=6)
    assert "pieces" not in histograms.activation_histograms("relu", samples=10, units=5, layers=1)


# ----------------------------------------------------------------------------- look inside
def test_maxout_images_put_each_units_pieces_together_and_scale_them_together():
    units, pieces = 3, 2
    W = np.zeros((784, pieces * units))
    for j in range(pieces):
        for i in range(units):
            W[i * 10 + j, j * units + i] = (i + 1) * (1 + j)     # unit i, piece j: one pixel, of size (i+1)(1+j)
    images = maxout_images(W, pieces, limit=2)
    assert len(images) == 2 * pieces and all(len(img) == 784 for img in images)
    for unit in range(2):
        for j in range(pieces):
            img = np.array(images[unit * pieces + j])
            assert np.flatnonzero(img).tolist() == [unit * 10 + j]
            # piece 0 is half of piece 1 in every unit: scaled together, 64 and 127
            assert img[unit * 10 + j] == (64 if j == 0 else 127)
