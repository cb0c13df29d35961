"""How fast is the hyperparameter search of the book (§6.5), and what do parallel workers buy?

    python bench/search_speed.py                 # 20 trials x {1, 2 workers}, then the full 100-trial search
    python bench/search_speed.py --trials 10 --skip-full

Each measurement runs the real command line, ``python -m nnengine search CONFIG --trials N --workers W``,
in a fresh process and times it from start to the last line (process start-up included), on the
book's setting: 500 images (400 train / 100 validation), 784-100x6-10 ReLU, SGD, batch 100, 50 epochs,
lr 10^U(-6,-2), weight decay 10^U(-8,-4).

Rows:
- ``1 worker (BLAS threads: default)``: what ``--workers 1`` does: trials one after another in one process,
  NumPy's BLAS free to use every core for each matrix product.
- ``1 worker (BLAS threads: 1)``: the same with one BLAS thread: the per-core cost of a trial.
- ``N workers``: N spawned worker processes with one BLAS thread each (what the search does by default,
  N = the number of cores).
Speed-up is relative to the first row. The load average is printed because other processes on the
machine change every number here.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nnengine.labs.experiments import search_setup  # noqa: E402

BLAS_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def run_search(config_path: str, trials: int, workers: int, lr, wd, blas_threads: int | None) -> dict:
    env = dict(os.environ)
    for name in BLAS_VARS:
        env.pop(name, None)
        if blas_threads is not None:
            env[name] = str(blas_threads)
    cmd = [sys.executable, "-m", "nnengine", "search", config_path, "--trials", str(trials),
           "--workers", str(workers), "--lr", f"{lr[0]}:{lr[1]}", "--weight-decay", f"{wd[0]}:{wd[1]}", "--top", "3"]
    load = os.getloadavg()[0]
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - start
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    results = [r for r in lines if "trial" in r]
    best = lines[-1]["best"] if lines and lines[-1].get("event") == "best" else None
    return {"wall_s": wall, "trials": len(results), "load_before": load,
            "trial_s": sum(r["elapsed_s"] for r in results) / max(1, len(results)),
            "best_val_acc": best and best["val_acc"], "best_lr": best and best["lr"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="trials for the worker comparison (default 20)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel workers to compare (default: cores)")
    parser.add_argument("--full-trials", type=int, default=100, help="trials of the full book search (default 100)")
    parser.add_argument("--skip-full", action="store_true", help="skip the full book search")
    parser.add_argument("--repeat", type=int, default=1,
                        help="measure the worker comparison this many times, interleaved, and report the median "
                             "(evens out other load on the machine)")
    parser.add_argument("--skip-default-blas", action="store_true",
                        help="skip the row with NumPy's default BLAS threads (slow on a busy machine)")
    args = parser.parse_args(argv)

    setup = search_setup()   # the book's setting, as the lab's page uses it
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(setup["config"], handle)
        config_path = handle.name
    d = setup["config"]["data"]
    print(f"book setting: {d['train_size']} train / {d['validation_size']} validation images, "
          f"784-100x{len(setup['config']['model']['hidden_layers'])}-10, {setup['config']['training']['epochs']} epochs, "
          f"lr {setup['lr']}, weight decay {setup['weight_decay']}; {os.cpu_count()} cores")
    rows = [("1 worker (BLAS threads: default)", args.trials, 1, None)] if not args.skip_default_blas else []
    rows += [("1 worker (BLAS threads: 1)", args.trials, 1, 1),
            (f"{args.workers} workers (1 BLAS thread each)", args.trials, args.workers, None)]
    if not args.skip_full:
        rows.append((f"full book search, {args.workers} workers", args.full_trials, args.workers, None))
    header = f"{'run':<40} {'trials':>6} {'wall s':>8} {'s/trial':>8} {'trial s':>8} {'speed-up':>8} {'best val':>8} {'load':>5}"
    print(header)
    print("-" * len(header))
    compare = [row for row in rows if row[1] == args.trials]
    full = [row for row in rows if row[1] != args.trials or row[0].startswith("full")]
    compare = [row for row in compare if row not in full]
    measured = {row[0]: [] for row in rows}
    try:
        for _ in range(max(1, args.repeat)):   # interleaved, so that changing load hits every row alike
            for label, trials, workers, blas in compare:
                measured[label].append(run_search(config_path, trials, workers, setup["lr"], setup["weight_decay"], blas))
        for label, trials, workers, blas in full:
            measured[label].append(run_search(config_path, trials, workers, setup["lr"], setup["weight_decay"], blas))
    finally:
        os.unlink(config_path)
    base = None
    for label, *_ in rows:
        runs = sorted(measured[label], key=lambda r: r["wall_s"])
        r = runs[len(runs) // 2]
        per = r["wall_s"] / max(1, r["trials"])
        if base is None:
            base = per
        spread = f" ({min(x['wall_s'] for x in runs):.1f}-{max(x['wall_s'] for x in runs):.1f})" if len(runs) > 1 else ""
        print(f"{label:<40} {r['trials']:>6} {r['wall_s']:>8.1f} {per:>8.2f} {r['trial_s']:>8.2f} "
              f"{base / per:>7.2f}x {r['best_val_acc'] if r['best_val_acc'] is not None else float('nan'):>8.2f} "
              f"{r['load_before']:>5.1f}{spread}", flush=True)
    print("wall s: start to finish of the command (median; range over repeats in brackets); s/trial: wall / trials; "
          "trial s: mean time inside one trial (its training); speed-up: s/trial of the first row / s/trial; "
          "load: 1-minute load average before the run.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
