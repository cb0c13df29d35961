"""Command line of the labs: ``python -m nnengine.labs LAB [SETTINGS_JSON]`` prints the lab's result as JSON.

  paths       {"function": "book", "optimizers": [{"name": "sgd", "lr": 0.95}], "steps": 30, "start": [-7, 2]}
  histograms  {"activation": "sigmoid", "inits": [{"init": "std", "std": 1}], "bins": 30}
              ("activation": "maxout", "pieces": 2: maxout layers of 2 affine pieces per unit)
  gradcheck   {"config": {...experiment config...}, "batch": 4, "max_entries": 20}
  optimizers | init | batchnorm | overfitting   lab settings -> the run configs (feed them to `python -m nnengine run`);
              with --train, train them one after another and print {"key", ...epoch record} lines, then
              one {"key", "event": "done", ...summary} line per run
  search      lab settings -> the base config and ranges for `python -m nnengine search`
  narrow      {"results": [trial lines of `python -m nnengine search`], "top": 5}

SETTINGS_JSON is a JSON text, a file name, or '-' for stdin (default: the book's settings).
Usage: python -m nnengine.labs LAB [SETTINGS_JSON] [--train]
       python -m nnengine.labs LAB --help     what one lab takes and prints, with its default settings
Bad input exits with status 2 and one line on stderr.
"""
from __future__ import annotations

import json
import sys

from . import LABS, experiments, gradcheck_lab, histograms, paths, search_lab
from .functions import FUNCTIONS
from ..config import ConfigError

COMMANDS = ("paths", "histograms", "gradcheck", "optimizers", "init", "batchnorm", "overfitting", "search", "narrow")


def run_lab(lab: str, settings: dict) -> dict:
    """Dispatch one lab computation (shared by the CLI and the JSON endpoints)."""
    settings = dict(settings or {})
    if lab == "paths":
        return paths.run_paths(settings.get("function", "book"), settings.get("optimizers"),
                               settings.get("start"), settings.get("steps", paths.BOOK_STEPS),
                               settings.get("seed", 0), grid=settings.get("grid", True))
    if lab == "histograms":
        value_range = settings.get("range")
        return histograms.activation_histograms(
            settings.get("activation", "sigmoid"), settings.get("inits"), settings.get("samples", 1000),
            settings.get("units", 100), settings.get("layers", 5), settings.get("bins", 30),
            settings.get("seed", 0), tuple(value_range) if value_range else None, settings.get("pieces", 2))
    if lab == "gradcheck":
        return gradcheck_lab.gradcheck(settings.get("config", {}), settings.get("batch", gradcheck_lab.DEFAULT_BATCH),
                                       settings.get("max_entries", gradcheck_lab.DEFAULT_ENTRIES),
                                       settings.get("seed", 0))
    if lab in experiments.LAB_RUNS:
        return experiments.LAB_RUNS[lab](settings)
    if lab == "search":
        return experiments.search_setup(settings)
    if lab == "narrow":
        return search_lab.narrow(settings.get("results", []), settings.get("top", 5), settings.get("widen", 1.0))
    raise ValueError(f"unknown lab {lab!r}; known: {', '.join(COMMANDS)}")


# What each lab's SETTINGS_JSON may hold (key, what it is and its default) and what the lab prints.
# The MNIST labs and the search take flat settings whose defaults (the book's) are listed from the
# code instead (``experiments.*_DEFAULTS``).
_SETTINGS = {
    "paths": [
        ("function", f"one of {', '.join(FUNCTIONS)} (default \"book\": x\u00b2/20 + y\u00b2)"),
        ("optimizers", "[{\"name\": \"sgd\", \"lr\": 0.95}, ...], any of the 17 optimizers with its "
                       "hyperparameters; a missing lr takes the lab's for that function "
                       "(default: the book's SGD 0.95, Momentum 0.1, AdaGrad 1.5, Adam 0.3)"),
        ("start", "[x, y] (default: the function's, the book's [-7, 2])"),
        ("steps", f"1 to {paths.MAX_STEPS} (default {paths.BOOK_STEPS})"),
        ("seed", "for the stochastic optimizers (default 0)"),
        ("grid", "false leaves the contour grid out (default true)"),
    ],
    "histograms": [
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
    ],
    "gradcheck": [
        ("config", "an experiment config (as for `python -m nnengine run`; missing keys take their defaults)"),
        ("batch", f"samples in the checked batch, 1 to {gradcheck_lab.MAX_BATCH} "
                  f"(default {gradcheck_lab.DEFAULT_BATCH})"),
        ("max_entries", f"entries checked per parameter, 1 to {gradcheck_lab.MAX_ENTRIES} "
                        f"(default {gradcheck_lab.DEFAULT_ENTRIES})"),
        ("seed", "(default 0)"),
    ],
    "narrow": [
        ("results", "the trial lines of `python -m nnengine search` (or of the search lab)"),
        ("top", "how many of the best trials the ranges must hold (default 5)"),
        ("widen", "a factor >= 1 that stretches each range on both sides, in log scale (default 1)"),
    ],
}
_DEFAULTS = {"optimizers": experiments.OPTIMIZERS_DEFAULTS, "init": experiments.INIT_DEFAULTS,
             "batchnorm": experiments.BATCHNORM_DEFAULTS, "overfitting": experiments.OVERFITTING_DEFAULTS,
             "search": experiments.SEARCH_DEFAULTS}
