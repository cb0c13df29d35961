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
from .cost import estimated_cost, layer_costs
from .initializers import INITIALIZERS
from .layer_kinds import (INPUT_SHAPE, ConvLayerConfig, LayerConfig, MaxoutLayerConfig, PoolLayerConfig,
                          ShapeError)
from .layers import DROPOUT_STYLES
from .losses import LOSSES
from .optimizers import OPTIMIZERS, hyperparameter_rule

POOL_SIZE = 5000

LIMITS = {
    "seed": (0, 2**32 - 1),
    "hidden_layers": (0, 10),
    "units": (1, 2048),
    # Maxout layers: affine pieces per unit, and the width of the one affine map (units x pieces) that
    # they take the max over: twice the widest dense layer.
    "pieces": (2, 10),
    "maxout_width": 4096,
    "dropout": (0.0, 0.9),
    "weight_init_std": (1e-6, 10.0),
    # Added to the batch variance. Above 0 so 1/sqrt(var + eps) stays finite for a unit whose batch
    # variance is 0; from 1e-8 its gradient gain 1/sqrt(eps) is at most 1e4 (smaller values only let a
    # near-constant unit blow its gradient up); at most 1, where eps already outweighs the variance of
    # typical pre-activations and batch norm stops normalising, so larger values show nothing new.
    "batch_norm_eps": (1e-8, 1.0),
    "epochs": (1, 1000),
    "batch_size": (1, POOL_SIZE),
    "weight_decay": (0.0, 10.0),
    "pool_size": POOL_SIZE,
    # Multiply-adds one run may spend (epochs x samples x weights): about 20 times the book's
    # 200-epoch overfitting experiment, so one request cannot hold a worker for hours.
    "compute_budget": 3e12,
    # Convolution and max-pooling layers (before every dense layer; the image is 1x28x28).
    "filters": (1, 64),
    "kernel": (1, 7),
    "conv_stride": (1, 4),
    "conv_pad": (0, 3),            # and less than the kernel size
    "pool": (1, 7),
    "pool_stride": (1, 7),
    # Numbers one batch is unfolded into by a conv (or overlapping pool) layer: batch x oh x ow x c x k x k
    # (im2col); its backward pass holds about three such arrays, so this bounds a run's memory.
    "unfold": 30_000_000,
    # Trainable parameters of the network (weights, biases, batch-norm gamma/beta); above the largest
    # all-dense network the other limits allow (784-2048x10-10, about 39.4 million).
    "parameters": 40_000_000,
}

# The kinds of hidden layer a config may list (``nnengine.layer_kinds``).
LAYER_TYPES = ("dense", "conv", "pool", "maxout")

DTYPES = ("float32", "float64")
# What a model without these keys means (every stored config and share link from before they existed).
DEFAULT_DROPOUT_STYLE = "inverted"
DEFAULT_BATCH_NORM_EPS = 1e-5
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


HiddenLayer = LayerConfig | ConvLayerConfig | PoolLayerConfig | MaxoutLayerConfig


