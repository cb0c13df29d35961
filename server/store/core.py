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
from sqlalchemy import delete, func, or_, select, update

from ..run_query import search_text
from .backends import DRIVER_ERRORS, open_backend
from .errors import BUSY, UNAVAILABLE, StoreError
from .leases import LEASE_TTL_S, owner_is_dead
from .queries import LIST_COLUMNS, list_query, where
from .records import describe_source, dumps, loads, run_dict
from .schema import SCHEMA_VERSION, metrics, runs, stored_version, upgrade, weights

# Statuses of a run that has not finished; only the process that holds its lease can finish it.
ACTIVE_STATUSES = ("queued", "running")
INTERRUPTED = "the server stopped before this run finished"
UPGRADE_RETRY_S = 30.0  # how often writes to a database whose schema could not be upgraded try again
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
    def _transaction(self, write=True):
        """A connection in a transaction, committed at the end of the block (rolled back on an error);
        a driver's error comes out as a StoreError. A write to a database whose older schema could
        not be upgraded is refused (it tries the upgrade again first, every UPGRADE_RETRY_S)."""
        if self._schema.pending:
            self._schema.retry(self.init_schema)
        if write and self._schema.legacy is not None:
            self._schema.retry_upgrade(self._upgrade_legacy)
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

    def _read(self, query):
        """`query(conn)` in a read transaction. On SQLite, a read the database refuses for want of
        room or of write access (a full disk, a read-only file or mount) is made again on a
        read-only connection (backends.SQLite.reader), as is every read of a database whose older
        schema could not be upgraded; if that fails too, the first error is the one raised."""
        if self._backend.legacy is None:
            try:
                with self._transaction(write=False) as conn:
                    return query(conn)
            except StoreError as exc:
                if not self._backend.can_read_instead(exc):
                    raise
                first = exc
        else:
            first = _again(self._schema.legacy)
        try:
            with self._backend.reader().connect() as conn, conn.begin():
                return query(conn)
        except DRIVER_ERRORS as exc:
            raise first from exc

    def init_schema(self):
        """Create the tables, or bring a database of an older schema up to this one (its runs kept).

        If the database cannot be reached (a server not up yet), the next call of any method tries
        again first, so that a web node started before its database works once the database is up.
        An older schema that cannot be upgraded (a read-only database, a full disk) is still read
        (see _read); writes are refused, with the cause, until an upgrade succeeds.
        """
        try:
            self._init_schema()
        except StoreError as exc:
            if exc.reason in (UNAVAILABLE, BUSY):
                self._schema.pending = True
            else:
                self._keep_legacy(exc)
            raise
        self._backend.set_legacy(None)
        self._schema.legacy = None

    def _keep_legacy(self, cause):
        """After init_schema failed with `cause`: if the database is of an older schema, it is read
        through views from now on, and writes say why they cannot be made."""
        try:
            version = self._read(stored_version)
        except StoreError:
            return
        if version >= SCHEMA_VERSION:
            return
        self._schema.legacy = StoreError(
            f"{cause.message}; the database's older schema (version {version}) could not be upgraded,"
            " so its runs can be read but not written", cause.reason,
            f"{cause.public} (its older schema could not be upgraded, so it can be read but not written)")
        self._schema.legacy_at = time.monotonic()
        self._backend.set_legacy(version)

    def _upgrade_legacy(self):
        self._init_schema()
        self._backend.set_legacy(None)

    def _init_schema(self):
        try:
            self._backend.prepare()
        except DRIVER_ERRORS as exc:
            raise self._backend.error(exc) from exc
        with self._transaction(write=False) as conn:
            if stored_version(conn) >= SCHEMA_VERSION:
                return
        try:
            with self._backend.engine.connect() as conn, self._backend.schema_lock(conn):
                upgrade(conn)
        except DRIVER_ERRORS as exc:
            raise self._backend.error(exc) from exc

    def schema_version(self):
        return self._read(stored_version)

    def journal_mode(self):
        """SQLite's journal mode ("wal"); None on PostgreSQL."""
        return self._read(self._backend.journal_mode)

    # -- writes ----------------------------------------------------------------

    def create_run(self, run_id, config_dict, origin=None, lease_owner=None, lease_ttl=LEASE_TTL_S):
        """Record a queued run; `origin` is a canonical origin (server/origin.py) or None.

        `lease_owner` (leases.new_owner()) holds the run's lease from now on, for `lease_ttl`
        seconds (then it renews it: renew_leases). Without one, the run is left to whichever
        process expires leases next."""
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
        if lease_owner is not None:
            values["lease_owner"] = lease_owner
            values["lease_expires"] = self._backend.clock() + float(lease_ttl)
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
        rows = _metric_rows(run_id, records)
        if not rows:
            return
        with self._transaction() as conn:
            self._put_metrics(conn, rows)

    def _put_metrics(self, conn, rows):
        if self._backend.max_bytes is not None:
            self._backend.check_room(conn, sum(len(row["record"]) + 100 for row in rows))
        self._backend.execute_many(conn, self._put_metric, rows)

    def finish_run(self, run_id, status, summary, weights_npz_bytes=None, message=None, records=()):
        """The run's outcome; its stored weights become `weights_npz_bytes` (None: none). `records`
        are epoch records still to be stored (as append_metrics), in the same transaction: a run is
        stored finished with all of them, or not finished at all."""
        rows = _metric_rows(run_id, records)
        with self._transaction() as conn:
            if rows:
                self._put_metrics(conn, rows)
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

    def mark_interrupted(self, run_ids=None, message=INTERRUPTED):
        """Mark runs still queued or running as interrupted: every one (a previous process left
        them), or those of `run_ids`. Returns how many changed; a run that has ended meanwhile is
        left as it ended, so that whoever changed a run is the one who reports it. (One server's
        start calls expire_leases instead, which leaves the runs of live processes alone.)"""
        condition = [runs.c.status.in_(ACTIVE_STATUSES)]
        if run_ids is not None:
            if not run_ids:
                return 0
            condition.append(runs.c.run_id.in_(list(run_ids)))
        with self._transaction() as conn:
            return conn.execute(
                update(runs).where(*condition).values(
                    status="interrupted", finished_at=time.time(), message=message)).rowcount

    # -- leases (see leases.py) ----------------------------------------------------

    def renew_leases(self, owner, run_ids, ttl=LEASE_TTL_S):
        """`owner` keeps its queued or running runs among `run_ids` alive for `ttl` more seconds.
        Returns the ids renewed (a run already finished, or marked interrupted meanwhile, is not)."""
        run_ids = list(run_ids)
        if not run_ids:
            return set()
        with self._transaction() as conn:
            renewed = conn.execute(
                update(runs).where(runs.c.run_id.in_(run_ids), runs.c.status.in_(ACTIVE_STATUSES))
                .values(lease_owner=owner, lease_expires=self._backend.clock() + float(ttl))
                .returning(runs.c.run_id)).scalars().all()
        return set(renewed)

    def expire_leases(self, now=None):
        """Mark interrupted the queued and running runs whose process is gone: their lease lapsed
        before `now` (time.time(); None: the database's clock), they have none (stored by a server of
        schema 3 or older, or without an owner), or their owner is a process of this machine that no
        longer runs. Returns the ids marked. Reads alone while there are none (most rounds), so that a
        read-only database is no error, and a busy one no extra write."""
        clock = self._backend.clock() if now is None else float(now)
        active = self._read(lambda conn: conn.execute(
            select(runs.c.run_id, runs.c.lease_owner, runs.c.lease_expires < clock)
            .where(runs.c.status.in_(ACTIVE_STATUSES))).all())
        dead = {owner: owner_is_dead(owner) for owner in {owner for _, owner, _ in active if owner}}
        gone = [run_id for run_id, owner, lapsed in active if lapsed is None or lapsed or not owner or dead[owner]]
        if not gone:
            return []
        with self._transaction() as conn:
            # Checked again by the UPDATE itself: a run renewed or finished meanwhile is left alone.
            still = or_(runs.c.lease_expires.is_(None), runs.c.lease_owner.is_(None), runs.c.lease_expires < clock,
                        runs.c.lease_owner.in_([owner for owner, is_dead in dead.items() if is_dead]))
            return conn.execute(
                update(runs).where(runs.c.run_id.in_(gone), runs.c.status.in_(ACTIVE_STATUSES), still)
                .values(status="interrupted", finished_at=time.time(), message=INTERRUPTED)
                .returning(runs.c.run_id)).scalars().all()

    # -- reads (see _read) ---------------------------------------------------------

    def get_run(self, run_id):
        def query(conn):
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
            run["metrics"] = records
            return run

        run = self._read(query)
        if run is not None:
            run["metrics"] = [loads(record) for record in run["metrics"]]
        return run

    def get_config(self, run_id):
        """A stored run's config, or None if there is no such run."""
        return loads(self._read(lambda conn: conn.execute(
            select(runs.c.config).where(runs.c.run_id == run_id)).scalar()))

    def list_runs(self, limit=200, offset=0, **filters):
        """One page of runs, newest first, as dicts (no metrics; `last_epoch` is the newest stored).

        `filters` (all optional, see queries.where): origins, statuses, terms, batch, source.
        """
        rows = self._read(lambda conn: conn.execute(list_query(where(**filters), int(limit), int(offset))).all())
        listed = []
        for *columns, source_config, last_epoch in rows:
            run = run_dict(zip(LIST_COLUMNS, columns))
            run["last_epoch"] = last_epoch
            if run["origin"] and run["origin"].get("source"):
                describe_source(run["origin"], source_config)
            listed.append(run)
        return listed

    def count_runs(self, **filters):
        return self._read(lambda conn: conn.execute(
            select(func.count()).select_from(runs).where(*where(**filters))).scalar())

    def origin_counts(self):
        """[(origin_kind, origin_lab, runs)] over every stored run (kind None: untagged)."""
        return self._read(lambda conn: [tuple(row) for row in conn.execute(
            select(runs.c.origin_kind, runs.c.origin_lab, func.count())
            .group_by(runs.c.origin_kind, runs.c.origin_lab))])

    def status_counts(self):
        return self._read(lambda conn: {status: count for status, count in conn.execute(
            select(runs.c.status, func.count()).group_by(runs.c.status))})

    def get_weights(self, run_id):
        npz = self._read(lambda conn: conn.execute(
            select(weights.c.npz).where(weights.c.run_id == run_id)).scalar())
        return None if npz is None else bytes(npz)


