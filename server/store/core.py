"""Store: runs, their per-epoch records and their weights, on SQLite or PostgreSQL (backends.py).

Runs finish on worker threads while the web threads read; the backend's engine gives each
operation a pooled connection of its own, and each public method is one transaction. A run's
worker writes through a `session()`: on SQLite one connection held for the whole run (see
backends.SQLite). Every method raises StoreError alone, never a driver's error.
"""

import contextlib
import copy
import threading
import time

import numpy as np
from sqlalchemy import delete, func, select, update

from ..run_query import search_text
from .backends import DRIVER_ERRORS, open_backend
from .errors import BUSY, UNAVAILABLE, StoreError
from .queries import LIST_COLUMNS, list_query, where
from .records import describe_source, dumps, loads, run_dict
from .schema import SCHEMA_VERSION, metrics, runs, stored_version, upgrade, weights

# Statuses of a run that has not finished; a new process can never finish them.
ACTIVE_STATUSES = ("queued", "running")
_RUN_COLUMNS = (runs.c.run_id, runs.c.config, runs.c.status, runs.c.created_at, runs.c.started_at,
                runs.c.finished_at, runs.c.numpy_version, runs.c.summary, runs.c.message, runs.c.origin)


class Store:
    """All SQL of the app. Methods raise StoreError; callers decide what a failure means."""

    def __init__(self, database, max_bytes=None):
        """`database`: an SQLite file path, an SQLite URI (``file:PATH?mode=ro``: how tests get a
        read-only database even as root), or a ``postgresql://USER@HOST:PORT/DB`` URL; ValueError if it
        is none of these. Nothing is opened yet. `max_bytes` caps the database's size: past it, writes
        that add data fail with a StoreError of reason "cap"."""
        self.path = str(database)
        self.max_bytes = max_bytes
        self._backend = open_backend(self.path, max_bytes)
        self._held = None  # a session's connection (see session())
        self._schema = _SchemaState()  # shared with the store's sessions
        # Built once: the hot path stores an epoch per call.
        self._put_metric = self._backend.upsert(metrics, ("run_id", "epoch"))
        self._put_weights = self._backend.upsert(weights, ("run_id",))

    @property
    def backend(self):
        """"sqlite" or "postgresql"."""
        return self._backend.name

    @property
    def engine(self):
        """The SQLAlchemy engine (for tools and tests; the app goes through the methods)."""
        return self._backend.engine

    @property
    def location(self):
        """Where the database is, for logs (a PostgreSQL URL without its password)."""
        return self._backend.location

    def close(self):
        """Close the pooled connections (a later call opens new ones)."""
        self._backend.engine.dispose()

    @contextlib.contextmanager
    def session(self):
        """This store for one thread (a run's worker): on SQLite, on one connection opened at its first
        use and closed when the block ends. Every call is still its own transaction, committed at once."""
        held = copy.copy(self)
        held._held = []
        try:
            yield held
        finally:
            for conn in held._held:
                with contextlib.suppress(*DRIVER_ERRORS):
                    conn.close()

    @contextlib.contextmanager
    def _transaction(self):
        """A connection in a transaction, committed at the end of the block (rolled back on an error);
        a driver's error comes out as a StoreError."""
        if self._schema.pending:
            self._schema.retry(self.init_schema)
        held = self._held if self._backend.holds_sessions else None
        try:
            if held is None:
                with self._backend.engine.begin() as conn:
                    yield conn
                return
            if not held:
                held.append(self._backend.engine.connect())
            conn = held[0]
            try:
                with conn.begin():
                    yield conn
            finally:
                if conn.invalidated or conn.closed:  # lost: the session's next call opens another
                    held.clear()
        except DRIVER_ERRORS as exc:
            raise self._backend.error(exc) from exc

    def init_schema(self):
        """Create the tables, or bring a database of an older schema up to this one (its runs kept).

        If the database cannot be reached (a server not up yet), the next call of any method tries
        again first, so that a web node started before its database works once the database is up.
        """
        try:
            self._init_schema()
        except StoreError as exc:
            if exc.reason in (UNAVAILABLE, BUSY):
                self._schema.pending = True
            raise

    def _init_schema(self):
        try:
            self._backend.prepare()
        except DRIVER_ERRORS as exc:
            raise self._backend.error(exc) from exc
        with self._transaction() as conn:
            if stored_version(conn) >= SCHEMA_VERSION:
                return
        try:
            with self._backend.engine.connect() as conn, self._backend.schema_lock(conn):
                upgrade(conn)
        except DRIVER_ERRORS as exc:
            raise self._backend.error(exc) from exc

    def schema_version(self):
        with self._transaction() as conn:
            return stored_version(conn)

    def journal_mode(self):
        """SQLite's journal mode ("wal"); None on PostgreSQL."""
        with self._transaction() as conn:
            return self._backend.journal_mode(conn)

    # -- writes ----------------------------------------------------------------

    def create_run(self, run_id, config_dict, origin=None):
        """Record a queued run; `origin` is a canonical origin (server/origin.py) or None."""
        origin = origin or {}
        values = {
            "run_id": run_id, "config": dumps(config_dict), "status": "queued", "created_at": time.time(),
            "numpy_version": np.__version__, "origin": dumps(origin) if origin else None,
            "origin_kind": origin.get("kind"), "origin_lab": origin.get("lab"),
            "origin_batch": origin.get("batch"), "origin_source": origin.get("source"),
            "search_text": search_text(run_id, config_dict, origin),
        }
        seq = self._backend.next_seq()
        if seq is not None:
            values["seq"] = seq
        with self._transaction() as conn:
            self._backend.check_room(conn, len(values["config"]) + len(values["search_text"]) + 300)
            conn.execute(runs.insert().values(values))

    def set_status(self, run_id, status, message=None):
        values = {"status": status, "message": message}
        if status == "running":
            values["started_at"] = time.time()
        with self._transaction() as conn:
            conn.execute(update(runs).where(runs.c.run_id == run_id).values(values))

    def append_metric(self, run_id, record):
        self.append_metrics(run_id, [record])

    def append_metrics(self, run_id, records):
        """Store epoch records in one transaction (a commit waits for the disk: one per batch of
        records lets a fast run's records be stored as fast as they come). A record stored again
        for the same epoch replaces it."""
        # One row per epoch (the last record of an epoch wins): PostgreSQL refuses an upsert that
        # touches a row twice.
        rows = list({int(record["epoch"]): {"run_id": run_id, "epoch": int(record["epoch"]), "record": dumps(record)}
                     for record in records}.values())
        if not rows:
            return
        with self._transaction() as conn:
            if self._backend.max_bytes is not None:
                self._backend.check_room(conn, sum(len(row["record"]) + 100 for row in rows))
            self._backend.execute_many(conn, self._put_metric, rows)

    def finish_run(self, run_id, status, summary, weights_npz_bytes=None, message=None):
        """The run's outcome; its stored weights become `weights_npz_bytes` (None: none)."""
        with self._transaction() as conn:
            if weights_npz_bytes is not None:
                self._backend.check_room(conn, len(weights_npz_bytes))
            done = conn.execute(update(runs).where(runs.c.run_id == run_id).values(
                status=status, summary=None if summary is None else dumps(summary), message=message,
                finished_at=time.time()))
            if weights_npz_bytes is not None and done.rowcount:
                conn.execute(self._put_weights, {"run_id": run_id, "npz": bytes(weights_npz_bytes)})
            elif weights_npz_bytes is None:
                conn.execute(delete(weights).where(weights.c.run_id == run_id))

    def delete_run(self, run_id):
        """Delete a run with its metrics and weights unless it is queued or running.

        Returns "deleted", "active" (kept) or "unknown". One transaction, and the status is
        checked by the DELETE itself, so a run that became active meanwhile is never deleted.
        """
        with self._transaction() as conn:
            gone = conn.execute(delete(runs).where(runs.c.run_id == run_id,
                                                   runs.c.status.not_in(ACTIVE_STATUSES)))
            if not gone.rowcount:
                status = conn.execute(select(runs.c.status).where(runs.c.run_id == run_id)).scalar()
                return "unknown" if status is None else "active"
            conn.execute(delete(metrics).where(metrics.c.run_id == run_id))
            conn.execute(delete(weights).where(weights.c.run_id == run_id))
        self._backend.forget_size()
        return "deleted"

    def mark_interrupted(self, run_ids=None, message="the server stopped before this run finished"):
        """Mark runs still queued or running as interrupted: every one (a previous process left
        them), or those of `run_ids`. Returns how many changed; a run that has ended meanwhile is
        left as it ended, so that whoever changed a run is the one who reports it."""
        condition = [runs.c.status.in_(ACTIVE_STATUSES)]
        if run_ids is not None:
            if not run_ids:
                return 0
            condition.append(runs.c.run_id.in_(list(run_ids)))
        with self._transaction() as conn:
            return conn.execute(
                update(runs).where(*condition).values(
                    status="interrupted", finished_at=time.time(), message=message)).rowcount

    # -- reads -----------------------------------------------------------------

    def get_run(self, run_id):
        with self._transaction() as conn:
            row = conn.execute(select(*_RUN_COLUMNS).where(runs.c.run_id == run_id)).first()
            if row is None:
                return None
            records = conn.execute(select(metrics.c.record).where(metrics.c.run_id == run_id)
                                   .order_by(metrics.c.epoch)).scalars().all()
            run = run_dict(zip(row._fields, row))
            if run["origin"] and run["origin"].get("source"):
                source = conn.execute(select(runs.c.config)
                                      .where(runs.c.run_id == run["origin"]["source"])).scalar()
                describe_source(run["origin"], source)
        run["metrics"] = [loads(record) for record in records]
        return run

    def get_config(self, run_id):
        """A stored run's config, or None if there is no such run."""
        with self._transaction() as conn:
            config = conn.execute(select(runs.c.config).where(runs.c.run_id == run_id)).scalar()
        return loads(config)

    def list_runs(self, limit=200, offset=0, **filters):
        """One page of runs, newest first, as dicts (no metrics; `last_epoch` is the newest stored).

        `filters` (all optional, see queries.where): origins, statuses, terms, batch, source.
        """
        with self._transaction() as conn:
            rows = conn.execute(list_query(where(**filters), int(limit), int(offset))).all()
        listed = []
        for *columns, source_config, last_epoch in rows:
            run = run_dict(zip(LIST_COLUMNS, columns))
            run["last_epoch"] = last_epoch
            if run["origin"] and run["origin"].get("source"):
                describe_source(run["origin"], source_config)
            listed.append(run)
        return listed

    def count_runs(self, **filters):
        with self._transaction() as conn:
            return conn.execute(select(func.count()).select_from(runs).where(*where(**filters))).scalar()

    def origin_counts(self):
        """[(origin_kind, origin_lab, runs)] over every stored run (kind None: untagged)."""
        with self._transaction() as conn:
            return [tuple(row) for row in conn.execute(
                select(runs.c.origin_kind, runs.c.origin_lab, func.count())
                .group_by(runs.c.origin_kind, runs.c.origin_lab))]

    def status_counts(self):
        with self._transaction() as conn:
            return {status: count for status, count in conn.execute(
                select(runs.c.status, func.count()).group_by(runs.c.status))}

    def get_weights(self, run_id):
        with self._transaction() as conn:
            npz = conn.execute(select(weights.c.npz).where(weights.c.run_id == run_id)).scalar()
        return None if npz is None else bytes(npz)


class _SchemaState:
    """Whether init_schema is still owed (it met a database that was not there), and the lock
    that makes one thread retry it while the others wait."""

    def __init__(self):
        self.pending = False
        self.lock = threading.Lock()

    def retry(self, init_schema):
        with self.lock:
            if not self.pending:
                return
            self.pending = False  # init_schema's own transactions must not retry it again
            init_schema()  # sets pending again if the database is still not there
