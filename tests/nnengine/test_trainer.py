"""The trainer: records, determinism, batches, stop, divergence, and the book's overfitting."""
import math

import numpy as np
import pytest

from nnengine.config import parse_config
from nnengine.data import Splits
from nnengine.trainer import DIVERGENCE_FACTOR, divergence_limit, train

RECORD_KEYS = {"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "elapsed_s"}


def tiny(**training):
    return parse_config({
        "seed": 7,
        "data": {"train_size": 60, "validation_size": 20, "test_size": 40},
        "model": {"hidden_layers": [{"units": 16, "activation": "relu"}]},
        "optimizer": {"name": "adam", "lr": 0.005},
        "training": {"epochs": 4, "batch_size": 25, **training},
    })


def test_records_one_per_epoch_starting_before_training():
    seen = []
    result = train(tiny(), on_epoch=seen.append)
    assert result.status == "done"
    assert [r["epoch"] for r in seen] == [0, 1, 2, 3, 4]
    assert seen == result.records
    for record in seen:
        assert RECORD_KEYS | {"val_loss", "val_acc"} == set(record)
        assert 0 <= record["train_acc"] <= 1
    assert seen[-1]["train_loss"] < seen[0]["train_loss"]
    summary = result.summary()
    assert summary["event"] == "done" and summary["epochs_completed"] == 4


def test_same_config_same_numbers_bit_for_bit():
    strip = lambda rs: [{k: v for k, v in r.items() if k != "elapsed_s"} for r in rs]
    a = train(tiny()).records
    b = train(tiny()).records
    assert strip(a) == strip(b)
    other = parse_config({**tiny().to_dict(), "seed": 8})
    assert strip(train(other).records) != strip(a)


def test_dropout_and_batch_norm_runs_are_deterministic_too():
    config = parse_config({**tiny().to_dict(), "model": {"hidden_layers": [
        {"units": 16, "activation": "relu", "batch_norm": True, "dropout": 0.3}]}})
    strip = lambda rs: [{k: v for k, v in r.items() if k != "elapsed_s"} for r in rs]
    assert strip(train(config).records) == strip(train(config).records)


def test_batches_cover_every_sample_once_per_epoch_without_replacement():
    x = np.arange(7, dtype=np.float32)[:, None].repeat(784, axis=1) / 10
    t = np.arange(7) % 10
    empty = np.zeros((0, 784), np.float32)
    data = Splits(x, t, empty, np.zeros(0, np.int64), x[:2], t[:2])
    seen_batches = []
    config = parse_config({"model": {"hidden_layers": []}, "training": {"epochs": 2, "batch_size": 3},
                           "data": {"train_size": 7, "test_size": 2}})
    from nnengine import network as network_module
    original = network_module.Network.loss

    def spy(self, xb, tb, train=True):
        if train:
            seen_batches.append(sorted(np.round(xb[:, 0] * 10).astype(int).tolist()))
        return original(self, xb, tb, train)

    network_module.Network.loss = spy
    try:
        train(config, data=data)
    finally:
        network_module.Network.loss = original
    assert [len(b) for b in seen_batches] == [3, 3, 1, 3, 3, 1]  # ceil(7 / 3) steps per epoch
    for epoch in (seen_batches[:3], seen_batches[3:]):
        assert sorted(sum(epoch, [])) == list(range(7))


def test_stop_flag_is_checked_between_batches():
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) > 5

    result = train(tiny(epochs=50), should_stop=should_stop)
    assert result.status == "stopped"
    # 3 batches per epoch: the 6th check is before epoch 2's last batch
    assert [r["epoch"] for r in result.records] == [0, 1]
    assert "epoch 2" in result.message
    assert result.summary()["event"] == "stopped"


def test_divergence_ends_the_run_without_an_exception():
    config = parse_config({**tiny().to_dict(), "optimizer": {"name": "sgd", "lr": 1e6},
                           "model": {"hidden_layers": [{"units": 16, "activation": "relu"}] * 3,
                                     "weight_init": "std", "weight_init_std": 5.0}})
    result = train(config)
    assert result.status == "diverged"
    assert "learning rate" in result.message
    summary = result.summary()
    assert summary["event"] == "diverged" and summary["message"]
    for record in result.records:  # JSON-safe: no NaN or infinity anywhere
        assert all(v is None or math.isfinite(v) for v in record.values())


def exploding(optimizer, epochs):
    """Runs whose training loss explodes while staying finite for their first epochs."""
    return parse_config({"seed": 0, "data": {"train_size": 300, "test_size": 100},
                         "optimizer": optimizer, "training": {"epochs": epochs}})


@pytest.mark.parametrize("optimizer", [{"name": "sgd", "lr": 1e6}, {"name": "adamax", "lr": 0.01, "beta2": 0.0}])
def test_a_loss_that_explodes_while_finite_ends_the_run_as_diverged(optimizer):
    result = train(exploding(optimizer, epochs=3))
    assert result.status == "diverged"
    start, last = result.records[0]["train_loss"], result.records[-1]["train_loss"]
    assert [r["epoch"] for r in result.records] == [0, 1]  # it ends at the first epoch past the limit
    assert math.isfinite(last) and last > divergence_limit(start) == DIVERGENCE_FACTOR * start
    assert result.message == (f"the training loss exploded to {last:.3g} after epoch 1, over 100 times its"
                              f" starting {start:.3g}; try a smaller learning rate")
    assert result.summary()["status"] == "diverged" and result.summary()["message"] == result.message


def test_the_divergence_limit_is_a_hundred_times_the_starting_loss_or_a_hundred():
    assert divergence_limit(2.3) == pytest.approx(230) and divergence_limit(1000.0) == 100_000
    assert divergence_limit(0.05) == 100  # a small starting loss (squared error) may still rise to 1


def test_a_loss_that_rises_but_stays_under_the_limit_trains_to_the_end():
    # Adam at a high rate: the training loss goes up to four times its start, then learns.
    result = train(exploding({"name": "adam", "lr": 0.1}, epochs=6))
    losses = [r["train_loss"] for r in result.records]
    assert max(losses[1:]) > losses[0] and max(losses) < divergence_limit(losses[0])
    assert result.status == "done" and len(result.records) == 7


def test_empty_test_set_reports_null():
    config = parse_config({"data": {"train_size": 50, "test_size": 0}, "training": {"epochs": 1},
                           "model": {"hidden_layers": [{"units": 8}]}})
    result = train(config)
    assert result.records[-1]["test_acc"] is None


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam", "santa_e", "eve"])
def test_every_kind_of_optimizer_trains(name):
    config = parse_config({**tiny().to_dict(), "optimizer": {"name": name}})
    result = train(config)
    assert result.status in ("done", "diverged")


def test_book_overfitting_experiment_shortened():
    """The book's 784-100x6-10 net on 300 samples: train accuracy races ahead of test accuracy."""
    config = parse_config({
        "data": {"train_size": 300, "test_size": 1000},
        "model": {"hidden_layers": [{"units": 100, "activation": "relu"}] * 6, "weight_init": "he"},
        "optimizer": {"name": "sgd", "lr": 0.01},
        "training": {"epochs": 120, "batch_size": 100},
    })
    final = train(config).records[-1]
    assert final["train_acc"] > 0.95
    assert final["train_acc"] - final["test_acc"] > 0.15
