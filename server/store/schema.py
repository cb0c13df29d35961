"""The tables of the store, for SQLite and PostgreSQL alike, and how a database is brought to them.

Versions: 0 is the first schema (weights in the runs table, no origins); 2 added the origins and the
search words and moved the weights into a table of their own (SQLite's PRAGMA user_version said so);
3 gave every run a `seq`, the tie-break of the newest-first order that both databases index (SQLite's
rowid was that before; PostgreSQL has none), and records the version in `schema_version`, a row per
version applied. SQLite also keeps PRAGMA user_version at the version, so that a server of schema 2
still opens the file. 4 added each run's lease (`lease_owner`, `lease_expires`: see core.Store's
leases), columns that servers of schema 3 leave alone.
"""

import json
import time

from sqlalchemy import (BigInteger, Column, Double, Identity, Index, Integer, LargeBinary, MetaData, Table,
                        Text, bindparam, column, func, inspect, insert, literal_column, select, table, update)
from sqlalchemy.schema import CreateTable

from ..run_query import search_text

SCHEMA_VERSION = 4

metadata = MetaData()

# The columns lists filter on (status, created_at, origin_*) sit in small rows: weights live in a
# table of their own, because a column stored after a 300 KB blob is read by walking the blob's
# overflow pages (filtering 3,000 runs on such a column took 0.4-0.7 s instead of 6 ms in SQLite).
runs = Table(
    "runs", metadata,
    Column("run_id", Text, primary_key=True),
    Column("config", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("created_at", Double, nullable=False),  # time.time(): REAL in SQLite, DOUBLE PRECISION in PostgreSQL
    Column("started_at", Double),
    Column("finished_at", Double),
    Column("numpy_version", Text),
    Column("summary", Text),
    Column("message", Text),
    Column("origin", Text),
    Column("origin_kind", Text),
    Column("origin_lab", Text),
    Column("origin_batch", Text),
    Column("origin_source", Text),
    Column("search_text", Text, nullable=False, server_default=""),
    # An identity in PostgreSQL; SQLite's inserts compute it (see backends.SQLite.next_seq).
    Column("seq", BigInteger, Identity(), nullable=False),
    # Who keeps a queued or running run alive, and until when (time.time() of the database's clock):
    # an active run whose lease lapsed has lost its process (see Store.expire_leases).
    Column("lease_owner", Text),
    Column("lease_expires", Double),
)
metrics = Table(
    "metrics", metadata,
    Column("run_id", Text, primary_key=True),
    Column("epoch", Integer, primary_key=True),
    Column("record", Text, nullable=False),
)
weights = Table(
    "weights", metadata,
    Column("run_id", Text, primary_key=True),
    Column("npz", LargeBinary, nullable=False),  # BLOB in SQLite, BYTEA in PostgreSQL
)
schema_version = Table(
    "schema_version", metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", Double, nullable=False),
)

# A page of a filter is read off an index in (created_at, seq) order where one fits; runs_origin
# also counts an origin's runs of a status without the table.
Index("runs_seq", runs.c.seq, unique=True)
Index("runs_created_at", runs.c.created_at, runs.c.seq)
Index("runs_status", runs.c.status, runs.c.created_at, runs.c.seq)
Index("runs_origin", runs.c.origin_kind, runs.c.origin_lab, runs.c.status, runs.c.created_at, runs.c.seq)
for _name, _column in (("runs_batch", runs.c.origin_batch), ("runs_source", runs.c.origin_source)):
    Index(_name, _column, runs.c.created_at, runs.c.seq,
          sqlite_where=_column.isnot(None), postgresql_where=_column.isnot(None))

# The runs table of schema 0 (before origins): these columns, then `weights BLOB`.
V1_COLUMNS = ("run_id", "config", "status", "created_at", "started_at", "finished_at", "numpy_version",
              "summary", "message")
V2_COLUMNS = V1_COLUMNS + ("origin", "origin_kind", "origin_lab", "origin_batch", "origin_source", "search_text")
LEASE_COLUMNS = ("lease_owner", "lease_expires")  # schema 4


def stored_version(conn):
    """The schema version of the database on `conn` (0: empty, or the first schema)."""
    names = set(inspect(conn).get_table_names())
    if "schema_version" in names:
        return conn.execute(select(func.max(schema_version.c.version))).scalar() or 0
    if conn.dialect.name == "sqlite":
        return conn.exec_driver_sql("PRAGMA user_version").scalar()
    return 0


def upgrade(conn):
    """Create the tables, or bring an older schema up to this one, in the caller's transaction
    (one process at a time: see the backends' schema_lock). Every stored run is kept."""
    version = stored_version(conn)
    if version >= SCHEMA_VERSION:
        return False
    if conn.dialect.name == "sqlite" and "runs" in inspect(conn).get_table_names():
        columns = {c["name"] for c in inspect(conn).get_columns("runs")}
        if "seq" not in columns:
            _rebuild_sqlite_runs(conn, columns)
    metadata.create_all(conn)
    _add_missing_columns(conn, runs, LEASE_COLUMNS)
    conn.execute(insert(schema_version).values(version=SCHEMA_VERSION, applied_at=time.time()))
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return True


def _add_missing_columns(conn, table, names):
    """Schema 3 -> 4: columns added to an existing table (nullable, so its rows need nothing)."""
    present = {c["name"] for c in inspect(conn).get_columns(table.name)}
    for name in names:
        if name not in present:
            kind = table.c[name].type.compile(dialect=conn.dialect)
            conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}")


def _rebuild_sqlite_runs(conn, columns):
    """A runs table of schema 0 or 2 -> this one: rebuilt with every column (a run's rowid becomes its
    seq, so the order of runs created in the same instant stays), the weights of schema 0 moved to
    their own table and its runs' search words computed; the old indexes go with the old table."""
    old = table("runs", *(column(name) for name in columns))
    if "weights" in columns:
        _move_weights(conn, old)
    rebuilt = runs.to_metadata(MetaData(), name="runs_upgrade")
    conn.execute(CreateTable(rebuilt))  # the table alone: its indexes are made after the rename
    kept = [name for name in V2_COLUMNS if name in columns]
    conn.execute(insert(rebuilt).from_select(
        kept + ["seq"], select(*(old.c[name] for name in kept), literal_column("rowid"))))
    conn.exec_driver_sql("DROP TABLE runs")  # and its indexes
    conn.exec_driver_sql("ALTER TABLE runs_upgrade RENAME TO runs")
    if "search_text" not in columns:
        words = []
        for run_id, config in conn.execute(select(runs.c.run_id, runs.c.config)):
            try:
                config = json.loads(config)
            except (TypeError, ValueError):
                config = None
            words.append({"key": run_id, "words": search_text(run_id, config, None)})
        if words:
            conn.execute(update(runs).where(runs.c.run_id == bindparam("key"))
                         .values(search_text=bindparam("words")), words)


def _move_weights(conn, old):
    """Schema 0's weights column into the weights table, a few runs at a time, each old copy freed at
    once: the freed pages take the next runs' weights, so the file grows by a few runs' weights, not
    by all of them."""
    weights.create(conn, checkfirst=True)
    ids = list(conn.execute(select(old.c.run_id).where(old.c.weights.isnot(None))).scalars())
    for start in range(0, len(ids), 20):
        chunk = ids[start:start + 20]
        conn.execute(insert(weights).prefix_with("OR REPLACE").from_select(
            ["run_id", "npz"], select(old.c.run_id, old.c.weights).where(old.c.run_id.in_(chunk))))
        conn.execute(update(old).where(old.c.run_id.in_(chunk)).values(weights=None))

