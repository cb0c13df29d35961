"""The two databases the store runs on, and everything in which they differ.

`open_backend(database, max_bytes)` picks one by the `--db` value: a file path or a ``file:`` URI is
SQLite (embedded, the default), a ``postgresql://USER@HOST:PORT/DB`` URL is PostgreSQL through
psycopg 3. The store's queries are the same SQLAlchemy Core expressions on both; what differs is here:
the engine and its pool, how a transaction begins, the upsert, the run's `seq`, the schema lock, the
size cap, and how a driver's error becomes a StoreError.
"""

import contextlib
import importlib.util
import json
import os
import re
import sqlite3
import threading
import time
import urllib.parse
import weakref

from sqlalchemy import Double, cast, create_engine, event, exc as sa_exc, func, literal, select, text
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool, QueuePool

from ..run_query import search_text
from . import errors
from .errors import StoreError
from .schema import runs

BUSY_TIMEOUT_S = 10.0  # a writer waits this long for another one's lock (both databases)
CONNECT_TIMEOUT_S = 3  # PostgreSQL: a server that does not answer is reported after this
POOL_SIZE, POOL_OVERFLOW, POOL_WAIT_S = 5, 10, 5.0  # PostgreSQL connections per process, and the wait for one
STATEMENT_TIMEOUT_S = 30
SIZE_CACHE_S = 1.0  # PostgreSQL's size cap: how long a measured size is trusted
LIVE_SIZE_CACHE_S = 10.0
URL_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")

# What a database driver raises; everything else a store method meets is a bug and propagates.
DRIVER_ERRORS = (sa_exc.SQLAlchemyError, sqlite3.Error)


def is_url(database):
    return "://" in str(database)


def check_database(database):
    """`database` as the store takes it (a path, a file: URI, or a PostgreSQL URL), or ValueError
    with one line saying what is wrong. Opens nothing."""
    value = str(database).strip()
    if not value:
        raise ValueError("the database must be a file path or a postgresql://USER@HOST:PORT/DB URL, got ''")
    if not is_url(value):
        return value
    if not value.startswith(URL_SCHEMES):
        scheme = value.split("://", 1)[0]
        raise ValueError(f"{scheme}:// databases are not supported; give a file path (SQLite) or a"
                         f" postgresql://USER@HOST:PORT/DB URL, got {_hide_password(value)!r}")
    try:
        url = make_url(value)
    except (ValueError, sa_exc.ArgumentError):  # e.g. a port that is not a number
        raise ValueError(f"the PostgreSQL URL {_hide_password(value)!r} cannot be read (is its port a number?);"
                         " write it as postgresql://USER@HOST:PORT/DB") from None
    port = url.port
    if not url.host and "host" not in url.query:  # ?host=/run/postgresql: a local socket
        raise ValueError(f"the PostgreSQL URL {_hide_password(value)!r} names no host;"
                         " write it as postgresql://USER@HOST:PORT/DB")
    if not url.database:
        raise ValueError(f"the PostgreSQL URL {_hide_password(value)!r} names no database;"
                         " write it as postgresql://USER@HOST:PORT/DB")
    if importlib.util.find_spec("psycopg") is None:
        raise ValueError("a PostgreSQL database needs the psycopg package: pip install 'psycopg[binary]'")
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"the PostgreSQL URL {_hide_password(value)!r} has port {port};"
                         " ports are 1 to 65535")
    return value


def _hide_password(value):
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", value)


def open_backend(database, max_bytes=None):
    value = check_database(database)
    if is_url(value):
        return PostgreSQL(value, max_bytes)
    return SQLite(value, max_bytes)


