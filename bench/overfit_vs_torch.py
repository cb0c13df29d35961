"""nnengine CLI vs PyTorch on the book's overfitting experiment, whole process each, side by side.

    python bench/overfit_vs_torch.py [--runs 3] [--config bench/overfit.json]

Runs ``python -m nnengine run CONFIG`` and ``python bench/torch_overfit.py CONFIG`` (the same job in
PyTorch, CPU, float32) alternately, ``--runs`` times each, timing each whole process (start-up, imports,
data, 200 epochs with train and test evaluation every epoch, output).  Prints a table of median wall
times, ms per epoch and the ratio.  Needs torch (``pip install -r bench/requirements.txt``).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIDES = {
    "nnengine": lambda cfg: [sys.executable, "-m", "nnengine", "run", cfg],
    "pytorch": lambda cfg: [sys.executable, str(ROOT / "bench" / "torch_overfit.py"), cfg],
}


def busy_seconds() -> float | None:
    """CPU seconds all processes on the machine have used so far (Linux /proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)       # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wait_idle(timeout: float, threshold: float = 0.1) -> bool:
    """Wait (up to ``timeout`` s) until other processes use under ``threshold`` of the cores for 2 s."""
    deadline = time.monotonic() + timeout
    cores = os.cpu_count() or 1
    while True:
        before = busy_seconds()
        time.sleep(2.0)
        after = busy_seconds()
        if before is None or (after - before) / (2.0 * cores) < threshold:
            return True
        if time.monotonic() > deadline:
            return False


def run_once(argv: list[str]) -> dict:
    """Run one whole process; wall time, CPU time (user + sys), the CPU time other processes used
    meanwhile (``foreign``: noise) and its final epoch record."""
    before = os.times()
    busy_before = busy_seconds()
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    busy_after = busy_seconds()
    after = os.times()
    if proc.returncode != 0:
        raise SystemExit(f"{argv[1:]} failed ({proc.returncode}):\n{proc.stderr.strip()}")
    records = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    epochs = [r for r in records if "epoch" in r and "event" not in r]
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    foreign = None if busy_before is None else max(0.0, busy_after - busy_before - cpu)
    return {"wall": wall, "cpu": cpu, "foreign": foreign, "last": epochs[-1], "epochs": len(epochs) - 1}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per side (default 3)")
    parser.add_argument("--config", default=str(ROOT / "bench" / "overfit.json"))
    parser.add_argument("--only", choices=sorted(SIDES), help="time one side only")
    parser.add_argument("--wait-idle", type=float, default=0.0, metavar="S",
                        help="before each run, wait up to S seconds for the other processes to go quiet")
    args = parser.parse_args(argv)
    sides = [args.only] if args.only else list(SIDES)
    if "pytorch" in sides:
        try:
            import torch  # noqa: F401  (only to fail early with a clear message)
        except ImportError:
            raise SystemExit("torch is not installed: pip install -r bench/requirements.txt")

    load_before = os.getloadavg()[0]
    results: dict[str, list[dict]] = {side: [] for side in sides}
    for i in range(args.runs):
        for side in (sides if i % 2 == 0 else sides[::-1]):   # alternate who goes first
            if args.wait_idle and not wait_idle(args.wait_idle):
                print("  (the machine did not go quiet)", file=sys.stderr)
            r = run_once(SIDES[side](args.config))
            results[side].append(r)
            noise = "" if r["foreign"] is None else f", other processes {r['foreign']:5.2f} cpu s"
            print(f"  run {i + 1}/{args.runs} {side:8s} {r['wall']:6.2f} s wall, {r['cpu']:6.2f} s cpu, "
                  f"loop {1000 * r['last']['elapsed_s'] / r['epochs']:5.1f} ms/epoch{noise}", file=sys.stderr)
    load_after = os.getloadavg()[0]

    print(f"overfitting experiment ({Path(args.config).name}), {args.runs} runs per side, medians; "
          f"{os.cpu_count()} cores; load average {load_before:.2f} -> {load_after:.2f}")
    head = (f"{'side':9s} {'wall s':>7s} {'ms/epoch':>9s} {'loop ms/ep':>10s} {'cpu s':>7s} "
            f"{'train acc':>9s} {'test acc':>8s}  all wall s")
    print(head)
    print("-" * len(head))
    medians = {}
    for side, runs in results.items():
        epochs = runs[0]["epochs"]
        wall = medians[side] = statistics.median(r["wall"] for r in runs)
        loop = statistics.median(r["last"]["elapsed_s"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        last = runs[0]["last"]
        print(f"{side:9s} {wall:7.2f} {1000 * wall / epochs:9.1f} {1000 * loop / epochs:10.1f} {cpu:7.2f} "
              f"{last['train_acc']:9.3f} {last['test_acc']:8.3f}  "
              + " ".join(f"{r['wall']:.2f}" for r in runs))
    if len(medians) == 2:
        ratio = medians["pytorch"] / medians["nnengine"]
        print(f"ratio (pytorch wall / nnengine wall): {ratio:.2f}x  (target 1.5x: "
              f"{'met' if ratio >= 1.5 else 'not met'})")
    foreign = [r["foreign"] for runs in results.values() for r in runs if r["foreign"] is not None]
    if foreign and max(f / r["wall"] for runs in results.values() for r in runs
                       for f in [r["foreign"] or 0.0]) > 0.1:
        print(f"note: other processes used up to {max(foreign):.1f} cpu s during a run; "
              f"times are not representative of a quiet machine", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
