"""Every lab, once: its page in the index, the computation its page, its JSON endpoint and the command
line share, and what that computation takes and prints.

``LABS_BY_NAME`` maps a lab's name to its ``Lab``, in the book's order.  A lab with a ``compute`` runs
from ``python -m nnengine.labs NAME`` and ``/api/labs/...``; a lab with ``page`` has a page under
``/labs/NAME`` (``narrow`` is the search lab's second step, without a page of its own; ``inside``
needs a stored run, so it is served by the server alone).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from . import experiments, gradcheck_lab, histograms, paths, probe_lab, search_lab
from .functions import FUNCTIONS

Settings = dict[str, Any]


@dataclass(frozen=True)
class Lab:
    """One lab.

    ``compute(settings) -> result``: the lab's computation on its settings (a JSON object, missing keys
    taking their defaults); bad settings raise ValueError (``SettingsError``, ``ConfigError`` with the
    fields at fault).  ``trains``: the result lists run configs (``{"settings", "runs", "meta"}``) to
    train.  ``defaults``: flat settings whose defaults are the book's, listed as they are; else ``keys``
    says what each setting is.  ``prints``: what the result holds.
    """

    name: str
    title: str
    summary: str
    section: str = ""
    book_settings: bool = True
    page: bool = True
    compute: Callable[[Settings], dict] | None = None
    trains: bool = False
    defaults: Settings | None = None
    keys: tuple[tuple[str, str], ...] = ()
    prints: str = ""

    def card(self) -> dict:
        """What the index of the labs and ``GET /api/labs`` show of it."""
        card = {"slug": self.name, "section": self.section, "title": self.title, "summary": self.summary}
        if not self.book_settings:      # its page offers "Defaults", not "Book settings"
            card["book_settings"] = False
        return card

    def help(self) -> str:
        """The text of ``python -m nnengine.labs NAME --help``: what the lab does, takes and prints."""
        train = " [--train]" if self.trains else ""
        about = f"{self.title} (book \u00a7{self.section}). {self.summary}" if self.section else self.summary
        lines = [f"usage: python -m nnengine.labs {self.name} [SETTINGS_JSON]{train}", "", about, "",
                 "SETTINGS_JSON: a JSON object, a file name, or '-' for stdin; missing keys take their defaults."]
        if self.defaults is not None:
            lines += ["Its keys, with the book's settings as defaults:", "  " + json.dumps(self.defaults)]
        else:
            width = max(len(key) for key, _ in self.keys)
            lines += ["Its keys:"] + [f"  {key:<{width}}  {text}" for key, text in self.keys]
        lines += ["", f"Prints one JSON line: {self.prints}.", "Bad input exits with status 2 and one line on stderr."]
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the computations on their settings

def _paths(settings: Settings) -> dict:
    return paths.run_paths(settings.get("function", "book"), settings.get("optimizers"), settings.get("start"),
                           settings.get("steps", paths.BOOK_STEPS), settings.get("seed", 0),
                           grid=settings.get("grid", True))


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _histograms(settings: Settings) -> dict:
    value_range = settings.get("range")
    if value_range is not None and not (isinstance(value_range, list) and len(value_range) == 2
                                        and all(map(_is_number, value_range))):
        raise ValueError("range must be [lo, hi]")
    return histograms.activation_histograms(
        settings.get("activation", "sigmoid"), settings.get("inits"), settings.get("samples", 1000),
        settings.get("units", 100), settings.get("layers", 5), settings.get("bins", 30),
        settings.get("seed", 0), tuple(value_range) if value_range else None, settings.get("pieces", 2))


def _gradcheck(settings: Settings) -> dict:
    config = settings.get("config", {})
    if not isinstance(config, dict):
        raise ValueError("config must be an experiment config object")
    return gradcheck_lab.gradcheck(config, settings.get("batch", gradcheck_lab.DEFAULT_BATCH),
                                   settings.get("max_entries", gradcheck_lab.DEFAULT_ENTRIES), settings.get("seed", 0))


def _narrow(settings: Settings) -> dict:
    results = settings.get("results", [])
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise ValueError("results must be a list of trials {lr, weight_decay, val_acc}")
    for i, result in enumerate(results):
        for key in ("lr", "weight_decay"):
            if not search_lab.is_finite(result.get(key)):
                raise ValueError(f"results[{i}].{key} must be a number")
        if result.get("val_acc") is not None and not search_lab.is_finite(result["val_acc"]):
            raise ValueError(f"results[{i}].val_acc must be a number or null")
    return search_lab.narrow(results, settings.get("top", search_lab.TOP), settings.get("widen", 1.0))


# ---------------------------------------------------------------- the labs, in the book's order

_RUNS = ("{\"settings\", \"runs\": [{\"key\", \"label\", \"group\", \"config\"}], \"meta\"}: the run configs, "
         "to feed to `python -m nnengine run` (the lab's page starts the same ones); with --train, trains "
         "them one after another and prints {\"key\", ...epoch record} lines, then one "
         "{\"key\", \"label\", \"event\": \"done\", ...summary} line per run")

_ALL = [
    Lab("paths", "Optimizer paths", section="6.1", compute=_paths,
        summary="Watch SGD, Momentum, AdaGrad, Adam (or any of 17 optimizers) walk down f(x, y) = x²/20 + y² "
                "and other 2-D functions, step by step.",
        keys=(
            ("function", f"one of {', '.join(FUNCTIONS)} (default \"book\": x\u00b2/20 + y\u00b2)"),
            ("optimizers", "[{\"name\": \"sgd\", \"lr\": 0.95}, ...], any of the 17 optimizers with its "
                           "hyperparameters; a missing lr takes the lab's for that function "
                           "(default: the book's SGD 0.95, Momentum 0.1, AdaGrad 1.5, Adam 0.3)"),
            ("start", "[x, y] (default: the function's, the book's [-7, 2])"),
            ("steps", f"1 to {paths.MAX_STEPS} (default {paths.BOOK_STEPS})"),
            ("seed", "for the stochastic optimizers (default 0)"),
            ("grid", "false leaves the contour grid out (default true)"),
        ),
        prints="{\"function\", \"start\", \"steps\", \"seed\", \"paths\": [one per optimizer: its points and "
               "losses], \"contour\"}"),
    Lab("optimizers", "Optimizers on MNIST", section="6.1.8", compute=experiments.optimizer_runs, trains=True,
        summary="Train the same 784-100x4-10 network with several optimizers and overlay their loss curves.",
        defaults=experiments.OPTIMIZERS_DEFAULTS, prints=_RUNS),
    Lab("histograms", "Activation histograms", section="6.2.2", compute=_histograms,
        summary="Per-layer activations of a 5-layer random network: saturation with std 1, lost expressiveness "
                "with std 0.01, healthy spread with Xavier and He.",
        keys=(
            ("activation", f"any of the {len(histograms.ACTIVATIONS)} activations "
                           f"(default \"{histograms.BOOK['activation']}\")"),
            ("inits", "[{\"init\": \"std\", \"std\": 1}, {\"init\": \"xavier\"}, ...] "
                      "(default: the book's std 1, std 0.01, Xavier, He)"),
            *[(key, f"{lo} to {hi} (default {histograms.BOOK[key]})") for key, (lo, hi) in histograms.LIMITS.items()
              if key in histograms.BOOK],
            ("pieces", f"per unit when the activation is \"maxout\", {histograms.LIMITS['pieces'][0]} to "
                       f"{histograms.LIMITS['pieces'][1]} (default 2)"),
            ("seed", "(default 0)"),
            ("range", "[lo, hi] of the histograms (default: the activation's own, e.g. [0, 1] for sigmoid)"),
        ),
        prints="{\"activation\", \"range\", ..., \"inits\": [one per init: a histogram per layer]}"),
    Lab("init", "Weight initialisation on MNIST", section="6.2.4", compute=experiments.init_runs, trains=True,
        summary="Std 0.01 vs Xavier vs He on a 784-100x4-10 ReLU network: which one learns at all?",
        defaults=experiments.INIT_DEFAULTS, prints=_RUNS),
    Lab("batchnorm", "Batch normalisation", section="6.3", compute=experiments.batchnorm_runs, trains=True,
        summary="16 weight scales, with and without batch norm: 32 runs on a grid of small charts.",
        defaults=experiments.BATCHNORM_DEFAULTS, prints=_RUNS),
    Lab("overfitting", "Overfitting, weight decay and dropout", section="6.4", compute=experiments.overfitting_runs,
        trains=True, defaults=experiments.OVERFITTING_DEFAULTS, prints=_RUNS,
        summary="300 samples and 7 layers overfit; weight decay 0.1, dropout 0.2 and both narrow the train-test gap."),
    Lab("search", "Hyperparameter search", section="6.5", compute=experiments.search_setup,
        summary="Random log-uniform search of learning rate and weight decay on a validation split, "
                "in parallel worker processes; narrow the ranges to the best and search again.",
        defaults=experiments.SEARCH_DEFAULTS,
        prints="{\"settings\", \"config\", \"trials\", \"lr\", \"weight_decay\"}: the base config (save it to a "
               "file) and the ranges, for `python -m nnengine search CONFIG --trials N --lr LO:HI --weight-decay LO:HI`"),
    Lab("narrow", "Narrow the search", page=False, compute=_narrow,
        summary="Narrow the search ranges to the best trials (book \u00a76.5.3).",
        keys=(
            ("results", "the trial lines of `python -m nnengine search` (or of the search lab)"),
            ("top", f"how many of the best trials the ranges must hold (default {search_lab.TOP})"),
            ("widen", "a factor >= 1 that stretches each range on both sides, in log scale (default 1)"),
        ),
        prints="{\"lr\": [lo, hi], \"weight_decay\": [lo, hi], \"from\": [the trials used]}: the ranges to search "
               "next (book \u00a76.5.3)"),
    Lab("gradcheck", "Gradient check", section="5.7.3", book_settings=False, compute=_gradcheck,
        summary="Numerical vs backpropagated gradients of any network from the builder, in float64, "
                "with a relative error per parameter.",
        keys=(
            ("config", "an experiment config (as for `python -m nnengine run`; missing keys take their defaults)"),
            ("batch", f"samples in the checked batch, 1 to {gradcheck_lab.MAX_BATCH} "
                      f"(default {gradcheck_lab.DEFAULT_BATCH})"),
            ("max_entries", f"entries checked per parameter, 1 to {gradcheck_lab.MAX_ENTRIES} "
                            f"(default {gradcheck_lab.DEFAULT_ENTRIES})"),
            ("seed", "(default 0)"),
        ),
        prints="{\"params\": [one per parameter: its relative error and status], \"max_rel_error\", \"ok\", ...}"),
    Lab("inside", "Look inside a run", book_settings=False,
        summary="Per-layer histograms of a finished run's weights and activations, and what its first layer "
                "learned, drawn as 28x28 images."),
    Lab("probe", "Probe a network", book_settings=False, compute=probe_lab.compute, keys=probe_lab.KEYS,
        summary="What a trained network learned: the digit each class dreams of, the smallest change that "
                "fools it, which units it cannot do without, and where one digit turns into another.",
        prints=probe_lab.PRINTS),
]

LABS_BY_NAME: dict[str, Lab] = {lab.name: lab for lab in _ALL}

# The pages, in the book's order: what the index and GET /api/labs list.
LABS = [lab.card() for lab in _ALL if lab.page]
LAB_SLUGS = tuple(card["slug"] for card in LABS)
# What the command line and the JSON endpoints compute.
COMMANDS = tuple(lab.name for lab in _ALL if lab.compute is not None)
RUN_LABS = tuple(lab.name for lab in _ALL if lab.trains)


def computing_lab(name: Any) -> Lab:
    """The lab called ``name`` that computes something from its settings; any other name raises
    ValueError listing those labs."""
    found = LABS_BY_NAME.get(name) if isinstance(name, str) else None
    if found is None or found.compute is None:
        raise ValueError(f"unknown lab {name!r}; known: {', '.join(COMMANDS)}")
    return found


def run_lab(name: str, settings: Settings | None = None) -> dict:
    """The result of lab ``name`` on ``settings`` (shared by the command line and the JSON endpoints)."""
    return computing_lab(name).compute(dict(settings or {}))
