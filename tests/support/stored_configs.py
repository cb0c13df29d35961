"""Configs as stored before ``model.dropout_style`` and ``model.batch_norm_eps`` existed.

``Config.to_dict()`` of the code before these keys: the book's overfitting preset with dropout 0.2, the
batch-norm lab's w = 1e-4 run, a small CNN with spatial batch norm and dropout, shortened to a few epochs.
"""
import json

# JSON exactly as stored before the new keys (no "dropout_style", no "batch_norm_eps").
STORED = {
    "dropout": json.loads(
        '{"seed": 0, "data": {"train_size": 300, "validation_size": 0, "test_size": null}, "model": {"hidden_layers": '
        '[{"units": 100, "activation": "relu", "batch_norm": false, "dropout": 0.2}, {"units": 100, "activation": '
        '"relu", "batch_norm": false, "dropout": 0.2}, {"units": 100, "activation": "relu", "batch_norm": false, '
        '"dropout": 0.2}, {"units": 100, "activation": "relu", "batch_norm": false, "dropout": 0.2}, {"units": 100, '
        '"activation": "relu", "batch_norm": false, "dropout": 0.2}, {"units": 100, "activation": "relu", '
        '"batch_norm": false, "dropout": 0.2}], "weight_init": "he", "weight_init_std": 0.01, "loss": '
        '"cross_entropy"}, "optimizer": {"name": "sgd", "lr": 0.01}, "training": {"epochs": 3, "batch_size": 100, '
        '"weight_decay": 0.0, "dtype": "float32"}}'),
    "batch_norm": json.loads(
        '{"seed": 0, "data": {"train_size": 1000, "validation_size": 0, "test_size": 0}, "model": {"hidden_layers": '
        '[{"units": 100, "activation": "relu", "batch_norm": true, "dropout": 0.0}, {"units": 100, "activation": '
        '"relu", "batch_norm": true, "dropout": 0.0}, {"units": 100, "activation": "relu", "batch_norm": true, '
        '"dropout": 0.0}, {"units": 100, "activation": "relu", "batch_norm": true, "dropout": 0.0}, {"units": 100, '
        '"activation": "relu", "batch_norm": true, "dropout": 0.0}], "weight_init": "std", "weight_init_std": '
        '0.0001, "loss": "cross_entropy"}, "optimizer": {"name": "sgd", "lr": 0.01}, "training": {"epochs": 6, '
        '"batch_size": 100, "weight_decay": 0.0, "dtype": "float32"}, "name": "Lab 6.3: w=0.0001 batch norm"}'),
    "cnn": json.loads(
        '{"seed": 0, "data": {"train_size": 100, "validation_size": 0, "test_size": 100}, "model": {"hidden_layers": '
        '[{"type": "conv", "filters": 8, "kernel": 5, "stride": 1, "pad": 2, "activation": "relu", "batch_norm": '
        'true, "dropout": 0.1}, {"type": "pool", "size": 2, "stride": 2}, {"units": 100, "activation": "relu", '
        '"batch_norm": false, "dropout": 0.3}], "weight_init": "he", "weight_init_std": 0.01, "loss": '
        '"cross_entropy"}, "optimizer": {"name": "adam", "lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-07}, '
        '"training": {"epochs": 2, "batch_size": 100, "weight_decay": 0.0, "dtype": "float32"}}'),
}
