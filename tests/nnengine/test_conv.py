"""Gradient checks (float64) and shape checks for the convolution layers in nnengine/conv.py."""
import numpy as np
import pytest

from nnengine.conv import Conv2D, Flatten, MaxPool2D, Reshape, SpatialBatchNorm, col2im, im2col
from nnengine.gradcheck import check_layer, rel_error
from nnengine.layer_kinds import build_layers, output_shape
from nnengine.losses import get_loss
from nnengine.network import Network

TOL = 1e-6


def naive_conv(x, W, b, stride, pad):
    n, c, h, w = x.shape
    fn, _, kh, kw = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    out = np.zeros((n, fn, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.tensordot(patch, W, axes=([1, 2, 3], [1, 2, 3])) + b
    return out


@pytest.mark.parametrize("stride,pad", [(1, 0), (1, 1), (2, 1), (2, 0)])
def test_conv_forward_matches_naive(stride, pad):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 6))
    W, b = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    out = Conv2D(W, b, stride, pad).forward(x, train=True)
    assert rel_error(out, naive_conv(x, W, b, stride, pad)) < 1e-10


def test_col2im_is_adjoint_of_im2col():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 6, 5))
    col = im2col(x, 3, 2, stride=2, pad=1)
    y = rng.standard_normal(col.shape)
    # <im2col(x), y> == <x, col2im(y)>
    assert np.vdot(col, y) == pytest.approx(np.vdot(x, col2im(y, x.shape, 3, 2, stride=2, pad=1)), rel=1e-12)


@pytest.mark.parametrize("stride,pad", [(1, 0), (1, 2), (2, 1)])
def test_conv_gradients(stride, pad):
    rng = np.random.default_rng(2)
    layer = Conv2D(rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3), stride, pad)
    errors = check_layer(layer, rng.standard_normal((2, 2, 6, 5)), rng)
    assert set(errors) == {"x", "W", "b"}
    assert max(errors.values()) < TOL, errors


def test_conv_backward_leaves_dout_alone_and_skips_dx():
    rng = np.random.default_rng(3)
    layer = Conv2D(rng.standard_normal((3, 2, 3, 3)), np.zeros(3), need_dx=False)
    out = layer.forward(rng.standard_normal((2, 2, 5, 5)), True)
    dout = rng.standard_normal(out.shape)
    keep = dout.copy()
    assert layer.backward(dout) is None
    assert np.array_equal(dout, keep)
    assert np.any(layer.grads["W"] != 0)


@pytest.mark.parametrize("pool,stride,size", [(2, 2, 7), (2, 2, 8), (3, 1, 7), (3, 2, 7), (3, 3, 6)])
def test_maxpool_gradients(pool, stride, size):
    rng = np.random.default_rng(4)
    # distinct values so the maximum of each window is unique (the max is not differentiable at ties)
    x = rng.permutation(2 * 3 * size * size).reshape(2, 3, size, size) / 10.0
    layer = MaxPool2D(pool, stride)
    out = layer.forward(x, True)
    assert out.shape == (2, 3, (size - pool) // stride + 1, (size - pool) // stride + 1)
    errors = check_layer(layer, x, rng)
    assert errors["x"] < TOL


def test_maxpool_forward_values():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    assert np.array_equal(MaxPool2D(2).forward(x, True)[0, 0], [[5, 7], [13, 15]])
    x5 = np.arange(25.0).reshape(1, 1, 5, 5)                # not tiled: the im2col path
    assert np.array_equal(MaxPool2D(2).forward(x5, True)[0, 0], [[6, 8], [16, 18]])


def naive_maxpool(x, pool, stride, dout):
    """Reference loops: the max of every window, and its gradient sent to the first maximum."""
    n, c, h, w = x.shape
    oh, ow = (h - pool) // stride + 1, (w - pool) // stride + 1
    out, dx = np.zeros((n, c, oh, ow)), np.zeros_like(x)
    for a in range(n):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    window = x[a, ch, i * stride:i * stride + pool, j * stride:j * stride + pool]
                    k = int(np.argmax(window))                  # the first maximum, row-major
                    out[a, ch, i, j] = window.flat[k]
                    dx[a, ch, i * stride + k // pool, j * stride + k % pool] += dout[a, ch, i, j]
    return out, dx


@pytest.mark.parametrize("pool,stride,size", [(2, 2, 8), (2, 2, 7), (3, 1, 6), (3, 2, 7), (2, 1, 5), (1, 1, 3)])
def test_maxpool_matches_naive_loops_with_ties(pool, stride, size):
    rng = np.random.default_rng(7)
    x = rng.integers(0, 3, size=(2, 3, size, size)).astype(np.float64)     # many ties
    layer = MaxPool2D(pool, stride)
    out = layer.forward(x, True)
    dout = rng.standard_normal(out.shape)
    want_out, want_dx = naive_maxpool(x, pool, stride, dout)
    assert np.array_equal(out, want_out)
    assert np.allclose(layer.backward(dout), want_dx, rtol=0, atol=1e-12)
    assert np.array_equal(layer.infer(x)[0], want_out)


@pytest.mark.parametrize("make", [
    lambda rng: Conv2D(rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4), stride=2, pad=1),
    lambda rng: MaxPool2D(3, 2),
    lambda rng: SpatialBatchNorm(rng.standard_normal(3), rng.standard_normal(3)),
    lambda rng: Reshape((3 * 7 * 7,)),
])
def test_infer_gives_forwards_numbers_and_keeps_no_state(make):
    rng = np.random.default_rng(8)
    layer = make(rng)
    if isinstance(layer, SpatialBatchNorm):
        layer.running_mean[...] = rng.standard_normal(3)
        layer.running_var[...] = rng.random(3) + 0.5
    x = rng.standard_normal((2, 3, 7, 7))
    out = layer.forward(x, train=False)
    dout = rng.standard_normal(out.shape)
    before = {k: v for k, v in vars(layer).items()}
    state = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in before.items()}
    y, _ = layer.infer(rng.standard_normal((5, 3, 7, 7)))              # another batch in between ...
    assert y.shape[0] == 5
    for key, value in state.items():                                 # ... leaves what backward needs
        now = getattr(layer, key)
        assert now is before[key] if not isinstance(value, np.ndarray) else np.array_equal(now, value), key
    assert np.array_equal(layer.infer(x)[0], out)
    assert layer.backward(dout).shape == x.shape


