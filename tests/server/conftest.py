"""Fixtures for the server tests: apps on a temporary database, HTTP and Socket.IO clients."""

import threading

import pytest

from server import create_app
from tests.support.sockets import SocketUser, socket_client
# The store's databases: `postgres`, `postgres_url`, `database` (SQLite and PostgreSQL).
from tests.support.store_backends import (database, postgres, postgres_database, postgres_template,  # noqa: F401
                                          postgres_url)


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
def labs_app(make_app):
    """An app whose lab searches train one trial at a time (the labs are registered by create_app)."""
    return make_app(LAB_SEARCH_WORKERS=1)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def socketio_client(app, client):
    sio = socket_client(app, client)
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
        sio = socket_client(app)
        clients.append(sio)
        return SocketUser(sio)

    yield factory
    for sio in clients:
        if sio.is_connected():
            sio.disconnect()


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
