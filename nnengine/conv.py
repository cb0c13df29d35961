"""Convolution and pooling layers (chapter 7 of the book: im2col / col2im), plus a spec-driven builder.

Images travel as ndarrays of shape (n, channels, height, width). ``Reshape`` turns the flat MNIST rows
(n, 784) into (n, 1, 28, 28) at the front of a convolutional network; ``Flatten`` turns feature maps
into rows for the ``Affine`` layers at the back. Same Layer protocol as ``layers.py``: ``params`` /
``grads`` dicts, ``forward(x, train)``, ``backward(dout)`` that never writes into ``dout``; parameter
arrays are created once and only changed in place.

Layer specs for ``build_layers`` (a proposal for the experiment config, see ``LAYER_SPEC_DOC``)::

    {"type": "reshape", "shape": [1, 28, 28]}
    {"type": "conv", "filters": 16, "kernel": 5, "stride": 1, "pad": 2, "activation": "relu"}
    {"type": "pool", "size": 2, "stride": 2}
    {"type": "flatten"}
    {"type": "dense", "units": 128, "activation": "relu", "dropout": 0.3}

followed by an output ``Affine`` to ``n_out`` classes.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .activations import get_activation
from .initializers import INITIALIZERS
from .layers import Affine, Dropout, Layer

__all__ = ["im2col", "col2im", "Conv2D", "MaxPool2D", "Flatten", "Reshape", "build_layers",
           "LAYER_TYPES", "output_shape"]


def _out_size(size: int, k: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - k) // stride + 1


def im2col(x: np.ndarray, kh: int, kw: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Unfold image patches into rows.

    x : ndarray of shape (n, c, h, w) -> col : ndarray of shape (n * oh * ow, c * kh * kw), rows ordered
    (n, oh, ow) and columns (c, kh, kw), so that ``col @ W.reshape(fn, -1).T`` is the convolution.
    """
    n, c, h, w = x.shape
    oh, ow = _out_size(h, kh, stride, pad), _out_size(w, kw, stride, pad)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    win = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride][:, :, :oh, :ow]
    # win: (n, c, oh, ow, kh, kw) -> (n, oh, ow, c, kh, kw)
    return np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5)).reshape(n * oh * ow, c * kh * kw)


