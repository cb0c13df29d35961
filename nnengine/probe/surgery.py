"""Neuron surgery: switch off units of a network's hidden layers and see what it still knows.

A hidden layer is one block of the network: a dense layer's Affine -> [BatchNorm] -> activation ->
[Dropout], a maxout layer's Maxout -> [Dropout], a conv layer's Conv2D -> [BatchNorm] -> activation ->
[Dropout].  Its units are the outputs of the block: the activations of a dense layer, the maxima of a
maxout layer (switching a maxout unit off silences all of its pieces), the feature maps (channels) of a
conv layer.  A unit switched off outputs 0 for every input, as if it had been cut out of the network.

``Surgery`` evaluates the test images with any set of units off, starting from the activations just
below the first layer that has a unit off (kept from the last call, so clicking units of the same layer
again costs the layers above it only), and ranks a layer's units by how much test accuracy drops when
each one alone is switched off (Morcos et al. 2018, "On the importance of single directions").
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..blas import blas_threads
from ..conv import Conv2D, MaxPool2D, Reshape
from ..layers import Affine
from ..maxout import Maxout
from .cost import forward_cost
from .settings import SettingsError
from .subjects import Subject, as_probabilities

# Activations kept between calls, at most (bytes): the test images' input to the first cut layer.
CACHE_BYTES = 64 * 2**20
# Multiply-adds one ranking may spend: images x units x (the layers above) stays within it.
RANK_BUDGET = 4e9
RANK_IMAGES = (100, 1000)           # the fewest and most test images a ranking uses


@dataclass(frozen=True)
class HiddenLayer:
    """Hidden layer ``index`` (0 = the first): its kind ("dense", "maxout", "conv"), its units (or
    channels), and ``end``, the position in ``network.layers`` of the block's last layer (the units are
    its output)."""

    index: int
    kind: str
    units: int
    end: int
    label: str

    def to_dict(self) -> dict:
        return {"index": self.index, "kind": self.kind, "units": self.units, "label": self.label}


def hidden_layers(network) -> list[HiddenLayer]:
    """The blocks of the network below its output layer (module docstring), in order."""
    layers = network.layers
    starts = [i for i, layer in enumerate(layers) if isinstance(layer, (Affine, Maxout, Conv2D))][:-1]
    found = []
    for n, start in enumerate(starts):
        end = start
        while (end + 1 < len(layers) and not isinstance(layers[end + 1], (Affine, Maxout, Conv2D, MaxPool2D,
                                                                          Reshape))):
            end += 1
        first = layers[start]
        names = [type(layer).__name__ for layer in layers[start + 1:end + 1]]
        if isinstance(first, Conv2D):
            fn, c, kh, kw = first.params["W"].shape
            kind, units, label = "conv", fn, f"conv {fn} filters {kh}x{kw}"
        elif isinstance(first, Maxout):
            kind, units, label = "maxout", first.units, f"maxout {first.units} units x {first.pieces} pieces"
        else:
            units = first.params["W"].shape[1]
            activation = next((name for name in names if name not in ("BatchNorm", "Dropout")), "")
            kind, label = "dense", f"dense {units} {activation.lower()}".rstrip()
        if "BatchNorm" in names or "SpatialBatchNorm" in names:
            label += " + batch norm"
        if "Dropout" in names:
            label += " + dropout"
        found.append(HiddenLayer(n, kind, units, end, label))
    return found


class Surgery:
    """Evaluates a subject's test images with units switched off.

    ``off`` arguments are ``{layer index: unit indices}``; ``evaluate(off)`` -> (accuracy, mean loss);
    ``scores(x, off)`` for any rows; ``rank(layer)`` orders that layer's units by importance.
    Not thread-safe (it keeps activations between calls): one per subject, used under its lock.
    """

    def __init__(self, subject: Subject, max_images: int | None = None):
        self.subject = subject
        self.network = subject.network
        self.layers = hidden_layers(self.network)
        self.x = subject.rows(subject.x_test[:max_images])
        self.t = subject.t_test[:max_images]
        self._kept: tuple[int, np.ndarray] | None = None      # (layer position, its input on self.x)
        self._ranks: dict[int, dict] = {}
        self._intact: tuple[float, float] | None = None

    # ------------------------------------------------------------ which units are off

    def check(self, off) -> dict[int, np.ndarray]:
        """``off`` as {layer index: sorted unique unit indices}; raises ``SettingsError`` naming a layer
        or unit that does not exist."""
        if off is None:
            return {}
        if not isinstance(off, dict):
            raise SettingsError([{"field": "off", "message": "must map a hidden layer's index to a list of units"}])
        checked, errors = {}, []
        for key, units in off.items():
            try:
                index = int(key)
            except (TypeError, ValueError):
                index = -1
            if not 0 <= index < len(self.layers) or str(key).strip() != str(index):
                errors.append({"field": f"off.{key}", "message": f"there is no hidden layer {key!r}; "
                                                                  f"the layers are 0 to {len(self.layers) - 1}"})
                continue
            size = self.layers[index].units
            if isinstance(units, np.ndarray):
                units = units.tolist()
            if not isinstance(units, (list, tuple)) or not all(
                    isinstance(u, (int, np.integer)) and not isinstance(u, bool) and 0 <= u < size for u in units):
                errors.append({"field": f"off.{key}", "message": f"must list units 0 to {size - 1} of layer "
                                                                  f"{index}, got {str(units)[:80]}"})
                continue
            if units:
                checked[index] = np.unique(np.asarray(units, dtype=np.int64))
        if errors:
            raise SettingsError(errors)
        return checked

    # ------------------------------------------------------------ forward passes

    def _run(self, x: np.ndarray, start: int, stop: int, off: dict[int, np.ndarray]) -> np.ndarray:
        """Evaluation-mode output of ``network.layers[start:stop]`` on x, the units ``off`` zeroed at
        the end of their blocks."""
        ends = {layer.end: off[layer.index] for layer in self.layers if layer.index in off}
        owned = False
        for i in range(start, stop):
            x, owned = self.network.layers[i].infer(x, owned)
            if i in ends:
                if not owned:
                    x, owned = x.copy(), True
                x[:, ends[i]] = 0                  # (n, units) or (n, channels, h, w)
        return x

    def scores(self, x: np.ndarray, off=None) -> np.ndarray:
        """Scores (n, 10) of rows x (n, 784) with the units ``off`` switched off."""
        off = self.check(off)
        x = self.subject.rows(x)
        step = self.subject.chunk
        n_layers = len(self.network.layers)
        return np.concatenate([self._run(x[i:i + step], 0, n_layers, off) for i in range(0, len(x), step)])

    def probabilities(self, x: np.ndarray, off=None) -> np.ndarray:
        """Class probabilities (n, 10) of rows x with the units ``off`` switched off."""
        scores = self.scores(x, off)
        return as_probabilities(self.network.loss_fn.predict(scores))

    def _test_from(self, position: int) -> np.ndarray:
        """The test images' input to ``network.layers[position]`` (intact below it): kept from the last
        call when it asked for the same position, else computed (and kept if small enough)."""
        if self._kept is not None and self._kept[0] == position:
            return self._kept[1]
        below = self._chunked(self.x, 0, position, {})
        self._kept = (position, below) if below.nbytes <= CACHE_BYTES else None
        return below

    def _chunked(self, x, start, stop, off):
        step = self.subject.chunk
        parts = [self._run(x[i:i + step], start, stop, off) for i in range(0, len(x), step)]
        return np.concatenate(parts) if parts else x[:0]

    def _start(self, off: dict[int, np.ndarray]) -> int:
        """Where the first layer with units off begins (the position after the block below it)."""
        if not off:
            return len(self.network.layers)
        first = min(off)
        return self.layers[first - 1].end + 1 if first else 0

    def evaluate(self, off=None) -> tuple[float, float]:
        """(accuracy, mean loss) on the test images with the units ``off`` switched off."""
        off = self.check(off)
        if len(self.t) == 0:
            return float("nan"), float("nan")
        if not off:
            if self._intact is None:           # asked for alongside every cut: kept apart from those
                with blas_threads.limit(1):
                    self._intact = _accuracy_and_loss(self.network, self._chunked(self.x, 0, len(self.network.layers),
                                                                                  {}), self.t)
            return self._intact
        with blas_threads.limit(1):
            start = self._start(off)
            below = self._test_from(start)
            scores = self._chunked(below, start, len(self.network.layers), off)
        return _accuracy_and_loss(self.network, scores, self.t)

    # ------------------------------------------------------------ ranking

    def rank(self, index: int) -> dict:
        """The units of hidden layer ``index`` from the most important to the least: for each, the test
        accuracy (and mean loss) with that unit alone switched off, all others on.

        Returns {"layer", "units": [{"unit", "accuracy", "drop", "loss"}] most important first (largest
        accuracy drop, then largest loss), "accuracy": the intact network's, "images": how many test
        images (fewer than the subject's when the layers above are costly, see RANK_BUDGET)}."""
        self.check({index: []})                # a layer that does not exist is refused
        if index in self._ranks:
            return self._ranks[index]
        layer = self.layers[index]
        with blas_threads.limit(1):
            n = self._rank_images(layer)
            x, t = self.x[:n], self.t[:n]
            block = self._chunked(x, 0, layer.end + 1, {})        # the layer's units on these images
            base_acc, base_loss = _accuracy_and_loss(self.network, self._chunked(block, layer.end + 1,
                                                                                  len(self.network.layers), {}), t)
            results = []
            for unit in range(layer.units):
                cut = block.copy()
                cut[:, unit] = 0
                acc, loss = _accuracy_and_loss(self.network, self._chunked(cut, layer.end + 1,
                                                                           len(self.network.layers), {}), t)
                results.append({"unit": unit, "accuracy": acc, "drop": base_acc - acc, "loss": loss})
        results.sort(key=lambda r: (-r["drop"], -r["loss"], r["unit"]))
        ranked = {"layer": index, "units": results, "accuracy": base_acc, "loss": base_loss, "images": int(n)}
        self._ranks[index] = ranked
        return ranked

    def _rank_images(self, layer: HiddenLayer) -> int:
        """Test images a ranking of ``layer`` uses: within RANK_BUDGET multiply-adds for all its units."""
        above = forward_cost(self.network, layer.end + 1)
        fits = int(RANK_BUDGET // max(1, above * layer.units))
        lo, hi = RANK_IMAGES
        return min(len(self.t), max(lo, min(hi, fits)))


def _accuracy_and_loss(network, scores: np.ndarray, t: np.ndarray) -> tuple[float, float]:
    correct = np.mean(scores.argmax(axis=1) == t)
    loss = np.mean(network.loss_fn.per_sample(scores, t))
    return float(correct), float(loss)
