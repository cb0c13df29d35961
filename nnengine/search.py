"""Random hyperparameter search: log-uniform learning rate and weight decay, judged on validation.

As in the book (§6.5): sample lr = 10^U(log lo, log hi) and weight decay likewise, train each
trial on the training split, and rank trials by accuracy on the validation split only. Every
trial keeps the config's seed, so all trials see the same split and the same initial weights and
differ only in the two sampled values.
"""
from __future__ import annotations

import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from typing import Callable, Iterator

import numpy as np

from .blas import single_threaded_env
from .config import Config, ConfigError, TrainingConfig
from .trainer import train


@dataclass(frozen=True)
class LogRange:
    """A positive interval sampled uniformly in log10."""

    lo: float
    hi: float

    @classmethod
    def parse(cls, text: str, name: str) -> "LogRange":
        """Parse ``"LO:HI"`` (e.g. ``1e-6:1e-2``); zero weight decay is allowed only as ``0:0``."""
        parts = str(text).split(":")
        try:
            lo, hi = (float(p) for p in parts)
        except ValueError:
            raise ValueError(f"{name} must look like LO:HI, e.g. 1e-6:1e-2, got '{text}'") from None
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo < 0 or hi < lo or (lo == 0 and hi != 0):
            raise ValueError(f"{name} needs 0 < LO <= HI (log-uniform sampling), got '{text}'")
        return cls(lo, hi)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.hi == 0:
            return np.zeros(n)
        return 10.0 ** rng.uniform(math.log10(self.lo), math.log10(self.hi), size=n)


def sample_trials(config: Config, n_trials: int, lr: LogRange, weight_decay: LogRange,
                  sampler_seed: int | None = None) -> list[dict]:
    """The trials' sampled values, drawn from their own generator (not the training one)."""
    rng = np.random.default_rng(config.seed if sampler_seed is None else sampler_seed)
    lrs = lr.sample(rng, n_trials)
    wds = weight_decay.sample(rng, n_trials)
    return [{"trial": i, "lr": float(a), "weight_decay": float(b)} for i, (a, b) in enumerate(zip(lrs, wds))]


def trial_config(config: Config, lr: float, weight_decay: float) -> Config:
    optimizer = replace(config.optimizer, hyperparams={**config.optimizer.hyperparams, "lr": lr})
    training: TrainingConfig = replace(config.training, weight_decay=weight_decay)
    return replace(config, optimizer=optimizer, training=training)


def run_trial(config: Config, trial: dict) -> dict:
    """Train one trial; report its final and best validation accuracy."""
    result = train(trial_config(config, trial["lr"], trial["weight_decay"]))
    last = result.records[-1]
    val = [r["val_acc"] for r in result.records if r.get("val_acc") is not None]
    return {**trial, "val_acc": last.get("val_acc"), "train_acc": last.get("train_acc"),
            "val_loss": last.get("val_loss"), "best_val_acc": max(val) if val else None,
            "status": result.status, "elapsed_s": round(result.elapsed_s, 3),
            "curve": [{"epoch": r["epoch"], "train_acc": r["train_acc"], "val_acc": r.get("val_acc")}
                      for r in result.records]}


def search(config: Config, trials: list[dict], workers: int | None = None,
           should_stop: Callable[[], bool] | None = None) -> Iterator[dict]:
    """Run the trials in worker processes; yield each result as it finishes."""
    if config.data.validation_size <= 0:
        raise ConfigError([{"field": "data.validation_size",
                            "message": "the search ranks trials on a validation split: set it above 0"}])
    workers = max(1, min(workers or os.cpu_count() or 1, len(trials)))
    if workers == 1:
        for trial in trials:
            if should_stop and should_stop():
                return
            yield run_trial(config, trial)
        return
    # Each worker runs whole trials with single-threaded BLAS: processes, not BLAS threads, share
    # the cores. Spawned (not forked) workers load NumPy afresh and so read the thread limit.
    with single_threaded_env():
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        futures = [pool.submit(run_trial, config, trial) for trial in trials]
    with pool:
        try:
            for future in as_completed(futures):
                yield future.result()
                if should_stop and should_stop():
                    break
        finally:
            for future in futures:
                future.cancel()


def best(results: list[dict], n: int = 1) -> list[dict]:
    """The n trials with the highest final validation accuracy."""
    ranked = sorted((r for r in results if r.get("val_acc") is not None),
                    key=lambda r: r["val_acc"], reverse=True)
    return ranked[:n]
