"""Training runs off the request thread: a bounded pool plus a visible FIFO queue.

The executor is only ever handed as many runs as it has workers; runs beyond
that wait in our own deque, because a run's place in line must be reported to
its watchers (`run:queued`) and a queued run must be removable on `run:stop`,
neither of which ThreadPoolExecutor's internal queue allows.

Events go out through the `emit(event, data, room)` callable given to the
manager, so the manager can be tested without sockets.
"""

import collections
import io
import logging
import re
import secrets
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from nnengine import trainer

from .store import to_json_safe

log = logging.getLogger(__name__)

# Outcomes after which weights are worth keeping (a diverged net holds NaNs).
_KEEP_WEIGHTS = ("done", "stopped")


# What new_run_id produces, with room to spare; anything else cannot name a run.
_RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def is_run_id(value):
    return isinstance(value, str) and _RUN_ID.match(value) is not None


def new_run_id():
    """A random, unguessable id: knowing it is what grants access to a run."""
    return secrets.token_urlsafe(12)


class ClientLimitError(Exception):
    """The client already has as many queued and running runs as allowed."""


class _Run:
    __slots__ = ("run_id", "config", "client_sid", "stop_event", "storage_error")

    def __init__(self, run_id, config, client_sid):
        self.run_id = run_id
        self.config = config
        self.client_sid = client_sid
        self.stop_event = threading.Event()
        self.storage_error = None  # first sqlite3.Error met while writing this run


def weights_npz(network):
    """The network's state_dict as the bytes of an .npz file."""
    buffer = io.BytesIO()
    np.savez(buffer, **network.state_dict())
    return buffer.getvalue()


