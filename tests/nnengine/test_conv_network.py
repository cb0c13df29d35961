"""Networks with conv and pool layers built from the experiment config: gradients, init, weight decay,
state, evaluation paths and training."""
import numpy as np
import pytest

from nnengine.config import parse_config
from nnengine.conv import Conv2D, Flatten, MaxPool2D, Reshape, SpatialBatchNorm
from nnengine.evaluation import StackedEvaluation
from nnengine.gradcheck import eval_numerical_gradient, rel_error
from nnengine.layers import Affine, BatchNorm, Dropout
from nnengine.models import build_network
from nnengine.presets import preset
from nnengine.trainer import train

CONV_BN_POOL_DENSE = [
    {"type": "conv", "filters": 2, "kernel": 3, "stride": 1, "pad": 1, "activation": "tanh", "batch_norm": True},
    {"type": "pool", "size": 2, "stride": 2},
    {"type": "conv", "filters": 3, "kernel": 3, "stride": 2, "pad": 0, "activation": "softplus", "dropout": 0.2},
    {"type": "pool", "size": 3, "stride": 2},
    {"units": 5, "activation": "tanh", "batch_norm": True, "dropout": 0.1},
]


def network_of(hidden, weight_decay=0.0, init="xavier", seed=0, dtype="float64", loss="cross_entropy"):
    config = parse_config({"model": {"hidden_layers": hidden, "weight_init": init, "loss": loss},
                           "training": {"weight_decay": weight_decay, "dtype": dtype}})
    rng = np.random.default_rng(seed)
    return build_network(config.model, config.training, rng, dtype=np.dtype(dtype)), rng


def test_layers_follow_the_config_with_implicit_reshape_and_flatten():
    net, _ = network_of(CONV_BN_POOL_DENSE)
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds == ["Reshape", "Conv2D", "SpatialBatchNorm", "Tanh", "MaxPool2D",
                     "Conv2D", "Softplus", "Dropout", "MaxPool2D",
                     "Flatten", "Affine", "BatchNorm", "Tanh", "Dropout", "Affine"]
    scores = net.forward(np.zeros((2, 784)), train=False)
    assert scores.shape == (2, 10)
    # 28 -conv pad 1-> 28 -pool 2-> 14 -conv 3 stride 2-> 6 -pool 3 stride 2-> 2: 3 x 2 x 2 = 12 inputs
    assert net.params["10.W"].shape == (12, 5)
    assert net.layers[1].need_dx is False          # the first map never computes dx


def test_conv_only_network_flattens_before_the_output():
    net, _ = network_of([{"type": "conv", "filters": 4, "kernel": 5, "pad": 0}, {"type": "pool", "size": 4}])
    assert isinstance(net.layers[-2], Flatten) and net.params[f"{len(net.layers) - 1}.W"].shape == (4 * 6 * 6, 10)


def test_gradient_of_whole_conv_network_from_config_float64():
    """Backprop through reshape, conv, per-channel batch norm, pool, conv with dropout, pool, flatten,
    dense with batch norm and dropout, output, softmax cross-entropy and weight decay, against central
    differences (nnengine.gradcheck) of the whole training loss, every entry of every parameter."""
    net, rng = network_of(CONV_BN_POOL_DENSE, weight_decay=0.1)
    x = rng.standard_normal((3, 784))
    t = np.array([3, 1, 7])
    dropouts = [layer for layer in net.layers if isinstance(layer, Dropout)]
    norms = [layer for layer in net.layers if isinstance(layer, BatchNorm)]
    saved = [(layer.running_mean.copy(), layer.running_var.copy()) for layer in norms]

    def loss_of(_):
        for i, layer in enumerate(dropouts):            # the same masks at every evaluation
            layer.rng = np.random.default_rng(100 + i)
        for layer, (mean, var) in zip(norms, saved):    # running statistics are not part of the loss
            layer.running_mean[...], layer.running_var[...] = mean, var
        return net.loss(x, t, train=True)

    loss_of(None)
    net.backward()
    analytic = {key: value.copy() for key, value in net.grads.items()}
    assert {key for key in analytic if key.endswith(".W")} == {"1.W", "5.W", "10.W", "14.W"}
    numeric = {key: eval_numerical_gradient(loss_of, param) for key, param in net.params.items()}
    # a bias right before batch norm is subtracted out again: its true gradient is exactly 0
    before_norm = {"1.b", "10.b"}
    for key in before_norm:
        assert np.abs(analytic[key]).max() < 1e-12 and np.abs(numeric[key]).max() < 1e-9, key
    errors = {key: rel_error(analytic[key], numeric[key]) for key in net.params if key not in before_norm}
    assert len(errors) == len(net.params) - 2
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("init, std", [("he", lambda fan_in: np.sqrt(2 / fan_in)),
                                       ("xavier", lambda fan_in: 1 / np.sqrt(fan_in)),
                                       ("std", lambda fan_in: 0.05)])
