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

from .run_query import search_text

SCHEMA_VERSION = 2  # PRAGMA user_version; 0 is the first schema (see _upgrade_from_v1)

# The columns lists filter on (status, created_at, origin_*) sit in small rows: weights live in a table
# of their own, because a column stored after a 300 KB blob is read by walking the blob's overflow
# pages (filtering 3,000 runs on such a column took 0.4-0.7 s instead of 6 ms).
RUNS_TABLE = """
CREATE TABLE IF NOT EXISTS {name} (
    run_id        TEXT PRIMARY KEY,
    config        TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    REAL NOT NULL,
    started_at    REAL,
    finished_at   REAL,
    numpy_version TEXT,
    summary       TEXT,
    message       TEXT,
    origin        TEXT,
    origin_kind   TEXT,
    origin_lab    TEXT,
    origin_batch  TEXT,
    origin_source TEXT,
    search_text   TEXT NOT NULL DEFAULT ''
)"""
TABLES = (
    RUNS_TABLE.format(name="runs"),
    """CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL,
    epoch  INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (run_id, epoch)
)""",
    "CREATE TABLE IF NOT EXISTS weights (run_id TEXT PRIMARY KEY, npz BLOB NOT NULL)",
)
# A page of a filter is read off an index in created_at order where one fits (rowid, which breaks
# ties, is in every index); runs_origin also counts an origin's runs of a status without the table.
INDEXES = (
    "CREATE INDEX IF NOT EXISTS runs_created_at ON runs (created_at)",
    "CREATE INDEX IF NOT EXISTS runs_status ON runs (status, created_at)",
    "CREATE INDEX IF NOT EXISTS runs_origin ON runs (origin_kind, origin_lab, status, created_at)",
    "CREATE INDEX IF NOT EXISTS runs_batch ON runs (origin_batch, created_at) WHERE origin_batch IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS runs_source ON runs (origin_source, created_at) WHERE origin_source IS NOT NULL",
)
# The runs table of schema 0 (before origins): these columns, then `weights BLOB`.
V1_COLUMNS = ("run_id", "config", "status", "created_at", "started_at", "finished_at", "numpy_version",
              "summary", "message")