class RunManager:
    def __init__(self, store, emit, max_workers, max_queued_per_client):
        self.store = store
        self._emit = emit
        self.max_workers = max(1, int(max_workers))
        self.max_queued_per_client = max(1, int(max_queued_per_client))
        self._executor = ThreadPoolExecutor(self.max_workers, thread_name_prefix="run")
        # One lock for the queue and the running set: positions must never be
        # computed from a half-updated picture.
        self._lock = threading.Lock()
        self._queue = collections.deque()  # _Run waiting for a worker, oldest first
        self._running = {}  # run_id -> _Run
        self._closed = False

    # -- public API ------------------------------------------------------------

    def submit(self, config, client_sid, *, run_id=None):
        """Queue a run of a validated Config; returns its run_id.

        `run_id` may be chosen by the caller (see new_run_id) so that the client
        can join the run's room before the first event is emitted.
        Raises ClientLimitError, or sqlite3.Error when the run cannot be recorded.
        """
        run_id = run_id or new_run_id()
        run = _Run(run_id, config, client_sid)
        with self._lock:
            if self._closed:
                raise RuntimeError("the server is shutting down")
            if self._active_count_locked(client_sid) >= self.max_queued_per_client:
                raise ClientLimitError(
                    f"you already have {self.max_queued_per_client} runs queued or running;"
                    " stop one or wait for it to finish"
                )
            # Recorded before it is queued: a run that cannot be stored is refused
            # rather than trained into a permalink that would not exist.
            self.store.create_run(run_id, config.to_dict())
            self._queue.append(run)
            if not self._dispatch_locked():
                # Nobody moved: only the newcomer has a position to learn.
                self._send("run:queued", {"run_id": run_id, "position": len(self._queue)}, run_id)
        return run_id

    def position(self, run_id):
        """0 if the run is running, n >= 1 if it is n-th in line, None if not active."""
        with self._lock:
            if run_id in self._running:
                return 0
            for index, run in enumerate(self._queue):
                if run.run_id == run_id:
                    return index + 1
        return None

    def is_active(self, run_id):
        return self.position(run_id) is not None

    def active_count(self, client_sid):
        with self._lock:
            return self._active_count_locked(client_sid)

    def stop(self, run_id):
        """Stop a queued or running run; False if it is not active."""
        with self._lock:
            running = self._running.get(run_id)
            if running is not None:
                # The trainer checks this between batches.
                running.stop_event.set()
                return True
            queued = next((r for r in self._queue if r.run_id == run_id), None)
            if queued is None:
                return False
            behind = self._queue.index(queued)
            self._queue.remove(queued)
            self._report_positions_locked(start=behind)
        self._finish_unstarted(queued, "stopped before it started")
        return True

    def shutdown(self, wait=True):
        """Stop everything: queued runs end as 'stopped', running ones stop within a batch."""
        with self._lock:
            self._closed = True
            queued = list(self._queue)
            self._queue.clear()
            for run in self._running.values():
                run.stop_event.set()
        for run in queued:
            self._finish_unstarted(run, "the server was shut down before this run started")
        self._executor.shutdown(wait=wait)

    # -- queue bookkeeping (callers hold self._lock) ---------------------------

    def _active_count_locked(self, client_sid):
        runs = list(self._running.values()) + list(self._queue)
        return sum(1 for run in runs if run.client_sid == client_sid)

    def _dispatch_locked(self):
        """Start queued runs while workers are free; True if any started."""
        moved = False
        while self._queue and len(self._running) < self.max_workers:
            run = self._queue.popleft()
            self._running[run.run_id] = run
            self._executor.submit(self._execute, run)
            moved = True
        if moved:
            self._report_positions_locked()
        return moved

    def _report_positions_locked(self, start=0):
        """Tell the runs from index `start` on their new place in line.

        Emitted under the lock so that position updates can never arrive out of order.
        """
        for index in range(start, len(self._queue)):
            run = self._queue[index]
            self._send("run:queued", {"run_id": run.run_id, "position": index + 1}, run.run_id)

    def _release(self, run):
        with self._lock:
            self._running.pop(run.run_id, None)
            if not self._closed:
                self._dispatch_locked()

    # -- one run, on a worker thread --------------------------------------------

    def _execute(self, run):
        try:
            self._train(run)
        except Exception:  # never let a worker die silently
            log.exception("unexpected failure around run %s", run.run_id)
        finally:
            self._release(run)

    def _train(self, run):
        run_id = run.run_id
        self._write(run, self.store.set_status, run_id, "running")
        self._send("run:started", {"run_id": run_id}, run_id)

        def on_epoch(record):
            record = to_json_safe(dict(record))
            self._write(run, self.store.append_metric, run_id, record)
            self._send("run:epoch", {"run_id": run_id, **record}, run_id)

        try:
            result = trainer.train(run.config, on_epoch=on_epoch, should_stop=run.stop_event.is_set)
        except Exception as exc:
            # A bug or a numerical failure in the engine ends this run only.
            log.exception("run %s failed in the engine", run_id)
            error = f"{type(exc).__name__}: {exc}"
            self._write(run, self.store.finish_run, run_id, "error", None, None, message=error)
            self._send("run:error", {"run_id": run_id, "error": error}, run_id)
            return

        summary = self._summary(result)
        weights = None
        if result.status in _KEEP_WEIGHTS:
            try:
                weights = weights_npz(result.network)
            except Exception:
                log.exception("could not serialise the weights of run %s", run_id)
        if not self._write(run, self.store.finish_run, run_id, result.status, summary, weights,
                           message=result.message or None):
            self._finish_without_weights(run, result, summary, weights)
        if run.storage_error is not None:
            # The charts were streamed, but the permalink will not hold them.
            self._send(
                "run:error",
                {
                    "run_id": run_id,
                    "error": f"the run finished ({result.status}) but could not be saved:"
                    f" {run.storage_error}",
                    "summary": summary,
                },
                run_id,
            )
        else:
            self._send("run:done", {"run_id": run_id, "summary": summary}, run_id)

    def _finish_without_weights(self, run, result, summary, weights):
        """The full record could not be written (a full disk, most likely): record what
        fits, so that the permalink says how the run ended instead of 'running'."""
        note = f"not fully saved: {run.storage_error}"
        message = f"{result.message}; {note}" if result.message else note
        if weights is not None and self._write(run, self.store.finish_run, run.run_id, result.status,
                                               summary, None, message=message):
            return
        self._write(run, self.store.set_status, run.run_id, result.status, message)

    @staticmethod
    def _summary(result):
        summary = dict(result.summary() or {})
        summary.setdefault("status", result.status)
        if result.message:
            summary.setdefault("message", result.message)
        return to_json_safe(summary)

    def _finish_unstarted(self, run, message):
        summary = {"event": "stopped", "status": "stopped", "epochs": 0, "message": message}
        self._write(run, self.store.finish_run, run.run_id, "stopped", summary, None, message=message)
        self._send("run:done", {"run_id": run.run_id, "summary": summary}, run.run_id)

    # -- side effects that must not kill a run -----------------------------------

    def _write(self, run, method, *args, **kwargs):
        """Call a store method; a full or read-only database is logged, not fatal.

        Returns True if the write went through.
        """
        try:
            method(*args, **kwargs)
        except sqlite3.Error as exc:
            if run.storage_error is None:
                log.error("run %s: could not write to the database: %s", run.run_id, exc)
                run.storage_error = str(exc)
            return False
        return True

    def _send(self, event, data, room):
        try:
            self._emit(event, data, room)
        except Exception:
            # A broken socket must not end the training; the store keeps the result.
            log.exception("could not emit %s to %s", event, room)
