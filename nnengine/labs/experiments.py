"""Run configs of the MNIST labs, built from the book's settings (design §5) and a few overrides.

Each ``*_runs(settings)`` returns ``{"settings": the settings used (defaults filled in),
"runs": [{"key", "label", "group", "config"}], "meta": {...}}``; every config is a plain JSON
config (design §1) already checked by ``parse_config``, ready for ``run:start``.  Settings are
small flat dicts (they live in the page's address), validated here with messages that name the
field.
"""
from __future__ import annotations

import copy
import math

import numpy as np

from ..config import LIMITS, ConfigError, parse_config
from ..initializers import INITIALIZERS
from ..optimizers import OPTIMIZERS
from ..presets import BOOK_DROPOUT_EPOCHS, preset
from ..search import LogRange, SearchError, parse_trials

POOL = 5000


class SettingsError(ValueError):
    """Bad lab settings; ``errors`` lists ``{"field", "message"}`` like ``ConfigError``."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))


def _network(units: int, layers: int, activation: str = "relu", **layer) -> list[dict]:
    return [{"units": units, "activation": activation, "batch_norm": False, "dropout": 0.0, **layer}
            for _ in range(layers)]


def steps_per_epoch(train_size: int, batch_size: int) -> int:
    """Mini-batches per epoch (the trainer keeps the last, smaller batch)."""
    return -(-train_size // min(batch_size, train_size))


def epochs_for(iterations: int, train_size: int, batch_size: int) -> int:
    """The fewest whole epochs with at least ``iterations`` mini-batch updates."""
    return max(1, -(-iterations // steps_per_epoch(train_size, batch_size)))


class _Reader:
    def __init__(self, settings, defaults):
        if settings is None:
            settings = {}
        if not isinstance(settings, dict):
            raise SettingsError([{"field": "settings", "message": "must be an object"}])
        unknown = [k for k in settings if k not in defaults]
        self.errors = [{"field": k, "message": f"unknown setting; allowed: {', '.join(defaults)}"} for k in unknown]
        self.settings = settings
        self.defaults = defaults
        self.out = {}

    def int(self, key, lo, hi):
        value = self.settings.get(key, self.defaults[key])
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or value != int(value) or not lo <= value <= hi:
            self.errors.append({"field": key, "message": f"must be a whole number from {lo} to {hi}, got {value!r}"})
            value = self.defaults[key]
        self.out[key] = int(value)
        return int(value)

    def num(self, key, lo, hi, lo_open=False):
        value = self.settings.get(key, self.defaults[key])
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or value < lo or value > hi or (lo_open and value == lo):
            low = f"above {lo}" if lo_open else f"at least {lo}"
            self.errors.append({"field": key, "message": f"must be a number {low} and at most {hi}, got {value!r}"})
            value = self.defaults[key]
        self.out[key] = float(value)
        return float(value)

    def choice(self, key, allowed):
        value = self.settings.get(key, self.defaults[key])
        if value not in allowed:
            self.errors.append({"field": key, "message": f"unknown value {value!r}; allowed: {', '.join(allowed)}"})
            value = self.defaults[key]
        self.out[key] = value
        return value

    def raw(self, key):
        value = self.settings.get(key, self.defaults[key])
        self.out[key] = copy.deepcopy(value)
        return value

    def search_value(self, key, parse):
        """``parse(value)`` of a search setting (``nnengine.search`` checks it); on a SearchError the
        default, the error collected."""
        value = self.settings.get(key, self.defaults[key])
        try:
            parsed = parse(value)
        except SearchError as exc:
            self.errors += [{"field": e["field"], "message": e["message"]} for e in exc.errors]
            value = self.defaults[key]
            parsed = parse(value)
        self.out[key] = copy.deepcopy(value)
        return parsed

    def fail(self, key, message):
        self.errors.append({"field": key, "message": message})

    def done(self):
        if self.errors:
            raise SettingsError(self.errors)
        return self.out


def _checked(config: dict, field: str) -> dict:
    try:
        return parse_config(config).to_dict()
    except ConfigError as exc:
        raise SettingsError([{"field": field, "message": e["field"] + ": " + e["message"]} for e in exc.errors]) from None


def _optimizer_list(r: _Reader, key: str) -> list[dict]:
    value = r.raw(key)
    if not isinstance(value, list) or not 1 <= len(value) <= len(OPTIMIZERS):
        r.fail(key, f"must be a list of 1 to {len(OPTIMIZERS)} optimizers like {{\"name\": \"adam\", \"lr\": 0.001}}")
        return []
    result = []
    for i, spec in enumerate(value):
        if not isinstance(spec, dict) or spec.get("name") not in OPTIMIZERS:
            r.fail(f"{key}[{i}].name", f"must be one of {', '.join(OPTIMIZERS)}")
            continue
        result.append(dict(spec))
    return result


# ---------------------------------------------------------------- optimizers on MNIST (§6.1.8)

BOOK_MNIST_OPTIMIZERS = [
    {"name": "sgd", "lr": 0.01}, {"name": "momentum", "lr": 0.01},
    {"name": "adagrad", "lr": 0.01}, {"name": "adam", "lr": 0.001},
]
OPTIMIZERS_DEFAULTS = {"optimizers": BOOK_MNIST_OPTIMIZERS, "iterations": 2000, "train_size": 4000,
                       "batch_size": 128, "units": 100, "layers": 4, "activation": "relu",
                       "weight_init": "he", "seed": 0}


def _mnist_base(r: _Reader) -> dict:
    train = r.int("train_size", 1, POOL - 1)
    batch = r.int("batch_size", 1, POOL)
    iterations = r.int("iterations", 1, 100_000)
    units = r.int("units", 1, 2048)
    layers = r.int("layers", 0, 10)
    activation = r.raw("activation")
    if not isinstance(activation, str):
        r.fail("activation", "must be an activation name")
    epochs = epochs_for(iterations, train, batch)
    return {"train_size": train, "batch_size": batch, "iterations": iterations, "units": units,
            "layers": layers, "activation": activation, "epochs": epochs, "seed": r.int("seed", 0, 2**32 - 1)}


def _mnist_config(base: dict, optimizer: dict, weight_init: str = "he", weight_init_std: float = 0.01,
                  name: str = "") -> dict:
    return {
        "seed": base["seed"], "name": name,
        "data": {"train_size": base["train_size"], "validation_size": 0, "test_size": None},
        "model": {"hidden_layers": _network(base["units"], base["layers"], base["activation"]),
                  "weight_init": weight_init, "weight_init_std": weight_init_std, "loss": "cross_entropy"},
        "optimizer": optimizer,
        "training": {"epochs": base["epochs"], "batch_size": base["batch_size"], "weight_decay": 0.0},
    }


def _mnist_meta(base: dict) -> dict:
    per_epoch = steps_per_epoch(base["train_size"], base["batch_size"])
    return {"epochs": base["epochs"], "iterations_per_epoch": per_epoch,
            "iterations": base["epochs"] * per_epoch, "test_size": POOL - base["train_size"]}


def optimizer_runs(settings: dict | None = None) -> dict:
    """§6.1.8: the same network and data trained with several optimizers."""
    r = _Reader(settings, OPTIMIZERS_DEFAULTS)
    base = _mnist_base(r)
    init = r.choice("weight_init", tuple(INITIALIZERS))
    specs = _optimizer_list(r, "optimizers")
    out = r.done()
    runs = []
    for i, spec in enumerate(specs):
        label = _optimizer_label(spec)
        config = _checked(_mnist_config(base, spec, weight_init=init, name=f"Lab 6.1.8: {label}"),
                          f"optimizers[{i}]")
        runs.append({"key": f"{i}-{spec['name']}", "label": label, "group": spec["name"], "config": config})
    return {"settings": out, "runs": runs, "meta": _mnist_meta(base)}


def _optimizer_label(spec: dict) -> str:
    lr = spec.get("lr", OPTIMIZERS[spec["name"]].defaults.get("lr"))
    return f"{spec['name']} lr {lr:g}" if isinstance(lr, (int, float)) else spec["name"]


# ---------------------------------------------------------------- weight init on MNIST (§6.2.4)

BOOK_INITS = [{"init": "std", "std": 0.01}, {"init": "xavier"}, {"init": "he"}]
INIT_DEFAULTS = {"inits": BOOK_INITS, "iterations": 2000, "train_size": 4000, "batch_size": 128,
                 "units": 100, "layers": 4, "activation": "relu", "optimizer": "sgd", "lr": 0.01, "seed": 0}


def init_runs(settings: dict | None = None) -> dict:
    """§6.2.4: std 0.01 vs Xavier vs He on the same network, SGD lr 0.01."""
    r = _Reader(settings, INIT_DEFAULTS)
    base = _mnist_base(r)
    name = r.choice("optimizer", tuple(OPTIMIZERS))
    lr = r.num("lr", 0.0, 10.0, lo_open=True)
    inits = r.raw("inits")
    if not isinstance(inits, list) or not 1 <= len(inits) <= 8:
        r.fail("inits", "must be a list of 1 to 8 objects like {\"init\": \"std\", \"std\": 0.01}")
        inits = []
    out = r.done()
    runs = []
    for i, spec in enumerate(inits):
        if not isinstance(spec, dict) or spec.get("init") not in INITIALIZERS:
            raise SettingsError([{"field": f"inits[{i}].init", "message": f"must be one of {', '.join(INITIALIZERS)}"}])
        std = spec.get("std", 0.01)
        label = f"std {std:g}" if spec["init"] == "std" else {"xavier": "Xavier", "he": "He"}.get(spec["init"], spec["init"])
        config = _checked(_mnist_config(base, {"name": name, "lr": lr}, weight_init=spec["init"],
                                        weight_init_std=std, name=f"Lab 6.2.4: {label}"), f"inits[{i}]")
        runs.append({"key": f"{i}-{spec['init']}", "label": label, "group": spec["init"], "config": config})
    return {"settings": out, "runs": runs, "meta": _mnist_meta(base)}


# ---------------------------------------------------------------- batch norm grid (§6.3.2)

BATCHNORM_DEFAULTS = {"scales": 16, "scale_from": 0.0, "scale_to": -4.0, "epochs": 20, "train_size": 1000,
                      "batch_size": 100, "units": 100, "layers": 5, "activation": "relu",
                      "optimizer": "sgd", "lr": 0.01, "batch_norm_eps": 1e-6, "seed": 0}


def weight_scales(n: int = 16, start: float = 0.0, stop: float = -4.0) -> list[float]:
    """The book's ``np.logspace(0, -4, num=16)``."""
    return [float(s) for s in np.logspace(start, stop, num=n)]


