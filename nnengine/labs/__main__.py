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
Bad input exits with status 2 and one line on stderr.
"""
from __future__ import annotations

import json
import sys

from . import experiments, gradcheck_lab, histograms, paths, search_lab
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