@dataclass(frozen=True)
class ModelConfig:
    """``dropout_style``: ``"inverted"`` (scale kept units by 1/(1-p) while training) or ``"book"``
    (the book's Dropout: mask while training, scale by 1-p at test time), for every dropout layer;
    ``batch_norm_eps``: added to the batch variance by every batch norm (the book: 10e-7 = 1e-6)."""

    hidden_layers: tuple[HiddenLayer, ...] = (LayerConfig(),)
    weight_init: str = "he"
    weight_init_std: float = 0.01
    loss: str = "cross_entropy"
    dropout_style: str = DEFAULT_DROPOUT_STYLE
    batch_norm_eps: float = DEFAULT_BATCH_NORM_EPS


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
        doc["model"]["hidden_layers"] = [layer.to_dict() for layer in self.model.hidden_layers]
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

    def section(self, obj: Any, path: str, allowed: tuple[str, ...], what: str = "") -> dict:
        if obj is None:
            return {}
        if not isinstance(obj, dict):
            self.fail(path, f"must be an object, got {_show(obj)}")
            return {}
        for key in obj:
            if key not in allowed:
                name = _key_name(key)
                self.fail(f"{path}.{name}" if path else name,
                          f"unknown key{' for ' + what if what else ''}; allowed: {', '.join(allowed)}")
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
    """A value as the JSON it came from (an empty form field arrives as null: "nothing")."""
    if value is None:
        return "nothing"
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):  # not JSON: NaN, inf, or a Python object given directly
        text = repr(value)
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
    obj = check.section(obj, "model", ("hidden_layers", "weight_init", "weight_init_std", "loss",
                                       "dropout_style", "batch_norm_eps"))
    layers_obj = obj.get("hidden_layers", [LayerConfig().to_dict()])
    lo, hi = LIMITS["hidden_layers"]
    layers: list[HiddenLayer] = []
    if not isinstance(layers_obj, list):
        check.fail("model.hidden_layers", f"must be a list of layers, got {_show(layers_obj)}")
    elif not lo <= len(layers_obj) <= hi:
        check.fail("model.hidden_layers", f"must have from {lo} to {hi} layers, got {len(layers_obj)}")
    else:
        before = len(check.errors)
        for i, layer in enumerate(layers_obj):
            layers.append(_parse_layer(check, layer, f"model.hidden_layers[{i}]"))
        if len(check.errors) == before:      # shapes only make sense once every layer reads well
            _check_shapes(check, layers)
    return ModelConfig(
        hidden_layers=tuple(layers),
        weight_init=check.choice(obj, "weight_init", "model.weight_init", "he", tuple(INITIALIZERS)),
        weight_init_std=check.number(obj, "weight_init_std", "model.weight_init_std", 0.01,
                                     *LIMITS["weight_init_std"]),
        loss=check.choice(obj, "loss", "model.loss", "cross_entropy", tuple(LOSSES)),
        dropout_style=check.choice(obj, "dropout_style", "model.dropout_style", DEFAULT_DROPOUT_STYLE,
                                   DROPOUT_STYLES),
        batch_norm_eps=check.number(obj, "batch_norm_eps", "model.batch_norm_eps", DEFAULT_BATCH_NORM_EPS,
                                    *LIMITS["batch_norm_eps"]),
    )


_LAYER_KEYS = {
    "dense": ("units", "activation", "batch_norm", "dropout", "type"),
    "conv": ("type", "filters", "kernel", "stride", "pad", "activation", "batch_norm", "dropout"),
    "pool": ("type", "size", "stride"),
    "maxout": ("type", "units", "pieces", "dropout"),
}
# Keys of a dense layer that a maxout layer refuses, with the reason.
_NOT_MAXOUT = {
    "activation": "a maxout layer has no separate activation (the max over its pieces is its activation): "
                  "remove the key, or use a dense layer",
    "batch_norm": "a maxout layer has no batch norm (it would sit inside the layer, between the affine pieces "
                  "and their max): remove the key, or use a dense layer",
}


def _parse_layer(check: _Checker, obj: Any, path: str) -> HiddenLayer:
    if not isinstance(obj, dict):
        check.fail(path, f"must be an object like {{\"units\": 100, \"activation\": \"relu\"}}, got {_show(obj)}")
        return LayerConfig()
    kind = check.choice(obj, "type", f"{path}.type", "dense", LAYER_TYPES)
    check.section({k: v for k, v in obj.items() if kind != "maxout" or k not in _NOT_MAXOUT}, path,
                  _LAYER_KEYS[kind], what=f"a {kind} layer" if kind != "dense" else "")
    return _LAYER_PARSERS[kind](check, obj, path)


def _parse_dense(check: _Checker, obj: dict, path: str) -> LayerConfig:
    activation = check.choice(obj, "activation", f"{path}.activation", "relu", tuple(ACTIVATIONS))
    batch_norm = check.boolean(obj, "batch_norm", f"{path}.batch_norm", False)
    dropout = check.number(obj, "dropout", f"{path}.dropout", 0.0, *LIMITS["dropout"])
    units = check.integer(obj, "units", f"{path}.units", 100, *LIMITS["units"])
    return LayerConfig(units=units, activation=activation, batch_norm=batch_norm, dropout=dropout)


