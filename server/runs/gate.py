"""The priority gate: interactive requests before training."""

import contextlib
import threading
import time


class PriorityGate:
    """Interactive requests before training: runs pause between batches while one is served.

    Training threads share the GIL and the cores with the request threads; a
    prediction that has to take turns with two busy runs took seconds under
    load (bench/LOAD.md). While any interactive request is in flight, a run
    waits at its next batch boundary (and before each epoch's report) until
    the requests are done, but never longer than `max_pause` at a time, so a
    steady stream of requests slows training down without starving it.
    """

    def __init__(self, max_pause=0.25):
        self.max_pause = max_pause
        self._cond = threading.Condition()
        self._active = 0
        self._shared = None  # multiprocessing Value for child processes, made on first use
        self.paused_s = 0.0  # total time runs spent waiting (for the bench and tests)

    @contextlib.contextmanager
    def interactive(self):
        with self._cond:
            self._active += 1
            if self._shared is not None:
                self._shared.value = self._active
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                if self._shared is not None:
                    self._shared.value = self._active
                if not self._active:
                    self._cond.notify_all()

    def busy(self):
        return self._active > 0

    def shared_busy(self, mp):
        """A counter in shared memory that mirrors the requests in flight, for child processes."""
        with self._cond:
            if self._shared is None:
                self._shared = mp.Value("i", self._active, lock=False)
            return self._shared

    def wait_turn(self):
        """Called by a run between batches: returns once no request is in flight (or max_pause)."""
        if not self._active:  # the common case, without the lock
            return
        began = time.monotonic()
        with self._cond:
            self._cond.wait_for(lambda: not self._active, timeout=self.max_pause)
        self.paused_s += time.monotonic() - began
