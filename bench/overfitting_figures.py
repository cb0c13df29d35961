"""The book's three overfitting experiments over several seeds: how far train and test accuracy drift apart.

    python bench/overfitting_figures.py [--seeds 0-4] [--epochs N] [--workers 2]

Runs the presets ``overfitting`` (300 samples, 784-100x6-10 ReLU, He init, SGD lr 0.01, batch 100, 200
epochs), ``overfitting_weight_decay`` (the same with weight decay 0.1) and ``overfitting_dropout`` (the book's
dropout 0.2 after every hidden layer, 301 epochs), plus that dropout run with inverted dropout for contrast,
through ``nnengine.trainer.train`` for each seed (the seed draws the data split, the weights, the batch order
and the dropout masks), and prints the final train accuracy, final test accuracy and their gap per seed, then
mean +- sample standard deviation over the seeds.  Each experiment runs its preset's epochs unless
``--epochs`` gives one number for all.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nnengine.config import parse_config  # noqa: E402
from nnengine.presets import PRESETS  # noqa: E402
from nnengine.trainer import train  # noqa: E402

# (label, preset, changes to its model)
EXPERIMENTS = [("baseline", "overfitting", {}), ("weight decay 0.1", "overfitting_weight_decay", {}),
               ("dropout 0.2, the book's", "overfitting_dropout", {}),
               ("dropout 0.2, inverted", "overfitting_dropout", {"dropout_style": "inverted"})]


def run(job: tuple[str, str, dict, int, int | None]) -> dict:
    label, preset, model, seed, epochs = job
    config = copy.deepcopy(PRESETS[preset]["config"])
    config["model"].update(model)
    config["seed"] = seed
    if epochs is not None:
        config["training"]["epochs"] = epochs
    start = time.perf_counter()
    result = train(parse_config(config))
    last = result.records[-1]
    return {"label": label, "epochs": last["epoch"], "seed": seed, "status": result.status, "train_acc": last["train_acc"],
            "test_acc": last["test_acc"], "gap": last["train_acc"] - last["test_acc"],
            "best_test_acc": max(r["test_acc"] for r in result.records),
            "seconds": time.perf_counter() - start}


def seeds_arg(text: str) -> list[int]:
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",")]


def mean_std(values: list[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f} ± {std:.3f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=seeds_arg, default=list(range(5)), help="e.g. 0-4 or 0,3,7")
    parser.add_argument("--epochs", type=int, default=None, help="default: each preset's own")
    parser.add_argument("--workers", type=int, default=1, help="runs in parallel (processes)")
    args = parser.parse_args(argv)

    jobs = [(label, preset, model, seed, args.epochs) for label, preset, model in EXPERIMENTS for seed in args.seeds]
    if args.workers > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            results = list(pool.map(run, jobs))
    else:
        results = [run(job) for job in jobs]

    print(f"overfitting experiments, seeds {args.seeds[0]}..{args.seeds[-1]} "
          f"(final epoch; mean ± sample std over seeds)")
    print()
    print("| experiment | epochs | seed | train acc | test acc | gap (train - test) | best test acc |")
    print("|---|---|---|---|---|---|---|")
    for label, _, _ in EXPERIMENTS:
        for r in (r for r in results if r["label"] == label):
            flag = "" if r["status"] == "done" else f" ({r['status']})"
            print(f"| {label} | {r['epochs']} | {r['seed']} | {r['train_acc']:.3f} | {r['test_acc']:.3f} | "
                  f"{r['gap']:.3f} | {r['best_test_acc']:.3f}{flag} |")
    print()
    print("| experiment | epochs | train acc | test acc | gap (train - test) | best test acc |")
    print("|---|---|---|---|---|---|")
    for label, _, _ in EXPERIMENTS:
        rs = [r for r in results if r["label"] == label]
        print(f"| {label} | {rs[0]['epochs']} | {mean_std([r['train_acc'] for r in rs])} | "
              f"{mean_std([r['test_acc'] for r in rs])} | {mean_std([r['gap'] for r in rs])} | "
              f"{mean_std([r['best_test_acc'] for r in rs])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
