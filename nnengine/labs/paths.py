"""Optimizer paths on a 2-D function, exactly the book's protocol (§6.1, ``optimizer_compare_naive.py``).

``params = {"x": array([x0]), "y": array([y0])}``; at each step the gradient at the current point
goes into ``grads`` with the same keys and ``optimizer.update(params, grads)`` moves the point in
place.  A path of ``steps`` updates has ``steps + 1`` points (the start, then one after each update).
"""
from __future__ import annotations

import math

import numpy as np

from ..optimizers import OPTIMIZERS, get_optimizer
from .functions import FUNCTIONS, get_function

# The book's learning rates for f = x²/20 + y² (design §5); 30 steps from (-7, 2).
BOOK_STEPS = 30
BOOK_START = (-7.0, 2.0)
BOOK_OPTIMIZERS = [
    {"name": "sgd", "lr": 0.95},
    {"name": "momentum", "lr": 0.1},
    {"name": "adagrad", "lr": 1.5},
    {"name": "adam", "lr": 0.3},
]
# Learning rates that make a 30-step path visible on the book's function for the optimizers the book
# does not show (their library defaults, tuned for networks, would barely move the point).
PATH_LRS = {
    "sgd": 0.95, "momentum": 0.1, "nesterov": 0.1, "adagrad": 1.5, "rmsprop": 0.15, "adam": 0.3,
    "adadelta": 1.0, "adamax": 0.3, "nadam": 0.3, "amsgrad": 0.3, "adabound": 0.3, "amsbound": 0.3,
    "rmsprop_graves": 0.05, "smorms3": 0.3, "eve": 0.3, "santa_e": 1e-8, "santa_sss": 1e-8,
}
# Other hyperparameters the lab sets where a spec leaves them out. Santa's eta (lr) also sets its
# momentum (alpha_0 = C sqrt(eta)); its gradient step is eta * N, with N = 1e4 tuned for the mean
# loss of a network. The lab keeps eta (momentum 0.9) and takes N = 1e6: a step eta N = 0.01 on
# these functions' gradients of order 1 (3e6 already makes Santa-E diverge on Rosenbrock).
PATH_HYPERPARAMS = {"santa_e": {"N": 1e6}, "santa_sss": {"N": 1e6}}
# Steeper functions need smaller steps for the methods whose step grows with the gradient.
PATH_LRS_BY_FUNCTION = {
    "rosenbrock": {"sgd": 0.002, "momentum": 0.0005, "nesterov": 0.0005},
    "saddle": {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05},
    "himmelblau": {"sgd": 0.01, "momentum": 0.002, "nesterov": 0.002},
}

MAX_STEPS = 2000
MAX_OPTIMIZERS = len(OPTIMIZERS)
ESCAPE = 1e6            # a coordinate beyond this ends the path ("left the window for good")
GRID_POINTS = 101


def path_lr(name: str, function: str = "book") -> float:
    """The lab's default learning rate of optimizer ``name`` on ``function``."""
    return PATH_LRS_BY_FUNCTION.get(function, {}).get(name, PATH_LRS.get(name, OPTIMIZERS[name].defaults.get("lr", 0.01)))


def default_optimizer(name: str, function: str = "book") -> dict:
    """``{"name", **hyperparameters}`` with the path lab's learning rate and the optimizer's other defaults
    (the lab's ``PATH_HYPERPARAMS`` where it has them)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; known optimizers: {', '.join(OPTIMIZERS)}")
    spec = {"name": name, **OPTIMIZERS[name].defaults, **PATH_HYPERPARAMS.get(name, {})}
    spec["lr"] = path_lr(name, function)
    return spec


def _make(spec: dict, seed: int):
    spec = dict(spec)
    name = spec.pop("name", None)
    if not isinstance(name, str):
        raise ValueError("each optimizer needs a \"name\"")
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; known optimizers: {', '.join(OPTIMIZERS)}")
    spec = {**PATH_HYPERPARAMS.get(name, {}), **spec}
    if OPTIMIZERS[name].stochastic:
        return name, spec, get_optimizer(name, rng=np.random.default_rng(seed), **spec)
    return name, spec, get_optimizer(name, **spec)


def optimizer_path(function: str, spec: dict, start=None, steps: int = BOOK_STEPS, seed: int = 0) -> dict:
    """Run one optimizer for ``steps`` updates; returns ``{name, hyperparams, x, y, f, diverged_at}``.

    ``x``, ``y``, ``f`` have ``steps + 1`` entries unless the point escaped (non-finite or beyond
    ``ESCAPE``), in which case the path ends at the last finite point and ``diverged_at`` is the step.
    """
    fn = get_function(function)
    x0, y0 = (fn.start if start is None else start)
    name, hyper, optimizer = _make(spec, seed)
    params = {"x": np.array([float(x0)]), "y": np.array([float(y0)])}
    grads = {"x": np.zeros(1), "y": np.zeros(1)}
    xs, ys, fs = [float(x0)], [float(y0)], [float(fn.f(x0, y0))]
    diverged_at = None
    with np.errstate(all="ignore"):
        for step in range(1, steps + 1):
            x, y = params["x"][0], params["y"][0]
            gx, gy = fn.grad(x, y)
            grads["x"][0], grads["y"][0] = gx, gy
            optimizer.update(params, grads, loss=float(fn.f(x, y)))
            x, y = float(params["x"][0]), float(params["y"][0])
            value = float(fn.f(x, y))
            if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(value)) \
                    or abs(x) > ESCAPE or abs(y) > ESCAPE:
                diverged_at = step
                break
            xs.append(x)
            ys.append(y)
            fs.append(value)
    return {"name": name, "hyperparams": {k: v for k, v in optimizer.hyperparams.items()},
            "x": xs, "y": ys, "f": fs, "diverged_at": diverged_at}


def contour_grid(function: str, points: int = GRID_POINTS) -> dict:
    """f on a ``points`` x ``points`` grid of the function's window: ``{x, y, z}`` (z[i][j] = f(x[j], y[i]))."""
    fn = get_function(function)
    xs = np.linspace(*fn.x_range, points)
    ys = np.linspace(*fn.y_range, points)
    X, Y = np.meshgrid(xs, ys)
    Z = fn.f(X, Y)
    if fn.log_contours:
        Z = np.log10(Z - Z.min() + 1.0)
    return {"x": _round(xs), "y": _round(ys), "z": [_round(row) for row in Z],
            "log": fn.log_contours}


