"""A sequential network: a list of layers, a loss, and L2 weight decay on the weights."""
from __future__ import annotations

import numpy as np

from .activations import get_activation
from .initializers import INITIALIZERS
from .layers import Affine, BatchNorm, Dropout, Layer
from .losses import get_loss


class Network:
    """Layers applied in order, then a loss that owns the output function.

    ``params`` and ``grads`` are flat dicts ``"<layer index>.<key>"`` holding the layers' own
    arrays, so an optimizer that updates ``params`` in place updates the layers.
    """

    def __init__(self, layers: list[Layer], loss, weight_decay: float = 0.0):
        self.layers = layers
        self.loss_fn = loss
        self.weight_decay = weight_decay
        self.params = {f"{i}.{key}": value
                       for i, layer in enumerate(layers) for key, value in layer.params.items()}
        # Only weight matrices are decayed (not biases, not batch-norm gamma/beta), as in the book.
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

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities of shape (n, k) in evaluation mode."""
        return self.loss_fn.predict(self.forward(x, train=False))

    def evaluate(self, x: np.ndarray, t: np.ndarray, chunk: int = 8192) -> tuple[float, float]:
        """Mean data loss and accuracy in evaluation mode, computed in chunks of rows."""
        if len(x) == 0:
            return float("nan"), float("nan")
        return self.evaluate_rows(x, t, [(0, len(x))], chunk)[0]

    def evaluate_rows(self, x: np.ndarray, t: np.ndarray, segments: list[tuple[int, int]],
                      chunk: int = 8192, scratch: Scratch | None = None) -> list[tuple[float, float]]:
        """Mean data loss and accuracy of each row range ``(start, stop)`` of x, from one evaluation-mode
        pass over all the rows (in chunks of ``chunk`` rows).

        x : ndarray of shape (n, d); t : integer labels of shape (n,); the segments must be non-empty.
        Keeps no state in the layers or the loss (a pending ``backward`` is not disturbed); ``scratch``
        holds the work arrays, so repeated calls allocate nothing large.
        """
        scratch = scratch if scratch is not None else Scratch()
        n = len(x)
        losses = correct = None
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            scores = self.infer(x[start:stop], scratch)
            ts = t[start:stop]
            loss = self.loss_fn.per_sample(scores, ts)
            if losses is None:
                losses, correct = np.empty(n, dtype=loss.dtype), np.empty(n, dtype=bool)
            losses[start:stop] = loss
            np.equal(scores.argmax(axis=1), ts, out=correct[start:stop])
        return [(float(losses[a:b].sum()) / (b - a), int(np.count_nonzero(correct[a:b])) / (b - a))
                for a, b in segments]

    def infer(self, x: np.ndarray, scratch: Scratch | None = None) -> np.ndarray:
        """Evaluation-mode scores of shape (n, k) for x of shape (n, d), the same numbers as
        ``forward(x, train=False)``, computed without keeping state for ``backward``: affine outputs go
        into the two work arrays of ``scratch`` in turn and ReLU / batch norm work in place on them.
        The result is a view of a work array, valid until the next call with the same scratch.
        """
        scratch = scratch if scratch is not None else Scratch()
        owned = False
        for layer in self.layers:
            out = None
            if isinstance(layer, Affine):
                W = layer.params["W"]
                slot = 1 if scratch.holds(x, 0) else 0   # never write over the input
                out = scratch.get(slot, (x.shape[0], W.shape[1]), np.result_type(x.dtype, W.dtype))
            x, owned = layer.infer(x, owned, out)
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


class Scratch:
    """Two flat work arrays per dtype that evaluation passes reuse (layer outputs alternate between them)."""

    def __init__(self):
        self.arrays: dict[tuple[int, np.dtype], np.ndarray] = {}

    def get(self, slot: int, shape: tuple[int, int], dtype) -> np.ndarray:
        """A C-contiguous array of ``shape`` and ``dtype`` on work array ``slot`` (0 or 1)."""
        key, size = (slot, np.dtype(dtype)), shape[0] * shape[1]
        flat = self.arrays.get(key)
        if flat is None or flat.size < size:
            flat = self.arrays[key] = np.empty(size, dtype=dtype)
        return flat[:size].reshape(shape)

    def holds(self, x: np.ndarray, slot: int) -> bool:
        """Whether x may share memory with a work array of ``slot``."""
        return any(np.may_share_memory(x, flat) for (s, _), flat in self.arrays.items() if s == slot)


class StackedEvaluation:
    """Loss and accuracy of several (x, t) sets with one evaluation-mode pass over their rows, stacked
    once: one large matrix product per layer instead of one per set, and no allocation per call.

    sets : list of (x (n_i, d), t (n_i,)); empty sets are allowed (their results are NaN).
    ``x`` / ``t`` are the stacked arrays (in ``dtype``) and ``views(i)`` gives set i's rows of them, so a
    caller can train on those views without keeping a second copy of the data.
    """

    def __init__(self, network: Network, sets: list[tuple[np.ndarray, np.ndarray]], dtype=None,
                 chunk: int = 8192):
        self.network = network
        self.chunk = chunk
        dtype = np.dtype(dtype) if dtype is not None else np.result_type(*(x.dtype for x, _ in sets))
        self.x = np.concatenate([np.asarray(x, dtype=dtype) for x, _ in sets], axis=0)
        self.t = np.concatenate([np.asarray(t) for _, t in sets], axis=0)
        stops = np.cumsum([len(x) for x, _ in sets]).tolist()
        self.bounds = list(zip([0] + stops[:-1], stops))
        self.segments = [(a, b) for a, b in self.bounds if b > a]
        self.scratch = Scratch()

    def views(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.bounds[i]
        return self.x[a:b], self.t[a:b]

    def __call__(self) -> list[tuple[float, float]]:
        """[(mean loss, accuracy)] per set, in the order given (NaN, NaN for an empty set)."""
        results = iter(self.network.evaluate_rows(self.x, self.t, self.segments, self.chunk, self.scratch)
                       if self.segments else [])
        nan = (float("nan"), float("nan"))
        return [next(results) if b > a else nan for a, b in self.bounds]


def build_network(model, training, rng: np.random.Generator, n_in: int = 784, n_out: int = 10,
                  dtype=np.float32) -> Network:
    """Build the network a ``ModelConfig`` describes.

    Each hidden layer is Affine -> [BatchNorm] -> activation -> [Dropout]; batch norm sits
    between the affine map and the activation, dropout follows the activation.
    """
    init = INITIALIZERS[model.weight_init]
    layers: list[Layer] = []
    fan_in = n_in
    for spec in model.hidden_layers:
        layers.append(_affine(init, fan_in, spec.units, rng, model.weight_init_std, dtype,
                              need_dx=bool(layers)))
        if spec.batch_norm:
            layers.append(BatchNorm(np.ones(spec.units, dtype=dtype), np.zeros(spec.units, dtype=dtype)))
        # ReLU overwrites its input, the fresh output of the Affine / BatchNorm before it
        layers.append(get_activation(spec.activation, **({"inplace": True} if spec.activation == "relu" else {})))
        if spec.dropout > 0:
            layers.append(Dropout(spec.dropout, rng))
        fan_in = spec.units
    layers.append(_affine(init, fan_in, n_out, rng, model.weight_init_std, dtype, need_dx=bool(layers)))
    return Network(layers, get_loss(model.loss), weight_decay=training.weight_decay)


def _affine(init, n_in: int, n_out: int, rng, std: float, dtype, need_dx: bool) -> Affine:
    W = init(n_in, n_out, rng, std, dtype)
    # The first layer's input gradient is never used in training: skip that matmul.
    return Affine(np.ascontiguousarray(W, dtype=dtype), np.zeros(n_out, dtype=dtype), need_dx=need_dx)
