"""Maxout units (Goodfellow et al. 2013, "Maxout Networks", eq. 1):

    h_i(x) = max_{j in 1..k} z_ij,    z_ij = x^T W_ij + b_ij,

a hidden layer of ``units`` units, each the maximum of its own ``k`` affine pieces.  The max over
pieces is the layer's activation, learned with its weights: with k = 2 a unit can become a ReLU
(one piece 0), an absolute value or a leaky ReLU; in general any convex piecewise-linear function with
k pieces of its input's projections.  It has no separate activation.

Same Layer protocol as ``layers.py``: ``params`` / ``grads`` with the keys ``W`` and ``b`` (so a
network's weight decay, which decays the keys ending in ".W", reaches W), ``forward(x, train)`` keeps
what ``backward`` needs, ``backward(dout)`` never writes into ``dout``, and the parameter arrays are
created once and only changed in place.
"""
from __future__ import annotations

import numpy as np

from .layers import Layer

__all__ = ["Maxout"]


class Maxout(Layer):
    """out[:, i] = max_j (x @ W[:, j*units + i] + b[j*units + i]).

    W : ndarray of shape (d_in, pieces * units); b : ndarray of shape (pieces * units,).  The columns are
    grouped by piece: columns j*units .. (j+1)*units - 1 are piece j of every unit, so the whole layer is
    one matrix product z = x @ W + b of shape (n, pieces * units), viewed as (n, pieces, units).
    x : ndarray of shape (n, d_in) -> out : ndarray of shape (n, units).

    Backward: dz_ij = dout_i where piece j is unit i's maximum, else 0; then dW = x^T dz, db = sum_n dz,
    dx = dz W^T, as for an affine map.  On a tie the gradient goes to the first maximal piece (the lowest
    j), as ``np.argmax`` would pick it: the max is not differentiable there, and any one piece is a valid
    subgradient.  ``need_dx=False`` skips dx (for the first layer of a network).
    """

    def __init__(self, W, b, pieces: int, need_dx: bool = True):
        super().__init__()
        pieces = int(pieces)
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ValueError(f"Maxout needs W (d_in, pieces*units) and b (pieces*units,), got {W.shape} and {b.shape}")
        if pieces < 1 or W.shape[1] % pieces:
            raise ValueError(f"Maxout: {W.shape[1]} columns of W do not split into {pieces} pieces")
        self.params = {"W": W, "b": b}
        self.grads = {"W": np.zeros_like(W), "b": np.zeros_like(b)}
        self.pieces = pieces
        self.units = W.shape[1] // pieces
        self.need_dx = need_dx
        self.x = None
        self.arg = None          # (n, units) index of each unit's winning piece, for backward

    def _pieces(self, x):
        """z = x @ W + b as a (n, pieces, units) view."""
        z = x @ self.params["W"]
        z += self.params["b"]
        return z.reshape(x.shape[0], self.pieces, self.units)

    def _max(self, z, arg=None):
        """The running maximum over the pieces of z (n, pieces, units) -> (n, units), a fresh array.

        ``arg`` (n, units), if given, receives the index of the first maximal piece: a later piece only
        takes over when it is strictly larger.  ``np.maximum`` propagates NaN, so a diverged unit shows.
        """
        out = z[:, 0].copy()
        for j in range(1, self.pieces):
            piece = z[:, j]
            if arg is not None:
                arg[piece > out] = j
            np.maximum(out, piece, out=out)
        return out

    def forward(self, x, train=True):
        self.x = x  # a reference, not a copy: no layer writes into its input
        z = self._pieces(x)
        self.arg = np.zeros((x.shape[0], self.units), dtype=np.intp if self.pieces > 127 else np.int8)
        return self._max(z, self.arg)

    def infer(self, x, owned=False, out=None):
        """The same numbers as ``forward(x, train=False)``, keeping nothing for ``backward``."""
        return self._max(self._pieces(x)), True

    def backward(self, dout):
        n = dout.shape[0]
        dz = np.zeros((n, self.pieces, self.units), dtype=np.result_type(dout.dtype, self.params["W"].dtype))
        for j in range(self.pieces):
            np.copyto(dz[:, j], dout, where=self.arg == j)      # dz_ij = dout_i at the winning piece
        dz = dz.reshape(n, self.pieces * self.units)
        np.matmul(self.x.T, dz, out=self.grads["W"])            # dW = x^T dz
        np.sum(dz, axis=0, out=self.grads["b"])                 # db = sum_n dz
        if not self.need_dx:
            return None
        return dz @ self.params["W"].T                          # dx = dz W^T

    def piece_weights(self, W=None):
        """W (or another array shaped like it, e.g. a change of W) as (d_in, units, pieces): unit i's
        pieces side by side."""
        W = self.params["W"] if W is None else W
        return W.reshape(W.shape[0], self.pieces, self.units).transpose(0, 2, 1)

    def __repr__(self):
        return f"Maxout(units={self.units}, pieces={self.pieces}, W={self.params['W'].shape})"
