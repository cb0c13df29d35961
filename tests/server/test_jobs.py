"""server.runs.RunManager, without sockets: events go to a recording emit."""

import io
import threading
import time

import numpy as np
import pytest

from nnengine.config import parse_config
from server.runs import ClientLimitError, RunManager, is_run_id
from server.store import Store, StoreError
from tests.support.configs import tiny_config
from tests.support.runs import Recorder
from tests.support.sockets import WAIT_S


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    store.init_schema()
    return store


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def make_manager(store, recorder):
    managers = []

    def factory(max_workers=2, max_queued_per_client=4, store=store):
        manager = RunManager(store, recorder, max_workers, max_queued_per_client)
        managers.append(manager)
        return manager

    yield factory
    for manager in managers:
        manager.shutdown(wait=True)


def config(**training):
    return parse_config(tiny_config(**training))


def test_a_run_streams_its_epochs_then_done_and_is_stored(make_manager, recorder, store):
    manager = make_manager()
    run_id = manager.submit(config(epochs=4), "sid-a")
    assert is_run_id(run_id) and len(run_id) >= 16
    name, done = recorder.wait_finished(run_id)
    assert name == "run:done"
    assert done["summary"]["status"] == "done"

    events = recorder.of(run_id)
    assert events[0][0] == "run:started"
    epochs = [data for name, data in events if name == "run:epoch"]
    assert [e["epoch"] for e in epochs] == [0, 1, 2, 3, 4]
    assert events[-1][0] == "run:done"

    run = store.get_run(run_id)
    assert run["status"] == "done"
    assert run["config"] == config(epochs=4).to_dict()
    assert run["metrics"] == [{k: v for k, v in e.items() if k != "run_id"} for e in epochs]
    weights = np.load(io.BytesIO(store.get_weights(run_id)))
    assert sorted(weights.files) == ["0.W", "0.b", "2.W", "2.b"]
    assert manager.position(run_id) is None


def test_run_ids_are_unique_and_unguessable(make_manager):
    manager = make_manager()
    ids = {manager.submit(config(), f"sid-{i % 3}") for i in range(6)}
    assert len(ids) == 6


def test_the_queue_is_fifo_and_positions_are_reported(make_manager, recorder, gated_train):
    manager = make_manager(max_workers=1)
    first = manager.submit(config(), "a")
    second = manager.submit(config(), "b")
    third = manager.submit(config(), "c")
    recorder.wait(first, "run:epoch")
    assert [manager.position(r) for r in (first, second, third)] == [0, 1, 2]
    assert recorder.of(second, "run:queued")[-1][1]["position"] == 1
    assert recorder.of(third, "run:queued")[-1][1]["position"] == 2
    assert recorder.of(first, "run:queued") == []  # it never waited

    gated_train.release.set()
    for run_id in (first, second, third):
        assert recorder.wait_finished(run_id)[0] == "run:done"
    # Each position is sent once, when it changes: the third moved up when the first finished.
    assert [d["position"] for _, d in recorder.of(second, "run:queued")] == [1]
    assert [d["position"] for _, d in recorder.of(third, "run:queued")] == [2, 1]
    starts = [e["data"]["run_id"] for e in recorder.inbox.snapshot() if e["name"] == "run:started"]
    assert starts == [first, second, third]


def test_stopping_a_queued_run_removes_it_from_the_line(make_manager, recorder, store, gated_train):
    manager = make_manager(max_workers=1)
    running = manager.submit(config(), "a")
    queued = manager.submit(config(), "a")
    behind = manager.submit(config(), "a")
    assert manager.stop(queued)

    name, done = recorder.wait_finished(queued)
    assert name == "run:done" and done["summary"]["status"] == "stopped"
    assert store.get_run(queued)["status"] == "stopped"
    assert store.get_weights(queued) is None
    assert [d["position"] for _, d in recorder.of(behind, "run:queued")] == [2, 1]
    assert manager.position(behind) == 1

    gated_train.release.set()
    assert recorder.wait_finished(behind)[0] == "run:done"
    assert recorder.of(queued, "run:started") == []  # it never ran
    assert gated_train.calls == 2
    assert not manager.stop(queued)  # finished runs cannot be stopped
    assert not manager.stop("unknown")
    del running


def test_stopping_a_running_run_ends_it_as_stopped_with_weights(make_manager, recorder, store, gated_train):
    manager = make_manager()
    run_id = manager.submit(config(), "a")
    recorder.wait(run_id, "run:epoch")
    assert manager.stop(run_id)
    name, done = recorder.wait_finished(run_id)
    assert name == "run:done" and done["summary"]["status"] == "stopped"
    assert store.get_run(run_id)["status"] == "stopped"
    assert store.get_weights(run_id) is not None