def col2im(col: np.ndarray, x_shape, kh: int, kw: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Adjoint of ``im2col``: add every row's patch back where it came from.

    col : ndarray of shape (n * oh * ow, c * kh * kw) -> ndarray of shape x_shape = (n, c, h, w).
    """
    n, c, h, w = x_shape
    oh, ow = _out_size(h, kh, stride, pad), _out_size(w, kw, stride, pad)
    col = col.reshape(n, oh, ow, c, kh, kw).transpose(0, 3, 4, 5, 1, 2)    # (n, c, kh, kw, oh, ow)
    img = np.zeros((n, c, h + 2 * pad + stride - 1, w + 2 * pad + stride - 1), dtype=col.dtype)
    for i in range(kh):
        i_max = i + stride * oh
        for j in range(kw):
            j_max = j + stride * ow
            img[:, :, i:i_max:stride, j:j_max:stride] += col[:, :, i, j]
    return img[:, :, pad:h + pad, pad:w + pad]


class Conv2D(Layer):
    """2-D convolution (cross-correlation, as in the book).

    W : ndarray of shape (fn, c, kh, kw); b : ndarray of shape (fn,).
    x : ndarray of shape (n, c, h, w) -> out : ndarray of shape (n, fn, oh, ow),
    oh = (h + 2 pad - kh) // stride + 1.

    out = col @ W_col^T + b;  dW_col = dout_col^T col;  db = sum dout;  dcol = dout_col W_col;
    dx = col2im(dcol). ``need_dx=False`` skips dx for the first layer.
    """

    def __init__(self, W, b, stride: int = 1, pad: int = 0, need_dx: bool = True):
        super().__init__()
        if W.ndim != 4 or b.shape != (W.shape[0],):
            raise ValueError(f"Conv2D needs W (fn, c, kh, kw) and b (fn,), got {W.shape} and {b.shape}")
        self.params = {"W": W, "b": b}
        self.grads = {"W": np.zeros_like(W), "b": np.zeros_like(b)}
        self.stride, self.pad, self.need_dx = int(stride), int(pad), need_dx
        self.x_shape = None
        self.col = None

    def forward(self, x, train=True):
        fn, c, kh, kw = self.params["W"].shape
        n, _, h, w = x.shape
        oh, ow = _out_size(h, kh, self.stride, self.pad), _out_size(w, kw, self.stride, self.pad)
        self.x_shape = x.shape
        self.col = im2col(x, kh, kw, self.stride, self.pad)
        out = self.col @ self.params["W"].reshape(fn, -1).T
        out += self.params["b"]
        return out.reshape(n, oh, ow, fn).transpose(0, 3, 1, 2)

    def backward(self, dout):
        W = self.params["W"]
        fn, c, kh, kw = W.shape
        dout_col = dout.transpose(0, 2, 3, 1).reshape(-1, fn)              # a new array: dout untouched
        np.sum(dout_col, axis=0, out=self.grads["b"])
        self.grads["W"][...] = (dout_col.T @ self.col).reshape(W.shape)
        if not self.need_dx:
            return None
        dcol = dout_col @ W.reshape(fn, -1)
        return col2im(dcol, self.x_shape, kh, kw, self.stride, self.pad)


class MaxPool2D(Layer):
    """Max pooling over ``pool`` x ``pool`` windows with ``stride`` (no parameters).

    x : ndarray of shape (n, c, h, w) -> out : ndarray of shape (n, c, oh, ow). The gradient goes to the
    (first) maximum of each window.
    """

    def __init__(self, pool: int = 2, stride: int | None = None, pad: int = 0):
        super().__init__()
        self.pool, self.stride, self.pad = int(pool), int(stride or pool), int(pad)
        self.x_shape = None
        self.arg = None

    def _tiles(self, h, w):
        """True when the windows tile the input exactly (stride == pool, no padding, sizes divisible)."""
        p = self.pool
        return self.stride == p and self.pad == 0 and h % p == 0 and w % p == 0

    def forward(self, x, train=True):
        n, c, h, w = x.shape
        p, s = self.pool, self.stride
        oh, ow = _out_size(h, p, s, self.pad), _out_size(w, p, s, self.pad)
        self.x_shape = x.shape
        if self._tiles(h, w):
            # fast path: windows are disjoint blocks, a reshape instead of im2col
            blocks = x.reshape(n, c, oh, p, ow, p).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh, ow, p * p)
            self.arg = blocks.argmax(axis=-1)
            return np.take_along_axis(blocks, self.arg[..., None], axis=-1)[..., 0]
        col = im2col(x.reshape(n * c, 1, h, w), p, p, s, self.pad)         # (n c oh ow, p p)
        self.arg = col.argmax(axis=1)
        out = col[np.arange(len(col)), self.arg]
        return out.reshape(n, c, oh, ow)

    def backward(self, dout):
        n, c, h, w = self.x_shape
        p = self.pool
        if self._tiles(h, w):
            oh, ow = h // p, w // p
            blocks = np.zeros((n, c, oh, ow, p * p), dtype=dout.dtype)
            np.put_along_axis(blocks, self.arg[..., None], dout[..., None], axis=-1)
            return blocks.reshape(n, c, oh, ow, p, p).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h, w)
        dcol = np.zeros((dout.size, p * p), dtype=dout.dtype)
        dcol[np.arange(dout.size), self.arg] = dout.ravel()
        return col2im(dcol, (n * c, 1, h, w), p, p, self.stride, self.pad).reshape(self.x_shape)


class Reshape(Layer):
    """x : ndarray of shape (n, ...) -> (n, *shape); backward restores the input shape."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(int(v) for v in shape)
        self.x_shape = None

    def forward(self, x, train=True):
        self.x_shape = x.shape
        return x.reshape((x.shape[0],) + self.shape)

    def backward(self, dout):
        if dout is None:              # below a first layer that skipped its dx (need_dx=False)
            return None
        return dout.reshape(self.x_shape)


class Flatten(Reshape):
    """x : ndarray of shape (n, c, h, w) -> (n, c * h * w)."""

    def __init__(self):
        super().__init__((-1,))


# ------------------------------------------------------------------------------------------------
# building a network from layer specs

LAYER_TYPES = ("reshape", "conv", "pool", "flatten", "dense")


def output_shape(specs: list[dict], input_shape=(784,)) -> tuple[int, ...]:
    """Shape (without the batch axis) after the given layer specs; raises ValueError on a bad spec."""
    shape = tuple(input_shape)
    for i, spec in enumerate(specs):
        kind = spec.get("type")
        if kind == "reshape":
            new = tuple(int(v) for v in spec["shape"])
            if int(np.prod(new)) != int(np.prod(shape)):
                raise ValueError(f"layers[{i}]: cannot reshape {shape} to {new}")
            shape = new
        elif kind in ("conv", "pool"):
            if len(shape) != 3:
                raise ValueError(f"layers[{i}]: '{kind}' needs (c, h, w) input, got {shape}")
            c, h, w = shape
            k = int(spec.get("kernel", 3)) if kind == "conv" else int(spec.get("size", 2))
            s = int(spec.get("stride", 1 if kind == "conv" else k))
            pad = int(spec.get("pad", 0))
            oh, ow = _out_size(h, k, s, pad), _out_size(w, k, s, pad)
            if oh < 1 or ow < 1:
                raise ValueError(f"layers[{i}]: '{kind}' with kernel {k} leaves no output on {h}x{w}")
            shape = (int(spec["filters"]) if kind == "conv" else c, oh, ow)
        elif kind == "flatten":
            shape = (int(np.prod(shape)),)
        elif kind == "dense":
            if len(shape) != 1:
                raise ValueError(f"layers[{i}]: 'dense' needs flat input (add a flatten), got {shape}")
            shape = (int(spec["units"]),)
        else:
            raise ValueError(f"layers[{i}]: unknown type {kind!r}; known: {', '.join(LAYER_TYPES)}")
    return shape


def build_layers(specs: list[dict], rng: np.random.Generator, *, n_in: int = 784, n_out: int = 10,
                 weight_init: str = "he", weight_init_std: float = 0.01, dtype=np.float32) -> list[Layer]:
    """Layers for ``specs`` (see the module docstring) followed by an output Affine to ``n_out``.

    Weights: ``INITIALIZERS[weight_init](fan_in, fan_out, rng, std, dtype)``; a conv kernel's fan-in is
    c * kh * kw (drawn as (fan_in, fn) and transposed into (fn, c, kh, kw)). Biases start at 0.
    """
    init = INITIALIZERS[weight_init]
    layers: list[Layer] = []
    shape: tuple[int, ...] = (n_in,)
    first_param = True
    for i, spec in enumerate(specs):
        kind = spec["type"]
        new_shape = output_shape([spec], shape)
        if kind == "reshape":
            layers.append(Reshape(new_shape))
        elif kind == "flatten":
            layers.append(Flatten())
        elif kind == "pool":
            k = int(spec.get("size", 2))
            layers.append(MaxPool2D(k, int(spec.get("stride", k)), int(spec.get("pad", 0))))
        elif kind == "conv":
            c = shape[0]
            fn, k = int(spec["filters"]), int(spec.get("kernel", 3))
            W = init(c * k * k, fn, rng, weight_init_std, dtype).T.reshape(fn, c, k, k)
            layers.append(Conv2D(np.ascontiguousarray(W, dtype=dtype), np.zeros(fn, dtype=dtype),
                                 stride=int(spec.get("stride", 1)), pad=int(spec.get("pad", 0)),
                                 need_dx=not first_param))
            first_param = False
        elif kind == "dense":
            units = int(spec["units"])
            W = init(shape[0], units, rng, weight_init_std, dtype)
            layers.append(Affine(np.ascontiguousarray(W, dtype=dtype), np.zeros(units, dtype=dtype),
                                 need_dx=not first_param))
            first_param = False
        if kind in ("conv", "dense"):
            act = spec.get("activation", "relu")
            if act:
                layers.append(get_activation(act))
            if float(spec.get("dropout", 0.0)) > 0:
                layers.append(Dropout(float(spec["dropout"]), rng))
        shape = new_shape
    if len(shape) != 1:
        layers.append(Flatten())
        shape = (int(np.prod(shape)),)
    W = init(shape[0], n_out, rng, weight_init_std, dtype)
    layers.append(Affine(np.ascontiguousarray(W, dtype=dtype), np.zeros(n_out, dtype=dtype),
                         need_dx=not first_param))
    return layers
