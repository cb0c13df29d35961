"""PLAYGROUND_RETENTION_DAYS: finished runs older than that are deleted, at start and daily.

Deleting a run takes its epochs and weights with it (Store.delete_finished_before); queued and
running runs are never touched. The purge runs on a thread of the app's own (server.periodic),
so that a start with years of runs to delete does not wait for it, and stops with the app.
"""

import logging
import time

from .periodic import Periodic

log = logging.getLogger(__name__)

DAY_S = 86400.0


class Retention:
    """Delete runs of `store` that finished more than `days` ago, now and every `every` seconds."""

    def __init__(self, store, days, every=DAY_S):
        self.store = store
        self.days = float(days)
        self.deleted = 0  # runs deleted so far (for the logs and tests)
        self._periodic = Periodic(every, self.purge, name="run-retention", first=0)

    def purge(self):
        """One round; returns how many runs it deleted."""
        count = self.store.delete_finished_before(time.time() - self.days * DAY_S)
        self.deleted += count
        if count:
            log.info("deleted %d runs that finished more than %g days ago (RETENTION_DAYS)", count, self.days)
        return count

    @property
    def rounds(self):
        return self._periodic.rounds

    def start(self):
        self._periodic.start()
        return self

    def stop(self):
        self._periodic.stop()


def init_app(app):
    """Start the retention of RETENTION_DAYS (None: runs are kept until deleted); shutting the app
    down (its run manager's shutdown) stops it."""
    days = app.config.get("RETENTION_DAYS")
    if not days:
        return None
    retention = Retention(app.extensions["store"], days).start()
    app.extensions["retention"] = retention
    app.extensions["runs"].on_shutdown(retention.stop)
    return retention
