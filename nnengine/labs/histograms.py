"""Activation histograms of the book's random network (§6.2.2, ``weight_init_activation_histogram.py``).

1,000 inputs x ~ N(0, 1) of 100 dimensions go through 5 layers of 100 units, each
``a = z @ W`` (no bias, as in the book) followed by the activation; W comes from an initializer of
``nnengine.initializers`` (``std`` with a given standard deviation, ``xavier``, ``he``).  Every
layer's 100,000 activations are counted into ``bins`` bins over a fixed range (the book uses 30 bins
over (0, 1)); values outside the range are counted in the first or last bin and reported separately
as ``below`` / ``above``, so each layer's counts sum to the number of activations.

``"maxout"`` takes the place of the activation with a layer of its own weights: each of the 100 units
is the max of ``pieces`` affine maps of the previous layer, h = max_j x @ W_j (``nnengine.maxout``,
no bias), every W_j drawn from the same initializer with fan-in ``units``.
"""
from __future__ import annotations

import math

import numpy as np

from ..activations import ACTIVATIONS, get_activation
from ..config import LIMITS as CONFIG_LIMITS
from ..initializers import INITIALIZERS
from ..maxout import Maxout

BOOK = {"samples": 1000, "units": 100, "layers": 5, "bins": 30, "activation": "sigmoid", "seed": 0}
# The four weight scales the book compares (§6.2.2-6.2.3).
BOOK_INITS = [
    {"init": "std", "std": 1.0, "label": "std 1"},
    {"init": "std", "std": 0.01, "label": "std 0.01"},
    {"init": "xavier", "label": "Xavier (1/√n)"},
    {"init": "he", "label": "He (√(2/n))"},
]
# Histogram ranges that show each activation's story: sigmoid's (0, 1) saturation, tanh's (-1, 1);
# ReLU on (0, 1) like the book (larger values go in the last bin and are reported as "above").
RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, 1.0), "hard_sigmoid": (0.0, 1.0),
          "hard_tanh": (-1.0, 1.0), "softsign": (-1.0, 1.0), "relu6": (0.0, 6.0), "step": (0.0, 1.0),
          "maxout": (-2.0, 4.0)}   # the max of k zero-mean pieces leans right: mean 0.56 std for k = 2
MAXOUT = "maxout"   # not an activation function: a layer with its own weights (k pieces per unit)
LIMITS = {"samples": (1, 10000), "units": (1, 1000), "layers": (1, 10), "bins": (2, 200),
          "pieces": CONFIG_LIMITS["pieces"]}
SATURATION = 0.02   # a value within 2 % of the range's ends counts as saturated (sigmoid: < 0.02 or > 0.98)


def forward_activations(activation: str, init: str, std: float = 0.01, samples: int = 1000, units: int = 100,
                        layers: int = 5, seed: int = 0, pieces: int = 2) -> list[np.ndarray]:
    """The activations of every layer, float64 arrays of shape (samples, units).

    One ``numpy.random.Generator(seed)`` draws the inputs, then each layer's weights: (units, units),
    or (units, pieces * units) for ``"maxout"``.
    """
    if init not in INITIALIZERS:
        raise ValueError(f"unknown weight init {init!r}; known: {', '.join(INITIALIZERS)}")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((samples, units))
    act = None if activation == MAXOUT else get_activation(activation)
    outputs = []
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        for _ in range(layers):
            if act is None:
                W = INITIALIZERS[init](units, pieces * units, rng, std, np.float64)
                x = Maxout(W, np.zeros(pieces * units), pieces).infer(x)[0]
            else:
                W = INITIALIZERS[init](units, units, rng, std, np.float64)
                x = act.forward(x @ W, train=False)
            outputs.append(x)
    return outputs


def default_range(activation: str, layers: list[np.ndarray] | None = None) -> tuple[float, float]:
    if activation in RANGES:
        return RANGES[activation]
    if layers:  # symmetric around 0 for others, wide enough for the first layer
        finite = np.concatenate([a[np.isfinite(a)].ravel() for a in layers[:1]])
        bound = float(np.percentile(np.abs(finite), 99.5)) if finite.size else 1.0
        bound = bound if bound > 0 else 1.0
        lo = 0.0 if finite.size and finite.min() >= 0 else -bound
        return lo, bound
    return -1.0, 1.0