class SQLite:
    """An SQLite file in WAL mode: readers go on while a writer writes.

    Connections are pooled (and never capped: each is a file handle) so that a request does not pay
    for opening the file; a run's worker holds one for the whole run (`holds_sessions`): opening and
    closing one per write cost 1.0-1.4 ms of CPU per epoch stored (the last close of a WAL database also
    checkpoints it), against 0.2-0.3 ms on a held connection, on the cores the training needs.

    Reads go on where writes cannot (`reader()`): a WAL database is opened for reading through its
    -shm file, which a full disk cannot grow and a read-only mount cannot create, so a read that fails
    for either is made again on a read-only connection: ``mode=ro`` (which reads through the -shm and
    -wal files if they are there), else, if the WAL holds nothing (the file then holds every committed
    write), ``immutable=1``, which needs neither. A database of an older schema that could not be
    upgraded (read-only, or no room to rebuild it) is read through temporary views of the current
    tables over its own (`legacy`, see _legacy_views); writes to it are refused.
    """

    name = "sqlite"
    holds_sessions = True

    def __init__(self, path, max_bytes):
        self.path = path
        self.max_bytes = max_bytes
        self.location = path
        uri = path.startswith("file:")
        # The file behind a URI (file:PATH?mode=ro), for the checks of a full or read-only disk.
        self.file = path[len("file:"):].split("?", 1)[0] if uri else path

        def connect():
            return sqlite3.connect(path, uri=uri, timeout=BUSY_TIMEOUT_S, check_same_thread=False)

        self.engine = create_engine("sqlite+pysqlite://", creator=connect, poolclass=QueuePool,
                                    pool_size=POOL_SIZE, max_overflow=-1)
        self._compiled = {}  # statement -> (SQL, names of its parameters in order)
        self.legacy = None  # the schema version of a database that could not be upgraded
        self._reader = None
        self._reader_lock = threading.Lock()
        event.listen(self.engine, "connect", self._on_connect)
        event.listen(self.engine, "begin", _begin)
        _forget_connections_in_forked_children(self.engine)

    def set_legacy(self, version):
        """The database stays at schema `version` (None: it was upgraded): reads go to reader(),
        whose connections read it through views of the current tables (never the engine's, which
        upgrade it)."""
        self.legacy = version

    def can_read_instead(self, error):
        """Whether a read that failed with StoreError `error` may be made on `reader()`."""
        return error.reason in (errors.DISK_FULL, errors.READ_ONLY, errors.UNAVAILABLE)

    def reader(self):
        """An engine of read-only connections (see the class), opened per read (NullPool): each read
        sees what was committed when it began, an immutable one what the last checkpoint wrote."""
        with self._reader_lock:
            if self._reader is None:
                self._reader = create_engine("sqlite+pysqlite://", creator=self._open_read_only,
                                             poolclass=NullPool)
                event.listen(self._reader, "connect", self._on_connect_read_only)
                event.listen(self._reader, "begin", _begin)
            return self._reader

    def _open_read_only(self):
        target = urllib.parse.quote(os.path.abspath(self.file))
        conn = sqlite3.connect(f"file:{target}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S,
                               check_same_thread=False)
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # opens the -shm, if it must
            return conn
        except sqlite3.Error:
            conn.close()
            if _wal_holds_data(self.file):
                raise  # the committed writes still in the WAL cannot be read without the -shm
        return sqlite3.connect(f"file:{target}?immutable=1", uri=True, check_same_thread=False)

    def _on_connect_read_only(self, dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA temp_store = MEMORY")  # the views, off the full disk
        _legacy_views(dbapi_connection)

    def _on_connect(self, dbapi_connection, _record):
        # The transactions are ours (see _begin), not the sqlite3 module's implicit ones, which
        # would leave DDL and reads outside of them.
        dbapi_connection.isolation_level = None
        if self.max_bytes is not None:
            # Per connection, and never below the pages already in use (SQLite clamps): past it,
            # writes fail with SQLITE_FULL as they would on a full disk.
            page_size = dbapi_connection.execute("PRAGMA page_size").fetchone()[0]
            dbapi_connection.execute(f"PRAGMA max_page_count = {max(1, int(self.max_bytes) // page_size)}")

    def upsert(self, table, keys):
        return _upsert(sqlite_dialect.insert, table, keys)

    def execute_many(self, conn, statement, rows):
        """Run `statement` (of plain columns: no type conversions) for each of `rows` (dicts) in the
        transaction of `conn`, on the driver: the SQL is compiled from the Core statement once, but
        SQLAlchemy's execution of it cost 0.07 ms of CPU per epoch stored (a third of the write), on
        the cores the training needs. Errors are the driver's (the caller's transaction turns them
        into StoreError and rolls back)."""
        compiled = self._compiled.get(statement)
        if compiled is None:
            done = statement.compile(dialect=self.engine.dialect)
            compiled = self._compiled[statement] = (str(done), tuple(done.positiontup))
        sql, names = compiled
        conn.connection.driver_connection.executemany(sql, [tuple(row[name] for name in names) for row in rows])

    def clock(self):
        """Now, as the leases count time (time.time()): one machine's clock for every process."""
        return literal(time.time(), Double)

    def next_seq(self):
        """The seq of a run being inserted: SQLite has one writer at a time, so the largest plus one
        (read off the runs_seq index) is never taken twice."""
        return select(func.coalesce(func.max(runs.c.seq), 0) + 1).scalar_subquery()

    @contextlib.contextmanager
    def schema_lock(self, conn):
        """The upgrade's transaction, taken with BEGIN IMMEDIATE: one process upgrades, the others
        wait for it, then find the upgrade done."""
        conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
        with conn.begin():
            yield

    def prepare(self):
        """Once per start: WAL is a property of the file, set outside any transaction. A process killed
        mid-write leaves at most an uncommitted tail in the WAL, which the next opener discards."""
        raw = self.engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA journal_mode=WAL")
        finally:
            raw.close()

    def journal_mode(self, conn):
        return conn.exec_driver_sql("PRAGMA journal_mode").scalar()

    def check_room(self, conn, adding):
        """SQLite enforces the cap itself (PRAGMA max_page_count)."""

    def forget_size(self):
        pass

    def error(self, exc):
        cause = getattr(exc, "orig", None) or exc
        if isinstance(cause, sqlite3.Error):
            return errors.from_sqlite(cause, self.file, self._full_cause)
        return _generic(exc)

    def _full_cause(self):
        """SQLITE_FULL is the disk or the cap, whichever left less room."""
        if self.max_bytes is None:
            return errors.disk_full()
        used = self._size()
        free = errors.free_disk_bytes(self.file)
        if used is not None and free is not None and free < self.max_bytes - used:
            return errors.disk_full()
        return errors.cap_error(self.max_bytes, used)

    def _size(self):
        raw = None
        try:
            raw = self.engine.raw_connection()
            pages = raw.driver_connection.execute("PRAGMA page_count").fetchone()[0]
            page_size = raw.driver_connection.execute("PRAGMA page_size").fetchone()[0]
            return pages * page_size
        except (sqlite3.Error, sa_exc.SQLAlchemyError):
            return None
        finally:
            if raw is not None:
                raw.close()


def _wal_holds_data(path):
    """Whether the WAL of the database `path` may hold committed writes not yet in the file."""
    try:
        return os.path.getsize(f"{path}-wal") > 0
    except FileNotFoundError:
        return False
    except OSError:
        return True


def _legacy_views(dbapi_connection):
    """On a connection to a database of an older schema, temporary views named as the current
    tables, over the old ones (temp names come before main ones): the columns the old table lacks
    are NULL, or what the upgrade would have computed (seq from the rowid, the search words from the
    config), and schema 0's weights column becomes the weights table. Nothing if the schema is current.
    """
    have = {row[1] for row in dbapi_connection.execute("PRAGMA main.table_info(runs)")}
    tables = {row[0] for row in dbapi_connection.execute("SELECT name FROM main.sqlite_master WHERE type = 'table'")}
    wanted = [c.name for c in runs.columns]
    if not have or (set(wanted) <= have and "weights" in tables):
        return
    dbapi_connection.create_function("playground_search_text", 2, _search_text_of, deterministic=True)
    derived = {"seq": "rowid", "search_text": "playground_search_text(run_id, config)"}
    columns = ", ".join(name if name in have else f"{derived.get(name, 'NULL')} AS {name}" for name in wanted)
    dbapi_connection.execute(f"CREATE TEMP VIEW IF NOT EXISTS runs AS SELECT {columns} FROM main.runs")
    if "weights" not in tables and "weights" in have:
        dbapi_connection.execute("CREATE TEMP VIEW IF NOT EXISTS weights AS SELECT run_id, weights AS npz"
                                 " FROM main.runs WHERE weights IS NOT NULL")


def _search_text_of(run_id, config):
    try:
        config = json.loads(config)
    except (TypeError, ValueError):
        config = None
    return search_text(run_id, config, None)


def _upsert(dialect_insert, table, keys):
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET every other column (SQLite 3.24+ and PostgreSQL
    write it alike; each dialect's insert() renders it)."""
    statement = dialect_insert(table)
    others = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    return statement.on_conflict_do_update(index_elements=list(keys), set_=others)


def _begin(conn):
    # Straight to the driver: through conn.execute, the BEGIN of every transaction cost as much CPU
    # as the statement it opens.
    conn.connection.driver_connection.execute(conn.get_execution_options().get("sqlite_begin", "BEGIN"))


class PostgreSQL:
    """A PostgreSQL server through psycopg 3: a bounded pool of connections per process, each checked
    with a ping when taken, a connect timeout so that a server that is down is reported in seconds,
    and server-side statement and lock timeouts so that nothing waits forever.

    A run's writes take a pooled connection per call (`holds_sessions` is False): the pool already
    keeps connections open, and holding one per run would make the pool size a limit on runs.

    The size cap (`max_bytes`) counts what the store's tables take on disk (pg_total_relation_size of
    runs, metrics and weights, with their TOAST and indexes; not PostgreSQL's own 7 MB of catalogs, so
    that a cap means what it means for an SQLite file). It is measured before the writes that add
    data, at most once a second per process (a measure is a few catalog lookups); between measures
    the bytes written are added to it. PostgreSQL reuses the space of deleted runs but keeps its files
    as large, so once the files reach the cap, the bytes the tables hold alive are counted instead
    (summed over the rows, at most every 10 s): deleting runs makes room again, as in SQLite, whose
    cap counts pages, free ones included.
    """

    name = "postgresql"
    holds_sessions = False
    legacy = None  # PostgreSQL upgrades in one transaction, or not at all (and then fails clearly)

    def __init__(self, value, max_bytes):
        url = make_url(value).set(drivername="postgresql+psycopg")
        self.max_bytes = max_bytes
        host = url.host or url.query.get("host")
        self.address = f"[{host}]:{url.port or 5432}" if host and ":" in host else f"{host}:{url.port or 5432}"
        self.database = url.database
        self.location = url.render_as_string(hide_password=True)
        options = (f"-c statement_timeout={STATEMENT_TIMEOUT_S * 1000}"
                   f" -c lock_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        if url.query.get("options"):
            options = f"{url.query['options']} {options}"
        self.engine = create_engine(
            url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, pool_timeout=POOL_WAIT_S,
            pool_pre_ping=True,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "options": options,
                          "application_name": "playground",
                          # a server that vanished (not one that refuses) is noticed in ~25 s
                          "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
                          "keepalives_count": 3, "tcp_user_timeout": 15000})
        self._room = _Room(max_bytes)
        _forget_connections_in_forked_children(self.engine)

    def upsert(self, table, keys):
        return _upsert(pg_dialect.insert, table, keys)

    def execute_many(self, conn, statement, rows):
        conn.execute(statement, rows)

    def clock(self):
        """Now, as the leases count time: the server's clock, which every machine shares (theirs may
        disagree by more than a lease)."""
        return cast(func.extract("epoch", func.clock_timestamp()), Double)

    def next_seq(self):
        return None  # an identity column

    @contextlib.contextmanager
    def schema_lock(self, conn):
        """One process creates or upgrades the schema (PostgreSQL's DDL is transactional); the
        others wait on the advisory lock, then find it done."""
        with conn.begin():
            conn.execute(select(func.pg_advisory_xact_lock(SCHEMA_LOCK_KEY)))
            yield

    def prepare(self):
        pass

    def journal_mode(self, conn):
        return None

    def check_room(self, conn, adding):
        self._room.check(conn, adding)

    def can_read_instead(self, error):
        return False  # a read-only or full PostgreSQL server still serves reads

    def set_legacy(self, version):
        pass

    def forget_size(self):
        self._room.forget()

    def error(self, exc):
        if isinstance(exc, sa_exc.TimeoutError):  # the pool's wait
            return StoreError(f"all {POOL_SIZE + POOL_OVERFLOW} connections to the database server at"
                              f" {self.address} are in use (waited {POOL_WAIT_S:g} s)", errors.BUSY,
                              "the database is busy")
        cause = getattr(exc, "orig", None)
        if cause is not None and type(cause).__module__.startswith("psycopg"):
            return errors.from_postgresql(cause, self.address, self.database)
        if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
            return StoreError(f"the database server at {self.address} is not reachable", errors.UNAVAILABLE,
                              "the database server is not reachable")
        return _generic(exc)


SCHEMA_LOCK_KEY = 0x706C6179  # "play": the advisory lock of schema upgrades

_DISK_SIZE = text("SELECT pg_total_relation_size('runs') + pg_total_relation_size('metrics')"
                  " + pg_total_relation_size('weights')")
# What the rows hold alive: the stored size of each value, plus a row's header, line pointer and
# index entries (measured on PostgreSQL 15: 100 bytes per epoch record, 260 per run with its 7
# indexes, beyond pg_column_size).
_LIVE_SIZE = text(
    "SELECT (SELECT COALESCE(SUM(pg_column_size(npz)) + COUNT(*) * 100, 0) FROM weights)"
    " + (SELECT COALESCE(SUM(pg_column_size(record)) + COUNT(*) * 100, 0) FROM metrics)"
    " + (SELECT COALESCE(SUM(pg_column_size(r.*)) + COUNT(*) * 260, 0) FROM runs AS r)")


class _Room:
    """PostgreSQL's size cap (see PostgreSQL): measured sizes, and the bytes written since."""

    def __init__(self, max_bytes):
        self.max_bytes = max_bytes
        self.lock = threading.Lock()
        self.disk = self.live = None  # (measured at, bytes)

    def forget(self):
        with self.lock:
            self.disk = self.live = None

    def check(self, conn, adding):
        if self.max_bytes is None:
            return
        now = time.monotonic()
        if self._fits("disk", _DISK_SIZE, SIZE_CACHE_S, conn, adding, now):
            return
        if self._fits("live", _LIVE_SIZE, LIVE_SIZE_CACHE_S, conn, adding, now):
            return
        with self.lock:
            used = self.live[1]
        raise errors.cap_error(self.max_bytes, used)

    def _fits(self, kind, query, trusted_s, conn, adding, now):
        with self.lock:
            known = getattr(self, kind)
        if known is None or now - known[0] > trusted_s:
            known = (now, int(conn.execute(query).scalar() or 0))
        fits = known[1] + adding <= self.max_bytes
        with self.lock:
            setattr(self, kind, (known[0], known[1] + (adding if fits else 0)))
        return fits


def _forget_connections_in_forked_children(engine):
    """A forked child (a pool worker, a training process) must never use its parent's connections:
    the two would speak over the same socket or file handle. It gets a pool of its own, and the
    parent's connections are left to the parent (not closed). The engine is held weakly."""
    ref = weakref.ref(engine)

    def in_child():
        forked = ref()
        if forked is not None:
            forked.dispose(close=False)

    os.register_at_fork(after_in_child=in_child)


def _generic(exc):
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return StoreError(f"the database failed: {first}", errors.FAILED)


def ensure_folder(database):
    """Make the folder of an SQLite file (not of a URI or a server)."""
    if not is_url(database) and not str(database).startswith("file:"):
        os.makedirs(os.path.dirname(os.path.abspath(database)), exist_ok=True)
