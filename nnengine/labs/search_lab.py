"""The search lab's own step: narrow the ranges to the best trials (book §6.5.3).

The book: look at the best results, narrow the ranges of learning rate and weight decay to where
they lie, and search again.  ``narrow`` takes the best ``top`` trials (by validation accuracy, the
same ranking as ``nnengine.search.best``) and returns the smallest ranges holding all of them.
"""
from __future__ import annotations

import math

from ..search import best

KEYS = ("lr", "weight_decay")
TOP = 5     # the best trials the narrowed ranges hold, unless asked otherwise


def is_finite(value) -> bool:
    """Whether value is a finite number (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def narrow(results: list[dict], top: int = TOP, widen: float = 1.0) -> dict:
    """``{"lr": [lo, hi], "weight_decay": [lo, hi], "from": [the trials used]}`` spanning the best ``top`` trials.

    ``widen`` >= 1 stretches each range by that factor on both sides in log scale (1: no change);
    a range that collapsed to one value (``top`` = 1) is widened by a factor of 2 each way.
    Raises ValueError if no trial has a validation accuracy.
    """
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a whole number of at least 1, got {top!r}")
    if not (isinstance(widen, (int, float)) and math.isfinite(widen) and widen >= 1):
        raise ValueError(f"widen must be a number >= 1, got {widen!r}")
    leaders = best(results, top)
    if not leaders:
        raise ValueError("no finished trial has a validation accuracy yet")
    ranges = {}
    for key in KEYS:
        values = [float(r[key]) for r in leaders]
        lo, hi = min(values), max(values)
        if lo <= 0:   # weight decay 0 (a 0:0 range): nothing to narrow
            ranges[key] = [lo, hi]
            continue
        if lo == hi:
            lo, hi = lo / 2, hi * 2
        ranges[key] = [lo / widen, hi * widen]
    ranges["from"] = [{"trial": r.get("trial"), "lr": r["lr"], "weight_decay": r["weight_decay"],
                       "val_acc": r["val_acc"]} for r in leaders]
    return ranges
