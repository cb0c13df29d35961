"""The Celery backend: the web node's side of cluster mode.

A run is recorded (by the manager), put in line in Redis, and sent to the workers as a Celery
task; a worker that takes it trains it and reports through the store and the Socket.IO message
queue (server/worker/). This side only knows what Redis knows: positions in line, who is
running, and how to ask a run to stop.
"""

import logging
import threading

from kombu.exceptions import OperationalError

from .backend import Run
from .board import QueueUnavailable
from .celery_app import TRAIN_RUN


log = logging.getLogger(__name__)


def report_positions(board, emit):
    """Tell every run in line its place (after one left it)."""
    for index, run_id in enumerate(board.queued()):
        emit("run:queued", {"run_id": run_id, "position": index + 1}, run_id)


class CeleryBackend:
    isolation = "cluster"

    def __init__(self, recorder, board, celery, reaper=None):
        self.recorder = recorder
        self.board = board
        self.celery = celery
        self.reaper = reaper
        self.warmed_up = threading.Event()
        self.warmed_up.set()  # nothing to warm up here: the workers are their own processes

    def check_available(self):
        """Raises QueueUnavailable (a RuntimeError naming Redis) when runs cannot be queued."""
        self.board.ping()

    def new_stop_event(self):
        # The run's real stop signal is the Redis flag its worker listens for (board.request_stop).
        return threading.Event()

    def submit(self, run):
        position = self.board.enqueue(run.run_id, run.client_sid)
        # Before the task exists: a worker's run:started must never be followed by this.
        self.recorder.emit("run:queued", {"run_id": run.run_id, "position": position}, run.run_id)
        try:
            self.celery.send_task(TRAIN_RUN, args=[run.run_id, run.config.to_dict()])
        except (OperationalError, OSError) as exc:
            log.error("could not send run %s to the workers: %s", run.run_id, exc)
            try:
                self.board.unqueue(run.run_id)
            except QueueUnavailable:
                pass
            raise QueueUnavailable(f"the run could not be sent to the workers (Redis at"
                                   f" {self.board.address}): {exc}") from exc

    def position(self, run_id):
        try:
            return self.board.position(run_id)
        except QueueUnavailable as exc:
            log.warning("%s", exc)
            return None

    def active_count(self, client_sid):
        return self.board.active_count(client_sid)

    def stop(self, run_id):
        """Raises QueueUnavailable when Redis cannot be reached (the caller says so)."""
        if self.board.unqueue(run_id):
            self.recorder.finish_unstarted(Run(run_id, None, None), "stopped before it started")
            report_positions(self.board, self.recorder.emit)
            return True
        if self.board.position(run_id) == 0:
            # The worker's stop listener hears it within milliseconds; the trainer checks between batches.
            self.board.request_stop(run_id)
            return True
        return False

    def shutdown(self, wait=True):
        """The runs belong to the cluster and go on; this node only stops watching for lost ones."""
        if self.reaper is not None:
            self.reaper.stop()
        self.board.close()
