"""Layers with parameters (or state): the base ``Layer``, ``Affine``, ``BatchNorm`` and ``Dropout``
(inverted or the book's style).

Protocol (see docs/internals.md):

- ``forward(x, train)`` keeps what ``backward`` needs; ``train`` is an argument, never a global.
- ``backward(dout)`` returns ``dx`` and fills ``grads`` (same keys as ``params``); it never writes into
  ``dout``.
- The arrays in ``params`` are created once and only ever changed in place (optimizers use ``-=`` and
  ``out=``), so a layer never rebinds ``self.params[k]``.  The gradient arrays are also allocated once and
  refilled in place by every ``backward``, which saves an allocation per step and keeps any reference to
  them valid.
"""
import numpy as np


class Layer:
    """Base class: ``params`` / ``grads`` dicts (empty for parameter-free layers)."""

    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x, train=True):
        """x : ndarray -> output ndarray; remembers what ``backward`` needs."""
        raise NotImplementedError

    def backward(self, dout):
        """dout : ndarray shaped like the last output -> dx shaped like the last input."""
        raise NotImplementedError

    def infer(self, x, owned=False, out=None):
        """Evaluation-mode output for a pass that will not be followed by ``backward``.

        x : ndarray; ``owned=True`` says x is a scratch array of the caller that this layer may overwrite;
        ``out`` is an optional scratch array (not overlapping x) a layer may write its output into when it
        has the output's shape and dtype.  Returns ``(y, y_owned)``: the output and whether it is a scratch
        array the next layer may overwrite.  The same numbers as ``forward(x, train=False)``; this default
        simply calls it (and so keeps that method's state).
        """
        return self.forward(x, train=False), False

    def __repr__(self):
        shapes = ", ".join(f"{k}={v.shape}" for k, v in self.params.items())
        return f"{type(self).__name__}({shapes})"


class Affine(Layer):
    """out = x @ W + b.

    W : ndarray of shape (d_in, d_out); b : ndarray of shape (d_out,).
    x : ndarray of shape (n, d_in) -> out : ndarray of shape (n, d_out).

    ``need_dx=False`` makes ``backward`` skip the ``dout @ W.T`` product and return ``None``: the first
    layer of a network has no one to pass dx to, and that product is a third of its backward cost.
    """

    def __init__(self, W, b, need_dx=True):
        super().__init__()
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ValueError(f"Affine needs W (d_in, d_out) and b (d_out,), got {W.shape} and {b.shape}")
        self.params = {"W": W, "b": b}
        self.grads = {"W": np.zeros_like(W), "b": np.zeros_like(b)}
        self.need_dx = need_dx
        self.x = None

    @property
    def W(self):
        return self.params["W"]

    @property
    def b(self):
        return self.params["b"]

    def forward(self, x, train=True):
        self.x = x  # a reference, not a copy: no layer writes into its input
        out = x @ self.params["W"]
        out += self.params["b"]
        return out

    def infer(self, x, owned=False, out=None, columns=None):
        """x @ W + b written into ``out`` when it fits (no allocation), bias added in place.

        ``columns`` (int indices into d_in): x holds only those input features, x = x_full[:, columns],
        and every other feature is 0 in every row, so it adds nothing: out = x @ W[columns] + b.
        """
        W = self.params["W"] if columns is None else self.params["W"][columns]
        shape, dtype = (x.shape[0], W.shape[1]), np.result_type(x.dtype, W.dtype)
        if out is None or out.shape != shape or out.dtype != dtype:
            out = np.empty(shape, dtype=dtype)
        np.matmul(x, W, out=out)
        out += self.params["b"]
        return out, True

    def backward(self, dout):
        np.matmul(self.x.T, dout, out=self.grads["W"])     # dW = x^T dout
        np.sum(dout, axis=0, out=self.grads["b"])         # db = sum_n dout
        if not self.need_dx:
            return None
        return dout @ self.params["W"].T                  # dx = dout W^T


