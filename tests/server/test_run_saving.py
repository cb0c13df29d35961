"""A run's status and its client tell the truth about what was stored: with the database locked by
another process for a while, for longer than the end of the run waits, and with the disk filling up
mid-run (server/runs/saving.py through the run manager, on real SQLite files)."""

import re
import subprocess
import sys

import pytest

import server.runs.saving as saving
import server.store.backends as backends
from nnengine.config import parse_config
from server.runs import RunManager
from server.runs.saving import epoch_ranges
from server.store import Store
from tests.support.configs import tiny_config
from tests.support.disks import small_disk  # noqa: F401 (a fixture)
from tests.support.runs import Recorder

LOCKED = "the database is locked by another process (still busy after the wait)"
EPOCHS = 6


class Locker:
    """Another process that takes the database's write lock when told, and gives it back."""

    def __init__(self, path):
        code = ("import sqlite3, sys\n"
                f"conn = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
                "for line in sys.stdin:\n"
                "    conn.execute('BEGIN IMMEDIATE' if line.strip() == 'lock' else 'ROLLBACK')\n"
                "    print('ok', flush=True)\n")
        self.process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)

    def _say(self, word):
        self.process.stdin.write(word + "\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().strip() == "ok"

    def lock(self):
        self._say("lock")

    def release(self):
        self._say("release")

    def close(self):
        self.process.stdin.close()
        self.process.wait(5)


class Acting(Recorder):
    """A recording emit that does something when an event is sent: the run's thread waits for it
    (a run emits each epoch right after storing it), so what the test does lands between epochs."""

    def __init__(self):
        super().__init__()
        self.actions = {}  # (event, epoch or None) -> action

    def __call__(self, event, data, room):
        action = self.actions.pop((event, data.get("epoch")), None)
        if action is not None:
            action()
        super().__call__(event, data, room)


@pytest.fixture
def quick_busy(monkeypatch):
    """Writes give up on a lock after 0.2 s, and the end of a run after 1 s of tries."""
    monkeypatch.setattr(backends, "BUSY_TIMEOUT_S", 0.2)
    monkeypatch.setattr(saving, "FINISH_RETRY_S", 1.0)
    monkeypatch.setattr(saving, "RETRY_PAUSE_S", 0.1)


@pytest.fixture
def manager_on(tmp_path):
    managers = []

    def factory(path):
        store = Store(path)
        store.init_schema()
        emit = Acting()
        manager = RunManager(store, emit, max_workers=1, max_queued_per_client=4)
        managers.append(manager)
        return manager, emit, store

    yield factory
    for manager in managers:
        manager.shutdown(wait=True)


def assert_the_truth(error, stored):
    """What the client was told and what the store holds say the same."""
    missing = re.search(r"\(missing: (.*)\)$", error).group(1)
    streamed = list(range(EPOCHS + 1))
    lost = set()
    for first, last in re.findall(r"(\d+)(?:-(\d+))?", missing.split(", its")[0].split(" and its")[0]):
        lost |= set(range(int(first), int(last or first) + 1))
    assert [m["epoch"] for m in stored["metrics"]] == [e for e in streamed if e not in lost]
    if "how it ended" in missing:
        assert stored["status"] == "running"  # not stored as finished: the client was told so
    else:
        assert stored["status"] == "done" and stored["message"].endswith(f"(missing: {missing})")


def test_epochs_not_stored_while_another_process_held_the_lock_are_stored_after_it(
        tmp_path, manager_on, quick_busy):
    path = tmp_path / "runs.sqlite"
    manager, emit, store = manager_on(path)
    locker = Locker(path)
    emit.actions[("run:epoch", 1)] = locker.lock  # epochs 2 and 3 meet the lock
    emit.actions[("run:epoch", 3)] = locker.release
    try:
        run_id = manager.submit(parse_config(tiny_config(epochs=EPOCHS)), "a")
        name, done = emit.wait_finished(run_id)
    finally:
        locker.close()
    assert name == "run:done" and done["summary"]["status"] == "done"
    stored = store.get_run(run_id)
    assert stored["status"] == "done" and stored["message"] is None
    assert [m["epoch"] for m in stored["metrics"]] == list(range(EPOCHS + 1))
    assert store.get_weights(run_id) is not None


def test_a_lock_held_past_the_end_is_told_and_the_run_is_not_stored_as_done(tmp_path, manager_on, quick_busy):
    path = tmp_path / "runs.sqlite"
    manager, emit, store = manager_on(path)
    locker = Locker(path)
    emit.actions[("run:epoch", 1)] = locker.lock
    try:
        run_id = manager.submit(parse_config(tiny_config(epochs=EPOCHS)), "a")
        emit.actions[("run:error", None)] = locker.release  # only once the run has given up
        name, error = emit.wait_finished(run_id)
    finally:
        locker.close()
    assert name == "run:error"
    assert error["error"] == (f"the run finished (done) but could not be saved: {LOCKED}"
                              f" (missing: epochs 2-{EPOCHS}, its weights and how it ended)")
    assert error["summary"]["status"] == "done"
    stored = store.get_run(run_id)
    assert_the_truth(error["error"], stored)
    assert stored["status"] == "running" and [m["epoch"] for m in stored["metrics"]] == [0, 1]


def test_a_disk_that_fills_mid_run_is_told_as_it_is_stored(small_disk, manager_on):
    manager, emit, store = manager_on(small_disk.file("runs.sqlite"))
    emit.actions[("run:epoch", 2)] = small_disk.fill
    run_id = manager.submit(parse_config(tiny_config(epochs=EPOCHS)), "a")
    name, error = emit.wait_finished(run_id)
    assert name == "run:error" and "could not be saved: the disk is full (missing: " in error["error"]
    assert "I/O" not in error["error"]
    stored = store.get_run(run_id)  # read on the full disk
    assert_the_truth(error["error"], stored)
    small_disk.free()


def test_epoch_ranges_read_like_a_list():
    assert epoch_ranges([2]) == "epoch 2"
    assert epoch_ranges([5, 3, 4, 9, 11, 12]) == "epochs 3-5, 9 and 11-12"
    assert epoch_ranges([0, 1]) == "epochs 0-1"
