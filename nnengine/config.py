"""The experiment config: validated once, at the edge, into frozen dataclasses.

Every caller (UI, socket API, CLI, stored runs, share links) speaks the JSON document of
``shared/design.md`` §1. ``parse_config`` checks every field, collects *all* problems, and
raises one ``ConfigError`` whose messages name the field, the value and what is allowed.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from .activations import ACTIVATIONS
from .initializers import INITIALIZERS
from .losses import LOSSES
from .optimizers import OPTIMIZERS

POOL_SIZE = 5000

LIMITS = {
    "seed": (0, 2**32 - 1),
    "hidden_layers": (0, 10),
    "units": (1, 2048),
    "dropout": (0.0, 0.9),
    "weight_init_std": (1e-6, 10.0),
    "epochs": (1, 1000),
    "batch_size": (1, POOL_SIZE),
    "weight_decay": (0.0, 10.0),
    "pool_size": POOL_SIZE,
    # Multiply-adds one run may spend (epochs x samples x weights): about 20 times the book's
    # 200-epoch overfitting experiment, so one request cannot hold a worker for hours.
    "compute_budget": 3e12,
}

DTYPES = ("float32", "float64")
TOP_LEVEL_KEYS = ("seed", "data", "model", "optimizer", "training", "name")


class ConfigError(ValueError):
    """A config that cannot be run; ``errors`` lists ``{"field", "message"}`` for each problem."""

    def __init__(self, errors: list[dict[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))


@dataclass(frozen=True)
class DataConfig:
    train_size: int = 300
    validation_size: int = 0
    test_size: int | None = None


@dataclass(frozen=True)
class LayerConfig:
    units: int = 100
    activation: str = "relu"
    batch_norm: bool = False
    dropout: float = 0.0


@dataclass(frozen=True)
class ModelConfig:
    hidden_layers: tuple[LayerConfig, ...] = (LayerConfig(),)
    weight_init: str = "he"
    weight_init_std: float = 0.01
    loss: str = "cross_entropy"


@dataclass(frozen=True)
class OptimizerConfig:
    name: str = "sgd"
    hyperparams: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int = 200
    batch_size: int = 100
    weight_decay: float = 0.0
    dtype: str = "float32"


@dataclass(frozen=True)
class Config:
    seed: int = 0
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    training: TrainingConfig = TrainingConfig()
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON document, every default filled in."""
        doc = asdict(self)
        doc["model"]["hidden_layers"] = [dict(layer) for layer in doc["model"]["hidden_layers"]]
        doc["optimizer"] = {"name": self.optimizer.name, **self.optimizer.hyperparams}
        if not self.name:
            del doc["name"]
        return doc

    @property
    def test_size(self) -> int:
        """Number of test samples after resolving ``null`` to the rest of the pool."""
        if self.data.test_size is not None:
            return self.data.test_size
        return POOL_SIZE - self.data.train_size - self.data.validation_size


class _Checker:
    """Collects errors while reading a JSON object field by field."""

    def __init__(self) -> None:
        self.errors: list[dict[str, str]] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append({"field": path, "message": message})

    def section(self, obj: Any, path: str, allowed: tuple[str, ...]) -> dict:
        if obj is None:
            return {}
        if not isinstance(obj, dict):
            self.fail(path, f"must be an object, got {_show(obj)}")
            return {}
        for key in obj:
            if key not in allowed:
                name = _key_name(key)
                self.fail(f"{path}.{name}" if path else name, f"unknown key; allowed: {', '.join(allowed)}")
        return obj

    def integer(self, obj: dict, key: str, path: str, default: int, lo: int, hi: int) -> int:
        value = obj.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value != int(value):
            self.fail(path, f"must be a whole number from {lo} to {hi}, got {_show(value)}")
            return default
        value = int(value)
        if not lo <= value <= hi:
            self.fail(path, f"must be from {lo} to {hi}, got {value}")
            return default
        return value

    def number(self, obj: dict, key: str, path: str, default: float, lo: float, hi: float,
               hi_open: bool = False) -> float:
        value = obj.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.fail(path, f"must be a number from {lo} to {hi}, got {_show(value)}")
            return default
        if value < lo or value > hi or (hi_open and value == hi):
            bound = f"below {hi}" if hi_open else f"at most {hi}"
            self.fail(path, f"must be at least {lo} and {bound}, got {value}")
            return default
        return float(value)

    def choice(self, obj: dict, key: str, path: str, default: str, allowed) -> str:
        value = obj.get(key, default)
        if not isinstance(value, str) or value not in allowed:
            self.fail(path, f"unknown value {_show(value)}; allowed: {', '.join(allowed)}")
            return default
        return value

    def boolean(self, obj: dict, key: str, path: str, default: bool) -> bool:
        value = obj.get(key, default)
        if not isinstance(value, bool):
            self.fail(path, f"must be true or false, got {_show(value)}")
            return default
        return value


