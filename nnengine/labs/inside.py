"""Look inside a finished run: histograms of its weights and activations, its first layer as images.

The run's weights are an ``.npz`` of ``Network.state_dict()``; the network is rebuilt from the run's
config and the saved arrays are loaded into it (``nnengine.models``).  Activations are those of the
run's own test (or training) images, drawn with the run's seed exactly as the trainer drew them,
in evaluation mode.  The first layer is drawn as images: each unit of a dense first layer as a 28x28
image of its 784 input weights, each filter of a conv first layer as its k x k kernel, each unit of a
maxout first layer as its k pieces side by side (k 28x28 images, scaled together).  A maxout layer's
output (the max over its pieces) counts as an activation.
"""
from __future__ import annotations

import math

import numpy as np

from ..activations import Activation
from ..config import Config, parse_config
from ..conv import Conv2D
from ..layers import Affine, BatchNorm
from ..maxout import Maxout
from ..models import build_network, network_for_run
from ..trainer import load_splits

MAX_SAMPLES = 2000
MAX_IMAGES = 256
# Activation values kept at once for the histograms (a conv layer has channels x positions per image):
# the images used are capped so that every layer's activations together stay below this.
MAX_ACTIVATIONS = 16_000_000


def load_network(config_obj: dict | Config, npz_bytes: bytes):
    """The parsed config and the trained network (``models.network_for_run``)."""
    config = config_obj if isinstance(config_obj, Config) else parse_config(config_obj)
    return config, network_for_run(config, npz_bytes)


