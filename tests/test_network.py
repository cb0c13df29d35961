"""Whole networks: gradient checks with batch norm, dropout and weight decay; parameter sharing."""
import numpy as np
import pytest

from nnengine.config import parse_config
from nnengine.gradcheck import eval_numerical_gradient
from nnengine.layers import Dropout
from nnengine.network import build_network
from nnengine.optimizers import get_optimizer


def small_network(hidden, loss="cross_entropy", weight_decay=0.0, init="xavier", seed=0):
    config = parse_config({"model": {"hidden_layers": hidden, "weight_init": init, "loss": loss},
                           "training": {"weight_decay": weight_decay, "dtype": "float64"}})
    rng = np.random.default_rng(seed)
    net = build_network(config.model, config.training, rng, n_in=6, n_out=4, dtype=np.float64)
    return net, rng


def check_whole_network(net, x, t):
    dropouts = [layer for layer in net.layers if isinstance(layer, Dropout)]

    def loss_of(_):
        for i, layer in enumerate(dropouts):  # the same masks for every evaluation
            layer.rng = np.random.default_rng(100 + i)
        return net.loss(x, t, train=True)

    loss_of(None)
    net.backward()
    analytic = {key: value.copy() for key, value in net.grads.items()}
    worst = {}
    for key, param in net.params.items():
        numeric = eval_numerical_gradient(loss_of, param)
        # Norm-wise: an element whose gradient is ~1e-6 carries ~1e-11 of finite-difference
        # round-off, which an element-wise ratio would magnify past any threshold. The floor keeps
        # a bias feeding batch norm (true gradient exactly 0) from dividing noise by noise.
        worst[key] = float(np.linalg.norm(numeric - analytic[key])
                           / max(1e-6, np.linalg.norm(numeric) + np.linalg.norm(analytic[key])))
    return worst


@pytest.mark.parametrize("loss", ["cross_entropy", "mean_squared_error", "binary_cross_entropy"])
def test_gradient_of_whole_network_with_batch_norm_and_weight_decay(loss):
    hidden = [{"units": 5, "activation": "tanh", "batch_norm": True},
              {"units": 7, "activation": "sigmoid", "batch_norm": True},
              {"units": 5, "activation": "elu"}]
    net, rng = small_network(hidden, loss=loss, weight_decay=0.1)
    x = rng.standard_normal((8, 6))
    t = rng.integers(0, 4, size=8)
    worst = check_whole_network(net, x, t)
    assert max(worst.values()) < 1e-7, worst


def test_gradient_of_whole_network_with_dropout_fixed_masks():
    hidden = [{"units": 6, "activation": "softplus", "dropout": 0.3},
              {"units": 6, "activation": "swish", "batch_norm": True, "dropout": 0.2}]
    net, rng = small_network(hidden, weight_decay=0.05)
    x = rng.standard_normal((10, 6))
    t = rng.integers(0, 4, size=10)
    worst = check_whole_network(net, x, t)
    assert max(worst.values()) < 1e-7, worst


def test_relu_network_gradient():
    hidden = [{"units": 8, "activation": "relu"}, {"units": 8, "activation": "leaky_relu"}]
    net, rng = small_network(hidden, init="he", seed=3)
    x = rng.standard_normal((6, 6))
    t = rng.integers(0, 4, size=6)
    worst = check_whole_network(net, x, t)
    assert max(worst.values()) < 1e-7, worst


def test_weight_decay_adds_half_lambda_w_squared_to_the_loss():
    hidden = [{"units": 5, "activation": "tanh"}]
    plain, rng = small_network(hidden, weight_decay=0.0)
    decayed, _ = small_network(hidden, weight_decay=0.5)
    x = rng.standard_normal((4, 6))
    t = np.array([0, 1, 2, 3])
    squares = sum(np.sum(v ** 2) for k, v in decayed.params.items() if k.endswith(".W"))
    assert decayed.loss(x, t) == pytest.approx(plain.loss(x, t) + 0.25 * squares, rel=1e-12)


def test_params_are_the_layers_own_arrays_so_updates_change_the_output():
    net, rng = small_network([{"units": 5, "activation": "relu", "batch_norm": True}])
    x = rng.standard_normal((4, 6))
    t = np.array([0, 1, 2, 3])
    before = net.forward(x, train=False).copy()
    layer_arrays = [id(v) for layer in net.layers for v in layer.params.values()]
    assert sorted(layer_arrays) == sorted(id(v) for v in net.params.values())
    net.loss(x, t)
    net.backward()
    get_optimizer("sgd", lr=0.5).update(net.params, net.grads)
    assert not np.allclose(before, net.forward(x, train=False))


def test_layer_order_affine_batchnorm_activation_dropout():
    net, _ = small_network([{"units": 5, "activation": "tanh", "batch_norm": True, "dropout": 0.5}])
    names = [type(layer).__name__ for layer in net.layers]
    assert names[:4] == ["Affine", "BatchNorm", "Tanh", "Dropout"]
    assert names[-1] == "Affine"


def test_state_dict_round_trip_restores_predictions():
    hidden = [{"units": 5, "activation": "relu", "batch_norm": True}]
    net, rng = small_network(hidden, seed=1)
    x = rng.standard_normal((12, 6))
    t = rng.integers(0, 4, size=12)
    for _ in range(3):  # move the running statistics away from their start
        net.loss(x, t)
        net.backward()
        get_optimizer("sgd", lr=0.1).update(net.params, net.grads)
    other, _ = small_network(hidden, seed=2)
    other.load_state_dict(net.state_dict())
    np.testing.assert_array_equal(other.predict(x), net.predict(x))


def test_load_state_dict_refuses_a_different_shape():
    net, _ = small_network([{"units": 5}])
    other, _ = small_network([{"units": 6}])
    with pytest.raises(ValueError, match="do not match"):
        other.load_state_dict(net.state_dict())
