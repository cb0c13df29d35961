"""Config validation: defaults, canonical form, and one clear message per bad field."""
import json

import pytest

from nnengine.config import LIMITS, ConfigError, parse_config
from nnengine.cost import count_parameters, count_weights, estimated_cost, layer_shapes
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


def test_a_model_without_dropout_style_or_batch_norm_eps_means_inverted_and_1e_5():
    model = parse_config({}).to_dict()["model"]
    assert (model["dropout_style"], model["batch_norm_eps"]) == ("inverted", 1e-5)
    doc = parse_config({"model": {"dropout_style": "book", "batch_norm_eps": 1e-6}}).to_dict()
    assert (doc["model"]["dropout_style"], doc["model"]["batch_norm_eps"]) == ("book", 1e-6)
    assert parse_config(doc).model.dropout_style == "book"


def test_the_book_presets_use_the_books_dropout_and_batch_norm_eps():
    book = {name: entry for name, entry in PRESETS.items() if entry["label"].startswith("Book:")}
    assert set(book) == {"overfitting", "overfitting_weight_decay", "overfitting_dropout"}
    for entry in book.values():
        model = parse_config(entry["config"]).model
        assert (model.dropout_style, model.batch_norm_eps) == ("book", 1e-6)
    dropout = parse_config(PRESETS["overfitting_dropout"]["config"])
    assert dropout.training.epochs == 301          # the book's ch06/overfit_dropout.py
    assert {layer.dropout for layer in dropout.model.hidden_layers} == {0.2}
    assert parse_config(PRESETS["overfitting"]["config"]).training.epochs == 200


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
    ({"model": {"dropout_style": "Book"}}, "model.dropout_style", 'unknown value "Book"; allowed: inverted, book'),
    ({"model": {"dropout_style": None}}, "model.dropout_style", "unknown value nothing; allowed: inverted, book"),
    ({"model": {"batch_norm_eps": 0}}, "model.batch_norm_eps", "must be at least 1e-08 and at most 1.0, got 0"),
    ({"model": {"batch_norm_eps": 2}}, "model.batch_norm_eps", "at most 1.0, got 2"),
    ({"model": {"batch_norm_eps": "1e-6"}}, "model.batch_norm_eps", 'must be a number from 1e-08 to 1.0, got "1e-6"'),
    ({"optimizer": {"name": "adamw"}}, "optimizer.name", "adam"),
    ({"optimizer": {"name": "sgd", "momentum": 0.9}}, "optimizer.momentum", "allowed: lr"),
    ({"optimizer": {"name": "sgd", "lr": "fast"}}, "optimizer.lr", "finite number"),
    ({"optimizer": {"name": "sgd", "lr": -1}}, "optimizer.lr", "must be > 0"),
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


def test_values_are_shown_as_json_and_an_empty_field_as_nothing():
    # the builder sends an empty or unreadable number field as null
    assert errors_of({"optimizer": {"name": "sgd", "lr": None}})["optimizer.lr"].endswith("got nothing")
    assert errors_of({"training": {"epochs": True}})["training.epochs"].endswith("got true")
    assert errors_of({"model": {"hidden_layers": {"units": 5}}})["model.hidden_layers"].endswith('got {"units": 5}')


def test_optimizer_hyperparameters_are_refused_in_plain_words():
    assert errors_of({"optimizer": {"name": "sgd", "lr": -1}})["optimizer.lr"] == "must be > 0, got -1"
    assert errors_of({"optimizer": {"name": "momentum", "momentum": 1.5}})["optimizer.momentum"] == \
        "must be in [0, 1), got 1.5"


def test_compute_budget_refuses_a_run_that_would_take_hours():
    huge = {"data": {"train_size": 4000}, "training": {"epochs": 1000},
            "model": {"hidden_layers": [{"units": 2048}] * 10}}
    errors = errors_of(huge)
    assert "budget" in errors["training.epochs"]


