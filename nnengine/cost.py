"""What a model costs and the shapes it makes, summed from each layer kind's own ``cost`` and
``output_shape`` (``nnengine.layer_kinds``): the numbers validation limits and the evaluation's chunks
are sized by."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .layer_kinds import INPUT_SHAPE, LayerCost, network_layers, output_layer

if TYPE_CHECKING:
    from .config import Config, ModelConfig


def input_shapes(hidden_layers, n_in: int = 784) -> list[tuple[int, ...]]:
    """The shape (no batch axis) that reaches each hidden layer, then the output layer, of a network
    on rows of ``n_in`` features (after the reshape to the image and the flatten it inserts)."""
    inputs, shape = [], (n_in,)
    hidden = iter(hidden_layers)
    waiting = next(hidden, None)
    for kind in network_layers(hidden_layers):
        if kind is waiting:
            inputs.append(shape)
            waiting = next(hidden, None)
        shape = kind.output_shape(shape)
    return inputs + [shape]


def layer_costs(hidden_layers, n_in: int = 784, n_out: int = 10) -> list[LayerCost]:
    """One ``LayerCost`` per hidden layer, then one for the output layer (the reshape and flatten
    between them cost nothing)."""
    *inputs, last = input_shapes(hidden_layers, n_in)
    return [layer.cost(shape) for layer, shape in zip(hidden_layers, inputs)] + [output_layer(n_out).cost(last)]


def layer_shapes(model: ModelConfig) -> list[tuple[int, ...]]:
    """Output shape of every hidden layer of a valid model, for the 1x28x28 MNIST input: (c, h, w) for
    conv and pool layers, (units,) for dense ones. E.g. conv 8 5x5 pad 2, pool 2, dense 100 ->
    [(8, 28, 28), (8, 14, 14), (100,)]."""
    inputs = input_shapes(model.hidden_layers, math.prod(INPUT_SHAPE))
    return [layer.output_shape(shape) for layer, shape in zip(model.hidden_layers, inputs)]


def count_weights(model: ModelConfig, n_in: int = 784, n_out: int = 10) -> int:
    """Multiply-adds of one forward pass of one sample: the weights of the affine maps, plus for every
    conv layer filters x (c k k) x (output positions), plus every number an im2col copies or a max-pool
    reads. For an all-dense network, the number of weights of its affine maps."""
    return sum(cost.macs + cost.unfolded for cost in layer_costs(model.hidden_layers, n_in, n_out))


def unfolded_per_sample(model: ModelConfig, n_in: int = 784, n_out: int = 10) -> int:
    """The most numbers one layer unfolds (im2col) per sample: c k k per output position of a conv
    layer (0 for an all-dense network)."""
    return max((cost.unfolded for cost in layer_costs(model.hidden_layers, n_in, n_out)), default=0)


def count_parameters(model: ModelConfig, n_in: int = 784, n_out: int = 10) -> int:
    """Trainable parameters: weights, biases, batch-norm gamma and beta."""
    return sum(cost.params for cost in layer_costs(model.hidden_layers, n_in, n_out))


def estimated_cost(config: Config) -> float:
    """Multiply-adds of a whole run: forward+backward on train, forward on every evaluated set."""
    per_sample = count_weights(config.model)
    d = config.data
    per_epoch = 3 * d.train_size + d.train_size + d.validation_size + config.test_size
    return float(config.training.epochs) * per_epoch * per_sample