def _hist(values: np.ndarray, bins: int) -> dict:
    flat = values.ravel().astype(np.float64)
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return {"counts": [], "edges": [], "total": 0}
    lo, hi = float(flat.min()), float(flat.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(flat, bins=bins, range=(lo, hi))
    return {"counts": counts.astype(int).tolist(), "edges": [float(e) for e in edges], "total": int(flat.size),
            "mean": float(flat.mean()), "std": float(flat.std()),
            "zeros": int(np.count_nonzero(flat == 0)), "min": lo, "max": hi}


def first_layer_images(W: np.ndarray, limit: int = 100) -> list[list[int]]:
    """Columns of the first weight matrix (784, units) as 28x28 images, each scaled to -127..127
    by its own largest |w| (0 = zero weight); row-major lists of 784 ints.  A conv kernel W of shape
    (filters, 1, k, k) gives one k x k image (k*k ints) per filter."""
    columns = W.reshape(W.shape[0], -1).T if W.ndim == 4 else W
    images = []
    for j in range(min(columns.shape[1], limit)):
        col = columns[:, j].astype(np.float64)
        peak = float(np.max(np.abs(col))) or 1.0
        images.append(np.rint(col / peak * 127).astype(int).tolist())
    return images


def maxout_images(W: np.ndarray, pieces: int, limit: int = 100) -> list[list[int]]:
    """The pieces of a maxout first layer, W (784, pieces * units) grouped by piece (``Maxout``), as
    28x28 images: unit 0's pieces, then unit 1's, ... (``limit`` units), each unit's k images scaled to
    -127..127 by the largest |w| over all k of them, so its pieces can be compared."""
    by_unit = W.reshape(W.shape[0], pieces, -1).transpose(2, 1, 0)     # (units, pieces, 784)
    images = []
    for unit in by_unit[:limit].astype(np.float64):
        peak = float(np.max(np.abs(unit))) or 1.0
        images.extend(np.rint(unit / peak * 127).astype(int).tolist())
    return images


def _first_weights(network) -> str:
    """Key of the first layer's weights in ``network.params`` (e.g. "0.W", or "1.W" after a reshape)."""
    return next(f"{i}.W" for i, layer in enumerate(network.layers) if isinstance(layer, (Affine, Conv2D, Maxout)))


def _image_shape(W: np.ndarray) -> list[int] | None:
    """[h, w] of the images the first weights draw, or None when they do not take an image."""
    if W.ndim == 4:
        return list(W.shape[2:]) if W.shape[1] == 1 else None
    return [28, 28] if W.shape[0] == 784 else None


def initial_network(config: Config):
    """The network exactly as the trainer initialised it: the same generator, drawn in the same
    order (the split first, then the weights)."""
    rng = np.random.default_rng(config.seed)
    load_splits(config, rng)
    return build_network(config.model, config.training, rng, dtype=np.dtype(config.training.dtype))


def inspect_network(config_obj: dict | Config, npz_bytes: bytes, split: str = "test", samples: int = 1000,
                    bins: int = 30, images: int = 100, first_layer: str = "change") -> dict:
    """Per-layer histograms of weights and activations, and the first layer's weights as images.

    ``first_layer``: ``"final"`` draws the trained weights, ``"change"`` the trained minus the
    initial weights (rebuilt from the run's seed): with few epochs the random start dominates the
    final weights, while the change shows what training added.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if first_layer not in ("final", "change"):
        raise ValueError(f"first_layer must be 'final' or 'change', got {first_layer!r}")
    for name, value, hi in (("samples", samples, MAX_SAMPLES), ("bins", bins, 200), ("images", images, MAX_IMAGES)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= hi:
            raise ValueError(f"{name} must be a whole number from 1 to {hi}, got {value!r}")
    config, network = load_network(config_obj, npz_bytes)
    first = _first_weights(network)
    splits = load_splits(config, np.random.default_rng(config.seed))
    x = splits.x_test if split == "test" and len(splits.x_test) else splits.x_train
    used = "test" if x is splits.x_test else "train"
    x = x[:samples].astype(network.params[first].dtype, copy=False)
    chunk = network.chunk_rows or len(x) or 1

    activations, weights = [], []
    hidden = 0
    with np.errstate(all="ignore"):
        per_image = sum(out.size for out in _activations(network, x[:1]).values())
        x = x[:max(1, min(len(x), MAX_ACTIVATIONS // max(1, per_image)))]
        parts = [_activations(network, x[start:start + chunk]) for start in range(0, len(x), chunk)]
        for i, layer in enumerate(network.layers):
            if isinstance(layer, (Affine, Conv2D, Maxout)):
                W = layer.params["W"]
                kind = "conv " if isinstance(layer, Conv2D) else "maxout " if isinstance(layer, Maxout) else ""
                dims = (W.shape[0], layer.units, layer.pieces) if isinstance(layer, Maxout) else W.shape
                weights.append({"layer": i, "label": f"W{len(weights) + 1} {kind}{'×'.join(map(str, dims))}",
                                "shape": list(W.shape), **_hist(W, bins)})
            if isinstance(layer, (Activation, Maxout)):
                hidden += 1
                out = np.concatenate([part[i].reshape(-1) for part in parts])
                name = f"Maxout k={layer.pieces}" if isinstance(layer, Maxout) else type(layer).__name__
                activations.append({"layer": i, "label": f"layer {hidden} {name}", **_hist(out, bins)})
    batch_norm = [{"layer": i, "running_mean": _summary(l.running_mean), "running_var": _summary(l.running_var)}
                  for i, l in enumerate(network.layers) if isinstance(l, BatchNorm)]
    W1 = network.params[first]
    if first_layer == "change":
        W1 = W1.astype(np.float64) - initial_network(config).params[first].astype(np.float64)
    shape = _image_shape(W1)
    first_map = network.layers[int(first.split(".")[0])]
    drawing = {"kind": "conv" if W1.ndim == 4 else "dense"}
    if isinstance(first_map, Maxout):
        # k images per unit: at most MAX_IMAGES images in all
        units = min(images, max(1, MAX_IMAGES // first_map.pieces))
        drawing = {"kind": "maxout", "pieces": first_map.pieces, "units": first_map.units,
                   "images": maxout_images(W1, first_map.pieces, units) if shape else []}
    elif shape:
        drawing["images"] = first_layer_images(W1, images)
    return {"split": used, "samples": int(len(x)), "weights": weights, "activations": activations,
            "batch_norm": batch_norm,
            "first_layer": {"shape": list(W1.shape), "drawn": first_layer, "image_shape": shape,
                            "images": [], **drawing}}


def _activations(network, x: np.ndarray) -> dict[int, np.ndarray]:
    """The evaluation-mode output of every activation (and maxout) layer for x (n, 784), by layer index."""
    outputs = {}
    for i, layer in enumerate(network.layers):
        x = layer.forward(x, train=False)
        if isinstance(layer, (Activation, Maxout)):
            outputs[i] = x
    return outputs


def _summary(values: np.ndarray) -> dict:
    values = np.asarray(values, dtype=np.float64)
    mean, std = float(values.mean()), float(values.std())
    return {"mean": mean if math.isfinite(mean) else None, "std": std if math.isfinite(std) else None}
