"""Runs whose worker died: marked interrupted, and their clients told.

A worker holds a lease on each run it trains and renews it every few seconds (board.py). A lease
that runs out means its worker was killed, crashed, or lost Redis for longer than the lease: the
run can never finish there. The reaper (one in every web node and every worker; any number may
sweep at once) marks such runs `interrupted` in the store and emits run:error to their room.

Interrupted rather than retried on another worker: the client has already drawn the epochs it
was sent, and the lost worker may still be training (cut off, not dead); a second copy would
stream a second epoch 0 into the same charts and race the first for the store. Re-running the
stored config gives the same numbers (one click: the run page's "run again"), so nothing is lost
but the time.
"""

import logging
import threading

from ..store import StoreError
from .board import REAP_EVERY_S, QueueUnavailable

log = logging.getLogger(__name__)

LOST_WORKER = ("the worker training this run stopped before it finished (it was killed, or lost its"
               " connection); the run is marked interrupted: run it again to get its numbers")


class Reaper:
    """Sweeps `board` every `every` seconds (start()/stop()), or once (sweep())."""

    def __init__(self, board, store, emit, every=REAP_EVERY_S, beat=None):
        """`beat()`, if given, is called before each sweep (a worker announces itself with it)."""
        self.board = board
        self.store = store
        self._emit = emit
        self.every = every
        self._beat = beat
        self._done = threading.Event()
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._loop, name="run-reaper", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._done.set()
        if self._thread is not None:
            self._thread.join(self.every + 5)

    def _loop(self):
        while True:
            try:
                if self._beat is not None:
                    self._beat()
                self.sweep()
            except QueueUnavailable as exc:
                log.warning("%s", exc)
            except Exception:  # the sweep must outlive any one failure
                log.exception("sweeping for lost runs failed")
            if self._done.wait(self.every):
                return

    def sweep(self):
        """Reap every run whose lease has run out; returns the run ids this sweep reported."""
        return [run_id for run_id in self.board.lapsed() if self.reap(run_id)]

    def reap(self, run_id, message=LOST_WORKER):
        """Mark the run interrupted and tell its room; True if this call was the one that did.

        The store first: if the database cannot be written, the run stays in Redis's `running`
        and the next sweep tries again, so that no run is ever left 'running' for good.
        """
        try:
            changed = self.store.mark_interrupted([run_id], message=message)
        except StoreError as exc:
            log.error("could not mark lost run %s interrupted (will try again): %s", run_id, exc)
            return False
        self.board.drop(run_id)
        if changed:
            log.warning("run %s: %s", run_id, message)
            try:
                self._emit("run:error", {"run_id": run_id, "error": message, "status": "interrupted"}, run_id)
            except Exception:
                log.exception("could not tell run %s's room it was interrupted", run_id)
        return bool(changed)
