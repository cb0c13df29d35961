"""Training runs off the request thread: a bounded pool plus a visible FIFO queue.

The executor is only ever handed as many runs as it has workers; runs beyond
that wait in our own deque, because a run's place in line must be reported to
its watchers (`run:queued`) and a queued run must be removable on `run:stop`,
neither of which ThreadPoolExecutor's internal queue allows.

Events go out through the `emit(event, data, room)` callable given to the
manager, so the manager can be tested without sockets.
"""

import collections
import contextlib
import ctypes
import glob
import io
import logging
import multiprocessing
import os
import re
import secrets
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from nnengine import trainer

from .budget import CoreBudget, RunThreads
from .periodic import Periodic
from .run_record import RunRecord
from .store import LEASE_RENEW_S, StoreError, new_owner, to_json_safe

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


def _lower_thread_priority(nice):
    """Raise this thread's nice value to at least `nice` (Linux: nice is per thread)."""
    if nice <= 0 or not hasattr(os, "setpriority") or not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError as exc:
        log.debug("could not lower the priority of a training thread: %s", exc)


class ClientLimitError(Exception):
    """The client already has as many queued and running runs as allowed."""


class _Run:
    __slots__ = ("run_id", "config", "client_sid", "stop_event", "storage_error")

    def __init__(self, run_id, config, client_sid, stop_event=None):
        self.run_id = run_id
        self.config = config
        self.client_sid = client_sid
        self.stop_event = stop_event or threading.Event()
        self.storage_error = None  # what the first StoreError met while writing this run said


def weights_npz(network):
    """The network's state_dict as the bytes of an .npz file."""
    buffer = io.BytesIO()
    np.savez(buffer, **network.state_dict())
    return buffer.getvalue()


Outcome = collections.namedtuple("Outcome", "status message summary weights")


def _summary(result):
    summary = dict(result.summary() or {})
    summary.setdefault("status", result.status)
    if result.message:
        summary.setdefault("message", result.message)
    return to_json_safe(summary)


def _outcome(result, run_id):
    """What is stored and sent of a TrainResult (weights as .npz bytes where worth keeping)."""
    weights = None
    if result.status in _KEEP_WEIGHTS:
        try:
            weights = weights_npz(result.network)
        except Exception:
            log.exception("could not serialise the weights of run %s", run_id)
    return Outcome(result.status, result.message, _summary(result), weights)


# -- BLAS threads ------------------------------------------------------------------
#
# Every run trains at the same time as others and as the request threads; a
# multithreaded BLAS (OpenBLAS spins on every core) in each of them made training
# about ten times slower on a 2-core machine and predictions take seconds
# (bench/LOAD.md). NumPy is imported before a server can set OPENBLAS_NUM_THREADS,
# so the limit is set through the library's own call.

_BLAS_SETTERS = (
    "scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_", "openblas_set_num_threads",
    "MKL_Set_Num_Threads", "bli_thread_set_num_threads",
)
_BLAS_GETTERS = (
    "scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
    "openblas_get_num_threads64_", "openblas_get_num_threads", "MKL_Get_Max_Threads",
)


def _blas_libraries():
    """Paths of shared libraries that may be NumPy's BLAS (loaded ones first)."""
    paths = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.rsplit(None, 1)[-1] if "/" in line else ""
                name = os.path.basename(path).lower()
                if ("blas" in name or "mkl" in name or "blis" in name) and path not in paths:
                    paths.append(path)
    except OSError:
        pass  # not Linux
    site = os.path.dirname(os.path.dirname(np.__file__))
    for pattern in ("numpy.libs/*", "numpy/.dylibs/*"):
        paths += [p for p in glob.glob(os.path.join(site, pattern)) if p not in paths]
    return paths


def _blas_call(names, *args):
    for path in _blas_libraries():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name in names:
            function = getattr(library, name, None)
            if function is not None:
                function.restype = ctypes.c_int
                return f"{os.path.basename(path)} ({name})", function(*args)
    return None, None


