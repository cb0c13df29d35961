"""Mini-batch training with per-epoch evaluation, a stop flag and divergence handling."""
from __future__ import annotations

import inspect
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .config import Config
from .data import Splits, load_pool, split
from .network import Network, StackedEvaluation, blas_threads, build_network
from .optimizers import OPTIMIZERS, get_optimizer

EpochCallback = Callable[[dict], None]


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
          should_stop: Callable[[], bool] | None = None) -> TrainResult:
    """Train the network ``config`` describes and report one record per epoch.

    Draws from one ``numpy.random.Generator`` seeded with ``config.seed``, in this order: the data
    split, the weights, then each epoch's shuffle and dropout masks, so the same config gives the
    same numbers bit for bit.
    """
    rng = np.random.default_rng(config.seed)
    if data is None:
        data = load_splits(config, rng)
    dtype = np.dtype(config.training.dtype)
    network = build_network(config.model, config.training, rng, n_in=data.x_train.shape[1], dtype=dtype)
    # Train, test and validation rows stacked once: each epoch's evaluation is one pass over all of them
    # (one large matrix product per layer); training reads the train rows of that same array.
    evaluate = StackedEvaluation(network, [(data.x_train, data.t_train), (data.x_test, data.t_test),
                                           (data.x_val, data.t_val)], dtype=dtype)
    x_train, t_train = evaluate.views(0)
    has_val = len(data.x_val) > 0
    optimizer = make_optimizer(config, rng)
    should_stop = should_stop or (lambda: False)
    on_epoch = on_epoch or (lambda record: None)

    start = time.perf_counter()
    result = TrainResult(status="done", network=network)

    def report(epoch: int) -> bool:
        record = {"epoch": epoch}
        (train_loss, train_acc), (test_loss, test_acc), (val_loss, val_acc) = evaluate()
        record["train_loss"], record["train_acc"] = train_loss, train_acc
        record["test_loss"], record["test_acc"] = test_loss, test_acc
        if has_val:
            record["val_loss"], record["val_acc"] = val_loss, val_acc
        record["elapsed_s"] = time.perf_counter() - start
        finite = math.isfinite(record["train_loss"])
        # JSON has no NaN/Infinity: an empty test set or a diverged loss is reported as null.
        record = {k: (v if isinstance(v, int) or math.isfinite(v) else None) for k, v in record.items()}
        result.records.append(record)
        on_epoch(record)
        return finite

    n = len(x_train)
    batch_size = min(config.training.batch_size, n)
    steps = -(-n // batch_size)  # ceil: the last, smaller batch is kept
    with evaluate, np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        report(0)
        for epoch in range(1, config.training.epochs + 1):
            order = rng.permutation(n)
            for step in range(steps):
                if should_stop():
                    result.status = "stopped"
                    result.message = f"stopped during epoch {epoch}"
                    result.elapsed_s = time.perf_counter() - start
                    return result
                batch = order[step * batch_size:(step + 1) * batch_size]
                loss = network.loss(x_train[batch], t_train[batch], train=True)
                if not math.isfinite(loss):
                    return _diverged(result, start, f"the training loss became {loss} in epoch {epoch}, "
                                                    f"batch {step + 1}; try a smaller learning rate")
                network.backward()
                optimizer.update(network.params, network.grads, loss=loss)
            if not report(epoch):
                return _diverged(result, start, f"the training loss became non-finite after epoch {epoch}; "
                                                f"try a smaller learning rate")
    result.elapsed_s = time.perf_counter() - start
    return result


def _diverged(result: TrainResult, start: float, message: str) -> TrainResult:
    result.status = "diverged"
    result.message = message
    result.elapsed_s = time.perf_counter() - start
    return result
