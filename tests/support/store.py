"""Runs as the store holds them: a config, epoch records, and a database of the store's first schema."""
import json
import sqlite3

from sqlalchemy import func, select

CONFIG = {"seed": 0, "training": {"epochs": 3}}


def record(epoch, loss=1.0):
    return {"epoch": epoch, "train_loss": loss, "train_acc": 0.5,
            "test_loss": loss, "test_acc": 0.5, "elapsed_s": 0.1 * epoch}


# The schema every database had before origins (server/store.py until then), as it was written.
FIRST_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id        TEXT PRIMARY KEY,
    config        TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    REAL NOT NULL,
    started_at    REAL,
    finished_at   REAL,
    numpy_version TEXT,
    summary       TEXT,
    message       TEXT,
    weights       BLOB
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL,
    epoch  INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (run_id, epoch)
);
CREATE INDEX IF NOT EXISTS runs_created_at ON runs (created_at);
"""
NAMED = {"seed": 0, "name": "Baseline net", "model": {"hidden_layers": [{"units": 5, "activation": "tanh"}]},
         "optimizer": {"name": "adam", "lr": 0.001}, "training": {"epochs": 2}}


def first_schema_database(path):
    """A database as the first schema's store wrote it: two finished runs (weights, metrics), one queued."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(FIRST_SCHEMA)
        for i, (run_id, config, status, weights) in enumerate([
                ("old1", NAMED, "done", b"PK-old1-weights"),
                ("old2", CONFIG, "stopped", None),
                ("old3", CONFIG, "queued", None)]):
            conn.execute("INSERT INTO runs (run_id, config, status, created_at, started_at, finished_at,"
                         " numpy_version, summary, message, weights) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (run_id, json.dumps(config), status, 1000.0 + i, 1000.5 + i, 1001.0 + i, "1.26.4",
                          json.dumps({"status": status}), None, weights))
            conn.executemany("INSERT INTO metrics (run_id, epoch, record) VALUES (?, ?, ?)",
                             [(run_id, e, json.dumps(record(e))) for e in range(3)])
    conn.close()


def stored_rows(store, table, run_id):
    """How many rows of ``table`` (a server.store.schema table) belong to ``run_id``."""
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(table.c.run_id == run_id)).scalar()
