"""Ready configs for the book's chapter-6 experiments (design §5).

The "Book: ..." presets use the book's own layers: its ``Dropout`` (mask while training, scale by 1 - p at
test time: ``dropout_style: "book"``) and its batch-norm epsilon 10e-7 (``batch_norm_eps: 1e-6``), and the
dropout experiment runs the book's 301 epochs (ch06/overfit_dropout.py), so they reproduce its figures.
"""
from __future__ import annotations

import copy

OVERFITTING = {
    "seed": 0,
    "data": {"train_size": 300, "validation_size": 0, "test_size": None},
    "model": {
        "hidden_layers": [{"units": 100, "activation": "relu", "batch_norm": False, "dropout": 0.0}
                          for _ in range(6)],
        "weight_init": "he",
        "weight_init_std": 0.01,
        "loss": "cross_entropy",
        "dropout_style": "book",
        "batch_norm_eps": 1e-6,
    },
    "optimizer": {"name": "sgd", "lr": 0.01},
    "training": {"epochs": 200, "batch_size": 100, "weight_decay": 0.0},
}

# The book trains its dropout network for 301 epochs (its baseline and weight-decay ones for 201).
BOOK_DROPOUT_EPOCHS = 301


def _variant(**changes) -> dict:
    config = copy.deepcopy(OVERFITTING)
    if "weight_decay" in changes:
        config["training"]["weight_decay"] = changes["weight_decay"]
    if "dropout" in changes:
        for layer in config["model"]["hidden_layers"]:
            layer["dropout"] = changes["dropout"]
    if "epochs" in changes:
        config["training"]["epochs"] = changes["epochs"]
    return config


PRESETS = {
    "overfitting": {
        "label": "Book: overfitting (300 samples, 784-100x6-10, SGD 0.01, 200 epochs)",
        "config": OVERFITTING,
    },
    "overfitting_weight_decay": {
        "label": "Book: overfitting + weight decay 0.1",
        "config": _variant(weight_decay=0.1),
    },
    "overfitting_dropout": {
        "label": "Book: overfitting + dropout 0.2 (the book's dropout, 301 epochs)",
        "config": _variant(dropout=0.2, epochs=BOOK_DROPOUT_EPOCHS),
    },
    "quick": {
        "label": "Quick look (1 layer of 100, Adam, 20 epochs)",
        "config": {
            "seed": 0,
            "data": {"train_size": 300, "validation_size": 0, "test_size": None},
            "model": {"hidden_layers": [{"units": 100, "activation": "relu", "batch_norm": False,
                                         "dropout": 0.0}],
                      "weight_init": "he", "weight_init_std": 0.01, "loss": "cross_entropy"},
            "optimizer": {"name": "adam", "lr": 0.001},
            "training": {"epochs": 20, "batch_size": 100, "weight_decay": 0.0},
        },
    },
    "small_cnn": {
        "label": "Small CNN (conv 8 5×5 → max-pool 2 → 100, Adam, 30 epochs)",
        "config": {
            "seed": 0,
            "data": {"train_size": 300, "validation_size": 0, "test_size": None},
            "model": {"hidden_layers": [
                {"type": "conv", "filters": 8, "kernel": 5, "stride": 1, "pad": 2, "activation": "relu",
                 "batch_norm": False, "dropout": 0.0},
                {"type": "pool", "size": 2, "stride": 2},
                {"units": 100, "activation": "relu", "batch_norm": False, "dropout": 0.0},
            ], "weight_init": "he", "weight_init_std": 0.01, "loss": "cross_entropy"},
            "optimizer": {"name": "adam", "lr": 0.001},
            "training": {"epochs": 30, "batch_size": 100, "weight_decay": 0.0},
        },
    },
}


def preset(name: str) -> dict:
    """A deep copy of a preset's config; unknown names list the known ones."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset '{name}'; known: {', '.join(PRESETS)}")
    return copy.deepcopy(PRESETS[name]["config"])
