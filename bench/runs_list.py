"""Latency of listing, filtering and paging stored runs (GET /api/runs) at 10,000 runs.

Fills a database with realistic runs: a mix of dashboard runs, lab batches (32-run batch-norm grids,
4-run overfitting and optimizer/init comparisons), re-runs and untagged runs from before origins; each
with its epoch records (20 to 301 epochs, as the labs and the book's presets train) and weights. Then
times each query through the store (SQL and JSON decoding) and through the app (the Flask test client:
routing, SQL, JSON; no sockets), and prints a table of medians and 95th percentiles.

    python bench/runs_list.py [--runs 10000] [--repeat 20] [--weights-kb 32] [--db PATH] [--keep] [--plans]

``--db`` reuses a database this script filled before (``--keep`` leaves the temporary one in place).
``--weights-kb`` is the size of each run's weights blob (the book's 784-100x6-10 network stores about
520 KB; a smaller blob keeps the fill fast, and lists never read the weights table). The "naive" rows
time the list query as it was written before paging (last_epoch computed in the outer query, the page
cut by LIMIT/OFFSET on it), for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.run_query import search_text  # noqa: E402
from server.store import Store  # noqa: E402

LABS = {  # lab -> (runs per batch, epochs, label of each run)
    "batchnorm": (32, 20, lambda i: ("Batch norm" if i % 2 else "Normal", f"{i // 2}-{'bn' if i % 2 else 'plain'}")),
    "overfitting": (4, 200, lambda i: (["Overfitting", "Weight decay 0.1", "Dropout 0.2", "Both"][i], str(i))),
    "optimizers": (4, 40, lambda i: (["SGD", "Momentum", "AdaGrad", "Adam"][i], f"{i}-opt")),
    "init": (3, 40, lambda i: (["std 0.01", "Xavier", "He"][i], f"{i}-init")),
}
OPTIMIZERS = ("sgd", "momentum", "adagrad", "adam", "rmsprop", "nesterov")
ACTIVATIONS = ("relu", "sigmoid", "tanh", "elu", "swish")


def config_for(rng, origin, epochs, i):
    units = int(rng.choice([50, 100, 100, 200]))
    layers = int(rng.choice([1, 2, 4, 6]))
    activation = str(rng.choice(ACTIVATIONS))
    optimizer = str(rng.choice(OPTIMIZERS))
    config = {
        "seed": int(rng.integers(0, 5)),
        "data": {"train_size": int(rng.choice([300, 1000, 5000 - 100])), "validation_size": 0, "test_size": None},
        "model": {"hidden_layers": [{"units": units, "activation": activation, "batch_norm": bool(rng.random() < 0.2),
                                     "dropout": float(rng.choice([0.0, 0.0, 0.2]))} for _ in range(layers)],
                  "weight_init": str(rng.choice(["he", "xavier", "std"])), "weight_init_std": 0.01,
                  "loss": "cross_entropy"},
        "optimizer": {"name": optimizer, "lr": float(rng.choice([0.1, 0.01, 0.001]))},
        "training": {"epochs": epochs, "batch_size": 100, "weight_decay": float(rng.choice([0.0, 0.0, 0.1])),
                     "dtype": "float32"},
    }
    if origin is None or origin["kind"] == "dashboard":
        if rng.random() < 0.3:
            config["name"] = f"experiment {i}"
    return config


def plan(n, rng):
    """(origin, epochs) per run, oldest first: about 30% dashboard, 55% lab batches, 5% re-runs, 10% untagged."""
    runs = []
    untagged = n // 10
    runs += [(None, int(rng.choice([100, 200, 300]))) for _ in range(untagged)]  # the oldest: before origins
    batch = 0
    while len(runs) < n:
        roll = rng.random()
        if roll < 0.35:
            runs.append(({"kind": "dashboard"}, int(rng.choice([50, 100, 200, 301]))))
        elif roll < 0.42 and len(runs) > untagged:
            runs.append(({"kind": "rerun", "source": None}, 200))  # source filled in below
        else:
            lab = str(rng.choice(list(LABS)))
            size, epochs, label = LABS[lab]
            batch += 1
            for i in range(size):
                name, key = label(i)
                runs.append(({"kind": "lab", "lab": lab, "batch": f"batch{batch:05d}", "key": key, "label": name}, epochs))
    return runs[:n]


def record(epoch, rng, elapsed):
    acc = min(0.99, 0.1 + 0.9 * (1 - np.exp(-epoch / 30)))
    return {"epoch": epoch, "train_loss": round(float(2.3 * np.exp(-epoch / 40) + 0.01), 6),
            "train_acc": round(float(acc), 6), "test_loss": round(float(2.3 * np.exp(-epoch / 60) + 0.3), 6),
            "test_acc": round(float(acc * 0.85), 6), "elapsed_s": round(elapsed, 4)}


def fill(path, n, weights_kb, seed=0):
    """Write `n` runs straight into a database of the store's schema (one transaction per 500 runs:
    through Store.create_run every run would be its own commit, minutes of disk waits)."""
    store = Store(path)
    store.init_schema()
    rng = np.random.default_rng(seed)
    blob = os.urandom(weights_kb * 1024)
    statuses = rng.choice(["done", "stopped", "diverged", "error", "interrupted"], size=n, p=[0.85, 0.05, 0.05, 0.03, 0.02])
    now = time.time()
    created = np.sort(now - rng.uniform(0, 90 * 86400, size=n))
    ids = [f"run{i:06d}{rng.integers(1 << 30):08x}" for i in range(n)]
    began = time.perf_counter()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")
    metrics = 0
    dashboard = []
    for start in range(0, n, 500):
        rows, records, weights = [], [], []
        for i in range(start, min(n, start + 500)):
            origin, epochs = PLAN[i]
            if origin and origin["kind"] == "rerun":
                origin = {"kind": "rerun", "source": dashboard[int(rng.integers(len(dashboard)))] if dashboard else ids[0]}
            if origin and origin["kind"] == "dashboard":
                dashboard.append(ids[i])
            config = config_for(rng, origin, epochs, i)
            status = str(statuses[i])
            trained = epochs if status == "done" else int(rng.integers(0, epochs + 1))
            final = record(trained, rng, 0.02 * trained)
            summary = {"event": status, "status": status, "epochs_completed": trained, "final": final,
                       "best_test_acc": final["test_acc"], "best_epoch": trained, "elapsed_s": final["elapsed_s"]}
            rows.append((ids[i], json.dumps(config), status, float(created[i]), float(created[i]) + 0.5,
                         float(created[i]) + 1 + final["elapsed_s"], np.__version__, json.dumps(summary),
                         None, json.dumps(origin) if origin else None, (origin or {}).get("kind"),
                         (origin or {}).get("lab"), (origin or {}).get("batch"), (origin or {}).get("source"),
                         search_text(ids[i], config, origin), i + 1))
            records += [(ids[i], e, json.dumps(record(e, rng, 0.02 * e))) for e in range(trained + 1)]
            if status in ("done", "stopped"):
                weights.append((ids[i], blob))
        with conn:
            conn.executemany(
                "INSERT INTO runs (run_id, config, status, created_at, started_at, finished_at, numpy_version,"
                " summary, message, origin, origin_kind, origin_lab, origin_batch, origin_source, search_text, seq)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            conn.executemany("INSERT INTO metrics (run_id, epoch, record) VALUES (?, ?, ?)", records)
            conn.executemany("INSERT INTO weights (run_id, npz) VALUES (?, ?)", weights)
        metrics += len(records)
    conn.close()
    return time.perf_counter() - began, metrics


NAIVE = ("SELECT run_id, status, created_at, finished_at, summary, config, message, origin,"
         " (SELECT MAX(epoch) FROM metrics WHERE metrics.run_id = runs.run_id) AS last_epoch"
         " FROM runs{where} ORDER BY created_at DESC LIMIT 50 OFFSET {offset}")


def cases(batch_id, rerun_source):
    """(label, query string of GET /api/runs)."""
    return [
        ("first page (50)", "limit=50"),
        ("page 100 (offset 4,950)", "limit=50&offset=4950"),
        ("last page (offset 9,950)", "limit=50&offset=9950"),
        ("200 newest (the old default)", ""),
        ("origin=dashboard", "origin=dashboard&limit=50"),
        ("origin=dashboard, page 10", "origin=dashboard&limit=50&offset=450"),
        ("origin=lab:batchnorm", "origin=lab:batchnorm&limit=50"),
        ("origin=lab (any lab)", "origin=lab&limit=50"),
        ("origin=rerun", "origin=rerun&limit=50"),
        ("origin=untagged, deepest page", "origin=untagged&limit=50&offset=950"),
        ("status=done, offset 5,000", "status=done&limit=50&offset=5000"),
        ("status=active (none)", "status=active&limit=50"),
        ("q=adam", "q=adam&limit=50"),
        ("q=\"batch norm\" dropout relu", "q=%22batch+norm%22+dropout+relu&limit=50"),
        ("q=no-such-text", "q=zzzz&limit=50"),
        ("batch=<one batch-norm batch>", f"batch={batch_id}&limit=50"),
        ("source=<a re-run's source>", f"source={rerun_source}&limit=50"),
        ("lab:batchnorm + done + q, page 3", "origin=lab:batchnorm&status=done&q=batch&limit=50&offset=100"),
        ("model list: dashboard's (+facets)", "origin=dashboard,rerun,untagged&status=done&limit=20&facets=1"),
        ("model list: one lab's", "origin=lab:batchnorm&status=done&limit=10"),
        ("/runs first load (facets=1)", "limit=50&facets=1"),
    ]


def timed(fn, repeat):
    fn()  # warm: the page cache, Python's first-call costs
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return statistics.median(times) * 1000, times[min(len(times) - 1, int(0.95 * len(times)))] * 1000


def main():
    global PLAN
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--weights-kb", type=int, default=32)
    parser.add_argument("--db", help="a database filled by this script before (skips the fill)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary database (its path is printed)")
    parser.add_argument("--plans", action="store_true", help="print SQLite's query plan of each case")
    args = parser.parse_args()

    from werkzeug.datastructures import MultiDict

    from server import create_app
    from server.run_query import parse_list_args

    tmp = None
    if args.db:
        path = Path(args.db)
    else:
        tmp = tempfile.mkdtemp(prefix="runs-list-")
        path = Path(tmp) / "runs.sqlite"
        PLAN = plan(args.runs, np.random.default_rng(1))
        seconds, metrics = fill(path, args.runs, args.weights_kb)
        print(f"filled {args.runs:,} runs, {metrics:,} epoch records, {args.weights_kb} KB weights each"
              f" in {seconds:.1f} s; file {path.stat().st_size / 2**20:,.0f} MB ({path})")

    store = Store(path)
    store.init_schema()
    with sqlite3.connect(path) as conn:
        batch_id = conn.execute("SELECT origin_batch FROM runs WHERE origin_lab = 'batchnorm' LIMIT 1").fetchone()[0]
        source = conn.execute("SELECT origin_source FROM runs WHERE origin_kind = 'rerun' LIMIT 1").fetchone()[0]
        total = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    app = create_app({"TESTING": True, "DATABASE": str(path), "MAX_CONCURRENT_RUNS": 1})
    client = app.test_client()

    print(f"\n{total:,} stored runs; ms per request, median / p95 of {args.repeat} (a shared, loaded machine)\n")
    print(f"| {'query':<36} | {'rows':>5} | {'of':>6} | {'store (SQL + JSON decode)':>25} | {'GET /api/runs (app)':>20} |")
    print(f"|{'-' * 38}|{'-' * 7}|{'-' * 8}|{'-' * 27}|{'-' * 22}|")
    for label, query in cases(batch_id, source):
        filters = parse_list_args(MultiDict([tuple(p.split("=", 1)) for p in query.split("&") if p]))
        limit, offset, facets = filters.pop("limit"), filters.pop("offset"), filters.pop("facets")

        def through_store():
            runs = store.list_runs(limit=limit, offset=offset, **filters)
            store.count_runs(**filters)
            if facets:
                store.origin_counts()
                store.status_counts()
            return runs

        def through_app():
            response = client.get(f"/api/runs?{query}")
            assert response.status_code == 200, response.get_json()
            return response.get_json()

        rows = len(through_store())
        matched = through_app()["total"]
        s_med, s_p95 = timed(through_store, args.repeat)
        a_med, a_p95 = timed(through_app, args.repeat)
        print(f"| {label:<36} | {rows:>5} | {matched:>6,} | {s_med:>12.1f} / {s_p95:>10.1f} | {a_med:>9.1f} / {a_p95:>8.1f} |")
        if args.plans:
            from sqlalchemy import select

            from server.store.queries import where
            from server.store.schema import runs

            page = (select(runs.c.seq).where(*where(**filters)).order_by(runs.c.created_at.desc(), runs.c.seq.desc())
                    .limit(limit).offset(offset))
            compiled = page.compile(store.engine, compile_kwargs={"literal_binds": True})
            with sqlite3.connect(path) as conn:
                for row in conn.execute(f"EXPLAIN QUERY PLAN {compiled}"):
                    print(f"|     plan: {row[3]}")

    print("\nthe page alone (no count), as Store.list_runs reads it (rows picked by seq, then last_epoch and the")
    print("JSON of those rows), and as the list query was written before paging (last_epoch per row of the outer")
    print("query, cut by LIMIT/OFFSET): the same where SQLite walks an index in order, far apart where it sorts\n")
    print(f"| {'page of 50':<36} | {'paged by seq':>20} | {'before paging':>20} |")
    print(f"|{'-' * 38}|{'-' * 22}|{'-' * 22}|")
    decode = lambda rows: [(json.loads(r[5]), json.loads(r[4]) if r[4] else None, json.loads(r[7]) if r[7] else None)
                           for r in rows]
    with sqlite3.connect(path) as conn:
        for label, filters, where, offset in [
                ("first page", {}, "", 0), ("offset 9,950", {}, "", 9950),
                ("status=done, offset 5,000", {"statuses": ("done",)}, " WHERE status = 'done'", 5000),
                ("origin=untagged, offset 950", {"origins": ("untagged",)}, " WHERE origin_kind IS NULL", 950),
                ("origin=lab (any lab), offset 5,000", {"origins": ("lab",)}, " WHERE origin_kind = 'lab'", 5000)]:
            ours = timed(lambda: store.list_runs(limit=50, offset=offset, **filters), args.repeat)
            sql = NAIVE.format(where=where, offset=offset)
            before = timed(lambda: decode(conn.execute(sql).fetchall()), args.repeat)
            print(f"| {label:<36} | {ours[0]:>9.1f} / {ours[1]:>8.1f} | {before[0]:>9.1f} / {before[1]:>8.1f} |")

    app.extensions["runs"].shutdown(wait=True)
    if tmp and not args.keep:
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        os.rmdir(tmp)


PLAN = []

if __name__ == "__main__":
    main()
