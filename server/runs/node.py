"""A web node's parts in cluster mode (BROKER_URL): Redis's picture of the runs, Celery to send
them, the reaper, and the search lab's trials on the workers. Imported only in cluster mode."""

from .board import RunBoard
from .celery_app import celery_init_app
from .cluster import CeleryBackend
from .reaper import Reaper
from .trials import WorkerSearch


class ClusterNode:
    def __init__(self, app, emit):
        """`emit(event, data, room)` goes through this app's Socket.IO server, whose message
        queue (server/sockets.py) carries it to the node the run's client is on."""
        self.board = RunBoard(app.config["BROKER_URL"])
        self.celery = celery_init_app(app)
        self.search = WorkerSearch(self.board, self.celery)
        self.reaper = Reaper(self.board, app.extensions["store"], emit)

    def backend(self, recorder):
        """The run manager's backend (RunManager's `backend` factory); starts the reaper."""
        self.reaper.start()
        return CeleryBackend(recorder, self.board, self.celery, self.reaper)
