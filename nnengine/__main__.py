"""Command line: ``python -m nnengine run CONFIG.json`` and ``python -m nnengine search CONFIG.json``.

Both print one JSON record per line on stdout. Bad input exits with status 2 and one line on
stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading

from .config import ConfigError, parse_config
from .search import SearchError, best, plan_search, search
from .trainer import train


class UsageError(Exception):
    """Bad command-line input: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print the usage block too
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m nnengine", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser("run", help="train one experiment, print one JSON record per epoch")
    run.add_argument("config", help="experiment config JSON file ('-' reads stdin)")
    find = commands.add_parser("search", help="random search over learning rate and weight decay")
    find.add_argument("config", help="experiment config JSON file ('-' reads stdin); needs a validation split")
    find.add_argument("--trials", type=int, default=20, help="number of trials (default 20)")
    find.add_argument("--lr", default="1e-6:1e-2", help="learning-rate range LO:HI, log-uniform")
    find.add_argument("--weight-decay", default="1e-8:1e-4", help="weight-decay range LO:HI, log-uniform")
    find.add_argument("--workers", type=int, default=None, help="worker processes (default: every core)")
    find.add_argument("--top", type=int, default=5, help="how many best trials the final line lists")
    find.add_argument("--progress", action="store_true", help="draw a progress bar on stderr")
    return parser


def read_config(path: str):
    """Read and validate a config file; every problem becomes a UsageError naming it."""
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    except OSError as exc:
        raise UsageError(f"cannot read config '{path}': {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"config '{path}' is not UTF-8 text") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"config '{path}' is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    try:
        return parse_config(obj)
    except ConfigError as exc:
        raise UsageError(f"invalid config '{path}': {exc}") from None


def emit(record: dict, out) -> None:
    out.write(json.dumps(record) + "\n")
    out.flush()


def command_run(args, out) -> int:
    config = read_config(args.config)
    stop = threading.Event()
    try:
        result = train(config, on_epoch=lambda record: emit(record, out), should_stop=stop.is_set)
    except KeyboardInterrupt:
        return 130
    emit(result.summary(), out)
    return 0


def command_search(args, out, err) -> int:
    config = read_config(args.config)
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    try:
        plan = plan_search(config, args.trials, args.lr, args.weight_decay,
                           names={"trials": "--trials", "lr": "--lr", "weight_decay": "--weight-decay"})
    except SearchError as exc:
        raise UsageError(str(exc)) from None
    trials = plan.trials
    results = []
    with _progress(err, len(trials), args.progress) as bar:
        for result in search(config, trials, workers=args.workers):
            results.append(result)
            emit({key: value for key, value in result.items() if key != "curve"}, out)
            leader = best(results)
            if leader:
                bar.set_postfix_str(f"best val_acc {leader[0]['val_acc']:.3f} (lr {leader[0]['lr']:.2e}, "
                                    f"wd {leader[0]['weight_decay']:.2e})", refresh=False)
            bar.update(1)
    top = best(results, args.top)
    emit({"event": "best", "best": top[0] if top else None,
          "top": [{k: v for k, v in r.items() if k != "curve"} for r in top]}, out)
    return 0


def _progress(err, total: int, show: bool):
    """tqdm's bar of the trials on ``err`` (stdout keeps only the JSON lines); a bar that draws
    nothing when ``show`` is False, without importing tqdm."""
    if not show:
        return contextlib.nullcontext(_NoBar())
    from tqdm import tqdm

    return tqdm(total=total, file=err, unit="trial", desc="search", dynamic_ncols=True)


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        pass


def main(argv=None, out=None, err=None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
        if args.command == "run":
            return command_run(args, out)
        return command_search(args, out, err)
    except UsageError as exc:
        err.write(f"nnengine: error: {exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
