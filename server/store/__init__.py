"""The run store: runs, their per-epoch records and their weights, on SQLite (a file, the embedded
default) or PostgreSQL (a server several machines share), chosen by the database given.

    backends.py  the two databases and what differs between them (engines, upserts, the cap, errors)
    schema.py    the tables, and creating or upgrading them at start
    queries.py   the list filters and the page query
    records.py   a run's JSON columns, and to_json_safe
    errors.py    StoreError, the one error callers catch
    core.py      Store, the methods the app calls
    extension.py init_app(app): the app's store, opened at start
"""

from .backends import check_database, ensure_folder
from .core import ACTIVE_STATUSES, Store
from .errors import REASONS, StoreError
from .extension import init_app
from .records import to_json_safe
from .schema import SCHEMA_VERSION

__all__ = ["Store", "StoreError", "REASONS", "SCHEMA_VERSION", "ACTIVE_STATUSES", "to_json_safe",
           "check_database", "ensure_folder", "init_app"]
