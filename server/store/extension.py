"""The app's run store, `app.extensions["store"]`, opened on DATABASE at start."""

import logging

from .backends import ensure_folder
from .core import Store
from .errors import StoreError

log = logging.getLogger(__name__)


def init_app(app):
    """Open the store of DATABASE (an SQLite path or URI, or a postgresql:// URL), its schema created
    or upgraded. A database that is read-only, full or unreachable still lets the app start: pages are
    served, whatever can be read is, and each refusal names the cause (StoreError)."""
    database = str(app.config["DATABASE"])
    ensure_folder(database)
    max_mb = app.config["DATABASE_MAX_MB"]
    store = Store(database, max_bytes=None if max_mb is None else int(max_mb * 1024 * 1024))
    try:
        store.init_schema()
        # On one machine a run left queued or running whose lease lapsed (or whose server process is
        # gone) belongs to a stopped process, not to another server on the same file; in a cluster
        # it may be training on a worker now (the reaper finds those whose worker died).
        count = 0 if app.config.get("BROKER_URL") else len(store.expire_leases())
        if count:
            log.info("marked %d unfinished runs of a stopped process as interrupted", count)
    except StoreError as exc:
        log.error("database %s is not writable or not usable: %s", store.location, exc)
    app.extensions["store"] = store
    return store
