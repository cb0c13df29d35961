"""The kinds of layer a network is described with, each in one place: what it holds, what shape comes
out of it, what it costs and which layers it builds.

A kind is a frozen dataclass (the typed form of one entry of a config's ``model.hidden_layers`` or of a
model file's ``layers``) with

- ``output_shape(shape)``: the shape (no batch axis) it makes of an input of ``shape``; raises
  ``ShapeError`` naming the field when the input does not suit it;
- ``cost(shape)``: a ``LayerCost`` (multiply-adds and numbers unfolded per sample, trainable parameters);
- ``build(shape, ctx, first)``: the ``Layer`` objects, weights drawn from ``ctx``.

``LAYER_KINDS`` maps the ``type`` of an entry to its kind.  Hidden layers of a config are ``dense``,
``conv``, ``pool`` and ``maxout``; a model file also lists the ``reshape`` to the image and the
``flatten`` before the first dense layer, which ``network_layers`` inserts for a config.  Whole
networks are built by ``build_layers``; their costs are summed in ``nnengine.cost``.

Model-file entries (``from_spec``) take their own defaults, which are not the config's: a conv entry
without ``kernel`` has kernel 3 and pad 0 (a config's: kernel 5, pad kernel // 2)::

    {"type": "reshape", "shape": [1, 28, 28]}
    {"type": "conv", "filters": 16, "kernel": 5, "stride": 1, "pad": 2, "activation": "relu",
     "batch_norm": false, "dropout": 0.0}
    {"type": "pool", "size": 2, "stride": 2}
    {"type": "flatten"}
    {"type": "dense", "units": 128, "activation": "relu", "batch_norm": false, "dropout": 0.3}
    {"type": "maxout", "units": 100, "pieces": 2, "dropout": 0.0}
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, NamedTuple

import numpy as np

from .activations import get_activation
from .conv import Conv2D, Flatten, MaxPool2D, Reshape, SpatialBatchNorm
from .initializers import INITIALIZERS
from .layers import Affine, BatchNorm, Dropout, Layer
from .maxout import Maxout

# The image every convolutional layer starts from: (channels, height, width) of an MNIST digit.
INPUT_SHAPE = (1, 28, 28)

Shape = tuple[int, ...]


class ShapeError(ValueError):
    """An input shape a layer cannot take; ``field`` names the setting at fault (e.g. ``kernel``)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


class LayerCost(NamedTuple):
    """Per sample: multiply-adds of the forward pass, numbers unfolded (im2col) at once; and the
    trainable parameters."""

    macs: int
    unfolded: int
    params: int


@dataclass
class BuildContext:
    """Where a build draws its weights from, and what every layer of the network shares.

    Weights: ``INITIALIZERS[weight_init](fan_in, fan_out, rng, weight_init_std, dtype)``, layer by layer
    in order; biases start at 0.  Dropout layers keep ``rng`` for their masks.  Every dropout layer has
    ``dropout_style`` (``layers.Dropout``) and every batch norm adds ``batch_norm_eps`` to the variance;
    the defaults are what networks were built with before these settings existed.
    """

    rng: np.random.Generator
    weight_init: str = "he"
    weight_init_std: float = 0.01
    dtype: Any = np.float32
    dropout_style: str = "inverted"
    batch_norm_eps: float = 1e-5

    def weights(self, fan_in: int, fan_out: int) -> np.ndarray:
        """A (fan_in, fan_out) weight matrix."""
        W = INITIALIZERS[self.weight_init](fan_in, fan_out, self.rng, self.weight_init_std, self.dtype)
        return np.ascontiguousarray(W, dtype=self.dtype)

    def zeros(self, n: int) -> np.ndarray:
        return np.zeros(n, dtype=self.dtype)

    def after_map(self, width: int, batch_norm: bool, activation: str | None, dropout: float,
                  norm: type[BatchNorm] = BatchNorm) -> list[Layer]:
        """What follows an affine map or a convolution: [batch norm] -> activation -> [dropout]."""
        layers: list[Layer] = []
        if batch_norm:
            layers.append(norm(np.ones(width, dtype=self.dtype), self.zeros(width), eps=self.batch_norm_eps))
        if activation:
            # ReLU may overwrite its input: the fresh output of the map or batch norm just before it
            layers.append(get_activation(activation, **({"inplace": True} if activation == "relu" else {})))
        if dropout > 0:
            layers.append(Dropout(float(dropout), self.rng, style=self.dropout_style))
        return layers


