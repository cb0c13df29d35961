"""Fixtures for the server tests: apps on a temporary database, HTTP and Socket.IO clients.

Socket events emitted from worker threads are awaited with bounded waits on a
condition variable (see Inbox), never with fixed sleeps.
"""

import copy
import threading
import time

import pytest

from server import create_app, socketio

# The store's databases: `postgres`, `postgres_url`, `database` (SQLite and PostgreSQL).
pytest_plugins = ["tests.store_backends"]

# Tiny but real: trains in a few milliseconds per epoch.
TINY_CONFIG = {
    "seed": 0,
    "data": {"train_size": 50, "validation_size": 0, "test_size": 50},
    "model": {"hidden_layers": [{"units": 10, "activation": "relu"}]},
    "optimizer": {"name": "sgd", "lr": 0.1},
    "training": {"epochs": 3, "batch_size": 10},
}

# Long enough (seconds) that stopping it is observable, small enough per batch
# that a stop lands within milliseconds.
LONG_CONFIG = {
    "seed": 0,
    "data": {"train_size": 2000, "validation_size": 0, "test_size": 100},
    "model": {"hidden_layers": [{"units": 100, "activation": "relu"}]},
    "optimizer": {"name": "sgd", "lr": 0.01},
    "training": {"epochs": 200, "batch_size": 10},
}

WAIT_S = 10.0  # upper bound for any single wait; tests normally finish far sooner


def tiny_config(**training):
    config = copy.deepcopy(TINY_CONFIG)
    config["training"].update(training)
    return config


def long_config():
    return copy.deepcopy(LONG_CONFIG)


class Inbox(list):
    """Stands in for SocketIOTestClient.queue: the test client appends every
    received event to it (from worker threads too), and we can block on it."""

    def __init__(self):
        super().__init__()
        self.cond = threading.Condition()

    def append(self, item):
        with self.cond:
            super().append(item)
            self.cond.notify_all()

    def snapshot(self):
        with self.cond:
            return list(self)

    def wait_until(self, predicate, timeout=WAIT_S):
        """Block until predicate(list of events) is truthy; return its value."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = predicate(list(self))
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out; received {[e['name'] for e in self]}")
                self.cond.wait(remaining)


class SocketUser:
    """A Socket.IO test client plus helpers to read what it received."""

    def __init__(self, sio_client):
        self.sio = sio_client
        self.inbox = Inbox()
        sio_client.queue = self.inbox  # never call get_received(): it would replace the inbox

    def emit(self, event, *args):
        return self.sio.emit(event, *args, callback=True)

    def events(self, name=None, run_id=None):
        """Payloads (first argument) of the events received so far, in order."""
        return [
            e["args"][0]
            for e in self.inbox.snapshot()
            if (name is None or e["name"] == name)
            and (run_id is None or (e["args"] and e["args"][0].get("run_id") == run_id))
        ]

    def wait_for(self, name, run_id=None, timeout=WAIT_S, count=1):
        """The first `count` payloads of `name` for `run_id`, waiting for them if need be."""

        def found(received):
            matches = [
                e["args"][0] for e in received
                if e["name"] == name and (run_id is None or e["args"][0].get("run_id") == run_id)
            ]
            return matches if len(matches) >= count else None

        return self.inbox.wait_until(found, timeout)[:count]

    def wait_finished(self, run_id, timeout=WAIT_S):
        """The run:done or run:error payload of a run (as (name, payload))."""

        def found(received):
            for e in received:
                if e["name"] in ("run:done", "run:error") and e["args"][0].get("run_id") == run_id:
                    return e["name"], e["args"][0]
            return None

        return self.inbox.wait_until(found, timeout)

    def start(self, config):
        ack = self.emit("run:start", {"config": config})
        assert "run_id" in ack, ack
        return ack


@pytest.fixture
def make_app(tmp_path):
    """Build apps on tmp_path's database; each is shut down (runs stopped) at teardown."""
    apps = []

    def factory(**overrides):
        settings = {
            "TESTING": True,
            "DATABASE": str(tmp_path / "runs.sqlite"),
            "MAX_CONCURRENT_RUNS": 2,
            "MAX_QUEUED_PER_CLIENT": 4,
        }
        settings.update(overrides)
        app = create_app(settings)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions["runs"].shutdown(wait=True)
        app.extensions["store"].close()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def socketio_client(app, client):
    sio = socketio.test_client(app, flask_test_client=client)
    yield sio
    if sio.is_connected():
        sio.disconnect()


@pytest.fixture
def user(socketio_client):
    return SocketUser(socketio_client)


@pytest.fixture
def new_user(app, client):
    """Factory for more socket users of the same app (each its own connection)."""
    clients = []

    def factory():
        sio = socketio.test_client(app, flask_test_client=app.test_client())
        clients.append(sio)
        return SocketUser(sio)

    yield factory
    for sio in clients:
        if sio.is_connected():
            sio.disconnect()


def wait_status(app, run_id, statuses, timeout=WAIT_S):
    """Poll the store (bounded) until the run reaches one of `statuses`."""
    deadline = time.monotonic() + timeout
    while True:
        run = app.extensions["store"].get_run(run_id)
        if run and run["status"] in statuses:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} is {run and run['status']}, wanted {statuses}")
        time.sleep(0.01)


class _FakeNetwork:
    def state_dict(self):
        import numpy as np

        return {"0.W": np.zeros((2, 2)), "0.b": np.zeros(2)}


class GatedTrainer:
    """Replaces nnengine.trainer.train: reports epoch 0, then holds its worker
    until `release` is set (or it is told to stop). Makes queue tests deterministic."""

    def __init__(self):
        self.release = threading.Event()
        self.calls = 0

    def __call__(self, config, *, data=None, on_epoch=None, should_stop=None):
        from nnengine.trainer import TrainResult

        self.calls += 1
        record = {"epoch": 0, "train_loss": 2.3, "train_acc": 0.1,
                  "test_loss": 2.3, "test_acc": 0.1, "elapsed_s": 0.0}
        on_epoch(record)
        while not self.release.wait(0.005):
            if should_stop():
                return TrainResult("stopped", [record], _FakeNetwork(), "stopped during epoch 1")
        return TrainResult("done", [record], _FakeNetwork(), "")


@pytest.fixture
def gated_train(monkeypatch):
    gate = GatedTrainer()
    monkeypatch.setattr("nnengine.trainer.train", gate)
    yield gate
    gate.release.set()
