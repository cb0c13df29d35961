"""What a worker process trains with: the store, Redis, the Socket.IO emitter, the recorder.

Built in the process that uses it, at first use after a fork: Celery's prefork pool forks its
training processes from the worker's main process, and a connection must never be shared across
a fork.
"""

import os
import socket

import socketio

from ..runs.board import REDIS_OPTIONS, RunBoard
from ..runs.reaper import Reaper
from ..runs.recording import RunRecorder
from ..sockets import CHANNEL
from ..store import Store



def worker_name():
    """Unique per worker process on a machine (Celery's default, celery@HOST, is not)."""
    return f"playground-{os.getpid()}@{socket.gethostname()}"


class WorkerContext:
    def __init__(self, broker_url, database, name, concurrency=1):
        self.broker_url = broker_url
        self.database = database
        self.name = name
        self.concurrency = concurrency
        self._here = None

    def here(self):
        """This process's resources (made now if this process has none yet)."""
        if self._here is None or self._here.pid != os.getpid():
            self._here = ProcessResources(self)
        return self._here


class ProcessResources:
    def __init__(self, context):
        self.pid = os.getpid()
        self.holder = f"{context.name}:{self.pid}"
        self.store = Store(context.database)
        self.board = RunBoard(context.broker_url)
        # "Emitting from an external process": a write-only client manager on the web nodes'
        # message queue; the nodes deliver to the clients in the run's room.
        self.sockets = socketio.RedisManager(context.broker_url, channel=CHANNEL, write_only=True,
                                             redis_options=dict(REDIS_OPTIONS))
        self.recorder = RunRecorder(self.store, self.emit)
        self.reaper = Reaper(self.board, self.store, self.recorder.emit)

    def emit(self, event, data, room):
        self.sockets.emit(event, data, namespace="/", room=room)
