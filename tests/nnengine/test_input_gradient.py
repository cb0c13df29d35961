"""Network.input_gradient against central differences: d(score or loss)/dx in evaluation mode, for every
kind of layer (dense, conv and pool, batch norm, dropout in both styles, maxout) and every loss."""
import numpy as np
import pytest

from nnengine.gradcheck import eval_numerical_gradient
from nnengine.layer_kinds import build_layers
from nnengine.layers import BatchNorm
from nnengine.losses import get_loss
from nnengine.network import Network


def network(specs, n_in=16, loss="cross_entropy", dropout_style="inverted", seed=0):
    """A float64 network whose batch norms have running statistics of their own (not 0 and 1)."""
    rng = np.random.default_rng(seed)
    layers = build_layers(specs, rng, n_in=n_in, n_out=4, weight_init="xavier", dtype=np.float64,
                          dropout_style=dropout_style)
    for layer in layers:
        if isinstance(layer, BatchNorm):
            layer.running_mean[...] = rng.normal(0, 0.3, layer.running_mean.shape)
            layer.running_var[...] = rng.uniform(0.5, 2.0, layer.running_var.shape)
            layer.params["gamma"][...] = rng.uniform(0.5, 1.5, layer.params["gamma"].shape)
    return Network(layers, get_loss(loss)), rng


def numerical_input_gradient(net, x, t, of):
    """Central differences of sum_i value(x_i), each row's score of its target or its own loss."""
    def value(_):
        scores = net.forward(x, train=False)
        if of == "score":
            return float(scores[np.arange(len(x)), t].sum())
        return net.loss_fn.forward(scores, t) * len(x)
    return eval_numerical_gradient(value, x)


def relative_error(numeric, analytic):
    # norm-wise, as tests/support/gradients.py explains: element-wise ratios magnify round-off
    return float(np.linalg.norm(numeric - analytic)
                 / max(1e-8, np.linalg.norm(numeric) + np.linalg.norm(analytic)))


DENSE_BN = [{"type": "dense", "units": 7, "activation": "tanh", "batch_norm": True},
            {"type": "dense", "units": 5, "activation": "relu", "batch_norm": True}]
DROPOUT = [{"type": "dense", "units": 8, "activation": "softplus", "dropout": 0.4},
           {"type": "dense", "units": 6, "activation": "elu", "dropout": 0.2}]
CONV = [{"type": "reshape", "shape": [1, 4, 4]},
        {"type": "conv", "filters": 3, "kernel": 3, "pad": 1, "activation": "tanh", "batch_norm": True},
        {"type": "pool", "size": 2, "stride": 2},
        {"type": "flatten"},
        {"type": "dense", "units": 5, "activation": "swish"}]
MAXOUT = [{"type": "maxout", "units": 6, "pieces": 3},
          {"type": "maxout", "units": 4, "pieces": 2, "dropout": 0.3}]

CASES = {
    "dense + batch norm": (DENSE_BN, "inverted"),
    "dropout, inverted": (DROPOUT, "inverted"),
    "dropout, the book's": (DROPOUT, "book"),
    "conv + spatial batch norm + pool": (CONV, "inverted"),
    "maxout": (MAXOUT, "book"),
}


@pytest.mark.parametrize("of", ["score", "loss"])
@pytest.mark.parametrize("case", list(CASES))
def test_input_gradient_matches_central_differences(case, of):
    specs, style = CASES[case]
    net, rng = network(specs, dropout_style=style)
    x = rng.standard_normal((5, 16))
    t = rng.integers(0, 4, size=5)
    analytic = net.input_gradient(x, t, of=of)
    assert analytic.shape == x.shape
    numeric = numerical_input_gradient(net, x, t, of)
    assert np.linalg.norm(numeric) > 1e-3            # a real gradient, not zeros on both sides
    assert relative_error(numeric, analytic) < 1e-7


@pytest.mark.parametrize("loss", ["mean_squared_error", "binary_cross_entropy"])
def test_input_gradient_of_the_other_losses(loss):
    net, rng = network(DENSE_BN, loss=loss)
    x = rng.standard_normal((4, 16))
    t = rng.integers(0, 4, size=4)
    analytic = net.input_gradient(x, t, of="loss")
    assert relative_error(numerical_input_gradient(net, x, t, "loss"), analytic) < 1e-7


def test_the_rows_are_independent_and_a_single_target_is_every_rows():
    net, rng = network(DROPOUT, dropout_style="book")
    x = rng.standard_normal((6, 16))
    batch = net.input_gradient(x, 2)
    one_by_one = np.concatenate([net.input_gradient(x[i:i + 1], [2]) for i in range(6)])
    np.testing.assert_allclose(batch, one_by_one, rtol=1e-12, atol=1e-14)


def test_it_leaves_the_network_as_it_was_for_training():
    net, rng = network(DENSE_BN)
    first = net.layers[0]
    assert first.need_dx is False
    means = [layer.running_mean.copy() for layer in net.layers if isinstance(layer, BatchNorm)]
    net.input_gradient(rng.standard_normal((3, 16)), 1)
    assert first.need_dx is False                     # training skips the first dx again
    after = [layer.running_mean for layer in net.layers if isinstance(layer, BatchNorm)]
    assert all(np.array_equal(a, b) for a, b in zip(means, after))   # evaluation mode: no statistics moved


@pytest.mark.parametrize("target, message", [(4, "classes 0 to 3"), (-1, "classes 0 to 3"), (1.5, "classes 0 to 3")])
def test_a_target_outside_the_classes_is_refused(target, message):
    net, rng = network(DENSE_BN)
    with pytest.raises(ValueError, match=message):
        net.input_gradient(rng.standard_normal((2, 16)), target)


def test_an_unknown_objective_is_refused():
    net, rng = network(DENSE_BN)
    with pytest.raises(ValueError, match="'score' or 'loss'"):
        net.input_gradient(rng.standard_normal((2, 16)), 0, of="margin")
