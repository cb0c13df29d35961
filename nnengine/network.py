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
        total_loss = 0.0
        correct = 0
        for start in range(0, len(x), chunk):
            xs, ts = x[start:start + chunk], t[start:start + chunk]
            scores = self.forward(xs, train=False)
            total_loss += self.loss_fn.forward(scores, ts) * len(xs)
            correct += int(np.count_nonzero(scores.argmax(axis=1) == ts))
        return total_loss / len(x), correct / len(x)

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
        layers.append(get_activation(spec.activation))
        if spec.dropout > 0:
            layers.append(Dropout(spec.dropout, rng))
        fan_in = spec.units
    layers.append(_affine(init, fan_in, n_out, rng, model.weight_init_std, dtype, need_dx=bool(layers)))
    return Network(layers, get_loss(model.loss), weight_decay=training.weight_decay)


def _affine(init, n_in: int, n_out: int, rng, std: float, dtype, need_dx: bool) -> Affine:
    W = init(n_in, n_out, rng, std, dtype)
    # The first layer's input gradient is never used in training: skip that matmul.
    return Affine(np.ascontiguousarray(W, dtype=dtype), np.zeros(n_out, dtype=dtype), need_dx=need_dx)
