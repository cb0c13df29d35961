"""A run's life in the store and on its room: started, its epochs, its end.

The same code records a run wherever it trains (a child process of the server, a Celery
worker), so a run reads the same whichever trained it.
"""

import logging

from ..store import StoreError, to_json_safe
from .child import ChildFailed
from .saving import RunRecord

log = logging.getLogger(__name__)


class RunRecorder:
    """Stores and announces runs: `emit(event, data, room)` sends to a run's room."""

    def __init__(self, store, emit):
        self.store = store
        self._emit = emit

    def record(self, run, train):
        """Train `run` through `train(run, on_started, on_epochs)` -> Outcome, storing and sending
        what happens; returns the run's last event (name, payload), still to be sent (by the
        caller, once the run is no longer active: a client told "done" can no longer stop it),
        or None when the run was abandoned."""
        with self.store.session() as store:  # one connection for the run's writes
            event = self._record(run, train, store)
        return None if run.is_abandoned() else event

    def _record(self, run, train, store):
        run_id = run.run_id
        saved = RunRecord(store, run_id, abandoned=run.is_abandoned)

        def on_started():
            saved.started()
            self.send(run, "run:started", {"run_id": run_id})

        def on_epochs(records):
            # Stored before they are sent: a watcher who joins meanwhile may see an epoch
            # twice (run:watch), never miss one.
            records = [to_json_safe(dict(record)) for record in records]
            saved.epochs(records)
            for record in records:
                self.send(run, "run:epoch", {"run_id": run_id, **record})

        try:
            outcome = train(run, on_started, on_epochs)
        except Exception as exc:
            # A bug or a numerical failure in the engine (or a dead child) ends this run only.
            error = str(exc) if isinstance(exc, ChildFailed) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, ChildFailed):
                log.exception("run %s failed in the engine", run_id)
            else:
                log.error("run %s failed: %s", run_id, error)
            saved.finish("error", None, None, message=error)
            return "run:error", {"run_id": run_id, "error": error}

        unsaved = saved.finish(outcome.status, outcome.summary, outcome.weights, message=outcome.message or None)
        if unsaved is not None:
            # The charts were streamed, but the permalink holds only what the error says.
            return "run:error", {"run_id": run_id, "error": unsaved, "summary": outcome.summary}
        return "run:done", {"run_id": run_id, "summary": outcome.summary}

    def finish_unstarted(self, run, message):
        """A queued run that will never train: stored and announced as stopped."""
        summary = {"event": "stopped", "status": "stopped", "epochs": 0, "message": message}
        self.write(run, self.store.finish_run, run.run_id, "stopped", summary, None, message=message)
        self.send(run, "run:done", {"run_id": run.run_id, "summary": summary})

    # -- side effects that must not kill a run -----------------------------------

    def write(self, run, method, *args, **kwargs):
        """Call a store method; a full or read-only database is logged, not fatal.

        Returns True if the write went through (False too when the run was abandoned).
        """
        if run.is_abandoned():
            return False
        try:
            method(*args, **kwargs)
        except StoreError as exc:
            if run.storage_error is None:
                log.error("run %s: could not write to the database: %s", run.run_id, exc)
                run.storage_error = exc.public
            return False
        return True

    def send(self, run, event, data):
        """Emit to the run's room, unless the run was abandoned."""
        if not run.is_abandoned():
            self.emit(event, data, run.run_id)

    def emit(self, event, data, room):
        try:
            self._emit(event, data, room)
        except Exception:
            # A broken socket must not end the training; the store keeps the result.
            log.exception("could not emit %s to %s", event, room)
