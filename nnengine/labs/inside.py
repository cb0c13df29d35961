"""Look inside a finished run: histograms of its weights and activations, its first layer as images.

The run's weights are an ``.npz`` of ``Network.state_dict()``; the network is rebuilt from the run's
config with ``build_network`` and the saved arrays are loaded into it.  Activations are those of the
run's own test (or training) images, drawn with the run's seed exactly as the trainer drew them,
in evaluation mode.
"""
from __future__ import annotations

import io
import math

import numpy as np

from ..activations import Activation
from ..config import Config, parse_config
from ..layers import Affine, BatchNorm
from ..network import build_network
from ..trainer import load_splits

MAX_SAMPLES = 2000
MAX_IMAGES = 256


def load_network(config_obj: dict | Config, npz_bytes: bytes):
    """The trained network: built from the config, then the saved arrays copied in."""
    config = config_obj if isinstance(config_obj, Config) else parse_config(config_obj)
    dtype = np.dtype(config.training.dtype)
    network = build_network(config.model, config.training, np.random.default_rng(config.seed), dtype=dtype)
    with np.load(io.BytesIO(npz_bytes), allow_pickle=False) as saved:
        network.load_state_dict({key: saved[key] for key in saved.files})
    return config, network


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
    by its own largest |w| (0 = zero weight); row-major lists of 784 ints."""
    images = []
    for j in range(min(W.shape[1], limit)):
        col = W[:, j].astype(np.float64)
        peak = float(np.max(np.abs(col))) or 1.0
        images.append(np.rint(col / peak * 127).astype(int).tolist())
    return images


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
    splits = load_splits(config, np.random.default_rng(config.seed))
    x = splits.x_test if split == "test" and len(splits.x_test) else splits.x_train
    used = "test" if x is splits.x_test else "train"
    x = x[:samples].astype(network.params["0.W"].dtype, copy=False)

    activations, weights = [], []
    hidden = 0
    with np.errstate(all="ignore"):
        out = x
        for i, layer in enumerate(network.layers):
            out = layer.forward(out, train=False)
            if isinstance(layer, Affine):
                weights.append({"layer": i, "label": f"W{len(weights) + 1} {layer.W.shape[0]}×{layer.W.shape[1]}",
                                "shape": list(layer.W.shape), **_hist(layer.W, bins)})
            elif isinstance(layer, Activation):
                hidden += 1
                activations.append({"layer": i, "label": f"layer {hidden} {type(layer).__name__}",
                                    **_hist(out, bins)})
    batch_norm = [{"layer": i, "running_mean": _summary(l.running_mean), "running_var": _summary(l.running_var)}
                  for i, l in enumerate(network.layers) if isinstance(l, BatchNorm)]
    W1 = network.params["0.W"]
    if first_layer == "change":
        W1 = W1.astype(np.float64) - initial_network(config).params["0.W"].astype(np.float64)
    return {"split": used, "samples": int(len(x)), "weights": weights, "activations": activations,
            "batch_norm": batch_norm,
            "first_layer": {"shape": list(W1.shape), "drawn": first_layer, "image_shape": [28, 28] if W1.shape[0] == 784 else None,
                            "images": first_layer_images(W1, images) if W1.shape[0] == 784 else []}}


def _summary(values: np.ndarray) -> dict:
    values = np.asarray(values, dtype=np.float64)
    mean, std = float(values.mean()), float(values.std())
    return {"mean": mean if math.isfinite(mean) else None, "std": std if math.isfinite(std) else None}
