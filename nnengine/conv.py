"""Convolution and pooling layers (chapter 7 of the book: im2col / col2im).

Images travel as ndarrays of shape (n, channels, height, width). ``Reshape`` turns the flat MNIST rows
(n, 784) into (n, 1, 28, 28) at the front of a convolutional network; ``Flatten`` turns feature maps
into rows for the ``Affine`` layers at the back. Same Layer protocol as ``layers.py``: ``params`` /
``grads`` dicts, ``forward(x, train)``, ``backward(dout)`` that never writes into ``dout``; parameter
arrays are created once and only changed in place.

Which of these a network holds, and in what order, is ``nnengine.layer_kinds``.
"""

from __future__ import annotations

import numpy as np

from .layers import BatchNorm, Layer

__all__ = ["im2col", "col2im", "Conv2D", "MaxPool2D", "SpatialBatchNorm", "Flatten", "Reshape"]


def _out_size(size: int, k: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - k) // stride + 1


def _taps(kh: int, kw: int, oh: int, ow: int, stride: int):
    """((i, j), index) for every tap (i, j) of a kh x kw window, row-major: ``xp[..., index[0], index[1]]``
    is the (oh, ow) grid of the input pixels under tap (i, j) of the window at every output position."""
    for i in range(kh):
        for j in range(kw):
            yield (i, j), (slice(i, i + stride * (oh - 1) + 1, stride), slice(j, j + stride * (ow - 1) + 1, stride))