def _parse_conv(check: _Checker, obj: dict, path: str) -> ConvLayerConfig:
    activation = check.choice(obj, "activation", f"{path}.activation", "relu", tuple(ACTIVATIONS))
    batch_norm = check.boolean(obj, "batch_norm", f"{path}.batch_norm", False)
    dropout = check.number(obj, "dropout", f"{path}.dropout", 0.0, *LIMITS["dropout"])
    kernel = check.integer(obj, "kernel", f"{path}.kernel", 5, *LIMITS["kernel"])
    pad = check.integer(obj, "pad", f"{path}.pad", kernel // 2, *LIMITS["conv_pad"])
    if pad >= kernel:
        check.fail(f"{path}.pad", f"must be less than the kernel size {kernel} (from 0 to {kernel - 1}), got {pad}")
    return ConvLayerConfig(filters=check.integer(obj, "filters", f"{path}.filters", 8, *LIMITS["filters"]),
                           kernel=kernel, stride=check.integer(obj, "stride", f"{path}.stride", 1,
                                                               *LIMITS["conv_stride"]),
                           pad=pad, activation=activation, batch_norm=batch_norm, dropout=dropout)


def _parse_pool(check: _Checker, obj: dict, path: str) -> PoolLayerConfig:
    size = check.integer(obj, "size", f"{path}.size", 2, *LIMITS["pool"])
    return PoolLayerConfig(size=size, stride=check.integer(obj, "stride", f"{path}.stride", size,
                                                             *LIMITS["pool_stride"]))


def _parse_maxout(check: _Checker, obj: dict, path: str) -> MaxoutLayerConfig:
    for key, reason in _NOT_MAXOUT.items():
        if key in obj:
            check.fail(f"{path}.{key}", f"{reason}; got {_show(obj[key])}")
    units = check.integer(obj, "units", f"{path}.units", 100, *LIMITS["units"])
    pieces = check.integer(obj, "pieces", f"{path}.pieces", 2, *LIMITS["pieces"])
    width = LIMITS["maxout_width"]
    if units * pieces > width:
        check.fail(f"{path}.pieces", f"units x pieces = {units} x {pieces} = {units * pieces} affine values, over "
                                     f"the limit of {width} per maxout layer; allowed with {units} units: at most "
                                     f"{max(1, width // units)} pieces")
    dropout = check.number(obj, "dropout", f"{path}.dropout", 0.0, *LIMITS["dropout"])
    return MaxoutLayerConfig(units=units, pieces=pieces, dropout=dropout)


_LAYER_PARSERS = {"dense": _parse_dense, "conv": _parse_conv, "pool": _parse_pool, "maxout": _parse_maxout}


def _check_shapes(check: _Checker, layers: list[HiddenLayer]) -> None:
    """Conv and pool layers only before the first dense (or maxout) layer, and each window fits its
    input map (``output_shape`` of each layer's kind)."""
    shape = INPUT_SHAPE
    first_flat = None
    for i, layer in enumerate(layers):
        path = f"model.hidden_layers[{i}]"
        if not layer.takes_image:
            first_flat = i if first_flat is None else first_flat
            continue
        if first_flat is not None:
            flat = layers[first_flat].type
            check.fail(f"{path}.type", f"a {layer.type} layer cannot follow a {flat} layer (hidden layer {first_flat + 1} "
                                       f"is {flat}): conv and pool layers come first, while the input is still "
                                       f"an image, then dense layers")
            return
        try:
            shape = layer.output_shape(shape)
        except ShapeError as exc:
            check.fail(f"{path}.{exc.field}", exc.message)
            return


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
                rule = hyperparameter_rule(key)
                check.fail(path, f"must be {rule}, got {_show(value)}" if rule else str(exc))
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


def _check_budget(check: _Checker, config: Config) -> None:
    """Compute, memory and size limits of the whole run (after every field is valid)."""
    cost = estimated_cost(config)
    budget = LIMITS["compute_budget"]
    convolutional = any(layer.takes_image for layer in config.model.hidden_layers)
    if cost > budget:
        check.fail("training.epochs",
                   f"this run needs about {cost:.2g} multiply-adds, over the budget of {budget:.2g} per run; "
                   f"use fewer epochs, samples{', units or filters' if convolutional else ' or units'}")
    batch = min(config.training.batch_size, config.data.train_size)
    costs = layer_costs(config.model.hidden_layers)
    for i, (_, unfolded, _) in enumerate(costs[:-1]):
        if batch * unfolded > LIMITS["unfold"]:
            layer = config.model.hidden_layers[i]
            most = max(1, LIMITS["unfold"] // unfolded)
            check.fail("training.batch_size",
                       f"a batch of {batch} images makes the {layer.type} layer hidden_layers[{i}] unfold "
                       f"{batch * unfolded:,} numbers, over the limit of {LIMITS['unfold']:,}; allowed here: "
                       f"a batch size of at most {most}, or a smaller kernel or fewer filters before it")
            break
    params = sum(p for _, _, p in costs)
    if params > LIMITS["parameters"]:
        where = "model.hidden_layers" if config.model.hidden_layers else "model"
        check.fail(where, f"this network has {params:,} parameters, over the limit of {LIMITS['parameters']:,}; "
                          f"use fewer units{', or a pool layer or fewer filters before the first dense layer' if convolutional else ''}")
