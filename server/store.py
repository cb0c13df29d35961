"""Runs and their per-epoch metrics, kept in SQLite.

Runs finish on worker threads while the web thread reads, so every operation
opens its own short-lived connection: sqlite3 connections must not be shared
across threads. A run's worker writes through a `session()` instead, one
connection held for the whole run: opening and closing one per write cost
1.4 ms of CPU per epoch stored (the last close of a WAL database also
checkpoints it), against 0.3 ms on a held connection, on the cores the
training needs. WAL mode lets readers proceed while a worker writes.

`path` may be a plain file path or an SQLite URI (``file:...?mode=ro``), which
is how tests get a read-only database even when running as root.
"""

import contextlib
import copy
import json
import math
import sqlite3
import time

import numpy as np

SCHEMA = """
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

# Statuses of a run that has not finished; a new process can never finish them.
ACTIVE_STATUSES = ("queued", "running")


def to_json_safe(value):
    """Return `value` with NumPy scalars made plain and NaN/inf made None.

    A diverged run reports inf or NaN losses; json.dumps would write the bare
    tokens NaN/Infinity, which browsers' JSON.parse rejects. Streamed and
    stored records go through this same function, so they stay equal.
    """
    if isinstance(value, dict):
        return {str(k): to_json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _dumps(value):
    return json.dumps(to_json_safe(value), allow_nan=False)


def _loads(text):
    return None if text is None else json.loads(text)


class Store:
    """All SQL of the app. Methods raise sqlite3.Error; callers decide what a failure means."""

    def __init__(self, path, max_bytes=None):
        """`max_bytes` caps the database file (SQLite's max_page_count): past it, writes
        fail with "database or disk is full" as they would on a full disk."""
        self.path = str(path)
        self._uri = self.path.startswith("file:")
        self.max_bytes = max_bytes
        self._held = None  # a session's connection (see session())

    @contextlib.contextmanager
    def session(self):
        """This store on one connection, opened at its first use and closed when the block
        ends. For one thread only (a run's worker); every call is still its own transaction."""
        held = copy.copy(self)
        held._held = []
        try:
            yield held
        finally:
            for conn in held._held:
                conn.close()

    def _open(self):
        conn = sqlite3.connect(self.path, uri=self._uri, timeout=10.0)
        try:
            conn.row_factory = sqlite3.Row
            if self.max_bytes is not None:
                # Per connection, and never below the pages already in use (SQLite clamps).
                page_size = conn.execute("PRAGMA page_size").fetchone()[0]
                conn.execute(f"PRAGMA max_page_count = {max(1, int(self.max_bytes) // page_size)}")
        except BaseException:
            conn.close()
            raise
        return conn

    @contextlib.contextmanager
    def _connect(self):
        # `with conn` commits or rolls back.
        if self._held is not None:
            if not self._held:
                self._held.append(self._open())
            with self._held[0] as conn:
                yield conn
            return
        conn = self._open()
        try:
            with conn:
                yield conn
        finally:
            conn.close()

    def init_schema(self):
        with self._connect() as conn:
            # WAL is a property of the database file, so setting it once is enough.
            # A process killed mid-write leaves at most an uncommitted tail in the WAL,
            # which the next opener discards: committed runs are never torn.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)

    def journal_mode(self):
        with self._connect() as conn:
            return conn.execute("PRAGMA journal_mode").fetchone()[0]

    # -- writes ----------------------------------------------------------------

    def create_run(self, run_id, config_dict):
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO runs (run_id, config, status, created_at, numpy_version)"
                " VALUES (?, ?, 'queued', ?, ?)",
                (run_id, _dumps(config_dict), time.time(), np.__version__),
            )

    def set_status(self, run_id, status, message=None):
        with self._connect() as conn:
            if status == "running":
                conn.execute(
                    "UPDATE runs SET status = ?, message = ?, started_at = ? WHERE run_id = ?",
                    (status, message, time.time(), run_id),
                )
            else:
                conn.execute(
                    "UPDATE runs SET status = ?, message = ? WHERE run_id = ?",
                    (status, message, run_id),
                )

    def append_metric(self, run_id, record):
        self.append_metrics(run_id, [record])

    def append_metrics(self, run_id, records):
        """Store epoch records in one transaction (a commit waits for the disk: one per
        batch of records lets a fast run's records be stored as fast as they come)."""
        rows = [(run_id, int(record["epoch"]), _dumps(record)) for record in records]
        with self._connect() as conn:
            conn.executemany("INSERT OR REPLACE INTO metrics (run_id, epoch, record) VALUES (?, ?, ?)", rows)

    def finish_run(self, run_id, status, summary, weights_npz_bytes=None, message=None):
        with self._connect() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, summary = ?, weights = ?, message = ?,"
                " finished_at = ? WHERE run_id = ?",
                (
                    status,
                    None if summary is None else _dumps(summary),
                    None if weights_npz_bytes is None else sqlite3.Binary(weights_npz_bytes),
                    message,
                    time.time(),
                    run_id,
                ),
            )

    def mark_interrupted(self):
        """Mark runs a previous process left queued or running; returns how many."""
        with self._connect() as conn:
            cur = conn.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = ?,"
                " message = 'the server stopped before this run finished'"
                " WHERE status IN (?, ?)",
                (time.time(), *ACTIVE_STATUSES),
            )
            return cur.rowcount

    # -- reads -----------------------------------------------------------------

    def get_run(self, run_id):
        with self._connect() as conn:
            row = conn.execute(
                "SELECT run_id, config, status, created_at, started_at, finished_at,"
                " numpy_version, summary, message FROM runs WHERE run_id = ?",
                (run_id,),
            ).fetchone()
            if row is None:
                return None
            records = conn.execute(
                "SELECT record FROM metrics WHERE run_id = ? ORDER BY epoch", (run_id,)
            ).fetchall()
        run = dict(row)
        run["config"] = _loads(run["config"])
        run["summary"] = _loads(run["summary"])
        run["metrics"] = [json.loads(r["record"]) for r in records]
        return run

    def list_runs(self, limit=200):
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT run_id, status, created_at, finished_at, summary, config, message,"
                " (SELECT MAX(epoch) FROM metrics WHERE metrics.run_id = runs.run_id) AS last_epoch"
                " FROM runs ORDER BY created_at DESC LIMIT ?",
                (int(limit),),
            ).fetchall()
        runs = []
        for row in rows:
            run = dict(row)
            run["config"] = _loads(run["config"])
            run["summary"] = _loads(run["summary"])
            runs.append(run)
        return runs

    def get_weights(self, run_id):
        with self._connect() as conn:
            row = conn.execute("SELECT weights FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None or row["weights"] is None:
            return None
        return bytes(row["weights"])