def layer_histogram(a: np.ndarray, value_range: tuple[float, float], bins: int) -> dict:
    """Counts of ``a`` in ``bins`` equal bins over ``value_range`` (outside values go to the end bins)."""
    lo, hi = value_range
    flat = a.ravel()
    finite = flat[np.isfinite(flat)]
    below = int(np.count_nonzero(finite < lo))
    above = int(np.count_nonzero(finite > hi))
    nonfinite = int(flat.size - finite.size)
    counts, edges = np.histogram(np.clip(finite, lo, hi), bins=bins, range=(lo, hi))
    counts[-1] += nonfinite  # overflowed values (inf/nan) are counted at the top and reported as "nonfinite"
    span = hi - lo
    saturated = int(np.count_nonzero((finite <= lo + SATURATION * span) | (finite >= hi - SATURATION * span)))
    return {
        "counts": counts.astype(int).tolist(),
        "edges": [float(e) for e in edges],
        "total": int(flat.size),
        "below": below, "above": above, "nonfinite": nonfinite,
        "zeros": int(np.count_nonzero(finite == 0)),
        "saturated": saturated,
        "mean": _num(finite.mean()) if finite.size else None,
        "std": _num(finite.std()) if finite.size else None,
        "min": _num(finite.min()) if finite.size else None,
        "max": _num(finite.max()) if finite.size else None,
    }


def _num(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def activation_histograms(activation: str = "sigmoid", inits: list[dict] | None = None, samples: int = 1000,
                          units: int = 100, layers: int = 5, bins: int = 30, seed: int = 0,
                          value_range: tuple[float, float] | None = None, pieces: int = 2) -> dict:
    """The lab: for each init, per-layer histograms of the activations.

    inits : list of ``{"init": "std"|"xavier"|"he", "std": float (for "std"), "label": str}``
    (default: the book's four); ``pieces``: per maxout unit (used with ``activation="maxout"``).
    Returns ``{activation, range, samples, units, layers, bins, seed, [pieces,] inits: [{init, std,
    label, layers: [{layer, counts, edges, total, below, above, zeros, saturated, mean, std, min,
    max}]}]}`` (``pieces`` for maxout).  Raises ValueError naming the field for bad input.
    """
    if activation not in ACTIVATIONS and activation != MAXOUT:
        raise ValueError(f"unknown activation {activation!r}; known: {', '.join(ACTIVATIONS)}, {MAXOUT}")
    for name, value in (("samples", samples), ("units", units), ("layers", layers), ("bins", bins),
                        ("pieces", pieces)):
        lo, hi = LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ValueError(f"{name} must be a whole number from {lo} to {hi}, got {value!r}")
    if activation == MAXOUT and samples * units * layers * pieces > 5_000_000:
        raise ValueError(f"samples x units x layers x pieces = {samples * units * layers * pieces} is over the "
                         f"limit of 5,000,000")
    if samples * units * layers > 5_000_000:
        raise ValueError(f"samples x units x layers = {samples * units * layers} is over the limit of 5,000,000")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be a whole number from 0 to {2**32 - 1}, got {seed!r}")
    inits = BOOK_INITS if inits is None else inits
    if not isinstance(inits, list) or not 1 <= len(inits) <= 8:
        raise ValueError("inits must be a list of 1 to 8 objects like {\"init\": \"std\", \"std\": 1}")
    parsed = []
    for i, spec in enumerate(inits):
        if not isinstance(spec, dict) or spec.get("init") not in INITIALIZERS:
            raise ValueError(f"inits[{i}].init must be one of {', '.join(INITIALIZERS)}, got {spec!r}")
        std = spec.get("std", 0.01)
        if spec["init"] == "std" and (isinstance(std, bool) or not isinstance(std, (int, float))
                                      or not math.isfinite(std) or not 0 < std <= 100):
            raise ValueError(f"inits[{i}].std must be a number above 0 and at most 100, got {std!r}")
        label = spec.get("label") or (f"std {std:g}" if spec["init"] == "std" else spec["init"])
        parsed.append({"init": spec["init"], "std": float(std) if spec["init"] == "std" else None,
                       "label": str(label)[:40]})
    if value_range is not None:
        lo, hi = value_range
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"range must be two finite numbers lo < hi, got {value_range!r}")
    results = []
    chosen_range = value_range
    for spec in parsed:
        outs = forward_activations(activation, spec["init"], spec["std"] or 0.01, samples, units, layers, seed,
                                   pieces)
        if chosen_range is None:
            chosen_range = default_range(activation, outs)
        results.append({**spec, "layers": [{"layer": i + 1, **layer_histogram(a, chosen_range, bins)}
                                           for i, a in enumerate(outs)]})
    return {"activation": activation, "range": list(chosen_range), "samples": samples, "units": units,
            "layers": layers, "bins": bins, "seed": seed, **({"pieces": pieces} if activation == MAXOUT else {}),
            "inits": results}