def test_the_per_client_limit_counts_queued_and_running_runs(make_manager, gated_train):
    manager = make_manager(max_workers=1, max_queued_per_client=2)
    manager.submit(config(), "a")
    manager.submit(config(), "a")
    with pytest.raises(ClientLimitError):
        manager.submit(config(), "a")
    manager.submit(config(), "b")  # other clients are not affected
    assert manager.active_count("a") == 2


def test_an_engine_exception_fails_that_run_only(make_manager, recorder, store, monkeypatch):
    import nnengine.trainer

    real_train = nnengine.trainer.train

    def flaky(cfg, **kwargs):
        if cfg.seed == 13:
            raise FloatingPointError("boom")
        return real_train(cfg, **kwargs)

    monkeypatch.setattr(nnengine.trainer, "train", flaky)
    manager = make_manager(max_workers=1)
    bad = manager.submit(parse_config({**tiny_config(), "seed": 13}), "a")
    good = manager.submit(config(), "a")

    name, error = recorder.wait_finished(bad)
    assert name == "run:error" and "boom" in error["error"]
    run = store.get_run(bad)
    assert run["status"] == "error" and "boom" in run["message"]
    assert recorder.wait_finished(good)[0] == "run:done"


def test_a_diverged_run_reports_its_message_and_keeps_no_weights(make_manager, recorder, store):
    manager = make_manager()
    diverging = tiny_config(epochs=5)
    diverging["optimizer"] = {"name": "sgd", "lr": 1e3}
    diverging["model"]["loss"] = "mean_squared_error"  # unbounded outputs blow up
    diverging["model"]["weight_init"] = "std"
    diverging["model"]["weight_init_std"] = 10.0
    run_id = manager.submit(parse_config(diverging), "a")
    name, done = recorder.wait_finished(run_id)
    assert name == "run:done"
    assert done["summary"]["status"] == "diverged"
    assert "learning rate" in done["summary"]["message"]
    run = store.get_run(run_id)
    assert run["status"] == "diverged" and run["message"]
    assert store.get_weights(run_id) is None


class FailingStore(Store):
    """A database that fills up once the run is under way: no new epoch rows fit any more (an
    update of the run's own row still does)."""

    def append_metrics(self, run_id, records):
        raise StoreError("the disk is full", "disk_full")

    def finish_run(self, run_id, status, summary, weights_npz_bytes=None, message=None, records=()):
        if records:
            raise StoreError("the disk is full", "disk_full")
        return super().finish_run(run_id, status, summary, weights_npz_bytes, message)


def test_a_database_failure_mid_run_is_reported_not_fatal(make_manager, recorder, tmp_path):
    store = FailingStore(tmp_path / "full.sqlite")
    store.init_schema()
    manager = make_manager(max_workers=1, store=store)
    first = manager.submit(config(), "a")
    second = manager.submit(config(), "a")

    name, error = recorder.wait_finished(first)
    assert name == "run:error"
    assert "could not be saved" in error["error"] and "disk is full" in error["error"]
    assert error["error"].endswith("(missing: epochs 0-3)")
    # What is stored says the same: finished, without its epochs.
    stored = store.get_run(first)
    assert stored["status"] == "done" and stored["metrics"] == []
    assert stored["message"] == "not fully saved: the disk is full (missing: epochs 0-3)"
    # The epochs were still streamed, and the worker lives on for the next run.
    assert len(recorder.of(first, "run:epoch")) == 4
    assert recorder.wait_finished(second)[0] == "run:error"


def test_shutdown_stops_running_and_queued_runs(make_manager, recorder, store, gated_train):
    manager = make_manager(max_workers=1)
    running = manager.submit(config(), "a")
    queued = manager.submit(config(), "a")
    recorder.wait(running, "run:epoch")
    started = time.monotonic()
    manager.shutdown(wait=True)
    assert time.monotonic() - started < 2
    assert store.get_run(running)["status"] == "stopped"
    assert store.get_run(queued)["status"] == "stopped"
    with pytest.raises(RuntimeError):
        manager.submit(config(), "a")


def test_a_failing_emit_does_not_stop_training(store, tmp_path):
    def broken_emit(event, data, room):
        raise ConnectionError("socket gone")

    manager = RunManager(store, broken_emit, 1, 4)
    try:
        run_id = manager.submit(config(), "a")
        deadline = time.monotonic() + WAIT_S
        while store.get_run(run_id)["status"] != "done":
            assert time.monotonic() < deadline
            threading.Event().wait(0.01)
        assert len(store.get_run(run_id)["metrics"]) == 4
    finally:
        manager.shutdown()
