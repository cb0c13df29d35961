"""Config validation: defaults, canonical form, and one clear message per bad field."""
import json

import pytest

from nnengine.config import LIMITS, ConfigError, parse_config
from nnengine.presets import PRESETS


def errors_of(obj):
    with pytest.raises(ConfigError) as info:
        parse_config(obj)
    return {e["field"]: e["message"] for e in info.value.errors}


def test_empty_config_gets_the_design_defaults():
    doc = parse_config({}).to_dict()
    assert doc["seed"] == 0
    assert doc["data"] == {"train_size": 300, "validation_size": 0, "test_size": None}
    assert doc["model"]["hidden_layers"] == [{"units": 100, "activation": "relu", "batch_norm": False,
                                              "dropout": 0.0}]
    assert doc["model"]["weight_init"] == "he" and doc["model"]["loss"] == "cross_entropy"
    assert doc["optimizer"]["name"] == "sgd" and doc["optimizer"]["lr"] == 0.01
    assert doc["training"]["epochs"] == 200 and doc["training"]["batch_size"] == 100


def test_canonical_form_round_trips_through_json():
    for entry in PRESETS.values():
        config = parse_config(entry["config"])
        again = parse_config(json.loads(json.dumps(config.to_dict())))
        assert again == config


def test_optimizer_hyperparameters_are_flat_keys_with_defaults_filled():
    doc = parse_config({"optimizer": {"name": "adam", "lr": 0.003}}).to_dict()
    assert doc["optimizer"]["name"] == "adam"
    assert doc["optimizer"]["lr"] == 0.003
    assert doc["optimizer"]["beta1"] == 0.9


@pytest.mark.parametrize("obj, field, words", [
    ({"seed": -1}, "seed", "from 0"),
    ({"seed": 1.5}, "seed", "whole number"),
    ({"seed": True}, "seed", "whole number"),
    ({"data": {"train_size": 0}}, "data.train_size", "from 1 to 5000"),
    ({"data": {"train_size": 4000, "test_size": 2000}}, "data", "exceeds the 5000"),
    ({"model": {"hidden_layers": [{"units": 0}]}}, "model.hidden_layers[0].units", "from 1 to 2048"),
    ({"model": {"hidden_layers": [{"activation": "relux"}]}}, "model.hidden_layers[0].activation", "relu"),
    ({"model": {"hidden_layers": [{"dropout": 1.0}]}}, "model.hidden_layers[0].dropout", "at most 0.9"),
    ({"model": {"hidden_layers": [{"batch_norm": "yes"}]}}, "model.hidden_layers[0].batch_norm", "true or false"),
    ({"model": {"hidden_layers": [{}] * 11}}, "model.hidden_layers", "from 0 to 10"),
    ({"model": {"hidden_layers": "100"}}, "model.hidden_layers", "list"),
    ({"model": {"weight_init": "glorot"}}, "model.weight_init", "xavier"),
    ({"model": {"loss": "hinge"}}, "model.loss", "cross_entropy"),
    ({"optimizer": {"name": "adamw"}}, "optimizer.name", "adam"),
    ({"optimizer": {"name": "sgd", "momentum": 0.9}}, "optimizer.momentum", "allowed: lr"),
    ({"optimizer": {"name": "sgd", "lr": "fast"}}, "optimizer.lr", "finite number"),
    ({"optimizer": {"name": "sgd", "lr": -1}}, "optimizer.lr", "lr"),
    ({"training": {"epochs": 0}}, "training.epochs", "from 1 to 1000"),
    ({"training": {"epochs": 100000}}, "training.epochs", "from 1 to 1000"),
    ({"training": {"weight_decay": float("nan")}}, "training.weight_decay", "number"),
    ({"training": {"speed": 3}}, "training.speed", "unknown key"),
    ({"colour": "red"}, "colour", "unknown key"),
    ({"model": []}, "model", "must be an object"),
])
def test_bad_fields_are_named_with_what_is_allowed(obj, field, words):
    errors = errors_of(obj)
    assert field in errors, errors
    assert words in errors[field]


def test_every_problem_is_reported_at_once():
    errors = errors_of({"seed": "x", "training": {"epochs": -3, "batch_size": 0}})
    assert set(errors) == {"seed", "training.epochs", "training.batch_size"}


def test_not_an_object():
    assert "config" in errors_of([1, 2])


def test_message_shows_the_value():
    assert "5000" in str(errors_of({"data": {"train_size": 5001}}))
    assert '"relux"' in errors_of({"model": {"hidden_layers": [{"activation": "relux"}]}})[
        "model.hidden_layers[0].activation"]


def test_compute_budget_refuses_a_run_that_would_take_hours():
    huge = {"data": {"train_size": 4000}, "training": {"epochs": 1000},
            "model": {"hidden_layers": [{"units": 2048}] * 10}}
    errors = errors_of(huge)
    assert "budget" in errors["training.epochs"]


def test_the_book_experiment_is_within_limits():
    config = parse_config(PRESETS["overfitting"]["config"])
    assert config.test_size == 4700
    assert LIMITS["pool_size"] == 5000