class BatchNorm(Layer):
    """Batch normalization (Ioffe & Szegedy 2015): out = gamma * (x - mu) / sqrt(var + eps) + beta.

    gamma, beta : ndarray of shape (d,).  x : ndarray of shape (n, d) -> out of the same shape.
    eps : float added to the variance in training and evaluation (1e-5 by default; the book's
    ``BatchNormalization`` uses 10e-7 = 1e-6, which lets a network whose pre-activations have a tiny
    variance, e.g. weights of std 1e-4, still be normalised to unit scale).

    Training uses the batch mean / (biased) variance and updates the running estimates
    ``running = momentum * running + (1 - momentum) * batch`` (the book's convention); evaluation uses the
    running estimates.  ``running_mean`` / ``running_var`` are attributes, not params (no gradient, no
    weight decay, not touched by optimizers).
    """

    def __init__(self, gamma, beta, momentum=0.9, eps=1e-5):
        super().__init__()
        if gamma.ndim != 1 or beta.shape != gamma.shape:
            raise ValueError(f"BatchNorm needs gamma and beta of shape (d,), "
                             f"got {gamma.shape} and {beta.shape}")
        self.params = {"gamma": gamma, "beta": beta}
        self.grads = {"gamma": np.zeros_like(gamma), "beta": np.zeros_like(beta)}
        self.momentum = momentum
        self.eps = eps
        self.running_mean = np.zeros_like(gamma)
        self.running_var = np.ones_like(gamma)
        self.xhat = None
        self.inv_std = None
        self.x_eval = None

    def forward(self, x, train=True):
        gamma, beta = self.params["gamma"], self.params["beta"]
        if not train:
            # a fixed affine map: fold it into one scale and one shift (two passes over x); xhat is only
            # rebuilt if someone asks for a backward in this mode
            self.x_eval, self.xhat, self.inv_std = x, None, None
            scale = gamma / np.sqrt(self.running_var + self.eps)
            shift = beta - self.running_mean * scale
            out = x * scale
            out += shift
            return out

        mu = x.mean(axis=0)
        xhat = x - mu                                  # centred x, normalised in place below
        var = np.einsum("ij,ij->j", xhat, xhat) / x.shape[0]
        inv_std = 1.0 / np.sqrt(var + self.eps)
        xhat *= inv_std
        self.xhat, self.inv_std, self.x_eval = xhat, inv_std, None

        m = self.momentum
        self.running_mean *= m
        self.running_mean += (1.0 - m) * mu
        self.running_var *= m
        self.running_var += (1.0 - m) * var

        out = xhat * gamma
        out += beta
        return out

    def infer(self, x, owned=False, out=None):
        """The evaluation-mode affine map, in place when x is a scratch array (keeps no state)."""
        scale = self.params["gamma"] / np.sqrt(self.running_var + self.eps)
        shift = self.params["beta"] - self.running_mean * scale
        if owned:
            x *= scale
        else:
            x = x * scale
        x += shift
        return x, True

    def backward(self, dout):
        if self.x_eval is not None:
            return self._backward_eval(dout)
        xhat, inv_std, gamma = self.xhat, self.inv_std, self.params["gamma"]
        n = dout.shape[0]
        dbeta = np.sum(dout, axis=0, out=self.grads["beta"])                    # dbeta = sum_n dout
        dgamma = np.einsum("ij,ij->j", dout, xhat, out=self.grads["gamma"],
                           casting="same_kind")     # dgamma = sum_n dout*xhat
        # dx = gamma / (n * std) * (n * dout - dbeta - xhat * dgamma), built in one fresh array
        dx = xhat * (-dgamma / n)
        dx += dout
        dx -= dbeta / n
        dx *= gamma * inv_std
        return dx

    def _backward_eval(self, dout):
        """Backward of the evaluation-mode map out = gamma * (x - running_mean) * inv_std + beta."""
        inv_std = 1.0 / np.sqrt(self.running_var + self.eps)
        xhat = (self.x_eval - self.running_mean) * inv_std
        np.sum(dout, axis=0, out=self.grads["beta"])                                    # sum_n dout
        np.einsum("ij,ij->j", dout, xhat, out=self.grads["gamma"], casting="same_kind")  # sum_n dout*xhat
        return dout * (self.params["gamma"] * inv_std)                                  # dout*gamma/std


DROPOUT_STYLES = ("inverted", "book")


class Dropout(Layer):
    """Dropout (Srivastava et al. 2014): while training, zero each unit with probability p.

    ``style`` says where the 1 - p that the kept units add up to is accounted for:

    - ``"inverted"``: while training the kept units are scaled by 1 / (1 - p), so evaluation is the
      identity;
    - ``"book"``: the book's ``Dropout`` (common/layers.py): while training the kept units pass
      unscaled (out = x * mask) and evaluation multiplies by 1 - p.  Both give the same expected
      output, but in the book's style every dropout layer shrinks its training signal by 1 - p, so a
      deep network learns more slowly.

    p : float in [0, 1); rng : numpy.random.Generator (one draw of x.shape uniforms per training forward,
    so the same rng state gives the same mask in either style).  x : ndarray of any shape -> out of the
    same shape.
    """

    def __init__(self, p, rng, style="inverted"):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout p must be in [0, 1), got {p!r}")
        if style not in DROPOUT_STYLES:
            raise ValueError(f"dropout style must be one of {', '.join(DROPOUT_STYLES)}, got {style!r}")
        self.p = float(p)
        self.rng = rng
        self.style = style
        # what evaluation multiplies by (and so what the layer's eval-mode gradient is)
        self.test_scale = 1.0 - self.p if style == "book" else 1.0
        self.mask = None  # kept-unit mask in x's dtype (inverted: already scaled by 1 / (1 - p))

    def forward(self, x, train=True):
        if not train:
            self.mask = None
            return x if self.style == "inverted" else x * self.test_scale   # book: out = x * (1 - p)
        dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
        keep = self.rng.random(x.shape, dtype=dtype) >= self.p
        self.mask = keep.astype(dtype)
        if self.style == "inverted":
            self.mask *= 1.0 / (1.0 - self.p)
        return x * self.mask

    def infer(self, x, owned=False, out=None):
        """Identity at test time (inverted), or x * (1 - p), in place when x is a scratch array (book)."""
        if self.style == "inverted":
            return x, owned
        if owned:
            x *= self.test_scale
            return x, True
        return x * self.test_scale, True

    def backward(self, dout):
        if self.mask is None:  # the last forward was in evaluation mode: dx = dout * test_scale
            return dout.copy() if self.style == "inverted" else dout * self.test_scale
        return dout * self.mask                       # dx = dout * mask (inverted: keep / (1 - p))