def im2col(x: np.ndarray, kh: int, kw: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Unfold image patches into columns.

    x : ndarray of shape (n, c, h, w) -> col : ndarray of shape (c * kh * kw, n * oh * ow): column
    (n, oh, ow) is the patch under the window at that output position, rows ordered (c, kh, kw), so that
    ``W.reshape(fn, -1) @ col`` is the convolution, laid out (fn, n, oh, ow).  Built from kh * kw strided
    copies of whole maps, one per tap of the window (long runs of memory, fast in NumPy).
    """
    n, c, h, w = x.shape
    oh, ow = _out_size(h, kh, stride, pad), _out_size(w, kw, stride, pad)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    maps = xp.transpose(1, 0, 2, 3)                                     # (c, n, h + 2 pad, w + 2 pad) view
    col = np.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    for (i, j), (rows, cols) in _taps(kh, kw, oh, ow, stride):
        col[:, i, j] = maps[:, :, rows, cols]
    return col.reshape(c * kh * kw, n * oh * ow)


def col2im(col: np.ndarray, x_shape, kh: int, kw: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Adjoint of ``im2col``: add every column's patch back where it came from.

    col : ndarray of shape (c * kh * kw, n * oh * ow) -> ndarray of shape x_shape = (n, c, h, w) (a view of
    an array laid out as (c, n, h, w)).
    """
    n, c, h, w = x_shape
    oh, ow = _out_size(h, kh, stride, pad), _out_size(w, kw, stride, pad)
    col = col.reshape(c, kh, kw, n, oh, ow)
    maps = np.zeros((c, n, h + 2 * pad, w + 2 * pad), dtype=col.dtype)
    for (i, j), (rows, cols) in _taps(kh, kw, oh, ow, stride):
        maps[:, :, rows, cols] += col[:, i, j]
    return maps[:, :, pad:h + pad, pad:w + pad].transpose(1, 0, 2, 3)


class Conv2D(Layer):
    """2-D convolution (cross-correlation, as in the book).

    W : ndarray of shape (fn, c, kh, kw); b : ndarray of shape (fn,).
    x : ndarray of shape (n, c, h, w) -> out : ndarray of shape (n, fn, oh, ow) (a view of an array laid
    out as (fn, n, oh, ow)), oh = (h + 2 pad - kh) // stride + 1.

    With col = im2col(x) (c kh kw, n oh ow) and W_col = W.reshape(fn, c kh kw):
    out = W_col @ col + b;  dW_col = dout_col @ col^T;  db = sum dout;  dcol = W_col^T @ dout_col;
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

    def _apply(self, x):
        """(col, out): the unfolded input (c kh kw, n oh ow) and the output (n, fn, oh, ow)."""
        fn, c, kh, kw = self.params["W"].shape
        n, _, h, w = x.shape
        oh, ow = _out_size(h, kh, self.stride, self.pad), _out_size(w, kw, self.stride, self.pad)
        col = im2col(x, kh, kw, self.stride, self.pad)
        out = self.params["W"].reshape(fn, -1) @ col
        out += self.params["b"][:, None]
        return col, out.reshape(fn, n, oh, ow).transpose(1, 0, 2, 3)

    def forward(self, x, train=True):
        self.x_shape = x.shape
        self.col, out = self._apply(x)
        return out

    def infer(self, x, owned=False, out=None):
        """The same output as ``forward``, keeping nothing for ``backward``; the output is a fresh array."""
        return self._apply(x)[1], True

    def backward(self, dout):
        W = self.params["W"]
        fn, c, kh, kw = W.shape
        dout_col = dout.transpose(1, 0, 2, 3).reshape(fn, -1)   # (fn, n oh ow); only read, dout untouched
        np.sum(dout_col, axis=1, out=self.grads["b"])
        np.matmul(dout_col, self.col.T, out=self.grads["W"].reshape(fn, -1))
        if not self.need_dx:
            return None
        dcol = W.reshape(fn, -1).T @ dout_col
        return col2im(dcol, self.x_shape, kh, kw, self.stride, self.pad)


class MaxPool2D(Layer):
    """Max pooling over ``pool`` x ``pool`` windows with ``stride`` (no parameters; zero ``pad``).

    x : ndarray of shape (n, c, h, w) -> out : ndarray of shape (n, c, oh, ow), oh = (h + 2 pad - pool)
    // stride + 1.  out = the running maximum over the pool * pool strided views of x that hold one
    element of every window (no im2col copy).  The gradient goes to the first maximum of each window
    (row-major within the window), as an argmax would pick it.
    """

    def __init__(self, pool: int = 2, stride: int | None = None, pad: int = 0):
        super().__init__()
        self.pool, self.stride, self.pad = int(pool), int(stride or pool), int(pad)
        self.x = None
        self.out = None

    def _padded(self, x):
        pad = self.pad
        return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x

    def _windows(self, xp):
        """The (n, c, oh, ow) views of the padded input xp holding tap (a, b) of every window, row-major."""
        p, s = self.pool, self.stride
        oh, ow = (xp.shape[2] - p) // s + 1, (xp.shape[3] - p) // s + 1
        return (xp[:, :, rows, cols] for _, (rows, cols) in _taps(p, p, oh, ow, s))

    def _max(self, xp):
        views = self._windows(xp)
        out = next(views).copy()
        for view in views:
            np.maximum(out, view, out=out)
        return out

    def forward(self, x, train=True):
        self.x = x                  # a reference: no layer writes into its input
        self.out = self._max(self._padded(x))
        return self.out

    def infer(self, x, owned=False, out=None):
        """The same output as ``forward``, keeping nothing for ``backward``; the output is a fresh array."""
        return self._max(self._padded(x)), True

    def backward(self, dout):
        xp = self._padded(self.x)
        dxp = np.zeros(xp.shape, dtype=dout.dtype)
        taken = np.zeros(dout.shape, dtype=bool)        # windows whose maximum got the gradient already
        for view, dview in zip(self._windows(xp), self._windows(dxp)):
            hit = view == self.out
            hit &= ~taken
            taken |= hit
            dview += np.where(hit, dout, dout.dtype.type(0))       # dx = dout at the first maximum
        pad, (h, w) = self.pad, self.x.shape[2:]
        return dxp[:, :, pad:pad + h, pad:pad + w] if pad else dxp


class SpatialBatchNorm(BatchNorm):
    """Batch normalization per channel of feature maps (Ioffe & Szegedy 2015, section 3.2): each channel
    is normalised over the batch and every position, with one gamma and one beta per channel.

    gamma, beta : ndarray of shape (c,).  x : ndarray of shape (n, c, h, w) -> out of the same shape.
    ``BatchNorm`` applied to x moved into rows of shape (n h w, c), so the running statistics, the
    evaluation-mode map and the gradients are the dense layer's, per channel.
    """

    @staticmethod
    def _rows(x):
        """(n, c, h, w) -> (n h w, c): a view when x is laid out as (c, n, h, w), as conv outputs are."""
        return x.transpose(1, 0, 2, 3).reshape(x.shape[1], -1).T

    @staticmethod
    def _maps(rows, shape):
        """The inverse of ``_rows``: (n h w, c) -> (n, c, h, w)."""
        n, c, h, w = shape
        return rows.T.reshape(c, n, h, w).transpose(1, 0, 2, 3)

    def forward(self, x, train=True):
        return self._maps(super().forward(self._rows(x), train), x.shape)

    def infer(self, x, owned=False, out=None):
        rows = self._rows(x)
        # in place when x may be overwritten, or when the rows are already a copy of it
        y, y_owned = super().infer(rows, owned or not np.may_share_memory(rows, x))
        return self._maps(y, x.shape), y_owned

    def backward(self, dout):
        return self._maps(super().backward(self._rows(dout)), dout.shape)


class Reshape(Layer):
    """x : ndarray of shape (n, ...) -> (n, *shape); backward restores the input shape."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(int(v) for v in shape)
        self.x_shape = None

    def forward(self, x, train=True):
        self.x_shape = x.shape
        return x.reshape((x.shape[0],) + self.shape)

    def infer(self, x, owned=False, out=None):
        """The same view as ``forward`` (a copy when x's layout needs one), keeping nothing."""
        return x.reshape((x.shape[0],) + self.shape), owned

    def backward(self, dout):
        if dout is None:              # below a first layer that skipped its dx (need_dx=False)
            return None
        return dout.reshape(self.x_shape)


class Flatten(Reshape):
    """x : ndarray of shape (n, c, h, w) -> (n, c * h * w)."""

    def __init__(self):
        super().__init__((-1,))