LIST_COLUMNS = ("run_id", "status", "created_at", "finished_at", "summary", "config", "message", "origin")

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
        """Create the tables, or bring a database of an older schema up to this one (its runs kept)."""
        with self._connect() as conn:
            # WAL is a property of the database file, so setting it once is enough.
            # A process killed mid-write leaves at most an uncommitted tail in the WAL,
            # which the next opener discards: committed runs are never torn.
            conn.execute("PRAGMA journal_mode=WAL")
            if conn.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
                return
        conn = self._open()
        try:
            conn.isolation_level = None  # the transaction below is ours, DDL included
            conn.execute("BEGIN IMMEDIATE")  # one process upgrades; the others wait, then see it done
            try:
                if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                    columns = {row["name"] for row in conn.execute("PRAGMA table_info(runs)")}
                    if columns and "origin" not in columns:
                        _upgrade_from_v1(conn, columns)
                    for statement in TABLES + INDEXES:
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()

    def schema_version(self):
        with self._connect() as conn:
            return conn.execute("PRAGMA user_version").fetchone()[0]

    def journal_mode(self):
        with self._connect() as conn:
            return conn.execute("PRAGMA journal_mode").fetchone()[0]

    # -- writes ----------------------------------------------------------------

    def create_run(self, run_id, config_dict, origin=None):
        """Record a queued run; `origin` is a canonical origin (server/origin.py) or None."""
        origin = origin or {}
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO runs (run_id, config, status, created_at, numpy_version, origin, origin_kind,"
                " origin_lab, origin_batch, origin_source, search_text)"
                " VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, _dumps(config_dict), time.time(), np.__version__,
                 _dumps(origin) if origin else None, origin.get("kind"), origin.get("lab"),
                 origin.get("batch"), origin.get("source"), search_text(run_id, config_dict, origin)),
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
        """The run's outcome; its stored weights become `weights_npz_bytes` (None: none)."""
        with self._connect() as conn:
            cur = conn.execute(
                "UPDATE runs SET status = ?, summary = ?, message = ?, finished_at = ? WHERE run_id = ?",
                (status, None if summary is None else _dumps(summary), message, time.time(), run_id),
            )
            if weights_npz_bytes is not None and cur.rowcount:
                conn.execute("INSERT OR REPLACE INTO weights (run_id, npz) VALUES (?, ?)",
                             (run_id, sqlite3.Binary(weights_npz_bytes)))
            elif weights_npz_bytes is None:
                conn.execute("DELETE FROM weights WHERE run_id = ?", (run_id,))

    def delete_run(self, run_id):
        """Delete a run with its metrics and weights unless it is queued or running.

        Returns "deleted", "active" (kept) or "unknown". One transaction, and the status is
        checked by the DELETE itself, so a run that became active meanwhile is never deleted.
        """
        with self._connect() as conn:
            cur = conn.execute(
                f"DELETE FROM runs WHERE run_id = ? AND status NOT IN ({', '.join('?' * len(ACTIVE_STATUSES))})",
                (run_id, *ACTIVE_STATUSES),
            )
            if not cur.rowcount:
                row = conn.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
                return "unknown" if row is None else "active"
            conn.execute("DELETE FROM metrics WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM weights WHERE run_id = ?", (run_id,))
        return "deleted"

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
                " numpy_version, summary, message, origin FROM runs WHERE run_id = ?",
                (run_id,),
            ).fetchone()
            if row is None:
                return None
            records = conn.execute(
                "SELECT record FROM metrics WHERE run_id = ? ORDER BY epoch", (run_id,)
            ).fetchall()
            run = _run(row)
            if run["origin"] and run["origin"].get("source"):
                source = conn.execute("SELECT config FROM runs WHERE run_id = ?",
                                      (run["origin"]["source"],)).fetchone()
                _describe_source(run["origin"], source and source["config"])
        run["metrics"] = [json.loads(r["record"]) for r in records]
        return run

    def get_config(self, run_id):
        """A stored run's config, or None if there is no such run."""
        with self._connect() as conn:
            row = conn.execute("SELECT config FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else _loads(row["config"])

    def list_runs(self, limit=200, offset=0, **filters):
        """One page of runs, newest first, as dicts (no metrics; `last_epoch` is the newest stored).

        `filters` (all optional, see _where): origins, statuses, terms, batch, source.
        """
        where, params = _where(**filters)
        columns = ", ".join(f"r.{c}" for c in LIST_COLUMNS)
        # The page is chosen on rowids alone, so the per-row work (last_epoch, the JSON columns, a
        # re-run's source) is done for the rows of the page only, however deep the page.
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {columns}, src.config AS source_config,"
                " (SELECT MAX(epoch) FROM metrics WHERE metrics.run_id = r.run_id) AS last_epoch"
                f" FROM (SELECT rowid AS id FROM runs{where} ORDER BY created_at DESC, rowid DESC"
                " LIMIT ? OFFSET ?) AS page"
                " JOIN runs AS r ON r.rowid = page.id"
                " LEFT JOIN runs AS src ON src.run_id = r.origin_source"
                " ORDER BY r.created_at DESC, r.rowid DESC",
                (*params, int(limit), int(offset)),
            ).fetchall()
        runs = []
        for row in rows:
            run = _run(row)
            run["last_epoch"] = row["last_epoch"]
            if run["origin"] and run["origin"].get("source"):
                _describe_source(run["origin"], row["source_config"])
            runs.append(run)
        return runs

    def count_runs(self, **filters):
        where, params = _where(**filters)
        with self._connect() as conn:
            return conn.execute(f"SELECT COUNT(*) FROM runs{where}", params).fetchone()[0]

    def origin_counts(self):
        """[(origin_kind, origin_lab, runs)] over every stored run (kind None: untagged)."""
        with self._connect() as conn:
            return [tuple(row) for row in conn.execute(
                "SELECT origin_kind, origin_lab, COUNT(*) FROM runs GROUP BY origin_kind, origin_lab")]

    def status_counts(self):
        with self._connect() as conn:
            return dict(tuple(row) for row in conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status"))

    def get_weights(self, run_id):
        with self._connect() as conn:
            row = conn.execute("SELECT npz FROM weights WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        return bytes(row["npz"])


def _run(row):
    run = dict(row)
    run.pop("source_config", None)
    run.pop("last_epoch", None)
    run["config"] = _loads(run["config"])
    run["summary"] = _loads(run["summary"])
    run["origin"] = _loads(run["origin"])
    return run


def _describe_source(origin, source_config):
    """A re-run's origin also says whether its source is still stored, and the source's name (as
    stored with the re-run, which outlives the source)."""
    origin["source_exists"] = source_config is not None
    try:
        name = json.loads(source_config).get("name") if source_config else None
    except (ValueError, AttributeError):
        name = None
    if isinstance(name, str) and name.strip():
        origin["source_name"] = name.strip()
    origin.setdefault("source_name", None)


def _like(term):
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _where(origins=(), statuses=(), terms=(), batch=None, source=None):
    """(' WHERE ...', params) for the list filters; each kind of filter narrows (AND).

    origins: any of "dashboard", "rerun", "lab", "lab:SLUG", "untagged" (no origin), OR'ed.
    statuses: run statuses, OR'ed. terms: lower-case words that search_text must each contain.
    batch: a lab batch id. source: the run whose re-runs are wanted.
    """
    clauses, params = [], []
    if origins:
        either = []
        # "origin_lab IS NULL" is always true of these, and lets runs_origin give the runs of a
        # kind (of a status) in created_at order.
        for origin in origins:
            if origin == "untagged":
                either.append("(origin_kind IS NULL AND origin_lab IS NULL)")
            elif origin == "lab":
                either.append("origin_kind = 'lab'")
            elif origin.startswith("lab:"):
                either.append("(origin_kind = 'lab' AND origin_lab = ?)")
                params.append(origin[len("lab:"):])
            else:
                either.append("(origin_kind = ? AND origin_lab IS NULL)")
                params.append(origin)
        clauses.append("(" + " OR ".join(either) + ")")
    if statuses:
        clauses.append(f"status IN ({', '.join('?' * len(statuses))})")
        params += list(statuses)
    for term in terms:
        clauses.append("search_text LIKE ? ESCAPE '\\'")
        params.append(_like(term.lower()))
    if batch is not None:
        clauses.append("origin_batch = ?")
        params.append(batch)
    if source is not None:
        clauses.append("origin_source = ?")
        params.append(source)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _upgrade_from_v1(conn, columns):
    """Today's first schema -> this one, inside the caller's transaction: the runs table is rebuilt
    with the origin columns (none for the runs it holds) and each run's search words; weights move
    to their own table."""
    kept = ", ".join(c for c in V1_COLUMNS if c in columns)
    conn.execute(RUNS_TABLE.format(name="runs_upgrade"))
    conn.execute(TABLES[2])
    if "weights" in columns:
        # A few runs at a time, each old copy freed at once: the freed pages take the next runs'
        # weights, so the file grows by a few runs' weights, not by all of them.
        ids = [row[0] for row in conn.execute("SELECT run_id FROM runs WHERE weights IS NOT NULL")]
        for start in range(0, len(ids), 20):
            chunk = ids[start:start + 20]
            marks = ", ".join("?" * len(chunk))
            conn.execute(f"INSERT OR REPLACE INTO weights (run_id, npz) SELECT run_id, weights FROM runs"
                         f" WHERE run_id IN ({marks})", chunk)
            conn.execute(f"UPDATE runs SET weights = NULL WHERE run_id IN ({marks})", chunk)
    conn.execute(f"INSERT INTO runs_upgrade ({kept}) SELECT {kept} FROM runs")
    conn.execute("DROP TABLE runs")  # and its index
    conn.execute("ALTER TABLE runs_upgrade RENAME TO runs")
    words = []
    for row in conn.execute("SELECT run_id, config FROM runs"):
        try:
            config = json.loads(row["config"])
        except (TypeError, ValueError):
            config = None
        words.append((search_text(row["run_id"], config, None), row["run_id"]))
    conn.executemany("UPDATE runs SET search_text = ? WHERE run_id = ?", words)