def limit_blas_threads(threads):
    """Make NumPy's BLAS use `threads` threads per product from now on.

    Returns the library and function used, or None if none was found (then only
    the environment, for processes started later, is set).
    """
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    library, _ = _blas_call(_BLAS_SETTERS, ctypes.c_int(threads))
    return library


def blas_threads():
    """Threads per product NumPy's BLAS uses now, or None if it cannot be asked."""
    return _blas_call(_BLAS_GETTERS)[1]


# -- runs in child processes -------------------------------------------------------

class ChildFailed(Exception):
    """The training process reported an error or died; str() is the message for run:error."""


def _child_main(config_dict, conn, stop, busy, max_pause, nice, cores, running):
    """Entry point of a training process: train, streaming records through `conn`.

    Messages: ("epoch", record) ..., then ("result", Outcome fields) or ("error", text).
    Runs at a lower priority (nice) than the server, with one BLAS thread per product;
    evaluates each epoch on its share of the `cores` (server.budget.RunThreads: `running`
    is the number of runs training now, read before every epoch's evaluation); pauses
    between batches while the server serves an interactive request (`busy` > 0).
    """
    if sys.platform.startswith("linux"):
        try:  # die with the server (SIGKILL included) instead of training for nobody
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    # Ctrl-C in a terminal reaches the whole process group: the server decides what
    # stops (through `stop`), so that an interrupted run is stored as 'stopped'.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        os.nice(nice)
    except (OSError, AttributeError):
        pass
    limit_blas_threads(1)
    parent = os.getppid()

    def should_stop():
        waited = 0.0
        while busy.value > 0 and waited < max_pause:
            time.sleep(0.002)
            waited += 0.002
        return stop.is_set() or os.getppid() != parent

    try:
        from nnengine.config import parse_config

        config = parse_config(config_dict)
        result = trainer.train(config, on_epoch=lambda record: conn.send(("epoch", to_json_safe(dict(record)))),
                               should_stop=should_stop,
                               eval_threads=RunThreads(cores, running))
        conn.send(("result", *_outcome(result, "(child)")))
    except (BrokenPipeError, EOFError, KeyboardInterrupt):
        pass  # the server went away
    except BaseException as exc:  # noqa: BLE001 - reported to the server, which ends the run
        import traceback

        traceback.print_exc()
        try:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        except (OSError, ValueError):
            pass
    finally:
        conn.close()


def _train_in_child(mp, run, on_epochs, on_started, nice, gate, budget):
    """Train `run` in a child process; here, in the server, on_started() is called once
    the child is on its way and on_epochs(records) with the records as they arrive.

    Records that arrived together are handed over together, so that they are stored in
    one transaction: a commit costs 10 to 20 ms on this machine's disk, longer than an
    epoch of the overfitting experiment, so one commit per epoch fell behind the run.
    """
    receive, send = mp.Pipe(duplex=False)
    child = mp.Process(
        target=_child_main,
        args=(run.config.to_dict(), send, run.stop_event, gate.shared_busy(mp), gate.max_pause, nice,
              budget.cores, budget.shared_count(mp)),
        name=f"run-{run.run_id}", daemon=True,
    )
    child.start()
    send.close()  # ours; the child holds its own copy
    try:
        on_started()  # while the child starts up
        while True:
            records, message = _receive_batch(receive)
            if records:
                on_epochs(records)
            if message is None:
                continue
            if message[0] == "result":
                return Outcome(*message[1:])
            if message[0] == "error":
                raise ChildFailed(message[1])
            child.join(5)
            raise ChildFailed(f"the training process ended unexpectedly (exit code {child.exitcode})")
    finally:
        receive.close()
        child.join(5)
        if child.is_alive():
            child.kill()
            child.join(5)


def _receive_batch(receive):
    """Wait for the child's next message, then take every epoch record already waiting.

    Returns (records, message): message is the first other message (("result", ...),
    ("error", text), or ("eof",) when the child is gone), or None.
    """
    records = []
    while not records or receive.poll():
        try:
            message = receive.recv()
        except EOFError:
            return records, ("eof",)
        if message[0] != "epoch":
            return records, message
        records.append(message[1])
    return records, None


