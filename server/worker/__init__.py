"""The training worker of cluster mode: `python -m server.worker --broker URL --db URL [--concurrency N]`.

A Celery worker (prefork pool: N training processes) that trains the runs and search trials the
web nodes send (tasks.py), writes their epochs to the store and emits run:epoch, run:done and
run:error to each run's room through the Socket.IO message queue.

    context.py  a worker process's store, Redis and emitter, made after the fork
    tasks.py    the tasks: a run, a search trial
    lease.py    a run's lease and stop listener, beside its training
    __main__.py the command line
"""

import logging
import signal

from celery import signals

from nnengine.blas import limit_blas_threads
from ..runs.board import QueueUnavailable
from ..runs.celery_app import make_celery
from ..runs.child import die_with_parent
from ..runs.nice import lower_process_priority
from ..runs.reaper import Reaper
from ..store import StoreError
from .context import WorkerContext, worker_name
from .tasks import register_tasks

log = logging.getLogger(__name__)


def make_worker(broker_url, database, concurrency=1, nice=10, name=None):
    """The worker's Celery app, its tasks registered and its processes set up (see below);
    returns (celery, context)."""
    name = name or worker_name()
    context = WorkerContext(broker_url, database, name, concurrency)
    celery = make_celery(broker_url, name="playground-worker")
    register_tasks(celery, context)

    @signals.worker_process_init.connect(weak=False)
    def set_up_training_process(**_):
        # Killed with its worker (a SIGKILL included) rather than training for nobody; below the
        # web node's requests when they share the machine; one BLAS thread per product, as on one
        # machine (the same numbers, and processes, not threads, share the cores).
        die_with_parent()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides what stops
        lower_process_priority(nice)
        limit_blas_threads(1)

    watch = {}

    @signals.worker_ready.connect(weak=False)
    def start_watching(**_):
        # In the main process: announce this worker (the search lab sizes its window by the
        # live workers) and sweep for runs whose worker died.
        here = context.here()
        try:
            here.store.init_schema()  # created or upgraded at start, as a web node does
        except StoreError as exc:  # the database may come up later: each write retries
            log.error("database %s is not usable yet: %s", here.store.location, exc)
        watch["reaper"] = Reaper(here.board, here.store, here.recorder.emit,
                                 beat=lambda: here.board.worker_alive(name, concurrency)).start()

    @signals.worker_shutting_down.connect(weak=False)
    def stop_own_runs(**_):
        # Celery's warm shutdown waits for the running tasks: ask them to stop (within a batch,
        # stored as 'stopped', like a server stopped on one machine) instead of waiting for them.
        here = context.here()
        try:
            for run_id, holder in here.board.running().items():
                if holder.startswith(name + ":"):
                    here.board.request_stop(run_id)
            here.board.worker_gone(name)
        except QueueUnavailable as exc:
            log.warning("could not stop this worker's runs through Redis: %s", exc)
        if "reaper" in watch:
            watch["reaper"].stop()

    return celery, context