def _key_name(key: str) -> str:
    """A key as it can appear in a one-line message: quoted unless it is a plain name."""
    return key if key.isidentifier() else json.dumps(key)[:40]


def _show(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_config(obj: Any) -> Config:
    """Validate a JSON-like config into a ``Config``; raise ``ConfigError`` listing every problem."""
    check = _Checker()
    if not isinstance(obj, dict):
        raise ConfigError([{"field": "config", "message": f"must be a JSON object, got {_show(obj)}"}])
    check.section(obj, "", TOP_LEVEL_KEYS)
    seed = check.integer(obj, "seed", "seed", 0, *LIMITS["seed"])
    name = obj.get("name", "")
    if not isinstance(name, str) or len(name) > 200:
        check.fail("name", "must be a text of at most 200 characters")
        name = ""
    data = _parse_data(check, obj.get("data"))
    model = _parse_model(check, obj.get("model"))
    optimizer = _parse_optimizer(check, obj.get("optimizer"))
    training = _parse_training(check, obj.get("training"), data)
    if check.errors:
        raise ConfigError(check.errors)
    config = Config(seed=seed, data=data, model=model, optimizer=optimizer, training=training, name=name)
    _check_budget(check, config)
    if check.errors:
        raise ConfigError(check.errors)
    return config


def _parse_data(check: _Checker, obj: Any) -> DataConfig:
    obj = check.section(obj, "data", ("train_size", "validation_size", "test_size"))
    pool = LIMITS["pool_size"]
    train = check.integer(obj, "train_size", "data.train_size", 300, 1, pool)
    val = check.integer(obj, "validation_size", "data.validation_size", 0, 0, pool - 1)
    test = obj.get("test_size")
    if test is not None:
        test = check.integer(obj, "test_size", "data.test_size", 0, 0, pool)
    used = train + val + (test or 0)
    if used > pool:
        check.fail("data", f"train_size + validation_size + test_size = {used} exceeds the "
                           f"{pool} images of the bundled MNIST pool")
    return DataConfig(train_size=train, validation_size=val, test_size=test)


def _parse_model(check: _Checker, obj: Any) -> ModelConfig:
    obj = check.section(obj, "model", ("hidden_layers", "weight_init", "weight_init_std", "loss"))
    layers_obj = obj.get("hidden_layers", [asdict(LayerConfig())])
    lo, hi = LIMITS["hidden_layers"]
    layers: list[LayerConfig] = []
    if not isinstance(layers_obj, list):
        check.fail("model.hidden_layers", f"must be a list of layers, got {_show(layers_obj)}")
    elif not lo <= len(layers_obj) <= hi:
        check.fail("model.hidden_layers", f"must have from {lo} to {hi} layers, got {len(layers_obj)}")
    else:
        for i, layer in enumerate(layers_obj):
            layers.append(_parse_layer(check, layer, f"model.hidden_layers[{i}]"))
    return ModelConfig(
        hidden_layers=tuple(layers),
        weight_init=check.choice(obj, "weight_init", "model.weight_init", "he", tuple(INITIALIZERS)),
        weight_init_std=check.number(obj, "weight_init_std", "model.weight_init_std", 0.01,
                                     *LIMITS["weight_init_std"]),
        loss=check.choice(obj, "loss", "model.loss", "cross_entropy", tuple(LOSSES)),
    )


def _parse_layer(check: _Checker, obj: Any, path: str) -> LayerConfig:
    if not isinstance(obj, dict):
        check.fail(path, f"must be an object like {{\"units\": 100, \"activation\": \"relu\"}}, got {_show(obj)}")
        return LayerConfig()
    check.section(obj, path, ("units", "activation", "batch_norm", "dropout"))
    return LayerConfig(
        units=check.integer(obj, "units", f"{path}.units", 100, *LIMITS["units"]),
        activation=check.choice(obj, "activation", f"{path}.activation", "relu", tuple(ACTIVATIONS)),
        batch_norm=check.boolean(obj, "batch_norm", f"{path}.batch_norm", False),
        dropout=check.number(obj, "dropout", f"{path}.dropout", 0.0, *LIMITS["dropout"]),
    )


def _parse_optimizer(check: _Checker, obj: Any) -> OptimizerConfig:
    if obj is None:
        obj = {}
    if not isinstance(obj, dict):
        check.fail("optimizer", f"must be an object like {{\"name\": \"sgd\", \"lr\": 0.01}}, got {_show(obj)}")
        return OptimizerConfig()
    name = check.choice(obj, "name", "optimizer.name", "sgd", tuple(OPTIMIZERS))
    defaults = OPTIMIZERS[name].defaults
    hyperparams: dict[str, float] = {}
    for key, value in obj.items():
        if key == "name":
            continue
        path = f"optimizer.{_key_name(key)}"
        if key not in defaults:
            allowed = ", ".join(defaults) or "none"
            check.fail(path, f"{name} has no hyperparameter {_key_name(key)}; allowed: {allowed}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            check.fail(path, f"must be a finite number, got {_show(value)}")
        else:
            try:  # the optimizer knows its own valid ranges; ask it one key at a time
                OPTIMIZERS[name](**{key: float(value)})
            except (ValueError, TypeError) as exc:
                check.fail(path, str(exc))
            else:
                hyperparams[key] = float(value)
    return OptimizerConfig(name=name, hyperparams={**defaults, **hyperparams})


def _parse_training(check: _Checker, obj: Any, data: DataConfig) -> TrainingConfig:
    obj = check.section(obj, "training", ("epochs", "batch_size", "weight_decay", "dtype"))
    batch_size = check.integer(obj, "batch_size", "training.batch_size", 100, *LIMITS["batch_size"])
    return TrainingConfig(
        epochs=check.integer(obj, "epochs", "training.epochs", 200, *LIMITS["epochs"]),
        batch_size=batch_size,
        weight_decay=check.number(obj, "weight_decay", "training.weight_decay", 0.0, *LIMITS["weight_decay"]),
        dtype=check.choice(obj, "dtype", "training.dtype", "float32", DTYPES),
    )


def count_weights(model: ModelConfig, n_in: int = 784, n_out: int = 10) -> int:
    """Number of multiply-adds of one forward pass of one sample (= weights of the affine maps)."""
    sizes = [n_in] + [layer.units for layer in model.hidden_layers] + [n_out]
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def estimated_cost(config: Config) -> float:
    """Multiply-adds of a whole run: forward+backward on train, forward on every evaluated set."""
    per_sample = count_weights(config.model)
    d = config.data
    per_epoch = 3 * d.train_size + d.train_size + d.validation_size + config.test_size
    return float(config.training.epochs) * per_epoch * per_sample


def _check_budget(check: _Checker, config: Config) -> None:
    cost = estimated_cost(config)
    budget = LIMITS["compute_budget"]
    if cost > budget:
        check.fail("training.epochs",
                   f"this run needs about {cost:.2g} multiply-adds, over the budget of {budget:.2g} per run; "
                   f"use fewer epochs, samples or units")
