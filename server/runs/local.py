"""The local backend: runs trained on this machine, a bounded pool plus a visible FIFO queue.

The executor is only ever handed as many runs as it has workers; runs beyond
that wait in our own deque, because a run's place in line must be reported to
its watchers (`run:queued`) and a queued run must be removable on `run:stop`,
neither of which ThreadPoolExecutor's internal queue allows.
"""

import collections
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from nnengine import trainer

from ..budget import CoreBudget
from ..periodic import Periodic
from ..store import LEASE_RENEW_S, new_owner
from .child import train_in_child, warm_child
from .context import multiprocessing_context
from .gate import PriorityGate
from .nice import lower_thread_priority
from .outcome import outcome_of

log = logging.getLogger(__name__)

ISOLATIONS = ("thread", "process")


class LocalBackend:
    def __init__(self, recorder, max_workers, gate=None, nice=0, isolation="thread", mp_context=None,
                 budget=None):
        """`isolation`: "thread" trains in the worker thread (tests patch the trainer);
        "process" trains in a child process per run (the server: no GIL shared with
        the request threads, lower CPU priority, a crash ends one run). `nice` is the
        priority drop of training (threads on Linux, or the child processes).
        `mp_context` overrides the multiprocessing context (tests use "fork").
        `budget` (a CoreBudget) shares the cores among the runs training at once; each
        child process evaluates its epochs on its share (thread mode keeps one thread).
        With a forkserver, it is started now, in the background, so that the first run
        does not wait for it (about 0.4 s: a fresh interpreter importing the engine)."""
        if isolation not in ISOLATIONS:
            raise ValueError(f"isolation must be 'thread' or 'process', got {isolation!r}")
        self.recorder = recorder
        self.isolation = isolation
        self.nice = nice
        self._mp = None
        if isolation == "process":
            self._mp = mp_context or multiprocessing_context()
        self.budget = budget or CoreBudget()
        self.gate = gate or PriorityGate(max_pause=0)
        self.max_workers = max(1, int(max_workers))
        self._executor = ThreadPoolExecutor(self.max_workers, thread_name_prefix="run")
        # One lock for the queue and the running set: positions must never be
        # computed from a half-updated picture.
        self._lock = threading.Lock()
        self._queue = collections.deque()  # Run waiting for a worker, oldest first
        self._running = {}  # run_id -> Run
        self._closed = False
        self.warmed_up = threading.Event()  # set once the forkserver has started a child
        # This process's runs stay alive in the store while it renews their leases; runs of other
        # processes whose lease lapsed are marked interrupted (server/store/leases.py).
        self.lease_owner = new_owner()
        self._leases = Periodic(LEASE_RENEW_S, self._keep_leases, name="run-leases").start()
        if self._mp is not None and self._mp.get_start_method() == "forkserver":
            threading.Thread(target=self._warm_up, name="run-warm-up", daemon=True).start()

    def new_stop_event(self):
        """The event a run's trainer checks: shared with the child process in process isolation."""
        return self._mp.Event() if self._mp else threading.Event()

    # -- the backend interface ---------------------------------------------------

    def check_available(self):
        """Always: this machine takes runs until it shuts down (submit says so then)."""

    def submit(self, run):
        with self._lock:
            if self._closed:
                raise RuntimeError("the server is shutting down")
            self._queue.append(run)
            if not self._dispatch_locked():
                # Nobody moved: only the newcomer has a position to learn.
                self._send_position(run, len(self._queue))

    def position(self, run_id):
        with self._lock:
            if run_id in self._running:
                return 0
            for index, run in enumerate(self._queue):
                if run.run_id == run_id:
                    return index + 1
        return None

    def active_count(self, client_sid):
        with self._lock:
            runs = list(self._running.values()) + list(self._queue)
        return sum(1 for run in runs if run.client_sid == client_sid)

    def stop(self, run_id):
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
        self.recorder.finish_unstarted(queued, "stopped before it started")
        return True

    def shutdown(self, wait=True):
        """Queued runs end as 'stopped', running ones stop within a batch."""
        with self._lock:
            self._closed = True
            queued = list(self._queue)
            self._queue.clear()
            for run in self._running.values():
                run.stop_event.set()
        for run in queued:
            self.recorder.finish_unstarted(run, "the server was shut down before this run started")
        self._executor.shutdown(wait=wait)
        self._leases.stop()

    def _keep_leases(self):
        with self._lock:
            active = [run.run_id for run in self._queue] + list(self._running)
        self.recorder.store.renew_leases(self.lease_owner, active)
        self.recorder.store.expire_leases()

    # -- queue bookkeeping (callers hold self._lock) ---------------------------

    def _dispatch_locked(self):
        """Start queued runs while workers are free; True if any started."""
        moved = False
        while self._queue and len(self._running) < self.max_workers:
            run = self._queue.popleft()
            self._running[run.run_id] = run
            self._executor.submit(self._execute, run)
            moved = True
        if moved:
            self.budget.set_running(len(self._running))
            self._report_positions_locked()
        return moved

    def _report_positions_locked(self, start=0):
        """Tell the runs from index `start` on their new place in line.

        Emitted under the lock so that position updates can never arrive out of order.
        """
        for index in range(start, len(self._queue)):
            self._send_position(self._queue[index], index + 1)

    def _send_position(self, run, position):
        self.recorder.emit("run:queued", {"run_id": run.run_id, "position": position}, run.run_id)

    def _release(self, run):
        with self._lock:
            self._running.pop(run.run_id, None)
            if not self._closed:
                self._dispatch_locked()
            # After the successor is dispatched: the other runs never see a moment alone.
            self.budget.set_running(len(self._running))

    def _warm_up(self):
        """Start (and end) one idle child, which starts the forkserver with the engine loaded."""
        try:
            child = self._mp.Process(target=warm_child, name="run-warm-up", daemon=True)
            child.start()
            child.join(60)
            self.warmed_up.set()
        except Exception as exc:  # the first run will start it instead, only later
            log.warning("could not start the training process server ahead of time: %s", exc)

    # -- one run, on a worker thread --------------------------------------------

    def _execute(self, run):
        if self.isolation == "thread":
            lower_thread_priority(self.nice)
        last_event = None
        try:
            last_event = self.recorder.record(run, self._train)
        except Exception:  # never let a worker die silently
            log.exception("unexpected failure around run %s", run.run_id)
        finally:
            self._release(run)
        # Sent once the run is no longer active: a client told "done" can no longer stop it.
        if last_event is not None:
            self.recorder.emit(*last_event, run.run_id)

    def _train(self, run, on_started, on_epochs):
        if self.isolation == "process":
            return train_in_child(self._mp, run, on_epochs, on_started, self.nice, self.gate, self.budget)
        on_started()
        return self._train_in_thread(run, lambda record: on_epochs([record]))

    def _train_in_thread(self, run, on_epoch):
        gate = self.gate

        def on_epoch_then_yield(record):
            on_epoch(record)
            gate.wait_turn()

        def should_stop():
            gate.wait_turn()
            return run.stop_event.is_set()

        result = trainer.train(run.config, on_epoch=on_epoch_then_yield, should_stop=should_stop)
        return outcome_of(result, run.run_id)
