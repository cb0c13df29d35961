"""Losses, each owning its output function.

Every loss object:
    forward(scores, t) -> float      scores : ndarray of shape (n, k); t : int labels of shape (n,)
                                     (one-hot targets of shape (n, k) are accepted too); mean over the batch
    backward() -> dscores (n, k)     gradient of that mean loss with respect to the scores
    predict(scores) -> (n, k)        the output function (softmax / identity / sigmoid)
    per_sample(scores, t) -> (n,)    the loss of each row (their mean is forward's value); keeps no state,
                                     so evaluation does not disturb a pending backward
"""
import numpy as np

from .activations import _sigmoid_and_z, log_softmax, softmax


def _labels(t, k):
    """Integer labels (n,) from int labels or one-hot rows (n, k)."""
    t = np.asarray(t)
    if t.ndim == 2:
        if t.shape[1] != k:
            raise ValueError(f"one-hot targets have {t.shape[1]} columns, scores have {k}")
        return t.argmax(axis=1)
    return t


def _one_hot(t, k, dtype):
    """(n, k) matrix with a 1 at (i, t_i)."""
    y = np.zeros((t.shape[0], k), dtype=dtype)
    y[np.arange(t.shape[0]), t] = 1
    return y


class CrossEntropy:
    """Softmax output + cross-entropy: L = -mean_n log softmax(s_n)[t_n].

    Uses log-softmax (log-sum-exp) so no probability is ever rounded to log(0).
    dL/ds = (softmax(s) - onehot(t)) / n.
    """

    def __init__(self):
        self.probs = None
        self.t = None

    def forward(self, scores, t):
        n, k = scores.shape
        self.t = _labels(t, k)
        log_p = log_softmax(scores)
        loss = -log_p[np.arange(n), self.t].sum() / n
        self.probs = np.exp(log_p, out=log_p)
        return float(loss)

    def per_sample(self, scores, t):
        """-log softmax(s_n)[t_n] = log sum_j exp(s_nj - max s_n) - (s_n[t_n] - max s_n), shape (n,)."""
        n, k = scores.shape
        t = _labels(t, k)
        # column-major: the reductions over each row's few classes then run as vectorised loops over rows
        scores = np.asfortranarray(scores)
        shifted = scores - scores.max(axis=1, keepdims=True)
        picked = shifted[np.arange(n), t]
        np.exp(shifted, out=shifted)
        loss = np.log(shifted.sum(axis=1))
        loss -= picked
        return loss

    def backward(self):
        n = self.probs.shape[0]
        dscores = self.probs.copy()
        dscores[np.arange(n), self.t] -= 1.0
        dscores /= n
        return dscores

    def predict(self, scores):
        return softmax(scores)


class MeanSquaredError:
    """Identity output + squared error: L = mean_n 0.5 * sum_k (s_nk - onehot(t)_nk)^2.

    dL/ds = (s - onehot(t)) / n.
    """

    def __init__(self):
        self.diff = None

    def forward(self, scores, t):
        n, k = scores.shape
        self.diff = scores - _one_hot(_labels(t, k), k, scores.dtype)
        return float(0.5 * np.einsum("ij,ij->", self.diff, self.diff) / n)

    def per_sample(self, scores, t):
        """0.5 * sum_k (s_nk - onehot(t)_nk)^2, shape (n,)."""
        n, k = scores.shape
        diff = scores - _one_hot(_labels(t, k), k, scores.dtype)
        return 0.5 * np.einsum("ij,ij->i", diff, diff)

    def backward(self):
        return self.diff / self.diff.shape[0]

    def predict(self, scores):
        return scores.copy()


class BinaryCrossEntropy:
    """Sigmoid outputs + per-class binary cross-entropy against one-hot targets, summed over classes and
    averaged over the batch:  L = mean_n sum_k [-y log sigmoid(s) - (1 - y) log(1 - sigmoid(s))].

    Computed from the logits: -y log s(x) - (1-y) log(1-s(x)) = softplus(x) - y x
    = max(x, 0) - y x + log1p(exp(-|x|)), finite for any x.  dL/ds = (sigmoid(s) - y) / n.
    """

    def __init__(self):
        self.probs = None
        self.y = None

    def forward(self, scores, t):
        n, k = scores.shape
        self.y = _one_hot(_labels(t, k), k, scores.dtype)
        self.probs, z = _sigmoid_and_z(scores)
        per_unit = np.maximum(scores, 0.0) - self.y * scores + np.log1p(z)
        return float(per_unit.sum() / n)

    def per_sample(self, scores, t):
        """sum_k [max(s, 0) - y s + log1p(exp(-|s|))], shape (n,)."""
        n, k = scores.shape
        y = _one_hot(_labels(t, k), k, scores.dtype)
        z = np.exp(-np.abs(scores))
        per_unit = np.maximum(scores, 0.0) - y * scores + np.log1p(z)
        return per_unit.sum(axis=1)

    def backward(self):
        return (self.probs - self.y) / self.y.shape[0]

    def predict(self, scores):
        return _sigmoid_and_z(scores)[0]


LOSSES = {
    "cross_entropy": CrossEntropy,
    "mean_squared_error": MeanSquaredError,
    "binary_cross_entropy": BinaryCrossEntropy,
}


def get_loss(name):
    """A new loss object ``name``; ValueError listing the known names otherwise."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; known: {', '.join(LOSSES)}")
    return LOSSES[name]()