def batchnorm_runs(settings: dict | None = None) -> dict:
    """§6.3.2: training accuracy with and without batch norm for each weight scale (``weight_init: std``),
    batch norm adding the book's 10e-7 = 1e-6 to the variance by default (``batch_norm_eps``).

    Runs come in scale order, the batch-norm run of each scale first (``group`` is ``"bn"`` or
    ``"plain"``; ``scale`` and ``cell`` say where a run goes on the grid).
    """
    r = _Reader(settings, BATCHNORM_DEFAULTS)
    n = r.int("scales", 1, 16)
    start = r.num("scale_from", -6.0, 1.0)
    stop = r.num("scale_to", -6.0, 1.0)
    epochs = r.int("epochs", 1, 200)
    train = r.int("train_size", 1, POOL)
    batch = r.int("batch_size", 1, POOL)
    units = r.int("units", 1, 2048)
    layers = r.int("layers", 1, 10)
    activation = r.raw("activation")
    name = r.choice("optimizer", tuple(OPTIMIZERS))
    lr = r.num("lr", 0.0, 10.0, lo_open=True)
    eps = r.num("batch_norm_eps", *LIMITS["batch_norm_eps"])
    seed = r.int("seed", 0, 2**32 - 1)
    out = r.done()
    runs = []
    for cell, scale in enumerate(weight_scales(n, start, stop)):
        for bn in (True, False):
            hidden = _network(units, layers, activation if isinstance(activation, str) else "relu", batch_norm=bn)
            config = {
                "seed": seed, "name": f"Lab 6.3: w={scale:.3g} {'batch norm' if bn else 'no batch norm'}",
                # Training accuracy is what the book plots: no test set to evaluate every epoch.
                "data": {"train_size": train, "validation_size": 0, "test_size": 0},
                "model": {"hidden_layers": hidden, "weight_init": "std",
                          "weight_init_std": float(min(max(scale, 1e-6), 10.0)), "loss": "cross_entropy",
                          "batch_norm_eps": eps},
                "optimizer": {"name": name, "lr": lr},
                "training": {"epochs": epochs, "batch_size": batch, "weight_decay": 0.0},
            }
            runs.append({"key": f"{cell}-{'bn' if bn else 'plain'}", "label": "Batch norm" if bn else "Normal",
                         "group": "bn" if bn else "plain", "scale": scale, "cell": cell,
                         "config": _checked(config, "settings")})
    return {"settings": out, "runs": runs, "meta": {"scales": weight_scales(n, start, stop), "epochs": epochs}}