def test_the_book_experiment_is_within_limits():
    config = parse_config(PRESETS["overfitting"]["config"])
    assert config.test_size == 4700
    assert LIMITS["pool_size"] == 5000


# ------------------------------------------------------------------ conv and pool layers

SMALL_CNN_LAYERS = [{"type": "conv", "filters": 8, "kernel": 5, "stride": 1, "pad": 2, "activation": "relu"},
                    {"type": "pool", "size": 2, "stride": 2},
                    {"units": 100, "activation": "relu"}]


def test_a_dense_layer_keeps_its_old_form_with_or_without_a_type():
    old = parse_config({"model": {"hidden_layers": [{"units": 30, "activation": "tanh"}]}})
    typed = parse_config({"model": {"hidden_layers": [{"type": "dense", "units": 30, "activation": "tanh"}]}})
    assert old == typed
    assert typed.to_dict()["model"]["hidden_layers"] == [{"units": 30, "activation": "tanh", "batch_norm": False,
                                                          "dropout": 0.0}]


def test_conv_and_pool_layers_get_their_canonical_form():
    doc = parse_config({"model": {"hidden_layers": [{"type": "conv", "filters": 4, "kernel": 3},
                                                    {"type": "pool", "size": 3}]}}).to_dict()
    assert doc["model"]["hidden_layers"] == [
        {"type": "conv", "filters": 4, "kernel": 3, "stride": 1, "pad": 1,      # pad defaults to kernel // 2
         "activation": "relu", "batch_norm": False, "dropout": 0.0},
        {"type": "pool", "size": 3, "stride": 3}]                               # stride defaults to size
    assert parse_config(json.loads(json.dumps(doc))).to_dict() == doc


def test_layer_shapes_follow_each_layer():
    config = parse_config({"model": {"hidden_layers": SMALL_CNN_LAYERS + [
        {"type": "dense", "units": 20}]}})
    assert layer_shapes(config.model) == [(8, 28, 28), (8, 14, 14), (100,), (20,)]
    strided = parse_config({"model": {"hidden_layers": [{"type": "conv", "filters": 2, "kernel": 3, "stride": 2, "pad": 0},
                                                        {"type": "pool", "size": 3, "stride": 2}]}})
    assert layer_shapes(strided.model) == [(2, 13, 13), (2, 6, 6)]


@pytest.mark.parametrize("layers, field, words", [
    ([{"units": 10}, {"type": "conv"}], "model.hidden_layers[1].type", "cannot follow a dense layer (hidden layer 1 is dense)"),
    ([{"units": 10}, {"type": "pool"}], "model.hidden_layers[1].type", "conv and pool layers come first"),
    ([{"type": "lstm"}], "model.hidden_layers[0].type", "allowed: dense, conv, pool"),
    ([{"type": "conv", "filters": 65}], "model.hidden_layers[0].filters", "from 1 to 64, got 65"),
    ([{"type": "conv", "filters": 0}], "model.hidden_layers[0].filters", "from 1 to 64"),
    ([{"type": "conv", "kernel": 9}], "model.hidden_layers[0].kernel", "from 1 to 7, got 9"),
    ([{"type": "conv", "kernel": 3, "pad": 3}], "model.hidden_layers[0].pad", "less than the kernel size 3"),
    ([{"type": "conv", "stride": 5}], "model.hidden_layers[0].stride", "from 1 to 4"),
    ([{"type": "conv", "units": 5}], "model.hidden_layers[0].units", "unknown key for a conv layer"),
    ([{"type": "pool", "activation": "relu"}], "model.hidden_layers[0].activation",
     "unknown key for a pool layer; allowed: type, size, stride"),
    ([{"type": "pool", "size": 8}], "model.hidden_layers[0].size", "from 1 to 7"),
    ([{"type": "conv", "batch_norm": 1}], "model.hidden_layers[0].batch_norm", "true or false"),
    # 28 -> 14 -> 7 -> 3 -> 1: a 3x3 kernel no longer fits
    ([{"type": "pool", "size": 2}] * 4 + [{"type": "conv", "kernel": 3, "pad": 0}],
     "model.hidden_layers[4].kernel", "kernel 3 does not fit the 1x1x1 input of this layer; allowed: at most 1"),
    ([{"type": "pool", "size": 2}] * 4 + [{"type": "conv", "kernel": 5, "pad": 1}],
     "model.hidden_layers[4].kernel", "(3x3 with padding 1); allowed: at most 3"),
    ([{"type": "conv", "filters": 3, "kernel": 7, "pad": 0, "stride": 4}, {"type": "pool", "size": 7}],
     "model.hidden_layers[1].size", "size 7 does not fit the 3x6x6 input"),
])
def test_bad_conv_and_pool_layers_are_named_with_what_is_allowed(layers, field, words):
    errors = errors_of({"model": {"hidden_layers": layers}})
    assert field in errors, errors
    assert words in errors[field]