def _metric_rows(run_id, records):
    # One row per epoch (the last record of an epoch wins): PostgreSQL refuses an upsert that
    # touches a row twice.
    return list({int(record["epoch"]): {"run_id": run_id, "epoch": int(record["epoch"]), "record": dumps(record)}
                 for record in records}.values())


class _SchemaState:
    """Whether init_schema is still owed (it met a database that was not there), or the upgrade of
    an older schema (`legacy`: the StoreError that writes are refused with), and the lock that makes
    one thread retry it while the others wait."""

    def __init__(self):
        self.pending = False
        self.legacy = None
        self.legacy_at = 0.0  # time.monotonic() of the last upgrade tried
        self.lock = threading.Lock()

    def retry_upgrade(self, upgrade):
        """Raise the legacy error, unless UPGRADE_RETRY_S have passed and `upgrade()` now succeeds."""
        with self.lock:
            refusal = self.legacy
            if refusal is None:
                return
            if time.monotonic() - self.legacy_at < UPGRADE_RETRY_S:
                raise _again(refusal)
            self.legacy_at = time.monotonic()
            self.legacy = None  # the upgrade's own transactions are writes
            try:
                upgrade()
            except StoreError:
                self.legacy = refusal
                raise _again(refusal) from None

    def retry(self, init_schema):
        with self.lock:
            if not self.pending:
                return
            self.pending = False  # init_schema's own transactions must not retry it again
            init_schema()  # sets pending again if the database is still not there


def _again(error):
    """A new StoreError saying what `error` says (one instance is never raised in two threads)."""
    return StoreError(error.message, error.reason, error.public)