def _warm_child():
    """Nothing: starting it starts the forkserver, which imports the engine (see RunManager._warm_up)."""


def multiprocessing_context():
    """forkserver where there is one (a clean, preloaded parent: children start in
    milliseconds and never inherit the server's threads), else spawn."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if "forkserver" in methods:
        # numpy.random is imported lazily by NumPy, so without it every run would import it.
        context.set_forkserver_preload(["numpy.random", "nnengine.trainer", "server.jobs"])
    return context


class RunManager:
    def __init__(self, store, emit, max_workers, max_queued_per_client, gate=None, nice=0,
                 isolation="thread", mp_context=None, budget=None):
        """`isolation`: "thread" trains in the worker thread (tests patch the trainer);
        "process" trains in a child process per run (the server: no GIL shared with
        the request threads, lower CPU priority, a crash ends one run). `nice` is the
        priority drop of training (threads on Linux, or the child processes).
        `mp_context` overrides the multiprocessing context (tests use "fork").
        `budget` (a CoreBudget) shares the cores among the runs training at once; each
        child process evaluates its epochs on its share (thread mode keeps one thread).
        With a forkserver, it is started now, in the background, so that the first run
        does not wait for it (about 0.4 s: a fresh interpreter importing the engine)."""
        if isolation not in ("thread", "process"):
            raise ValueError(f"isolation must be 'thread' or 'process', got {isolation!r}")
        self.isolation = isolation
        self.nice = nice
        self._mp = None
        if isolation == "process":
            self._mp = mp_context or multiprocessing_context()
        self.budget = budget or CoreBudget()
        self.store = store
        self._emit = emit
        self.gate = gate or PriorityGate(max_pause=0)
        self.max_workers = max(1, int(max_workers))
        self.max_queued_per_client = max(1, int(max_queued_per_client))
        self._executor = ThreadPoolExecutor(self.max_workers, thread_name_prefix="run")
        # One lock for the queue and the running set: positions must never be
        # computed from a half-updated picture.
        self._lock = threading.Lock()
        self._queue = collections.deque()  # _Run waiting for a worker, oldest first
        self._running = {}  # run_id -> _Run
        self._closed = False
        self.warmed_up = threading.Event()  # set once the forkserver has started a child
        # This process's runs stay alive in the store while it renews their leases; other
        # processes' runs whose lease lapsed are marked interrupted (server/store/leases.py).
        self.lease_owner = new_owner()
        self._chores = [Periodic(LEASE_RENEW_S, self._keep_leases, name="run-leases").start()]
        if self._mp is not None and self._mp.get_start_method() == "forkserver":
            threading.Thread(target=self._warm_up, name="run-warm-up", daemon=True).start()

    # -- public API ------------------------------------------------------------

    def submit(self, config, client_sid, *, run_id=None, origin=None):
        """Queue a run of a validated Config; returns its run_id.

        `run_id` may be chosen by the caller (see new_run_id) so that the client
        can join the run's room before the first event is emitted. `origin` is
        stored with it (a canonical origin of server/origin.py, or None).
        Raises ClientLimitError, or StoreError when the run cannot be recorded.
        """
        run_id = run_id or new_run_id()
        run = _Run(run_id, config, client_sid, self._mp.Event() if self._mp else None)
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
            self.store.create_run(run_id, config.to_dict(), origin=origin, lease_owner=self.lease_owner)
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

    def delete(self, run_id):
        """Delete a stored run unless it is queued or running: "deleted", "active" or "unknown".

        Under the lock that submit() records runs under, so a run cannot become active between
        the check and the delete; the store also refuses a run whose stored status is active
        (a queued run being stopped has left the queue before its outcome is written).
        Raises StoreError.
        """
        with self._lock:
            if run_id in self._running or any(run.run_id == run_id for run in self._queue):
                return "active"
            return self.store.delete_run(run_id)

    def run_alongside(self, periodic):
        """Start `periodic` (a server.periodic.Periodic); shutdown() stops it."""
        self._chores.append(periodic.start())

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
        for chore in self._chores:
            chore.stop()

    def _keep_leases(self):
        with self._lock:
            active = [run.run_id for run in self._queue] + list(self._running)
        self.store.renew_leases(self.lease_owner, active)
        self.store.expire_leases()

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
            self.budget.set_running(len(self._running))
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
            # After the successor is dispatched: the other runs never see a moment alone.
            self.budget.set_running(len(self._running))

    def _warm_up(self):
        """Start (and end) one idle child, which starts the forkserver with the engine loaded."""
        try:
            child = self._mp.Process(target=_warm_child, name="run-warm-up", daemon=True)
            child.start()
            child.join(60)
            self.warmed_up.set()
        except Exception as exc:  # the first run will start it instead, only later
            log.warning("could not start the training process server ahead of time: %s", exc)

    # -- one run, on a worker thread --------------------------------------------

    def _execute(self, run):
        if self.isolation == "thread":
            _lower_thread_priority(self.nice)
        last_event = None
        try:
            last_event = self._train(run)
        except Exception:  # never let a worker die silently
            log.exception("unexpected failure around run %s", run.run_id)
        finally:
            self._release(run)
        # Sent once the run is no longer active: a client told "done" can no longer stop it.
        if last_event is not None:
            self._send(*last_event, run.run_id)

    def _train(self, run):
        """Train and store `run`; returns its last event, (name, payload), still to be sent."""
        with self.store.session() as store:  # one connection for the run's writes
            return self._train_storing(run, store)

    def _train_storing(self, run, store):
        run_id = run.run_id
        record = RunRecord(store, run_id)

        def on_started():
            record.started()
            self._send("run:started", {"run_id": run_id}, run_id)

        def on_epochs(records):
            # Stored before they are sent: a watcher who joins meanwhile may see an epoch
            # twice (run:watch), never miss one.
            records = [to_json_safe(dict(record)) for record in records]
            record.epochs(records)
            for one in records:
                self._send("run:epoch", {"run_id": run_id, **one}, run_id)

        try:
            if self.isolation == "process":
                outcome = _train_in_child(self._mp, run, on_epochs, on_started, self.nice, self.gate,
                                          self.budget)
            else:
                on_started()
                outcome = self._train_in_thread(run, lambda record: on_epochs([record]))
        except Exception as exc:
            # A bug or a numerical failure in the engine (or a dead child) ends this run only.
            error = str(exc) if isinstance(exc, ChildFailed) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, ChildFailed):
                log.exception("run %s failed in the engine", run_id)
            else:
                log.error("run %s failed: %s", run_id, error)
            record.finish("error", None, None, message=error)
            return "run:error", {"run_id": run_id, "error": error}

        unsaved = record.finish(outcome.status, outcome.summary, outcome.weights, message=outcome.message or None)
        if unsaved is not None:
            # The charts were streamed, but the permalink holds only what the error says.
            return "run:error", {"run_id": run_id, "error": unsaved, "summary": outcome.summary}
        return "run:done", {"run_id": run_id, "summary": outcome.summary}

    def _train_in_thread(self, run, on_epoch):
        gate = self.gate

        def on_epoch_then_yield(record):
            on_epoch(record)
            gate.wait_turn()

        def should_stop():
            gate.wait_turn()
            return run.stop_event.is_set()

        result = trainer.train(run.config, on_epoch=on_epoch_then_yield, should_stop=should_stop)
        return _outcome(result, run.run_id)

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
        except StoreError as exc:
            if run.storage_error is None:
                log.error("run %s: could not write to the database: %s", run.run_id, exc)
                run.storage_error = exc.public
            return False
        return True

    def _send(self, event, data, room):
        try:
            self._emit(event, data, room)
        except Exception:
            # A broken socket must not end the training; the store keeps the result.
            log.exception("could not emit %s to %s", event, room)