def test_weight_init_uses_channels_times_kernel_area_as_fan_in(init, std):
    config = parse_config({"model": {"hidden_layers": [{"type": "conv", "filters": 64, "kernel": 7},
                                                       {"type": "conv", "filters": 64, "kernel": 3}],
                                     "weight_init": init, "weight_init_std": 0.05},
                           "data": {"train_size": 10, "test_size": 10}, "training": {"epochs": 1, "batch_size": 10}})
    net = build_network(config.model, config.training, np.random.default_rng(0))
    convs = [layer for layer in net.layers if isinstance(layer, Conv2D)]
    for conv, fan_in in zip(convs, (1 * 7 * 7, 64 * 3 * 3)):
        W = conv.params["W"]
        assert W.std() == pytest.approx(std(fan_in), rel=0.05)
        assert not conv.params["b"].any()


def test_weight_decay_reaches_conv_kernels():
    net, rng = network_of(CONV_BN_POOL_DENSE[:2], weight_decay=0.0)
    decayed, _ = network_of(CONV_BN_POOL_DENSE[:2], weight_decay=0.3)
    x, t = rng.standard_normal((4, 784)), np.array([0, 1, 2, 3])
    assert "1.W" in decayed.decayed and "1.b" not in decayed.decayed
    grads = []
    for n in (net, decayed):
        loss = n.loss(x, t)
        n.backward()
        grads.append((loss, {k: v.copy() for k, v in n.grads.items()}))
    (plain_loss, plain), (decay_loss, decay) = grads
    W = net.params["1.W"]
    assert decay_loss - plain_loss == pytest.approx(0.5 * 0.3 * sum(float(np.vdot(net.params[k], net.params[k]))
                                                                 for k in net.decayed), rel=1e-12)
    assert np.allclose(decay["1.W"] - plain["1.W"], 0.3 * W, atol=1e-14)
    assert np.array_equal(decay["1.b"], plain["1.b"])


def test_state_dict_round_trip_keeps_per_channel_batch_norm_statistics():
    net, rng = network_of(CONV_BN_POOL_DENSE, dtype="float32")
    x = rng.standard_normal((20, 784)).astype(np.float32)
    for _ in range(3):                      # move the running statistics away from 0 / 1
        net.loss(x, rng.integers(0, 10, 20))
        net.backward()
    state = net.state_dict()
    assert state["2.running_mean"].shape == (2,) and np.any(state["2.running_mean"] != 0)
    again, _ = network_of(CONV_BN_POOL_DENSE, seed=9, dtype="float32")
    again.load_state_dict(state)
    assert np.array_equal(again.predict(x), net.predict(x))


@pytest.mark.parametrize("workers", [1, 2])
def test_stacked_evaluation_of_a_conv_network_matches_forward(workers):
    net, rng = network_of(CONV_BN_POOL_DENSE, dtype="float32")
    bn = net.layers[2]
    bn.running_mean[...] = [0.1, -0.2]
    bn.running_var[...] = [0.5, 2.0]
    x = rng.random((2500, 784), dtype=np.float32)
    t = rng.integers(0, 10, 2500)
    net.chunk_rows = 300                     # several chunks, as a conv network's evaluation uses
    with StackedEvaluation(net, [(x[:1000], t[:1000]), (x[1000:], t[1000:])], dtype=np.float32,
                           workers=workers) as evaluate:
        assert evaluate.chunk == 300 and evaluate.workers == workers
        results = evaluate()
    for (loss, acc), (a, b) in zip(results, [(0, 1000), (1000, 2500)]):
        scores = net.forward(x[a:b], train=False)
        assert acc == pytest.approx(np.mean(scores.argmax(axis=1) == t[a:b]))
        assert loss == pytest.approx(net.loss_fn.forward(scores, t[a:b]), rel=1e-5)


def test_conv_network_evaluates_in_bounded_chunks():
    config = parse_config(preset("small_cnn"))
    net = build_network(config.model, config.training, np.random.default_rng(0))
    # conv 8 5x5 on 28x28 unfolds 784 x 25 numbers per image: ~200 images per chunk, not 8192
    assert 50 <= net.chunk_rows <= 400
    dense = parse_config({})
    assert build_network(dense.model, dense.training, np.random.default_rng(0)).chunk_rows is None


def test_small_cnn_preset_learns_and_reruns_bit_for_bit():
    config = parse_config({**preset("small_cnn"), "data": {"train_size": 300, "test_size": 500},
                           "training": {**preset("small_cnn")["training"], "epochs": 4}})
    first = train(config)
    assert first.status == "done"
    records = [{k: v for k, v in r.items() if k != "elapsed_s"} for r in first.records]
    assert records[-1]["train_acc"] > 0.6 and records[-1]["test_acc"] > 0.5
    assert records[-1]["train_loss"] < records[0]["train_loss"] / 2
    again = train(config)
    assert [{k: v for k, v in r.items() if k != "elapsed_s"} for r in again.records] == records
    assert all(np.array_equal(a, b) for a, b in zip(first.network.state_dict().values(),
                                                    again.network.state_dict().values()))


def test_types_of_layers_are_what_the_config_says():
    net, _ = network_of([{"type": "conv", "filters": 3, "kernel": 3, "batch_norm": False},
                         {"type": "pool", "size": 2, "stride": 1}])
    assert [type(layer) for layer in net.layers[:4]] == [Reshape, Conv2D, type(net.layers[2]), MaxPool2D]
    assert not any(isinstance(layer, SpatialBatchNorm) for layer in net.layers)
    assert isinstance(net.layers[-1], Affine)
