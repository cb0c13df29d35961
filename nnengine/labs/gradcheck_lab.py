"""Gradient check of a whole configured network (book §5.7.3): backprop vs central differences.

The network the config describes is built in float64 (the config's ``training.dtype`` is set to
``"float64"``), a small batch of pool images is drawn, and for every parameter the analytic
gradient of the training loss (data loss + weight decay) is compared with
``(L(w + h) - L(w - h)) / 2h`` at up to ``max_entries`` randomly chosen entries.  Dropout masks are
held fixed by re-seeding each dropout layer's generator before every forward, so the loss is a
deterministic function of the weights.

The relative error per parameter is ``||g_num - g_bp|| / (||g_num|| + ||g_bp||)`` over the checked
entries (0 when both are 0): unlike an element-wise maximum, it is not dominated by entries whose
gradient is ~1e-12, where central differences have no correct digits left.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ..config import Config, parse_config
from ..data import load_pool
from ..gradcheck import central_difference
from ..layers import BatchNorm, Dropout
from ..models import build_network

DEFAULT_BATCH = 4
MAX_BATCH = 64
DEFAULT_ENTRIES = 20
MAX_ENTRIES = 200
STEP = 1e-5
TOLERANCE = 1e-6          # float64 central differences agree to ~1e-9 on smooth networks
NOISE_FACTOR = 100.0
# Loss evaluations one check may spend, times the network's weights (multiply-adds per sample).
BUDGET = 5e9


def _label(layers, index: int, key: str) -> str:
    kind = type(layers[index]).__name__
    same = sum(1 for layer in layers[:index + 1] if type(layer).__name__ == kind)
    return f"{kind} {same} · {key}"


def gradcheck(config_obj: dict | Config, batch: int = DEFAULT_BATCH, max_entries: int = DEFAULT_ENTRIES,
              seed: int = 0, h: float = STEP) -> dict:
    """Compare backprop with numerical gradients for every parameter of the configured network.

    Returns ``{"params": [{param, label, layer, shape, size, checked, rel_error, status, max_abs_error,
    grad_norm}], "max_rel_error", "ok", "loss", "batch", "dtype": "float64", "h", "tolerance"}``.
    ``status`` is ``"ok"`` (rel_error below ``TOLERANCE``), ``"mismatch"``, ``"zero"`` (both gradients
    are zero to within rounding, e.g. a bias followed by batch norm; ``rel_error`` is ``None``) or
    ``"nonfinite"``.
    """
    config = config_obj if isinstance(config_obj, Config) else parse_config(config_obj)
    config = replace(config, training=replace(config.training, dtype="float64"))
    for name, value, hi in (("batch", batch, MAX_BATCH), ("max_entries", max_entries, MAX_ENTRIES)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= hi:
            raise ValueError(f"{name} must be a whole number from 1 to {hi}, got {value!r}")
    rng = np.random.default_rng(seed)
    network = build_network(config.model, config.training, rng, dtype=np.float64)
    x_pool, t_pool = load_pool()
    rows = rng.choice(len(x_pool), size=batch, replace=False)
    x = x_pool[rows].astype(np.float64) / 255.0
    t = t_pool[rows].astype(np.int64)

    weights = sum(p.size for p in network.params.values())
    evaluations = 2 * sum(min(p.size, max_entries) for p in network.params.values()) + 2
    if evaluations * weights * batch > BUDGET:
        raise ValueError(f"this check would need about {evaluations * weights * batch:.2g} multiply-adds "
                         f"(over {BUDGET:.2g}); use fewer entries, a smaller batch or a smaller network")

    dropouts = [layer for layer in network.layers if isinstance(layer, Dropout)]
    norms = [layer for layer in network.layers if isinstance(layer, BatchNorm)]
    mask_seed = int(rng.integers(2**32))

    decayed = set(network.decayed) if network.weight_decay else set()
    squares = {key: float(np.vdot(network.params[key], network.params[key])) for key in decayed}
    total_squares = sum(squares.values())

    def reset() -> None:
        for i, layer in enumerate(dropouts):
            layer.rng = np.random.default_rng([mask_seed, i])   # the same mask at every call
        for layer in norms:   # running statistics are not part of the loss: keep them unchanged
            layer.running_mean, layer.running_var = (a.copy() for a in running[id(layer)])

    def loss(key: str) -> float:
        """The training loss with only ``params[key]`` changed since the start.

        Data loss plus 0.5 * weight_decay * sum ||W||^2 (design: Network.loss), with the penalty of
        the untouched weights reused instead of recomputed at every one of thousands of calls.
        """
        reset()
        value = network.loss_fn.forward(network.forward(x, train=True), t)
        if decayed:
            sq = total_squares
            if key in decayed:
                sq += float(np.vdot(network.params[key], network.params[key])) - squares[key]
            value += 0.5 * network.weight_decay * sq
        return value

    running = {id(layer): (layer.running_mean.copy(), layer.running_var.copy()) for layer in norms}
    with np.errstate(all="ignore"):
        reset()
        base_loss = network.loss(x, t, train=True)
        if not math.isclose(base_loss, loss(""), rel_tol=1e-12, abs_tol=1e-12):
            raise RuntimeError("the network's loss is not deterministic under fixed dropout masks")
        reset()
        network.loss(x, t, train=True)
        network.backward()
        analytic = {key: g.copy() for key, g in network.grads.items()}
        results = []
        for key, param in network.params.items():
            flat = param.reshape(-1)   # a view: perturbing it perturbs the layer's own array
            count = min(flat.size, max_entries)
            picked = np.sort(rng.choice(flat.size, size=count, replace=False)) if count < flat.size \
                else np.arange(flat.size)
            numeric = np.empty(count)
            for j, idx in enumerate(picked):
                numeric[j] = central_difference(lambda: loss(key), flat, idx, h)
            backprop = analytic[key].reshape(-1)[picked]
            diff = float(np.linalg.norm(numeric - backprop))
            scale = float(np.linalg.norm(numeric) + np.linalg.norm(backprop))
            # Rounding noise of a central difference: ~ eps * |L| / h per entry.
            noise = NOISE_FACTOR * np.finfo(np.float64).eps * max(1.0, abs(base_loss)) / h * math.sqrt(count)
            if not math.isfinite(diff) or not math.isfinite(scale):
                status, rel = "nonfinite", None
            elif scale <= noise:
                status, rel = "zero", None          # both ~0: a ratio of rounding noise means nothing
            else:
                rel = diff / scale
                status = "ok" if rel < TOLERANCE else "mismatch"
            index = int(key.split(".")[0])
            results.append({
                "param": key, "label": _label(network.layers, index, key.split(".", 1)[1]),
                "layer": type(network.layers[index]).__name__,
                "shape": list(param.shape), "size": int(param.size), "checked": int(count),
                "rel_error": rel, "status": status,
                "max_abs_error": _finite(np.max(np.abs(numeric - backprop))),
                "grad_norm": _finite(np.linalg.norm(backprop)),
            })
    errors = [r["rel_error"] for r in results if r["rel_error"] is not None]
    return {"params": results, "max_rel_error": max(errors) if errors else None,
            "ok": all(r["status"] in ("ok", "zero") for r in results), "tolerance": TOLERANCE,
            "loss": _finite(base_loss),
            "batch": batch, "max_entries": max_entries, "dtype": "float64", "h": h, "seed": seed,
            "config": config.to_dict()}


def _finite(value):
    value = float(value)
    return value if math.isfinite(value) else None

