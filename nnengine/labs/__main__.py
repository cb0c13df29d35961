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

from ..config import ConfigError
from .registry import RUN_LABS, computing_lab, run_lab


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
        try:
            lab = computing_lab(argv[0])
        except ValueError as exc:
            err.write(f"nnengine.labs: error: {exc}\n")
            return 2
        out.write(lab.help())
        return 0
    do_train = "--train" in argv
    argv = [a for a in argv if a != "--train"]
    try:
        if len(argv) > 2:
            raise ValueError("expected LAB [SETTINGS_JSON] [--train]")
        if do_train and argv[0] not in RUN_LABS:
            raise ValueError(f"--train works for the labs with runs: {', '.join(RUN_LABS)}")
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
