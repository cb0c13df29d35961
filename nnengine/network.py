"""A sequential network: a list of layers, a loss, and L2 weight decay on the weights (matrices and kernels).

How a network is built from a config or a model file is ``nnengine.models``; its fast evaluation
over many rows is ``nnengine.evaluation``.
"""
from __future__ import annotations

import numpy as np

from .evaluation import evaluate_rows
from .layers import Affine, BatchNorm, Layer
from .scratch import Scratch


class Network:
    """Layers applied in order, then a loss that owns the output function.

    ``params`` and ``grads`` are flat dicts ``"<layer index>.<key>"`` holding the layers' own
    arrays, so an optimizer that updates ``params`` in place updates the layers.
    """

    def __init__(self, layers: list[Layer], loss, weight_decay: float = 0.0, chunk_rows: int | None = None):
        self.layers = layers
        self.loss_fn = loss
        self.weight_decay = weight_decay
        # at most this many rows per evaluation chunk (conv layers unfold every row into many numbers)
        self.chunk_rows = chunk_rows
        self.params = {f"{i}.{key}": value
                       for i, layer in enumerate(layers) for key, value in layer.params.items()}
        # Every key ending in ".W" is decayed: the affine weight matrices, as in the book, and the conv
        # kernels (not biases, not batch-norm gamma/beta).
        self.decayed = [key for key in self.params if key.endswith(".W")]

    @property
    def grads(self) -> dict[str, np.ndarray]:
        return {f"{i}.{key}": value
                for i, layer in enumerate(self.layers) for key, value in layer.grads.items()}

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        """x : ndarray of shape (n, d) -> scores of shape (n, k)."""
        for layer in self.layers:
            x = layer.forward(x, train)
        return x

    def penalty(self) -> float:
        """0.5 * weight_decay * sum of squared weights."""
        if not self.weight_decay:
            return 0.0
        return 0.5 * self.weight_decay * sum(float(np.vdot(self.params[k], self.params[k]))
                                              for k in self.decayed)

    def loss(self, x: np.ndarray, t: np.ndarray, train: bool = True) -> float:
        """Data loss plus the weight-decay penalty. x : (n, d), t : (n,) integer labels."""
        scores = self.forward(x, train)
        return self.loss_fn.forward(scores, t) + self.penalty()

    def backward(self) -> None:
        """Backpropagate the last ``loss`` call; fills every layer's ``grads``."""
        dout = self.loss_fn.backward()
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        if self.weight_decay:
            grads = self.grads
            for key in self.decayed:
                grads[key] += self.weight_decay * self.params[key]

    def input_gradient(self, x: np.ndarray, target, of: str = "score") -> np.ndarray:
        """The gradient of each row's score or loss with respect to that row, in evaluation mode.

        x : ndarray of shape (n, d); target : int, or int ndarray of shape (n,), a class per row.
        ``of="score"``: d s_t(x_i) / d x_i, s the scores before the loss's output function (the logits
        of a softmax); ``of="loss"``: d L(x_i, t_i) / d x_i, the data loss of row i alone (weight decay
        does not depend on x).  Evaluation mode makes the rows independent (batch norm uses its running
        statistics, dropout its test-time scale), so row i of the result depends on row i alone.
        Returns an ndarray of shape (n, d).  Overwrites the layers' ``grads`` (a backward pass).
        """
        x = np.asarray(x)
        if x.ndim != 2:
            raise ValueError(f"x must have shape (n, d), got {x.shape}")
        n = x.shape[0]
        scores = self.forward(x, train=False)
        t = np.broadcast_to(np.asarray(target), (n,))
        if not np.issubdtype(t.dtype, np.integer) or t.size and (t.min() < 0 or t.max() >= scores.shape[1]):
            raise ValueError(f"target must hold classes 0 to {scores.shape[1] - 1}, got {np.asarray(target)!r}")
        if of == "score":
            dout = np.zeros_like(scores)
            dout[np.arange(n), t] = 1.0                       # d s_t / d s = one-hot of t
        elif of == "loss":
            self.loss_fn.forward(scores, t.astype(np.int64))
            dout = self.loss_fn.backward() * n                # the mean's gradient, times n: each row's own
        else:
            raise ValueError(f"of must be 'score' or 'loss', got {of!r}")
        # The first layer with weights skips its dx while training (nothing below needs it); here x does.
        first = next((layer for layer in self.layers if hasattr(layer, "need_dx")), None)
        skipped = first.need_dx if first is not None else True
        try:
            if first is not None:
                first.need_dx = True
            for layer in reversed(self.layers):
                dout = layer.backward(dout)
        finally:
            if first is not None:
                first.need_dx = skipped
        return dout.reshape(x.shape)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities of shape (n, k) in evaluation mode."""
        return self.loss_fn.predict(self.forward(x, train=False))

    def evaluate(self, x: np.ndarray, t: np.ndarray, chunk: int = 8192) -> tuple[float, float]:
        """Mean data loss and accuracy in evaluation mode, computed in chunks of rows."""
        if len(x) == 0:
            return float("nan"), float("nan")
        return evaluate_rows(self, x, t, [(0, len(x))], chunk)[0]

    def infer(self, x: np.ndarray, scratch: Scratch | None = None, columns: np.ndarray | None = None
              ) -> np.ndarray:
        """Evaluation-mode scores of shape (n, k) for x of shape (n, d), the same numbers as
        ``forward(x, train=False)``, computed without keeping state for ``backward``: affine outputs go
        into the two work arrays of ``scratch`` in turn and ReLU / batch norm work in place on them.
        The result is a view of a work array, valid until the next call with the same scratch.

        ``columns``: x holds only these input features (the others are zero in every row); the first
        layer must then be an ``Affine``, which multiplies by those rows of its W only.
        """
        scratch = scratch if scratch is not None else Scratch()
        owned = False
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Affine):
                W = layer.params["W"]
                slot = 1 if scratch.holds(x, 0) else 0   # never write over the input
                out = scratch.get(slot, (x.shape[0], W.shape[1]), np.result_type(x.dtype, W.dtype))
                x, owned = layer.infer(x, owned, out, columns=columns if i == 0 else None)
            elif i == 0 and columns is not None:
                raise ValueError("columns needs an Affine first layer")
            else:
                x, owned = layer.infer(x, owned)
        return x

    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters plus batch-norm running statistics, for saving as ``.npz``."""
        state = {key: value.copy() for key, value in self.params.items()}
        for i, layer in enumerate(self.layers):
            if isinstance(layer, BatchNorm):
                state[f"{i}.running_mean"] = layer.running_mean.copy()
                state[f"{i}.running_var"] = layer.running_var.copy()
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy saved arrays into the existing ones (shapes must match)."""
        for key, value in self.params.items():
            if key not in state or state[key].shape != value.shape:
                raise ValueError(f"saved weights do not match this network at '{key}'")
            value[...] = state[key]
        for i, layer in enumerate(self.layers):
            if isinstance(layer, BatchNorm) and f"{i}.running_mean" in state:
                layer.running_mean = np.asarray(state[f"{i}.running_mean"], dtype=layer.running_mean.dtype)
                layer.running_var = np.asarray(state[f"{i}.running_var"], dtype=layer.running_var.dtype)
