"""The run store: runs, their per-epoch records and their weights, on SQLite (a file, the embedded
default) or PostgreSQL (a server several machines share), chosen by the database given.

Leases (leases.py), for a process that trains runs with this store as their only record (a
server on one machine; several may share an SQLite file). In cluster mode the workers' leases are
kept in Redis instead (server/runs/board.py).

    owner = new_owner()                              # once per process: "HOST/PID/START/TOKEN"
    store.create_run(run_id, config, lease_owner=owner)   # the queued run is alive for LEASE_TTL_S
    store.renew_leases(owner, run_ids, ttl=LEASE_TTL_S)   # every LEASE_RENEW_S: -> set of ids renewed
    store.expire_leases(now=None)                    # -> [run ids] marked interrupted: lapsed, or
                                                     #    no lease, or a dead owner of this machine

    backends.py  the two databases and what differs between them (engines, upserts, the cap, errors)
    schema.py    the tables, and creating or upgrading them at start
    queries.py   the list filters and the page query
    records.py   a run's JSON columns, and to_json_safe
    errors.py    StoreError, the one error callers catch
    leases.py    lease owners, and telling a dead one of this machine
    core.py      Store, the methods the app calls
    extension.py init_app(app): the app's store, opened at start
"""

from .backends import check_database, ensure_folder
from .core import ACTIVE_STATUSES, Store
from .errors import REASONS, StoreError
from .extension import init_app
from .leases import LEASE_RENEW_S, LEASE_TTL_S, new_owner, owner_is_dead
from .records import to_json_safe
from .schema import SCHEMA_VERSION

__all__ = ["Store", "StoreError", "REASONS", "SCHEMA_VERSION", "ACTIVE_STATUSES", "to_json_safe",
           "check_database", "ensure_folder", "init_app", "LEASE_TTL_S", "LEASE_RENEW_S", "new_owner",
           "owner_is_dead"]
