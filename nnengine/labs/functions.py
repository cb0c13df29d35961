"""Two-dimensional test functions for the optimizer-paths lab.

Each ``Function2D`` has ``f(x, y)`` and its gradient written out by hand, a default start, the
plotting window and its minima.  ``f`` and ``grad`` accept NumPy arrays (elementwise), so the same
code evaluates one point of a path and a whole contour grid.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Function2D:
    name: str
    label: str
    formula: str
    f: Callable[[np.ndarray, np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
    start: tuple[float, float]
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    minima: tuple[tuple[float, float], ...] = ()
    note: str = ""
    log_contours: bool = False          # contour levels in log scale (steep valleys)
    extra: dict = field(default_factory=dict)

    def describe(self) -> dict:
        return {"name": self.name, "label": self.label, "formula": self.formula, "start": list(self.start),
                "x_range": list(self.x_range), "y_range": list(self.y_range),
                "minima": [list(m) for m in self.minima], "note": self.note, "log_contours": self.log_contours}


def _book_f(x, y):
    return x ** 2 / 20.0 + y ** 2


def _book_grad(x, y):
    return x / 10.0, 2.0 * y


def _rosenbrock_f(x, y):
    return (1.0 - x) ** 2 + 100.0 * (y - x ** 2) ** 2


def _rosenbrock_grad(x, y):
    return -2.0 * (1.0 - x) - 400.0 * x * (y - x ** 2), 200.0 * (y - x ** 2)


def _saddle_f(x, y):
    return x ** 2 - y ** 2


def _saddle_grad(x, y):
    return 2.0 * x, -2.0 * y


def _himmelblau_f(x, y):
    return (x ** 2 + y - 11.0) ** 2 + (x + y ** 2 - 7.0) ** 2


def _himmelblau_grad(x, y):
    a = x ** 2 + y - 11.0
    b = x + y ** 2 - 7.0
    return 4.0 * x * a + 2.0 * b, 2.0 * a + 4.0 * y * b


FUNCTIONS: dict[str, Function2D] = {
    "book": Function2D(
        "book", "Book: x²/20 + y²", "f(x, y) = x²/20 + y²", _book_f, _book_grad,
        start=(-7.0, 2.0), x_range=(-10.0, 10.0), y_range=(-5.0, 5.0), minima=((0.0, 0.0),),
        note="Stretched along x: the gradient points mostly along y, so plain SGD zig-zags."),
    "rosenbrock": Function2D(
        "rosenbrock", "Rosenbrock", "f(x, y) = (1 − x)² + 100 (y − x²)²", _rosenbrock_f, _rosenbrock_grad,
        start=(-1.5, 2.0), x_range=(-2.0, 2.0), y_range=(-1.0, 3.0), minima=((1.0, 1.0),),
        note="A curved, flat-bottomed valley: easy to reach, slow to follow to the minimum at (1, 1).",
        log_contours=True),
    "saddle": Function2D(
        "saddle", "Saddle: x² − y²", "f(x, y) = x² − y²", _saddle_f, _saddle_grad,
        start=(-4.0, 0.01), x_range=(-5.0, 5.0), y_range=(-5.0, 5.0), minima=(),
        note="No minimum: (0, 0) is a saddle point. Started almost on the ridge y = 0, "
             "a method must escape along y; the function is unbounded below, so paths leave the window."),
    "himmelblau": Function2D(
        "himmelblau", "Himmelblau (four minima)", "f(x, y) = (x² + y − 11)² + (x + y² − 7)²",
        _himmelblau_f, _himmelblau_grad,
        start=(-0.5, -0.5), x_range=(-5.0, 5.0), y_range=(-5.0, 5.0),
        minima=((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)),
        note="Four minima of equal height: which one a method ends in depends on its path.",
        log_contours=True),
}


def get_function(name: str) -> Function2D:
    """The function registered as ``name``; ValueError listing the known ones otherwise."""
    if name not in FUNCTIONS:
        raise ValueError(f"unknown function {name!r}; known: {', '.join(FUNCTIONS)}")
    return FUNCTIONS[name]
