"""Periodic: a chore done every so often on a thread of its own, until stopped.

The app's chores (renewing its runs' leases, deleting runs past their retention) must neither stop
because one round failed (a database busy for a moment) nor keep a process alive that is ending.
"""

import logging
import threading

from .store import StoreError

log = logging.getLogger(__name__)


class Periodic:
    """Call `chore()` every `every` seconds (the first time after `first` seconds: 0 = at once) on a
    daemon thread, from start() until stop(). A round that raises is logged, and the next one comes
    as planned: a StoreError as one line (once, while every round fails the same way: a read-only
    database is not news every few seconds), anything else with its traceback."""

    def __init__(self, every, chore, name, first=None):
        if not every > 0:
            raise ValueError(f"every must be a number of seconds > 0, got {every!r}")
        self.every = float(every)
        self.first = self.every if first is None else float(first)
        self.chore = chore
        self.name = name
        self.rounds = 0  # rounds done, failed ones included (for tests)
        self._stop = threading.Event()
        self._thread = None
        self._failing = None  # what the rounds have been failing with, since the last that did not

    def start(self):
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout=5.0):
        """Stop; waits up to `timeout` for a round under way to end."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def stopped(self):
        return self._stop.is_set()

    def _loop(self):
        wait = self.first
        while not self._stop.wait(wait):
            try:
                self.chore()
                if self._failing is not None:
                    log.info("%s: works again", self.name)
                self._failing = None
            except StoreError as exc:
                if str(exc) != self._failing:
                    log.warning("%s: %s", self.name, exc)
                self._failing = str(exc)
            except Exception:
                log.exception("%s failed", self.name)
            self.rounds += 1
            wait = self.every
