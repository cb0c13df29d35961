"""CPU and wall time of the run store's hot paths, on SQLite and (optionally) PostgreSQL.

A run's worker stores each epoch as it comes, through a held connection (`Store.session()`), while
it trains on the same cores: the CPU this costs per epoch is what the first row measures. The other
rows time what the pages and the API read.

    python bench/store_speed.py [--epochs 2000] [--runs 300] [--db PATH|URL] [--postgres]

``--db`` picks the database (default: a temporary SQLite file); ``--postgres`` also runs every row
against a throwaway PostgreSQL server started as tests/support/services.py does (Debian's postgresql must be
installed; it runs with fsync off, as the tests' server does, so its commits do not wait for a disk).
CPU is this process's (time.process_time); PostgreSQL's own work is on the server's side and shows in
the wall time only. On SQLite a session holds one connection for the run; on PostgreSQL each call
takes a pooled one (see server/store/backends.py).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.store import Store  # noqa: E402

CONFIG = {"seed": 0, "name": "bench run", "model": {"hidden_layers": [{"units": 100, "activation": "relu"}]},
          "optimizer": {"name": "adam", "lr": 0.001}, "training": {"epochs": 20, "batch_size": 10}}


def record(epoch):
    return {"epoch": epoch, "train_loss": 0.123456789 / (epoch + 1), "train_acc": 0.9, "test_loss": 0.2,
            "test_acc": 0.88, "elapsed_s": 0.01 * epoch, "lr": 0.001}


def measure(fn, repeat):
    """(median CPU ms, median wall ms) of `fn` over `repeat` calls."""
    cpu, wall = [], []
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append((time.process_time() - c0) * 1e3)
        wall.append((time.perf_counter() - w0) * 1e3)
    return statistics.median(cpu), statistics.median(wall)


def bench(store, epochs, runs):
    rows = []
    store.create_run("held", CONFIG)
    with store.session() as held:
        held.set_status("held", "running")
        c0, w0 = time.process_time(), time.perf_counter()
        for epoch in range(epochs):
            held.append_metrics("held", [record(epoch)])  # one commit per epoch: the worst case
        cpu = (time.process_time() - c0) * 1e3 / epochs
        wall = (time.perf_counter() - w0) * 1e3 / epochs
        held.finish_run("held", "done", {"status": "done"}, b"w" * 300_000)
    rows.append(("store an epoch (in a session)", cpu, wall))

    store.create_run("short", CONFIG)
    c0, w0 = time.process_time(), time.perf_counter()
    count = min(epochs, 300)
    for epoch in range(count):
        store.append_metrics("short", [record(epoch)])
    rows.append(("store an epoch (no session)", (time.process_time() - c0) * 1e3 / count,
                 (time.perf_counter() - w0) * 1e3 / count))

    c0, w0 = time.process_time(), time.perf_counter()
    for i in range(runs):
        store.create_run(f"run{i:05d}", {**CONFIG, "seed": i}, origin={"kind": "dashboard"})
        store.append_metrics(f"run{i:05d}", [record(e) for e in range(20)])
        store.finish_run(f"run{i:05d}", "done", {"status": "done"}, b"w" * 10_000)
    rows.append(("create, 20 epochs, finish a run", (time.process_time() - c0) * 1e3 / runs,
                 (time.perf_counter() - w0) * 1e3 / runs))

    rows.append(("get_run (%d epochs)" % epochs, *measure(lambda: store.get_run("held"), 10)))
    rows.append(("get_weights (300 KB)", *measure(lambda: store.get_weights("held"), 20)))
    rows.append(("list_runs page of 50 + count", *measure(
        lambda: (store.list_runs(limit=50, offset=100), store.count_runs()), 20)))
    rows.append(("list_runs search 'adam' + count", *measure(
        lambda: (store.list_runs(limit=50, terms=("adam",)), store.count_runs(terms=("adam",))), 20)))
    return rows


def table(title, rows):
    print(f"\n{title}")
    print(f"{'operation':<38} {'CPU ms':>9} {'wall ms':>9}")
    for name, cpu, wall in rows:
        print(f"{name:<38} {cpu:>9.3f} {wall:>9.3f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--db", help="a database to fill (default: a temporary SQLite file)")
    parser.add_argument("--postgres", action="store_true", help="also bench a throwaway PostgreSQL server")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="store-bench-") as folder:
        db = args.db or str(Path(folder) / "bench.sqlite")
        store = Store(db)
        store.init_schema()
        table(f"store on {db.split('://')[0] if '://' in db else 'SQLite'}", bench(store, args.epochs, args.runs))
        with contextlib.suppress(AttributeError):
            store.close()
    if args.postgres:
        from tests.support.services import postgres_server

        with postgres_server("bench") as url:
            store = Store(url)
            store.init_schema()
            table(f"store on PostgreSQL ({url})", bench(store, args.epochs, args.runs))
            store.close()


if __name__ == "__main__":
    main()