class _Kind:
    """What every kind shares: its JSON form and how a model-file entry becomes one."""

    type: ClassVar[str]
    takes_image: ClassVar[bool] = False     # needs a (c, h, w) input, so comes before any flat layer
    spec_defaults: ClassVar[dict[str, Any]] = {}

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``type`` then the fields in order."""
        return {"type": self.type, **asdict(self)}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]):
        """The kind a model file's entry describes (its missing keys take ``spec_defaults``)."""
        values = {}
        for f in fields(cls):
            if f.name in spec:
                values[f.name] = spec[f.name]
            elif f.name in cls.spec_defaults:
                values[f.name] = cls.spec_defaults[f.name]
            else:
                raise ValueError(f"a {cls.type} layer needs '{f.name}'")
        return cls(**{f.name: _typed(f.type, values[f.name]) for f in fields(cls)})


def _typed(annotation: str, value):
    if annotation == "int":
        return int(value)
    if annotation == "float":
        return float(value)
    if annotation == "bool":
        return bool(value)
    if annotation == "tuple[int, ...]":
        return tuple(int(v) for v in value)
    return value


def _flat_input(kind: str, shape: Shape) -> int:
    if len(shape) != 1:
        raise ShapeError("type", f"'{kind}' needs flat input (add a flatten), got {shape}")
    return shape[0]


def _image_input(kind: str, shape: Shape) -> Shape:
    if len(shape) != 3:
        raise ShapeError("type", f"'{kind}' needs (c, h, w) input, got {shape}")
    return shape


def _window_output(shape: Shape, key: str, window: int, stride: int, pad: int) -> tuple[int, int]:
    """(oh, ow) of a ``window`` x ``window`` sliding by ``stride`` over a (c, h, w) input padded by ``pad``."""
    c, h, w = shape
    if window > min(h, w) + 2 * pad:
        padded = f" ({h + 2 * pad}x{w + 2 * pad} with padding {pad})" if pad else ""
        raise ShapeError(key, f"{key} {window} does not fit the {c}x{h}x{w} input of this layer{padded}; "
                              f"allowed: at most {min(h, w) + 2 * pad}")
    return (h + 2 * pad - window) // stride + 1, (w + 2 * pad - window) // stride + 1


@dataclass(frozen=True)
class LayerConfig(_Kind):
    """A dense (fully connected) layer: Affine -> [BatchNorm] -> activation -> [Dropout].  Maps (d,) to
    (units,).  ``activation`` None: the affine map alone (the output layer, whose output function the
    loss owns)."""

    units: int = 100
    activation: str = "relu"
    batch_norm: bool = False
    dropout: float = 0.0
    type: ClassVar[str] = "dense"
    spec_defaults: ClassVar[dict[str, Any]] = {"activation": "relu", "batch_norm": False, "dropout": 0.0}

    def to_dict(self) -> dict[str, Any]:
        """Without a ``type`` key: exactly what configs (stored runs, share links) looked like before
        conv layers, so they round-trip unchanged."""
        return asdict(self)

    def output_shape(self, shape: Shape) -> Shape:
        _flat_input(self.type, shape)
        return (self.units,)

    def cost(self, shape: Shape) -> LayerCost:
        fan_in = math.prod(shape)
        norm = 2 * self.units if self.batch_norm else 0
        return LayerCost(fan_in * self.units, 0, (fan_in + 1) * self.units + norm)

    def build(self, shape: Shape, ctx: BuildContext, first: bool) -> list[Layer]:
        fan_in = _flat_input(self.type, shape)
        affine = Affine(ctx.weights(fan_in, self.units), ctx.zeros(self.units), need_dx=not first)
        return [affine, *ctx.after_map(self.units, self.batch_norm, self.activation, self.dropout)]


