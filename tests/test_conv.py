"""Gradient checks (float64) and shape checks for the convolution layers in nnengine/conv.py."""
import numpy as np
import pytest

from nnengine.conv import (Conv2D, Flatten, MaxPool2D, Reshape, build_layers, col2im, im2col,
                           output_shape)
from nnengine.gradcheck import check_layer, rel_error
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


def test_maxpool_fast_path_matches_im2col_path():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4, 8, 6))
    fast = MaxPool2D(2)
    slow = MaxPool2D(2)
    slow._tiles = lambda h, w: False
    assert np.array_equal(fast.forward(x, True), slow.forward(x, True))
    dout = rng.standard_normal((3, 4, 4, 3))
    assert np.array_equal(fast.backward(dout), slow.backward(dout))


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