# ---------------------------------------------------------------- overfitting (§6.4)

OVERFITTING_DEFAULTS = {"epochs": BOOK_DROPOUT_EPOCHS, "train_size": 300, "weight_decay": 0.1, "dropout": 0.2,
                        "dropout_style": "book", "layers": 6, "units": 100, "lr": 0.01, "seed": 0}
# "compare": the book's dropout run and an inverted one beside it, on the same seed.
OVERFITTING_STYLES = ("book", "inverted", "compare")
STYLE_LABELS = {"book": "book style", "inverted": "inverted"}


def overfitting_runs(settings: dict | None = None) -> dict:
    """§6.4: the book's overfitting preset, then with weight decay, dropout, and both.

    ``dropout_style`` ``"book"`` (the book's Dropout and its 301 epochs, Fig. 6-23) or ``"inverted"`` is the
    style of every dropout run; ``"compare"`` trains the book's and adds an inverted-dropout run beside it
    (key ``dropout_inverted``), so the two styles can be compared on the same data, weights and masks.
    """
    r = _Reader(settings, OVERFITTING_DEFAULTS)
    epochs = r.int("epochs", 1, 1000)
    train = r.int("train_size", 1, POOL - 1)
    wd = r.num("weight_decay", 0.0, 10.0)
    dropout = r.num("dropout", 0.0, 0.9)
    styles = r.choice("dropout_style", OVERFITTING_STYLES)
    layers = r.int("layers", 1, 10)
    units = r.int("units", 1, 2048)
    lr = r.num("lr", 0.0, 10.0, lo_open=True)
    seed = r.int("seed", 0, 2**32 - 1)
    out = r.done()
    style = "book" if styles == "compare" else styles
    drop = f"dropout {dropout:g}, {STYLE_LABELS[style]}"
    variants = [("baseline", "Baseline", 0.0, 0.0, style), ("weight_decay", f"Weight decay {wd:g}", wd, 0.0, style),
                ("dropout", drop[0].upper() + drop[1:], 0.0, dropout, style)]
    if styles == "compare":
        variants.append(("dropout_inverted", f"Dropout {dropout:g}, inverted", 0.0, dropout, "inverted"))
    variants.append(("both", f"Weight decay {wd:g} + {drop}", wd, dropout, style))
    runs = []
    for key, label, v_wd, v_drop, v_style in variants:
        config = preset("overfitting")
        config.update(seed=seed, name=f"Lab 6.4: {label}")
        config["data"]["train_size"] = train
        config["model"]["hidden_layers"] = _network(units, layers, "relu", dropout=v_drop)
        config["model"]["dropout_style"] = v_style
        config["optimizer"] = {"name": "sgd", "lr": lr}
        config["training"].update(epochs=epochs, weight_decay=v_wd)
        runs.append({"key": key, "label": label, "group": key, "dropout_style": v_style,
                     "config": _checked(config, "settings")})
    return {"settings": out, "runs": runs, "meta": {"epochs": epochs, "test_size": POOL - train}}