@dataclass(frozen=True)
class ConvLayerConfig(_Kind):
    """A convolution: Conv2D(filters, kernel x kernel, stride, pad) -> [BatchNorm per channel] ->
    activation -> [Dropout]. Maps (c, h, w) to (filters, oh, ow), oh = (h + 2 pad - kernel) // stride + 1."""

    filters: int = 8
    kernel: int = 5
    stride: int = 1
    pad: int = 2
    activation: str = "relu"
    batch_norm: bool = False
    dropout: float = 0.0
    type: ClassVar[str] = "conv"
    takes_image: ClassVar[bool] = True
    spec_defaults: ClassVar[dict[str, Any]] = {"kernel": 3, "stride": 1, "pad": 0, "activation": "relu",
                                               "batch_norm": False, "dropout": 0.0}

    def output_shape(self, shape: Shape) -> Shape:
        oh, ow = _window_output(_image_input(self.type, shape), "kernel", self.kernel, self.stride, self.pad)
        return (self.filters, oh, ow)

    def cost(self, shape: Shape) -> LayerCost:
        positions = math.prod(self.output_shape(shape)[1:])
        patch = shape[0] * self.kernel * self.kernel                  # c k k numbers per output position
        params = self.filters * (patch + 1) + (2 * self.filters if self.batch_norm else 0)
        # the products, plus one pass over the output (bias, activation) per number
        return LayerCost(positions * self.filters * (patch + 1), positions * patch, params)

    def build(self, shape: Shape, ctx: BuildContext, first: bool) -> list[Layer]:
        c, k, fn = _image_input(self.type, shape)[0], self.kernel, self.filters
        # drawn as (fan_in, fn) with fan-in c k k, then laid out as (fn, c, k, k)
        W = np.ascontiguousarray(ctx.weights(c * k * k, fn).T.reshape(fn, c, k, k), dtype=ctx.dtype)
        conv = Conv2D(W, ctx.zeros(fn), stride=self.stride, pad=self.pad, need_dx=not first)
        return [conv, *ctx.after_map(fn, self.batch_norm, self.activation, self.dropout, SpatialBatchNorm)]


@dataclass(frozen=True)
class PoolLayerConfig(_Kind):
    """Max pooling over size x size windows: (c, h, w) -> (c, oh, ow), oh = (h + 2 pad - size) // stride + 1.
    A config's pool layers have no padding; a model file's may."""

    size: int = 2
    stride: int = 2
    pad: int = 0
    type: ClassVar[str] = "pool"
    takes_image: ClassVar[bool] = True
    spec_defaults: ClassVar[dict[str, Any]] = {"size": 2, "pad": 0}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]):
        size = int(spec.get("size", 2))
        return cls(size=size, stride=int(spec.get("stride", size)), pad=int(spec.get("pad", 0)))

    def to_dict(self) -> dict[str, Any]:
        doc = super().to_dict()
        if not self.pad:
            del doc["pad"]          # what a config's pool layer has always looked like
        return doc

    def output_shape(self, shape: Shape) -> Shape:
        c = _image_input(self.type, shape)[0]
        return (c, *_window_output(shape, "size", self.size, self.stride, self.pad))

    def cost(self, shape: Shape) -> LayerCost:
        out = self.output_shape(shape)
        window = math.prod(out) * self.size * self.size             # every window is read once
        tiles = (self.stride == self.size and not self.pad
                 and shape[1] % self.size == 0 and shape[2] % self.size == 0)
        return LayerCost(window, 0 if tiles else window, 0)         # else the windows go through im2col

    def build(self, shape: Shape, ctx: BuildContext, first: bool) -> list[Layer]:
        return [MaxPool2D(self.size, self.stride, self.pad)]


@dataclass(frozen=True)
class MaxoutLayerConfig(_Kind):
    """Maxout (Goodfellow et al. 2013): one affine map to units x pieces values, then each unit's max over
    its pieces, h_i = max_j (x W_ij + b_ij) -> [Dropout]. Maps (d,) to (units,). No separate activation
    (the max is one) and no batch norm."""

    units: int = 100
    pieces: int = 2
    dropout: float = 0.0
    type: ClassVar[str] = "maxout"
    spec_defaults: ClassVar[dict[str, Any]] = {"dropout": 0.0}

    def output_shape(self, shape: Shape) -> Shape:
        _flat_input(self.type, shape)
        return (self.units,)

    def cost(self, shape: Shape) -> LayerCost:
        # one affine map to units x pieces values (the max over them is one pass, not counted)
        width = self.units * self.pieces
        return LayerCost(math.prod(shape) * width, 0, (math.prod(shape) + 1) * width)

    def build(self, shape: Shape, ctx: BuildContext, first: bool) -> list[Layer]:
        # one affine map to pieces * units values (fan-in d_in, as a dense layer), then the max per unit
        width = self.pieces * self.units
        W = ctx.weights(_flat_input(self.type, shape), width)
        layers: list[Layer] = [Maxout(W, ctx.zeros(width), self.pieces, need_dx=not first)]
        return layers + ctx.after_map(self.units, False, None, self.dropout)


@dataclass(frozen=True)
class ReshapeLayerConfig(_Kind):
    """Rows (n, d) -> (n, *shape), e.g. the flat MNIST rows into 1x28x28 images."""

    shape: tuple[int, ...] = INPUT_SHAPE
    type: ClassVar[str] = "reshape"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "shape": list(self.shape)}

    def output_shape(self, shape: Shape) -> Shape:
        if math.prod(self.shape) != math.prod(shape):
            raise ShapeError("shape", f"cannot reshape {shape} to {self.shape}")
        return self.shape

    def cost(self, shape: Shape) -> LayerCost:
        return LayerCost(0, 0, 0)

    def build(self, shape: Shape, ctx: BuildContext, first: bool) -> list[Layer]:
        return [Reshape(self.output_shape(shape))]


