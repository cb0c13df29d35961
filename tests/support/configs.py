"""Experiment configs the tests train: tiny, long, diverging and over the compute budget."""
import copy

# Tiny but real: trains in a few milliseconds per epoch.
TINY_CONFIG = {
    "seed": 0,
    "data": {"train_size": 50, "validation_size": 0, "test_size": 50},
    "model": {"hidden_layers": [{"units": 10, "activation": "relu"}]},
    "optimizer": {"name": "sgd", "lr": 0.1},
    "training": {"epochs": 3, "batch_size": 10},
}

# Long enough (seconds) that stopping it is observable, small enough per batch
# that a stop lands within milliseconds.
LONG_CONFIG = {
    "seed": 0,
    "data": {"train_size": 2000, "validation_size": 0, "test_size": 100},
    "model": {"hidden_layers": [{"units": 100, "activation": "relu"}]},
    "optimizer": {"name": "sgd", "lr": 0.01},
    "training": {"epochs": 200, "batch_size": 10},
}


def tiny_config(**training):
    config = copy.deepcopy(TINY_CONFIG)
    config["training"].update(training)
    return config


def long_config():
    return copy.deepcopy(LONG_CONFIG)


def diverging_config():
    config = tiny_config(epochs=5)
    config["optimizer"] = {"name": "sgd", "lr": 1e6}
    config["model"] = {"hidden_layers": [{"units": 16, "activation": "relu"}] * 3,
                       "weight_init": "std", "weight_init_std": 5.0}
    return config


def exploding_config():
    """A run whose training loss explodes while staying finite (no NaN for its first epochs):
    Adamax with beta2 = 0 divides by the last gradient's size alone."""
    config = tiny_config(epochs=4, batch_size=100)
    config["data"] = {"train_size": 300, "validation_size": 0, "test_size": 100}
    config["model"] = {"hidden_layers": [{"units": 100, "activation": "relu"}]}
    config["optimizer"] = {"name": "adamax", "lr": 0.01, "beta2": 0.0}
    return config


def over_budget_config():
    config = tiny_config()
    config["data"] = {"train_size": 4000, "validation_size": 0, "test_size": 1000}
    config["model"]["hidden_layers"] = [{"units": 2048, "activation": "relu"}] * 3
    config["training"]["epochs"] = 1000
    return config