# ---------------------------------------------------------------- hyperparameter search (§6.5)

# The search lab trains its trials on the server, among other people's runs.
LAB_MAX_TRIALS = 1000
SEARCH_DEFAULTS = {"trials": 100, "lr": [1e-6, 1e-2], "weight_decay": [1e-8, 1e-4], "samples": 500,
                   "validation": 0.2, "epochs": 50, "layers": 6, "units": 100, "batch_size": 100, "seed": 0}


def search_setup(settings: dict | None = None) -> dict:
    """§6.5: the base config (500 samples, 20 % of them for validation, no test set) and the ranges."""
    r = _Reader(settings, SEARCH_DEFAULTS)
    trials = r.search_value("trials", lambda value: parse_trials(value, max_trials=LAB_MAX_TRIALS))
    ranges = {key: r.search_value(key, lambda value, key=key: LogRange.parse(value, key, allow_zero=key != "lr")
                                  ).to_list()
              for key in ("lr", "weight_decay")}
    samples = r.int("samples", 2, POOL)
    fraction = r.num("validation", 0.0, 0.9, lo_open=True)
    epochs = r.int("epochs", 1, 1000)
    layers = r.int("layers", 0, 10)
    units = r.int("units", 1, 2048)
    batch = r.int("batch_size", 1, POOL)
    seed = r.int("seed", 0, 2**32 - 1)
    out = r.done()
    validation = max(1, int(round(samples * fraction)))
    train = samples - validation
    if train < 1:
        raise SettingsError([{"field": "validation", "message": "leaves no training samples"}])
    config = {
        "seed": seed, "name": "Lab 6.5: hyperparameter search",
        # The book splits 500 training images 400/100 and never looks at the test set while searching.
        "data": {"train_size": train, "validation_size": validation, "test_size": 0},
        "model": {"hidden_layers": _network(units, layers, "relu"), "weight_init": "he",
                  "weight_init_std": 0.01, "loss": "cross_entropy"},
        "optimizer": {"name": "sgd", "lr": ranges["lr"][0]},
        "training": {"epochs": epochs, "batch_size": batch, "weight_decay": 0.0},
    }
    return {"settings": out, "config": _checked(config, "settings"), "trials": trials,
            "lr": ranges["lr"], "weight_decay": ranges["weight_decay"]}


LAB_RUNS = {"optimizers": optimizer_runs, "init": init_runs, "batchnorm": batchnorm_runs,
            "overfitting": overfitting_runs}
