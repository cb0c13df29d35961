"""Model files and networks from descriptions (nnengine/models.py): a saved model loads back to the
same predictions, a stored run's network is the trained one, and missing or foreign files are refused
with a message."""
import json

import numpy as np
import pytest

from nnengine.config import parse_config
from nnengine.models import (DEFAULT_MODEL, ModelFileError, build_network, load_model, load_weights,
                             network_for_run, network_from_meta, read_description, save_model, weights_npz)
from nnengine.trainer import train

LAYERS = [
    {"type": "reshape", "shape": [1, 28, 28]},
    {"type": "conv", "filters": 2, "kernel": 3, "pad": 1, "batch_norm": True},
    {"type": "pool", "size": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 8, "activation": "tanh", "dropout": 0.2},
]
META = {"name": "tiny", "n_in": 784, "n_out": 10, "loss": "cross_entropy", "weight_init": "he", "layers": LAYERS}


def trained_meta_network():
    network = network_from_meta(META)
    rng = np.random.default_rng(3)
    for layer in network.layers:          # batch-norm statistics away from their start values
        if hasattr(layer, "running_mean"):
            layer.running_mean[...] = rng.standard_normal(layer.running_mean.shape)
            layer.running_var[...] = rng.random(layer.running_var.shape) + 0.5
    for value in network.params.values():
        value[...] = rng.standard_normal(value.shape).astype(value.dtype) * 0.1
    return network


def test_a_saved_model_loads_back_to_the_same_predictions(tmp_path):
    network = trained_meta_network()
    npz, description = save_model(tmp_path / "models" / "tiny", network, META)
    assert (npz.name, description.name) == ("tiny.npz", "tiny.json")
    assert json.loads(description.read_text()) == {**META, "format": 1}
    loaded = load_model(tmp_path / "models" / "tiny")
    x = np.random.default_rng(0).random((5, 784)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x), network.predict(x))
    assert read_description(tmp_path / "models" / "tiny.json")["name"] == "tiny"


def test_a_stored_runs_network_is_the_trained_one():
    config = parse_config({"seed": 2, "data": {"train_size": 60, "test_size": 40},
                           "model": {"hidden_layers": [{"units": 12, "batch_norm": True}]},
                           "training": {"epochs": 2, "batch_size": 20, "dtype": "float64"}})
    result = train(config)
    rebuilt = network_for_run(config.to_dict(), weights_npz(result.network))
    x = np.random.default_rng(1).random((7, 784))
    np.testing.assert_array_equal(rebuilt.predict(x), result.network.predict(x))
    assert rebuilt.params["0.W"].dtype == np.float64                  # the run's own dtype


def test_weights_of_another_network_are_refused():
    small = parse_config({"model": {"hidden_layers": [{"units": 5}]}})
    large = parse_config({"model": {"hidden_layers": [{"units": 6}]}})
    weights = weights_npz(build_network(small.model, small.training, np.random.default_rng(0)))
    with pytest.raises(ValueError, match="saved weights do not match this network at '0.W'"):
        load_weights(build_network(large.model, large.training, np.random.default_rng(0)), weights)


def test_missing_model_files_are_named(tmp_path):
    with pytest.raises(ModelFileError, match="no model files nothing.npz and nothing.json"):
        load_model(tmp_path / "nothing")
    with pytest.raises(ModelFileError, match="'layers'"):
        save_model(tmp_path / "x", trained_meta_network(), {"name": "x"})


@pytest.mark.skipif(not DEFAULT_MODEL.with_suffix(".npz").exists(), reason="the default model is not installed")
def test_the_default_model_loads_and_gives_probabilities():
    network = load_model()
    p = network.predict(np.zeros((1, 784), dtype=np.float32))
    assert p.shape == (1, 10) and np.isclose(p.sum(), 1.0)