def test_spatial_batch_norm_normalises_each_channel_over_batch_and_positions():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 3, 5, 6)) * np.array([1.0, 5.0, 0.1])[:, None, None] + np.array([2.0, -3.0, 0.0])[:, None, None]
    gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, 1.0, -1.0])
    layer = SpatialBatchNorm(gamma.copy(), beta.copy(), momentum=0.0)
    out = layer.forward(x, train=True)
    mu, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    want = gamma[:, None, None] * (x - mu[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5) + beta[:, None, None]
    assert np.allclose(out, want, atol=1e-12)
    assert np.allclose(layer.running_mean, mu) and np.allclose(layer.running_var, var)   # momentum 0
    assert np.allclose(layer.forward(x, train=False), want, atol=1e-12)                 # with those stats


@pytest.mark.parametrize("train", [True, False])
def test_spatial_batch_norm_gradients(train):
    rng = np.random.default_rng(10)
    layer = SpatialBatchNorm(rng.standard_normal(3), rng.standard_normal(3))
    layer.running_mean[...] = rng.standard_normal(3)
    layer.running_var[...] = rng.random(3) + 0.5
    x = rng.standard_normal((3, 3, 4, 5))
    saved = layer.running_mean.copy(), layer.running_var.copy()

    def keep_stats():   # train mode updates the running statistics at every call; they are not in the loss
        layer.running_mean[...], layer.running_var[...] = saved

    errors = check_layer(layer, x, rng, train=train, before_forward=keep_stats)
    assert set(errors) == {"x", "gamma", "beta"}
    assert max(errors.values()) < TOL, errors


def test_reshape_and_flatten_round_trip():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 784))
    r = Reshape((1, 28, 28))
    f = Flatten()
    y = f.forward(r.forward(x, True), True)
    assert y.shape == (3, 784)
    assert np.array_equal(r.backward(f.backward(y)), x)


SPECS = [
    {"type": "reshape", "shape": [1, 8, 8]},
    {"type": "conv", "filters": 3, "kernel": 3, "pad": 1, "activation": "tanh"},
    {"type": "pool", "size": 2},
    {"type": "conv", "filters": 4, "kernel": 3, "activation": "tanh"},
    {"type": "flatten"},
    {"type": "dense", "units": 5, "activation": "tanh"},
]


def test_output_shape_and_errors():
    assert output_shape(SPECS, (64,)) == (5,)
    with pytest.raises(ValueError, match="unknown type"):
        output_shape([{"type": "lstm"}])
    with pytest.raises(ValueError, match="dense"):
        output_shape([{"type": "reshape", "shape": [1, 28, 28]}, {"type": "dense", "units": 3}])


def test_whole_conv_network_gradient():
    """Backprop through reshape-conv-pool-conv-flatten-dense-affine-softmax against numbers."""
    rng = np.random.default_rng(6)
    net = Network(build_layers(SPECS, rng, n_in=64, n_out=3, dtype=np.float64), get_loss("cross_entropy"),
                  weight_decay=0.01)
    x = rng.standard_normal((4, 64))
    t = np.array([0, 1, 2, 1])
    net.loss(x, t)
    net.backward()
    grads = {k: g.copy() for k, g in net.grads.items()}
    for key, p in net.params.items():
        num = np.zeros_like(p)
        it = np.nditer(p, flags=["multi_index"])
        for _ in it:
            ix = it.multi_index
            old = p[ix]
            p[ix] = old + 1e-5
            fp = net.loss(x, t)
            p[ix] = old - 1e-5
            fm = net.loss(x, t)
            p[ix] = old
            num[ix] = (fp - fm) / 2e-5
        assert rel_error(grads[key], num) < TOL, key