@dataclass(frozen=True)
class FlattenLayerConfig(_Kind):
    """Feature maps (n, c, h, w) -> rows (n, c h w)."""

    type: ClassVar[str] = "flatten"

    def output_shape(self, shape: Shape) -> Shape:
        return (math.prod(shape),)

    def cost(self, shape: Shape) -> LayerCost:
        return LayerCost(0, 0, 0)

    def build(self, shape: Shape, ctx: BuildContext, first: bool) -> list[Layer]:
        return [Flatten()]


LayerKind = (LayerConfig | ConvLayerConfig | PoolLayerConfig | MaxoutLayerConfig | ReshapeLayerConfig
             | FlattenLayerConfig)

LAYER_KINDS: dict[str, type] = {kind.type: kind for kind in (
    LayerConfig, ConvLayerConfig, PoolLayerConfig, MaxoutLayerConfig, ReshapeLayerConfig, FlattenLayerConfig)}


def layer_kind(name: Any) -> type:
    """The kind of layer named ``name``; an unknown name raises ValueError listing the known ones."""
    kind = LAYER_KINDS.get(name) if isinstance(name, str) else None
    if kind is None:
        raise ValueError(f"unknown type {name!r}; known: {', '.join(LAYER_KINDS)}")
    return kind


def from_specs(specs: list) -> list[LayerKind]:
    """The kinds of a model file's ``layers`` entries (kinds given as such are kept)."""
    kinds = []
    for i, spec in enumerate(specs):
        if isinstance(spec, _Kind):
            kinds.append(spec)
            continue
        try:
            if not isinstance(spec, dict):
                raise ValueError(f"must be an object like {{\"type\": \"dense\", \"units\": 100}}, got {spec!r}")
            kinds.append(layer_kind(spec.get("type")).from_spec(spec))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"layers[{i}]: {exc}") from None
    return kinds


def network_layers(hidden_layers) -> list[LayerKind]:
    """The layers before the output layer of a network whose hidden layers are ``hidden_layers``:
    with conv or pool layers the rows (n, 784) are reshaped to images (n, 1, 28, 28) first and the maps
    flattened before the first flat layer (dense, maxout)."""
    hidden = list(hidden_layers)
    if any(layer.takes_image for layer in hidden):
        first_flat = next((i for i, layer in enumerate(hidden) if not layer.takes_image), len(hidden))
        hidden = ([ReshapeLayerConfig(INPUT_SHAPE)] + hidden[:first_flat] + [FlattenLayerConfig()]
                  + hidden[first_flat:])
    return hidden


def output_layer(n_out: int) -> LayerConfig:
    """The affine map to the ``n_out`` class scores that ends every network (the loss owns the output
    function)."""
    return LayerConfig(units=n_out, activation=None)


def output_shape(specs: list, input_shape: Shape = (784,)) -> Shape:
    """Shape (without the batch axis) after the given layers or model-file entries; raises ValueError
    on a layer that cannot take its input."""
    shape = tuple(input_shape)
    for i, kind in enumerate(from_specs(specs)):
        try:
            shape = kind.output_shape(shape)
        except ShapeError as exc:
            raise ValueError(f"layers[{i}]: {exc.message}") from None
    return shape


def build_layers(specs: list, rng: np.random.Generator, *, n_in: int = 784, n_out: int = 10,
                 weight_init: str = "he", weight_init_std: float = 0.01, dtype=np.float32,
                 dropout_style: str = "inverted", batch_norm_eps: float = 1e-5) -> list[Layer]:
    """The layers of ``specs`` (kinds or model-file entries) followed by an output Affine to ``n_out``
    (after a Flatten when the last of them leaves feature maps).

    Weights are drawn from ``rng`` layer by layer, in order (``BuildContext``); the first layer with
    weights computes no dx (nothing below it needs one).
    """
    kinds = from_specs(specs)
    ctx = BuildContext(rng, weight_init, weight_init_std, dtype, dropout_style, batch_norm_eps)
    shape = output_shape(kinds, (n_in,))
    if len(shape) != 1:
        kinds.append(FlattenLayerConfig())
    kinds.append(output_layer(n_out))
    layers: list[Layer] = []
    shape = (n_in,)
    for kind in kinds:
        layers += kind.build(shape, ctx, first=not any(layer.params for layer in layers))
        shape = kind.output_shape(shape)
    return layers
