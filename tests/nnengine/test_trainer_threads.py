"""The trainer's eval_threads: asked before every epoch's evaluation, followed, and without
effect on the numbers (a run and its re-run agree whatever share of the cores each got); nor do
the BLAS threads its caller left NumPy change them."""

import itertools

import numpy as np
import pytest

from nnengine import trainer
from nnengine.blas import blas_threads
from nnengine.config import parse_config
from nnengine.evaluation import StackedEvaluation
from nnengine.models import build_network


@pytest.fixture(autouse=True)
def small_parts(monkeypatch):
    # The tests' sets have a few hundred rows; below 1000 rows a part the evaluation
    # would keep one worker whatever it is given.
    monkeypatch.setattr(StackedEvaluation, "min_rows_per_worker", 10)


def config(**changes):
    base = {
        "seed": 3,
        "data": {"train_size": 120, "validation_size": 40, "test_size": 200},
        "model": {"hidden_layers": [{"units": 32, "activation": "relu", "batch_norm": True, "dropout": 0.2},
                                    {"units": 32, "activation": "tanh"}]},
        "optimizer": {"name": "adam", "lr": 0.01},
        "training": {"epochs": 5, "batch_size": 32},
    }
    base.update(changes)
    return parse_config(base)


def strip(records):
    return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in records]


def weights(result):
    return {k: v.copy() for k, v in result.network.state_dict().items()}


def same_weights(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_the_evaluation_follows_the_threads_asked_before_each_epoch(monkeypatch):
    started = []  # workers of the evaluation each epoch was evaluated by

    class Spy(StackedEvaluation):
        def start(self):
            started.append(self.workers)
            return super().start()

    monkeypatch.setattr(trainer, "StackedEvaluation", Spy)
    answers = iter([2, 2, 1, 1, 3, 2, 2])  # the first is asked when the run sets up
    result = trainer.train(config(), eval_threads=lambda: next(answers))
    assert result.status == "done"
    assert started == [2, 1, 1, 3, 2, 2]  # epochs 0..5
    assert next(answers, None) is None  # asked once per evaluation, no more


@pytest.mark.parametrize("threads", [
    lambda: 1,
    lambda: 2,
    lambda calls=itertools.count(): 1 + next(calls) % 3,  # a new share at every epoch
])
def test_the_thread_count_does_not_change_the_numbers(threads):
    reference = trainer.train(config())
    result = trainer.train(config(), eval_threads=threads)
    assert strip(result.records) == strip(reference.records)
    assert same_weights(weights(result), weights(reference))


def test_a_diverging_run_ends_alike_whatever_the_threads():
    diverging = config(optimizer={"name": "sgd", "lr": 1e6},
                       model={"hidden_layers": [{"units": 32, "activation": "relu"}] * 3,
                              "weight_init": "std", "weight_init_std": 5.0})
    reference = trainer.train(diverging)
    calls = itertools.count()
    result = trainer.train(diverging, eval_threads=lambda: 1 + next(calls) % 2)
    assert reference.status == result.status == "diverged"
    assert result.message == reference.message
    assert strip(result.records) == strip(reference.records)
    assert same_weights(weights(result), weights(reference))


def test_a_rows_numbers_do_not_depend_on_how_the_evaluation_shares_the_rows():
    """OpenBLAS adds up a row of a product in an order that depends on where the row falls in the
    product's tiles, so the evaluation's products must cover the same rows whatever the workers."""
    cfg = config(model={"hidden_layers": [{"units": 100, "activation": "relu"}] * 2})
    rng = np.random.default_rng(0)
    network = build_network(cfg.model, cfg.training, rng, dtype=np.float32)
    x = rng.random((5000, 784), dtype=np.float32)
    t = rng.integers(0, 10, 5000)
    seen = []
    for workers in (1, 2, 3):
        with StackedEvaluation(network, [(x[:300], t[:300]), (x[300:], t[300:])], workers=workers) as evaluate:
            assert evaluate.workers == workers
            results = evaluate()
            seen.append((workers, evaluate.losses.copy(), results))
    (_, losses, results), *others = seen
    for workers, other_losses, other_results in others:
        assert np.array_equal(other_losses, losses), f"{workers} workers: rows {np.flatnonzero(other_losses != losses)}"
        assert other_results == results


@pytest.mark.skipif(not blas_threads.available or blas_threads.cores() < 2,
                    reason="needs NumPy on an OpenBLAS that may use 2 or more threads")
def test_the_blas_threads_of_the_caller_do_not_change_the_numbers(monkeypatch):
    """One evaluation worker (the CLI on under 2,000 rows): training once ran with every BLAS thread
    there, and OpenBLAS splitting a product among threads changed its last bits."""
    monkeypatch.setattr(StackedEvaluation, "min_rows_per_worker", 10**9)
    cfg = config(data={"train_size": 500, "validation_size": 0, "test_size": 100},
                 model={"hidden_layers": [{"units": 100, "activation": "relu", "batch_norm": True}] * 2},
                 training={"epochs": 2, "batch_size": 100})
    every_thread = trainer.train(cfg)
    with blas_threads.limit(1):
        one_thread = trainer.train(cfg)
    assert strip(every_thread.records) == strip(one_thread.records)
    assert same_weights(weights(every_thread), weights(one_thread))
