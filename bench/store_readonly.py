"""What reading costs when the SQLite database cannot be written: a read-only mount, a full disk,
an older schema read through views (server/store/backends.py, SQLite.reader), against the usual
pooled connection.

    python bench/store_readonly.py [--runs 300] [--epochs 200] [--repeat 200]

The fallback opens a read-only connection per read (so that each read sees the latest checkpoint),
and first tries the usual connection, which fails; the first schema is read through temporary views
made on each such connection. A read-only mount and a full disk are real (a tmpfs); they need the
right to mount (root), and are skipped without it. Prints one line per case: median wall time of a
run's page (get_run) and of the runs list's first page (list_runs, 50 runs).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.store import Store  # noqa: E402
from tests.support.store import FIRST_SCHEMA  # noqa: E402

CONFIG = {"seed": 0, "name": "bench run", "model": {"hidden_layers": [{"units": 100, "activation": "relu"}]},
          "optimizer": {"name": "adam", "lr": 0.001}, "training": {"epochs": 20, "batch_size": 10}}


def record(epoch):
    return {"epoch": epoch, "train_loss": 0.1 / (epoch + 1), "train_acc": 0.9, "test_loss": 0.2,
            "test_acc": 0.88, "elapsed_s": 0.01 * epoch}


def fill(path, runs, epochs):
    store = Store(path)
    store.init_schema()
    for i in range(runs):
        run_id = f"run{i:05d}"
        store.create_run(run_id, {**CONFIG, "seed": i})
        store.append_metrics(run_id, [record(e) for e in range(epochs)])
        store.finish_run(run_id, "done", {"status": "done"}, b"PK" + b"w" * 20000)
    store.close()


def fill_first_schema(path, runs, epochs):
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(FIRST_SCHEMA)
        for i in range(runs):
            run_id = f"run{i:05d}"
            conn.execute("INSERT INTO runs (run_id, config, status, created_at, summary, weights)"
                         " VALUES (?, ?, 'done', ?, '{}', ?)", (run_id, json.dumps(CONFIG), 1000.0 + i, b"w" * 20000))
            conn.executemany("INSERT INTO metrics VALUES (?, ?, ?)",
                             [(run_id, e, json.dumps(record(e))) for e in range(epochs)])
    conn.close()


def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append((time.perf_counter() - began) * 1e3)
    return statistics.median(times)


def report(name, store, repeat):
    page = timed(lambda: store.get_run("run00007"), repeat)
    listed = timed(lambda: store.list_runs(limit=50), repeat)
    print(f"{name:44s} get_run {page:6.2f} ms   list_runs(50) {listed:6.2f} ms")


def opened(database):
    store = Store(database)
    with contextlib.suppress(Exception):
        store.init_schema()  # fails where the database cannot be written: reads then fall back
    return store


@contextlib.contextmanager
def tmpfs(folder, size="64m"):
    os.makedirs(folder, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", folder], capture_output=True)
    if done.returncode:
        yield None
        return
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", folder], capture_output=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "runs.sqlite")
        fill(path, args.runs, args.epochs)
        report("writable (pooled connection)", opened(path), args.repeat)
        report("opened read-only (file:...?mode=ro)", opened(f"file:{path}?mode=ro"), args.repeat)
        first = os.path.join(tmp, "first.sqlite")
        fill_first_schema(first, args.runs, args.epochs)
        report("first schema, read-only (views)", opened(f"file:{first}?mode=ro"), args.repeat)
        with tmpfs(os.path.join(tmp, "disk")) as disk:
            if disk is None:
                print("(a tmpfs cannot be mounted here: the read-only mount and the full disk are skipped)")
                return
            mounted = os.path.join(disk, "runs.sqlite")
            fill(mounted, args.runs, args.epochs)
            subprocess.run(["mount", "-o", "remount,ro", disk], check=True)
            report("read-only mount (immutable)", opened(mounted), args.repeat)
            subprocess.run(["mount", "-o", "remount,rw", disk], check=True)
            with open(os.path.join(disk, "filler"), "wb") as filler:
                with contextlib.suppress(OSError):
                    while True:
                        filler.write(b"\0" * 65536)
                        filler.flush()
            report("full disk (immutable)", opened(mounted), args.repeat)


if __name__ == "__main__":
    main()
