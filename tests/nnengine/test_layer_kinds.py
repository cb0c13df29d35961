"""The layer-kind registry: every kind answers output_shape, cost and build, and their answers agree
with the layers it builds; unknown kinds are named with the known ones."""
import math

import numpy as np
import pytest

from nnengine.config import LAYER_TYPES, parse_config
from nnengine.cost import count_parameters, layer_costs
from nnengine.layer_kinds import (INPUT_SHAPE, LAYER_KINDS, BuildContext, ShapeError, build_layers, from_specs,
                                  layer_kind, output_shape)

# One example of every kind, with an input shape it takes.
EXAMPLES = {
    "dense": ({"type": "dense", "units": 7, "batch_norm": True, "dropout": 0.2}, (12,)),
    "conv": ({"type": "conv", "filters": 3, "kernel": 3, "pad": 1, "stride": 2, "batch_norm": True}, (2, 9, 9)),
    "pool": ({"type": "pool", "size": 2, "stride": 2}, (3, 8, 8)),
    "maxout": ({"type": "maxout", "units": 5, "pieces": 3, "dropout": 0.1}, (12,)),
    "reshape": ({"type": "reshape", "shape": [1, 4, 4]}, (16,)),
    "flatten": ({"type": "flatten"}, (3, 4, 4)),
}


def test_every_kind_has_an_example():
    assert set(EXAMPLES) == set(LAYER_KINDS)
    assert set(LAYER_TYPES) <= set(LAYER_KINDS)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_kind_answers_shape_cost_and_build(name):
    spec, shape = EXAMPLES[name]
    kind = layer_kind(name).from_spec(spec)
    assert kind.type == name
    out = kind.output_shape(shape)
    cost = kind.cost(shape)
    assert all(isinstance(v, int) and v >= 0 for v in cost)
    layers = kind.build(shape, BuildContext(np.random.default_rng(0), dtype=np.float64), first=False)
    # what the built layers make of a batch is the shape the kind announced
    x = np.random.default_rng(1).standard_normal((4, *shape))
    for layer in layers:
        x = layer.forward(x, train=False)
    assert x.shape == (4, *out)
    # the parameters it counts are the ones it builds
    assert cost.params == sum(p.size for layer in layers for p in layer.params.values())


def test_unknown_kind_lists_the_known_ones():
    with pytest.raises(ValueError) as info:
        layer_kind("lstm")
    message = str(info.value)
    assert "'lstm'" in message and all(name in message for name in LAYER_KINDS)
    with pytest.raises(ValueError, match=r"layers\[1\]: unknown type 'rnn'; known: dense, conv"):
        from_specs([{"type": "dense", "units": 3}, {"type": "rnn"}])


def test_a_model_file_entry_missing_a_required_key_is_named():
    with pytest.raises(ValueError, match=r"layers\[0\]: a conv layer needs 'filters'"):
        from_specs([{"type": "conv", "kernel": 3}])


def test_a_window_that_does_not_fit_names_the_field():
    kind = layer_kind("conv").from_spec({"filters": 2, "kernel": 5})
    with pytest.raises(ShapeError) as info:
        kind.output_shape((1, 4, 4))
    assert info.value.field == "kernel" and "kernel 5 does not fit the 1x4x4 input" in info.value.message
    with pytest.raises(ValueError, match="needs flat input"):
        output_shape([{"type": "dense", "units": 3}], (1, 4, 4))


def test_model_file_defaults_are_not_the_configs():
    """A model file's conv entry without kernel/pad has kernel 3, pad 0 (what build_layers always took);
    a config's has kernel 5, pad 2."""
    from_file = from_specs([{"type": "conv", "filters": 4}])[0]
    from_config = parse_config({"model": {"hidden_layers": [{"type": "conv", "filters": 4}]}}).model.hidden_layers[0]
    assert (from_file.kernel, from_file.pad) == (3, 0)
    assert (from_config.kernel, from_config.pad) == (5, 2)


def test_pool_padding_of_a_model_file_reaches_the_layer_and_stays_out_of_a_configs_json():
    padded = from_specs([{"type": "pool", "size": 3, "stride": 2, "pad": 1}])[0]
    assert padded.output_shape((2, 7, 7)) == (2, 4, 4)
    assert padded.to_dict() == {"type": "pool", "size": 3, "stride": 2, "pad": 1}
    config = parse_config({"model": {"hidden_layers": [{"type": "pool", "size": 2}, {"units": 5}]}})
    assert config.to_dict()["model"]["hidden_layers"][0] == {"type": "pool", "size": 2, "stride": 2}


def test_a_configs_network_has_the_parameters_its_costs_count():
    config = parse_config({"model": {"hidden_layers": [
        {"type": "conv", "filters": 4, "kernel": 3, "batch_norm": True}, {"type": "pool", "size": 2},
        {"type": "maxout", "units": 6, "pieces": 2}, {"units": 9, "batch_norm": True}]}})
    from nnengine.models import build_network

    network = build_network(config.model, config.training, np.random.default_rng(0))
    assert count_parameters(config.model) == sum(p.size for p in network.params.values())
    assert len(layer_costs(config.model.hidden_layers)) == len(config.model.hidden_layers) + 1


def test_build_layers_adds_the_flatten_and_the_output_map():
    layers = build_layers([{"type": "reshape", "shape": list(INPUT_SHAPE)}, {"type": "conv", "filters": 2}],
                          np.random.default_rng(0), n_out=3)
    assert [type(layer).__name__ for layer in layers] == ["Reshape", "Conv2D", "ReLU", "Flatten", "Affine"]
    assert layers[-1].params["W"].shape == (2 * 26 * 26, 3)
    assert not layers[1].need_dx and layers[-1].need_dx          # the first map computes no dx
    assert math.prod(layers[1].params["W"].shape) == 2 * 9
