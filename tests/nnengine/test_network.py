"""Whole networks: gradient checks with batch norm, dropout and weight decay; parameter sharing."""
import numpy as np
import pytest

from nnengine.config import parse_config
from nnengine.conv import SpatialBatchNorm
from nnengine.evaluation import StackedEvaluation
from nnengine.layers import Affine, BatchNorm, Dropout
from nnengine.models import build_network
from nnengine.optimizers import get_optimizer
from tests.support.gradients import check_whole_network


def small_network(hidden, loss="cross_entropy", weight_decay=0.0, init="xavier", seed=0, **model):
    config = parse_config({"model": {"hidden_layers": hidden, "weight_init": init, "loss": loss, **model},
                           "training": {"weight_decay": weight_decay, "dtype": "float64"}})
    rng = np.random.default_rng(seed)
    net = build_network(config.model, config.training, rng, n_in=6, n_out=4, dtype=np.float64)
    return net, rng


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


@pytest.mark.parametrize("style", ["inverted", "book"])
def test_gradient_of_whole_network_with_dropout_fixed_masks(style):
    hidden = [{"units": 6, "activation": "softplus", "dropout": 0.3},
              {"units": 6, "activation": "swish", "batch_norm": True, "dropout": 0.2}]
    net, rng = small_network(hidden, weight_decay=0.05, dropout_style=style)
    assert {layer.style for layer in net.layers if isinstance(layer, Dropout)} == {style}
    x = rng.standard_normal((10, 6))
    t = rng.integers(0, 4, size=10)
    worst = check_whole_network(net, x, t)
    assert max(worst.values()) < 1e-7, worst


def test_model_settings_reach_every_dropout_and_batch_norm_layer():
    layers = [{"type": "conv", "filters": 2, "kernel": 3, "batch_norm": True, "dropout": 0.1},
              {"type": "pool", "size": 2},
              {"units": 5, "batch_norm": True, "dropout": 0.3}]
    for model, style, eps in (({}, "inverted", 1e-5),            # a model without the keys: today's layers
                              ({"dropout_style": "book", "batch_norm_eps": 1e-6}, "book", 1e-6)):
        config = parse_config({"model": {"hidden_layers": layers, **model}})
        net = build_network(config.model, config.training, np.random.default_rng(0))
        dropouts = [layer for layer in net.layers if isinstance(layer, Dropout)]
        norms = [layer for layer in net.layers if isinstance(layer, BatchNorm)]
        assert [type(layer) for layer in norms] == [SpatialBatchNorm, BatchNorm]
        assert len(dropouts) == 2 and {layer.style for layer in dropouts} == {style}
        assert {layer.eps for layer in norms} == {eps}


def book_scores(net, x):
    """Evaluation-mode scores of an Affine -> ReLU -> Dropout(p) stack written out by hand: the book's
    Dropout multiplies by 1 - p at test time."""
    h = x
    for layer in net.layers:
        if isinstance(layer, Affine):
            h = h @ layer.params["W"] + layer.params["b"]
        elif isinstance(layer, Dropout):
            h = h * (1 - layer.p)
        else:
            h = np.maximum(h, 0)
    return h


def test_every_evaluation_path_scales_the_books_dropout_at_test_time(monkeypatch):
    hidden = [{"units": 30, "activation": "relu", "dropout": 0.5}, {"units": 20, "activation": "relu", "dropout": 0.2}]
    book, rng = small_network(hidden, init="he", dropout_style="book")
    inverted, _ = small_network(hidden, init="he")           # the same weights (same seed)
    x = rng.standard_normal((2400, 6))
    t = rng.integers(0, 4, size=2400)
    want = book_scores(book, x)
    np.testing.assert_allclose(book.forward(x, train=False), want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(book.infer(x), want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(book.predict(x), book.loss_fn.predict(want), rtol=1e-12, atol=1e-15)
    ref_loss = book.loss_fn.forward(want, t)
    ref_acc = float(np.mean(want.argmax(axis=1) == t))
    assert book.evaluate(x, t) == pytest.approx((ref_loss, ref_acc), rel=1e-12)
    monkeypatch.setattr(StackedEvaluation, "min_rows_per_worker", 100)
    for workers in (1, 2):                                    # 2: replicas of the network in threads
        with StackedEvaluation(book, [(x[:400], t[:400]), (x[400:], t[400:])], workers=workers) as evaluate:
            assert evaluate.workers == workers
            (train_loss, train_acc), (test_loss, test_acc) = evaluate()
        assert train_loss == pytest.approx(book.loss_fn.forward(want[:400], t[:400]), rel=1e-12)
        assert test_loss == pytest.approx(book.loss_fn.forward(want[400:], t[400:]), rel=1e-12)
        assert test_acc == float(np.mean(want[400:].argmax(axis=1) == t[400:]))
    # inverted dropout is the identity at test time: other scores from the same weights
    assert not np.allclose(inverted.infer(x), want)
    np.testing.assert_allclose(inverted.infer(x), book_scores(inverted, x) / (0.5 * 0.8), rtol=1e-12, atol=1e-15)


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
