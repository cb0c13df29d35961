"""Mini-batch training with per-epoch evaluation, a stop flag and divergence handling.

A run diverges when its training loss stops being a number (NaN or infinity, in a batch or in an
epoch's evaluation), or when it explodes while staying finite: when the training loss of an epoch's
evaluation exceeds ``DIVERGENCE_FACTOR`` times the starting one (epoch 0's), or ``DIVERGENCE_FACTOR``
if that was below 1 -- ``train_loss(e) > 100 * max(train_loss(0), 1)``. A run that learns lowers
that loss (overfitting raises the test loss, not this one); an exploding one passes the limit
within an epoch or two (SGD at lr 1e6 reached 1e31 from 2.4 in one epoch, Adamax with beta2 = 0
3.7e7), long before its numbers overflow. Of 70 runs (ten optimizers at learning rates 0.01 to 100,
a 784-50-50-10 net on 200 samples, 15 epochs), every one that ended above a training accuracy of
0.35 stayed under 45 times its starting loss, and every one that passed 100 times ended at 0.34 or
less, most at chance.
"""
from __future__ import annotations

import inspect
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .blas import blas_threads
from .config import Config
from .data import Splits, load_pool, split
from .evaluation import StackedEvaluation
from .models import build_network
from .network import Network
from .optimizers import OPTIMIZERS, get_optimizer

EpochCallback = Callable[[dict], None]

DIVERGENCE_FACTOR = 100.0  # see the module's docstring


def divergence_limit(starting_loss: float) -> float:
    """The training loss past which a run that started at ``starting_loss`` has diverged."""
    return DIVERGENCE_FACTOR * max(starting_loss, 1.0)


@dataclass
class TrainResult:
    """How a run ended: ``status`` is ``done``, ``stopped`` or ``diverged``."""

    status: str
    records: list[dict] = field(default_factory=list)
    network: Network | None = None
    message: str = ""
    elapsed_s: float = 0.0

    def summary(self) -> dict:
        """The final event of a run (the CLI's last line, ``run:done``'s summary)."""
        last = self.records[-1] if self.records else {}
        summary = {"event": self.status, "status": self.status,
                   "epochs_completed": last.get("epoch", 0),
                   "elapsed_s": round(self.elapsed_s, 4), "final": last}
        tested = [r for r in self.records if r.get("test_acc") is not None]
        if tested:
            best = max(tested, key=lambda r: r["test_acc"])
            summary["best_test_acc"] = best["test_acc"]
            summary["best_epoch"] = best["epoch"]
        if self.message:
            summary["message"] = self.message
        return summary


def make_optimizer(config: Config, rng: np.random.Generator):
    """The configured optimizer; stochastic ones (Santa) draw their noise from the run's rng."""
    cls = OPTIMIZERS[config.optimizer.name]
    extra = {"rng": rng} if "rng" in inspect.signature(cls.__init__).parameters else {}
    return get_optimizer(config.optimizer.name, **config.optimizer.hyperparams, **extra)


def load_splits(config: Config, rng: np.random.Generator) -> Splits:
    """The run's train/validation/test split of the bundled pool, drawn with the run's rng."""
    x, t = load_pool()
    d = config.data
    return split(x, t, rng, d.train_size, d.validation_size, d.test_size)


