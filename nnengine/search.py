"""Random hyperparameter search: log-uniform learning rate and weight decay, judged on validation.

As in the book (§6.5): sample lr = 10^U(log lo, log hi) and weight decay likewise, train each
trial on the training split, and rank trials by accuracy on the validation split only. Every
trial keeps the config's seed, so all trials see the same split and the same initial weights and
differ only in the two sampled values.

``plan_search`` checks a search (its ranges, trial count, validation split, budget) for every caller:
the command line, the search lab and the server.
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
from .config import Config, TrainingConfig
from .cost import estimated_cost
from .trainer import train


# Trials one search may have; a server sharing its cores lowers this (and sets a budget).
MAX_TRIALS = 10_000
# Multiply-adds one search may spend where many people share a machine: about 15 times the book's
# 100-trial search.
SEARCH_BUDGET = 2e13


class SearchError(ValueError):
    """A search that cannot run; ``errors`` lists ``{"field", "message"}`` for each problem, and
    ``str()`` reads "field message; ..." (the field as the caller names it, e.g. ``--lr`` or ``lr``)."""

    def __init__(self, errors: list[dict[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{e['field']} {e['message']}" for e in errors))


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class LogRange:
    """A positive interval sampled uniformly in log10 (or 0:0, no weight decay at all)."""

    lo: float
    hi: float

    @classmethod
    def parse(cls, value, name: str, allow_zero: bool = True) -> "LogRange":
        """``"LO:HI"`` (e.g. ``1e-6:1e-2``, the command line) or ``[lo, hi]`` (JSON); zero is allowed
        only as ``0:0`` and only when ``allow_zero`` (a weight decay, not a learning rate).  Raises
        SearchError naming ``name``."""
        zero = " (or 0:0 for none)" if allow_zero else ""
        if isinstance(value, (list, tuple)):
            if len(value) == 2 and all(_is_number(v) for v in value):
                lo, hi = float(value[0]), float(value[1])
                if cls._valid(lo, hi, allow_zero):
                    return cls(lo, hi)
            raise SearchError([{"field": name, "message": f"must be [lo, hi] with 0 < lo <= hi{zero}, got {value!r}"}])
        if not isinstance(value, str):
            raise SearchError([{"field": name, "message": f"must be [lo, hi] or \"LO:HI\" with 0 < lo <= hi{zero}, "
                                                          f"got {value!r}"}])
        try:
            lo, hi = (float(p) for p in value.split(":"))
        except ValueError:
            raise SearchError([{"field": name, "message": f"must look like LO:HI, e.g. 1e-6:1e-2, got '{value}'"}]) from None
        if not cls._valid(lo, hi, allow_zero):
            raise SearchError([{"field": name, "message": f"needs 0 < LO <= HI (log-uniform sampling){zero}, got '{value}'"}])
        return cls(lo, hi)

    @staticmethod
    def _valid(lo: float, hi: float, allow_zero: bool) -> bool:
        if not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo:
            return False
        return lo > 0 or (allow_zero and lo == hi == 0)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.hi == 0:
            return np.zeros(n)
        return 10.0 ** rng.uniform(math.log10(self.lo), math.log10(self.hi), size=n)

    def to_list(self) -> list[float]:
        return [self.lo, self.hi]


def parse_trials(value, name: str = "trials", max_trials: int = MAX_TRIALS) -> int:
    """The number of trials: a whole number from 1 to ``max_trials`` (SearchError otherwise)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= max_trials:
        raise SearchError([{"field": name, "message": f"must be a whole number from 1 to {max_trials}, got {value!r}"}])
    return value


def check_validation_split(config: Config) -> None:
    """The search ranks trials on the validation split: SearchError if the config has none."""
    if config.data.validation_size <= 0:
        raise SearchError([{"field": "data.validation_size",
                            "message": "must be above 0: the search ranks trials on a validation split "
                                       "(the book uses 20% of the training samples)"}])


@dataclass(frozen=True)
class SearchPlan:
    """A checked search: its base config, its ranges and its sampled trials."""

    config: Config
    lr: LogRange
    weight_decay: LogRange
    trials: list[dict]


def plan_search(config: Config, trials, lr, weight_decay, sampler_seed=None, *, max_trials: int = MAX_TRIALS,
                budget: float | None = None, names: dict[str, str] | None = None) -> SearchPlan:
    """Check a search and sample its trials, or raise one SearchError listing every problem.

    ``trials``: a whole number; ``lr``, ``weight_decay``: ranges as ``LogRange.parse`` reads them;
    ``sampler_seed``: None (the config's seed) or a whole number below 2^32; ``budget``: the most
    multiply-adds the trials may spend together (None: no limit).  ``names`` renames the fields in the
    messages (the command line says ``--lr``, JSON says ``lr``).
    """
    names = {"trials": "trials", "lr": "lr", "weight_decay": "weight_decay", "sampler_seed": "sampler_seed",
             **(names or {})}
    errors: list[dict[str, str]] = []

    def attempt(check, *args, **kwargs):
        try:
            return check(*args, **kwargs)
        except SearchError as exc:
            errors.extend(exc.errors)
            return None

    attempt(check_validation_split, config)
    n = attempt(parse_trials, trials, names["trials"], max_trials)
    lr_range = attempt(LogRange.parse, lr, names["lr"], allow_zero=False)
    wd_range = attempt(LogRange.parse, weight_decay, names["weight_decay"])
    if sampler_seed is not None and (isinstance(sampler_seed, bool) or not isinstance(sampler_seed, int)
                                     or not 0 <= sampler_seed < 2**32):
        errors.append({"field": names["sampler_seed"], "message": f"must be a whole number from 0 to 2^32 - 1, "
                                                                  f"got {sampler_seed!r}"})
    if n is not None and budget is not None and n * estimated_cost(config) > budget:
        errors.append({"field": "search", "message": f"needs about {n * estimated_cost(config):.2g} multiply-adds, "
                                                     f"over the budget of {budget:.2g}; use fewer trials, epochs or samples"})
    if errors:
        raise SearchError(errors)
    return SearchPlan(config, lr_range, wd_range, sample_trials(config, n, lr_range, wd_range, sampler_seed))


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
    check_validation_split(config)
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
