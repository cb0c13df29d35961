"""A run's lease and stop listener on its worker: one thread beside the training.

Every HEARTBEAT_S it renews the run's lease; meanwhile it waits on the run's stop channel, so
that run:stop from any web node sets the run's stop event within milliseconds (the trainer
checks it between batches). A lease that could not be renewed (it ran out: the worker was cut
off from Redis for LEASE_S) means the run has been, or will be, marked interrupted by a reaper:
the run is abandoned (nothing more of it is written or sent) and stops.
"""

import logging
import threading
import time

from ..runs.board import HEARTBEAT_S

log = logging.getLogger(__name__)

# The longest the thread waits on the stop channel before it looks at the time again.
POLL_S = 0.5


class RunLease:
    def __init__(self, board, run, holder, on_lost):
        """`on_lost(run_id)` is called once if the lease is lost (it reaps the run itself, in case
        no reaper can: a Redis that restarted empty has forgotten the run)."""
        self.board = board
        self.run = run
        self.holder = holder
        self.on_lost = on_lost
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"lease-{run.run_id}", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        # Not joined: the thread may be waiting on the stop channel for up to POLL_S, and the run's
        # end must not wait for it. It notices at its next wake-up, and renews nothing after this.
        self._done.set()

    def _watch(self):
        run_id = self.run.run_id
        pubsub = None
        next_beat = time.monotonic() + HEARTBEAT_S
        while not self._done.is_set():
            try:
                if pubsub is None:
                    pubsub = self.board.stop_listener(run_id)
                    # A stop sent before we listened is kept as a key.
                    if self.board.stop_requested(run_id):
                        self.run.stop_event.set()
                message = pubsub.get_message(timeout=max(0.0, min(POLL_S, next_beat - time.monotonic())))
                if message is not None and message.get("type") == "message":
                    self.run.stop_event.set()
                if time.monotonic() >= next_beat and not self._done.is_set():
                    next_beat = time.monotonic() + HEARTBEAT_S
                    if not self.board.renew(run_id, self.holder):
                        self._lost()
                        return
            except Exception as exc:  # QueueUnavailable, or redis-py's errors from the pubsub connection
                # Redis may come back before the lease runs out; the next beat will tell.
                log.warning("run %s: cannot reach Redis: %s", run_id, exc)
                pubsub = self._close(pubsub)
                self._done.wait(1.0)
        self._close(pubsub)

    def _lost(self):
        if self._done.is_set():
            return  # released meanwhile: the lease is gone because the run ended
        log.error("run %s: its lease ran out on this worker; the run is abandoned", self.run.run_id)
        self.run.abandoned.set()
        self.run.stop_event.set()
        try:
            self.on_lost(self.run.run_id)
        except Exception:
            log.exception("run %s: could not mark it interrupted", self.run.run_id)

    @staticmethod
    def _close(pubsub):
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:
                pass
        return None


class Heartbeat:
    """A thread that calls `beat()` every `every` seconds until stopped (a context manager).

    `beat` must not raise: a failed beat is the caller's to log, and the next one comes anyway.
    """

    def __init__(self, beat, every, name):
        self._beat = beat
        self._every = every
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join(self._every + 5)

    def _loop(self):
        while not self._done.wait(self._every):
            self._beat()
