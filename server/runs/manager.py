"""The run manager: what the socket handlers talk to, whichever backend trains the runs.

It records a run before handing it over (a run that cannot be stored is refused rather than
trained into a permalink that would not exist), holds each connection to its share of queued
and running runs, and asks the backend (backend.py) where a run is.

Events go out through the `emit(event, data, room)` callable given to the
manager, so the manager can be tested without sockets.
"""

import threading

from .backend import ClientLimitError, Run
from .gate import PriorityGate
from .ids import new_run_id
from .local import LocalBackend
from .recording import RunRecorder


class RunManager:
    def __init__(self, store, emit, max_workers=1, max_queued_per_client=4, gate=None, nice=0,
                 isolation="thread", mp_context=None, budget=None, backend=None):
        """`backend(recorder)` builds the backend (cluster mode); without it the runs train here,
        in a LocalBackend of `max_workers` with the other arguments (see LocalBackend)."""
        self.store = store
        self.recorder = RunRecorder(store, emit)
        # Interactive requests pause local training between batches (server/interactive.py); in a
        # cluster nothing trains here, and the gate only counts the requests.
        self.gate = gate or PriorityGate(max_pause=0)
        if backend is None:
            self.backend = LocalBackend(self.recorder, max_workers, gate=self.gate, nice=nice,
                                        isolation=isolation, mp_context=mp_context, budget=budget)
        else:
            self.backend = backend(self.recorder)
        self.max_queued_per_client = max(1, int(max_queued_per_client))
        # Held from the client's count to the hand-over, and by delete(): a run can neither slip
        # past the limit nor become active between delete's check and its delete.
        self._lock = threading.Lock()
        self._closed = False
        self._on_shutdown = []  # what else stops with the runs (the app's retention, say)

    @property
    def isolation(self):
        return self.backend.isolation

    @property
    def warmed_up(self):
        return self.backend.warmed_up

    @property
    def max_workers(self):
        """Runs trained at once here (local backend); None in a cluster, where the workers decide."""
        return getattr(self.backend, "max_workers", None)

    @max_workers.setter
    def max_workers(self, count):
        self.backend.max_workers = count

    # -- public API ------------------------------------------------------------

    def submit(self, config, client_sid, *, run_id=None, origin=None):
        """Queue a run of a validated Config; returns its run_id.

        `run_id` may be chosen by the caller (see new_run_id) so that the client
        can join the run's room before the first event is emitted. `origin` is
        stored with it (a canonical origin of server/origin.py, or None).
        Raises ClientLimitError, RuntimeError (shutting down, or the backend cannot take runs:
        its message says why), or StoreError when the run cannot be recorded.
        """
        run_id = run_id or new_run_id()
        run = Run(run_id, config, client_sid, self.backend.new_stop_event())
        with self._lock:
            if self._closed:
                raise RuntimeError("the server is shutting down")
            self.backend.check_available()  # before anything is stored: a refused run leaves no trace
            if self.backend.active_count(client_sid) >= self.max_queued_per_client:
                raise ClientLimitError(
                    f"you already have {self.max_queued_per_client} runs queued or running;"
                    " stop one or wait for it to finish"
                )
            self.store.create_run(run_id, config.to_dict(), origin=origin,
                                  lease_owner=getattr(self.backend, "lease_owner", None))
            try:
                self.backend.submit(run)
            except RuntimeError as exc:
                # Recorded but never handed over: its permalink says why.
                self.recorder.write(run, self.store.finish_run, run_id, "error", None, None,
                                    message=str(exc))
                raise
        return run_id

    def position(self, run_id):
        """0 if the run is running, n >= 1 if it is n-th in line, None if not active."""
        return self.backend.position(run_id)

    def active_count(self, client_sid):
        return self.backend.active_count(client_sid)

    def stop(self, run_id):
        """Stop a queued or running run; False if it is not active."""
        return self.backend.stop(run_id)

    def delete(self, run_id):
        """Delete a stored run unless it is queued or running: "deleted", "active" or "unknown".

        Under the lock that submit() records runs under, so a run cannot become active between
        the check and the delete; the store also refuses a run whose stored status is active
        (a queued run being stopped has left the queue before its outcome is written).
        Raises StoreError.
        """
        with self._lock:
            if self.backend.position(run_id) is not None:
                return "active"
            return self.store.delete_run(run_id)

    def on_shutdown(self, stop):
        """Call `stop()` when the manager shuts down (after its runs have ended)."""
        self._on_shutdown.append(stop)

    def shutdown(self, wait=True):
        """Stop taking runs; the backend ends what it holds (locally: queued runs end as
        'stopped', running ones stop within a batch)."""
        with self._lock:
            self._closed = True
        self.backend.shutdown(wait=wait)
        for stop in self._on_shutdown:
            stop()