def test_compute_budget_counts_convolutions():
    small = parse_config({"model": {"hidden_layers": SMALL_CNN_LAYERS}})
    # conv: 784 positions x 25 x 8 products + 784 x 8 outputs + 784 x 25 unfolded; pool reads 8 x 196 x 4;
    # dense 1568 x 100; output 100 x 10
    assert count_weights(small.model) == 784 * 8 * 26 + 784 * 25 + 8 * 196 * 4 + 1568 * 100 + 1000
    assert count_parameters(small.model) == 8 * 26 + 1569 * 100 + 101 * 10
    dense_only = parse_config({"model": {"hidden_layers": [{"units": 100}]}})
    assert estimated_cost(small) > 2 * estimated_cost(dense_only)
    huge = {"data": {"train_size": 300}, "training": {"epochs": 20, "batch_size": 10},
            "model": {"hidden_layers": [{"type": "conv", "filters": 64, "kernel": 7}] * 4}}
    errors = errors_of(huge)
    assert "budget" in errors["training.epochs"] and "filters" in errors["training.epochs"]


def test_unfolding_a_large_batch_is_refused_with_the_batch_size_that_fits():
    errors = errors_of({"data": {"train_size": 2000}, "training": {"epochs": 1, "batch_size": 2000},
                        "model": {"hidden_layers": [{"type": "conv", "filters": 8, "kernel": 7}]}})
    message = errors["training.batch_size"]
    assert "hidden_layers[0]" in message and "at most 780" in message    # 30e6 // (28 x 28 x 49)
    parse_config({"data": {"train_size": 2000}, "training": {"epochs": 1, "batch_size": 780},
                  "model": {"hidden_layers": [{"type": "conv", "filters": 8, "kernel": 7}]}})


def test_too_many_parameters_behind_the_convolutions_are_refused():
    errors = errors_of({"data": {"train_size": 10, "test_size": 10}, "training": {"epochs": 1, "batch_size": 10},
                        "model": {"hidden_layers": [{"type": "conv", "filters": 64, "kernel": 3},
                                                    {"units": 2048}]}})
    assert "parameters" in errors["model.hidden_layers"] and "pool layer" in errors["model.hidden_layers"]


def test_the_largest_dense_network_stays_within_the_parameter_limit():
    widest = {"units": 2048, "batch_norm": True}
    config = parse_config({"data": {"train_size": 10, "test_size": 10}, "training": {"epochs": 1},
                           "model": {"hidden_layers": [widest] * 10}})
    assert count_parameters(config.model) <= LIMITS["parameters"]


def test_small_cnn_preset_is_valid_and_within_budget():
    config = parse_config(PRESETS["small_cnn"]["config"])
    assert [layer.type for layer in config.model.hidden_layers] == ["conv", "pool", "dense"]
    assert estimated_cost(config) < LIMITS["compute_budget"] / 5