def _round(values, digits: int = 5) -> list[float]:
    return [float(f"{v:.{digits}g}") for v in np.asarray(values, dtype=float)]


class PathsSettingsError(ValueError):
    """A bad setting of the paths lab.  ``errors`` is ``[{"field", "message"}]`` (like ``ConfigError``) with the
    field named as the request names it (``function``, ``steps``, ``start``, ``optimizers``, ``optimizers[i]``),
    so a page can show the message at its field."""

    def __init__(self, message: str, field: str, field_message: str):
        super().__init__(message)
        self.errors = [{"field": field, "message": field_message}]


def run_paths(function: str = "book", optimizers: list[dict] | None = None, start=None,
              steps: int = BOOK_STEPS, seed: int = 0, grid: bool = True) -> dict:
    """The whole lab: every optimizer's path from the same start, plus the contour grid.

    ``optimizers``: list of ``{"name", **hyperparams}``; missing hyperparameters take the
    optimizer's defaults, a missing ``lr`` the lab's (``PATH_LRS``).  Defaults: the book's four.
    Raises ``PathsSettingsError`` (a ValueError) naming the problem and its field for bad input.
    """
    try:
        fn = get_function(function)
    except (TypeError, ValueError) as exc:
        raise PathsSettingsError(str(exc), "function", str(exc)) from None
    if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= MAX_STEPS:
        message = f"must be a whole number from 1 to {MAX_STEPS}, got {steps!r}"
        raise PathsSettingsError(f"steps {message}", "steps", message)
    if start is None:
        start = fn.start
    if (not isinstance(start, (list, tuple)) or len(start) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in start)):
        message = f"must be two finite numbers [x, y], got {start!r}"
        raise PathsSettingsError(f"start {message}", "start", message)
    if optimizers is None:
        optimizers = BOOK_OPTIMIZERS if function == "book" else [{"name": s["name"]} for s in BOOK_OPTIMIZERS]
    if not isinstance(optimizers, list) or not 1 <= len(optimizers) <= MAX_OPTIMIZERS:
        message = f"must be a list of 1 to {MAX_OPTIMIZERS} objects like {{\"name\": \"sgd\", \"lr\": 0.95}}"
        raise PathsSettingsError(f"optimizers {message}", "optimizers", message)
    paths = []
    for i, spec in enumerate(optimizers):
        if not isinstance(spec, dict):
            message = "must be an object like {\"name\": \"sgd\", \"lr\": 0.95}"
            raise PathsSettingsError(f"optimizers[{i}] {message}", f"optimizers[{i}]", message)
        name = spec.get("name")
        if isinstance(name, str) and name in OPTIMIZERS and "lr" not in spec and "lr" in OPTIMIZERS[name].defaults:
            spec = {**spec, "lr": path_lr(name, function)}
        try:
            paths.append(optimizer_path(function, spec, start=start, steps=steps, seed=seed))
        except (TypeError, ValueError) as exc:
            raise PathsSettingsError(f"optimizers[{i}]: {exc}", f"optimizers[{i}]", str(exc)) from None
    result = {"function": fn.describe(), "start": [float(start[0]), float(start[1])], "steps": steps,
              "seed": seed, "paths": paths}
    if grid:
        result["contour"] = contour_grid(function)
    return result


def lab_defaults() -> dict:
    """What the page needs to build its form."""
    return {
        "functions": [fn.describe() for fn in FUNCTIONS.values()],
        "optimizers": {name: default_optimizer(name) for name in OPTIMIZERS},
        "lrs": {fn: {name: path_lr(name, fn) for name in OPTIMIZERS} for fn in FUNCTIONS},
        "book": {"function": "book", "start": list(BOOK_START), "steps": BOOK_STEPS,
                 "optimizers": BOOK_OPTIMIZERS},
        "max_steps": MAX_STEPS,
    }
