"""A real `python -m server` process and real Socket.IO clients of it.

The server subprocess comes from bench/load.py (ServerProcess), the same one the load bench drives.
"""
import importlib.util
import os
import threading
import time

import socketio

from tests.support.paths import ROOT
from tests.support.sockets import WAIT_S


def _bench():
    spec = importlib.util.spec_from_file_location("bench_load", os.path.join(ROOT, "bench", "load.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ServerProcess = _bench().ServerProcess


class Listener:
    """A python-socketio client that records run events and waits for them."""

    def __init__(self, url, **client_options):
        self.url = url
        self.sio = socketio.Client(reconnection=False, **client_options)
        self.cond = threading.Condition()
        self.events = []
        for name in ("run:started", "run:epoch", "run:done", "run:error"):
            self.sio.on(name, self._record(name))

    def _record(self, name):
        def handler(data):
            with self.cond:
                self.events.append((name, data))
                self.cond.notify_all()
        return handler

    def connect(self, transport="websocket", **kwargs):
        self.sio.connect(self.url, transports=[transport], wait_timeout=5, **kwargs)
        return self

    def wait(self, predicate, timeout=WAIT_S):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(self.events):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out; got {[n for n, _ in self.events]}")
                self.cond.wait(remaining)

    def close(self):
        # In the background: websocket-client waits up to 3 s for the close frame.
        if self.sio.connected:
            threading.Thread(target=self.sio.disconnect, daemon=True).start()


def close_all(clients):
    for client in clients:
        client.close()