_RUNS = ("{\"settings\", \"runs\": [{\"key\", \"label\", \"group\", \"config\"}], \"meta\"}: the run configs, "
         "to feed to `python -m nnengine run` (the lab's page starts the same ones); with --train, trains "
         "them one after another and prints {\"key\", ...epoch record} lines, then one "
         "{\"key\", \"label\", \"event\": \"done\", ...summary} line per run")
_PRINTS = {
    "paths": "{\"function\", \"start\", \"steps\", \"seed\", \"paths\": [one per optimizer: its points and "
             "losses], \"contour\"}",
    "histograms": "{\"activation\", \"range\", ..., \"inits\": [one per init: a histogram per layer]}",
    "gradcheck": "{\"params\": [one per parameter: its relative error and status], \"max_rel_error\", \"ok\", ...}",
    "search": "{\"settings\", \"config\", \"trials\", \"lr\", \"weight_decay\"}: the base config (save it to a "
              "file) and the ranges, for `python -m nnengine search CONFIG --trials N --lr LO:HI --weight-decay LO:HI`",
    "narrow": "{\"lr\": [lo, hi], \"weight_decay\": [lo, hi], \"from\": [the trials used]}: the ranges to search "
              "next (book \u00a76.5.3)",
    **{lab: _RUNS for lab in experiments.LAB_RUNS},
}
_SUMMARY = {"narrow": "Narrow the search ranges to the best trials (book \u00a76.5.3).",
            **{lab["slug"]: f"{lab['title']} (book \u00a7{lab['section']}). {lab['summary']}"
               for lab in LABS if lab["section"]}}


def lab_help(lab: str) -> str:
    """The text of ``python -m nnengine.labs LAB --help``: what the lab does, takes and prints."""
    train = " [--train]" if lab in experiments.LAB_RUNS else ""
    lines = [f"usage: python -m nnengine.labs {lab} [SETTINGS_JSON]{train}", "", _SUMMARY[lab], "",
             "SETTINGS_JSON: a JSON object, a file name, or '-' for stdin; missing keys take their defaults."]
    if lab in _DEFAULTS:
        lines += ["Its keys, with the book's settings as defaults:", "  " + json.dumps(_DEFAULTS[lab])]
    else:
        width = max(len(key) for key, _ in _SETTINGS[lab])
        lines += ["Its keys:"] + [f"  {key:<{width}}  {text}" for key, text in _SETTINGS[lab]]
    lines += ["", f"Prints one JSON line: {_PRINTS[lab]}.", "Bad input exits with status 2 and one line on stderr."]
    return "\n".join(lines) + "\n"


def _read(arg: str | None) -> dict:
    if arg is None:
        return {}
    if arg == "-":
        text = sys.stdin.read()
    elif arg.lstrip().startswith("{"):
        text = arg
    else:
        with open(arg, encoding="utf-8") as handle:
            text = handle.read()
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("the settings must be a JSON object")
    return value


def train_runs(result: dict, out) -> None:
    """Train a lab's runs one after another, printing JSON lines tagged with each run's key."""
    from ..config import parse_config
    from ..trainer import train

    for run in result["runs"]:
        def emit(record, key=run["key"]):
            out.write(json.dumps({"key": key, **record}) + "\n")
            out.flush()
        outcome = train(parse_config(run["config"]), on_epoch=emit)
        out.write(json.dumps({"key": run["key"], "label": run["label"], **outcome.summary()}) + "\n")
        out.flush()


def main(argv=None, out=None, err=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    out, err = out or sys.stdout, err or sys.stderr
    if not argv or argv[0] in ("-h", "--help"):
        out.write(__doc__)
        return 0 if argv else 2
    if "-h" in argv or "--help" in argv:
        if argv[0] not in COMMANDS:
            err.write(f"nnengine.labs: error: unknown lab {argv[0]!r}; known: {', '.join(COMMANDS)}\n")
            return 2
        out.write(lab_help(argv[0]))
        return 0
    do_train = "--train" in argv
    argv = [a for a in argv if a != "--train"]
    try:
        if len(argv) > 2:
            raise ValueError("expected LAB [SETTINGS_JSON] [--train]")
        if do_train and argv[0] not in experiments.LAB_RUNS:
            raise ValueError(f"--train works for the labs with runs: {', '.join(experiments.LAB_RUNS)}")
        result = run_lab(argv[0], _read(argv[1] if len(argv) > 1 else None))
    except (ValueError, TypeError, OSError, ConfigError) as exc:   # SettingsError and JSON errors are ValueErrors
        err.write(f"nnengine.labs: error: {exc}\n")
        return 2
    if do_train:
        try:
            train_runs(result, out)
        except KeyboardInterrupt:
            return 130
        return 0
    out.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