def train(config: Config, *, data: Splits | None = None, on_epoch: EpochCallback | None = None,
          should_stop: Callable[[], bool] | None = None,
          eval_threads: Callable[[], int] | None = None) -> TrainResult:
    """Train the network ``config`` describes and report one record per epoch.

    Draws from one ``numpy.random.Generator`` seeded with ``config.seed``, in this order: the data
    split, the weights, then each epoch's shuffle and dropout masks, so the same config gives the
    same numbers bit for bit.

    Every matrix product, in training and in evaluation, uses one BLAS thread, whatever the caller
    set: OpenBLAS splits a product among its threads by rows and columns, and a row then comes out
    different in its last bits (about 1e-7 relative in float32), which training carries into every
    later number.  So the CLI, the server's training processes, the labs and the search give the same
    records.

    ``eval_threads()``, when given, says how many threads the per-epoch evaluation may use now; it is
    asked before each epoch's evaluation starts, so a caller that shares the cores among several runs
    can give a run more while it is alone and less when others start (the server).  Without it the
    evaluation uses the cores BLAS may use, fixed for the run.  The numbers do not depend on the
    thread count (see ``StackedEvaluation``).
    """
    rng = np.random.default_rng(config.seed)
    if data is None:
        data = load_splits(config, rng)
    dtype = np.dtype(config.training.dtype)
    network = build_network(config.model, config.training, rng, n_in=data.x_train.shape[1], dtype=dtype)
    # Train, test and validation rows stacked once: each epoch's evaluation is one pass over all of them
    # (one large matrix product per layer); with several cores it runs on copies of the network in
    # background threads while the next epoch trains (see _Pipeline).
    sets = [(data.x_train, data.t_train), (data.x_test, data.t_test), (data.x_val, data.t_val)]
    evaluations = _Evaluations(network, sets, dtype, eval_threads)
    x_train, t_train = evaluations.evaluate.views(0)  # kept: a rebuilt evaluation holds equal ones
    has_val = len(data.x_val) > 0
    optimizer = make_optimizer(config, rng)
    should_stop = should_stop or (lambda: False)
    on_epoch = on_epoch or (lambda record: None)

    start = time.perf_counter()
    result = TrainResult(status="done", network=network)

    limit = math.inf  # set by epoch 0's record

    def report(epoch: int, results) -> str | None:
        """Report an epoch's record; returns why the run diverged, or None."""
        nonlocal limit
        record = {"epoch": epoch}
        (train_loss, train_acc), (test_loss, test_acc), (val_loss, val_acc) = results
        record["train_loss"], record["train_acc"] = train_loss, train_acc
        record["test_loss"], record["test_acc"] = test_loss, test_acc
        if has_val:
            record["val_loss"], record["val_acc"] = val_loss, val_acc
        record["elapsed_s"] = time.perf_counter() - start
        loss = record["train_loss"]
        # JSON has no NaN/Infinity: an empty test set or a diverged loss is reported as null.
        record = {k: (v if isinstance(v, int) or math.isfinite(v) else None) for k, v in record.items()}
        result.records.append(record)
        on_epoch(record)
        if not math.isfinite(loss):
            return f"the training loss became non-finite after epoch {epoch}; try a smaller learning rate"
        if epoch == 0:
            limit = divergence_limit(loss)
        elif loss > limit:
            return (f"the training loss exploded to {loss:.3g} after epoch {epoch}, over {DIVERGENCE_FACTOR:g} times"
                    f" its starting {result.records[0]['train_loss']:.3g}; try a smaller learning rate")
        return None

    pipeline = _Pipeline(evaluations, report)
    n = len(x_train)
    batch_size = min(config.training.batch_size, n)
    steps = -(-n // batch_size)  # ceil: the last, smaller batch is kept
    # One BLAS thread per product for the whole run (see the docstring); background evaluation threads
    # use the other cores.  For these small products a second BLAS thread buys little even on an idle
    # machine and costs many times over on a busy one (bench/MEASUREMENTS.md).
    ignore = dict(over="ignore", invalid="ignore", divide="ignore", under="ignore")
    with evaluations, blas_threads.limit(1), np.errstate(**ignore):
        pipeline.launch(0)
        for epoch in range(1, config.training.epochs + 1):
            order = rng.permutation(n)
            for step in range(steps):
                if not pipeline.poll():
                    return _diverged(result, start, pipeline.message)
                if should_stop():
                    if not pipeline.finish():
                        return _diverged(result, start, pipeline.message)
                    result.status = "stopped"
                    result.message = f"stopped during epoch {epoch}"
                    result.elapsed_s = time.perf_counter() - start
                    return result
                batch = order[step * batch_size:(step + 1) * batch_size]
                loss = network.loss(x_train[batch], t_train[batch], train=True)
                if not math.isfinite(loss):
                    if not pipeline.finish():
                        return _diverged(result, start, pipeline.message)
                    return _diverged(result, start, f"the training loss became {loss} in epoch {epoch}, "
                                                    f"batch {step + 1}; try a smaller learning rate")
                network.backward()
                optimizer.update(network.params, network.grads, loss=loss)
            if not pipeline.finish():
                return _diverged(result, start, pipeline.message)
            pipeline.launch(epoch)
        if not pipeline.finish():
            return _diverged(result, start, pipeline.message)
    result.elapsed_s = time.perf_counter() - start
    return result


class _Evaluations:
    """The run's ``StackedEvaluation``, rebuilt with another worker count when ``threads()`` changes.

    ``threads`` None: one evaluation for the whole run, with the workers ``StackedEvaluation`` picks.
    Rebuilding costs one stacking of the rows (milliseconds for the bundled pool), so it happens only
    when the answer changes, between epochs (``current()`` is called before each evaluation starts).
    """

    def __init__(self, network: Network, sets, dtype, threads: Callable[[], int] | None):
        self.network, self.sets, self.dtype, self.threads = network, sets, dtype, threads
        self.asked = self._ask()
        self.evaluate = self._build(self.asked)

    def _ask(self) -> int | None:
        return None if self.threads is None else max(1, int(self.threads()))

    def _build(self, workers: int | None) -> StackedEvaluation:
        return StackedEvaluation(self.network, self.sets, dtype=self.dtype, workers=workers)

    def current(self) -> StackedEvaluation:
        """The evaluation to start next, with as many workers as ``threads()`` allows now."""
        asked = self._ask()
        if asked != self.asked:
            self.evaluate.close()
            self.evaluate, self.asked = self._build(asked), asked
        return self.evaluate

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.evaluate.close()


class _Pipeline:
    """Evaluation of epoch e overlapped with the training of epoch e + 1, reported in order.

    ``launch(e)`` starts evaluating the network as it is at the end of epoch e (in background threads,
    on copies, when the evaluation has several workers; else right away); ``poll()`` reports a finished evaluation
    between batches; ``finish()`` waits for and reports the pending one.  So each record is the
    evaluation of exactly the weights at the end of its epoch, and the records, the stop points and the
    returned network are those of evaluating in between epochs: when a record shows that the run
    diverged (``report`` says why; ``poll`` / ``finish`` return False, ``message`` is that reason), the
    network is put back to that epoch's state, as if the next epoch had never started.
    """

    def __init__(self, evaluations: _Evaluations, report):
        self.evaluations, self.report = evaluations, report
        self.pending = None
        self.message = ""

    def launch(self, epoch: int) -> None:
        evaluate = self.evaluations.current()
        self.pending = (epoch, evaluate, evaluate.start())

    def poll(self) -> bool:
        if self.pending is not None and self.pending[2].done():
            return self.finish()
        return True

    def finish(self) -> bool:
        if self.pending is None:
            return True
        (epoch, evaluate, wait), self.pending = self.pending, None
        diverged = self.report(epoch, wait())
        if diverged is None:
            return True
        evaluate.restore()
        self.message = diverged
        return False


def _diverged(result: TrainResult, start: float, message: str) -> TrainResult:
    result.status = "diverged"
    result.message = message
    result.elapsed_s = time.perf_counter() - start
    return result
