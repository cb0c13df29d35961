"""The cluster's picture of its runs in a real Redis (server/runs/board.py), and the reaper that
ends the runs of dead workers (server/runs/reaper.py), without any worker or web node."""

import contextlib
import os
import time

import pytest

from server.runs.board import QueueUnavailable, RunBoard
from server.runs.reaper import LOST_WORKER, Reaper
from server.store import Store
from tests.support.configs import tiny_config
from tests.support.runs import Recorder
from tests.support.services import Unavailable, redis_instance


@pytest.fixture(scope="module")
def redis_server():
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(redis_instance())
        except Unavailable as exc:
            if os.environ.get("CI"):
                pytest.fail(f"CI is set but {exc}")
            pytest.skip(str(exc))
        yield server


@pytest.fixture
def board(redis_server):
    board = RunBoard(redis_server.url)
    board.redis.flushdb()
    yield board
    board.close()


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    store.init_schema()
    return store


def test_the_line_gives_positions_and_a_run_is_claimed_once(board):
    assert [board.enqueue(run, "sid-a") for run in ("r1", "r2", "r3")] == [1, 2, 3]
    assert (board.position("r2"), board.active_count("sid-a"), board.active_count("sid-b")) == (2, 3, 0)
    assert board.claim("r1", "w1:10")
    assert not board.claim("r1", "w2:20")  # a second delivery of the same message trains nothing
    assert (board.position("r1"), board.position("r2"), board.queued()) == (0, 1, ["r2", "r3"])
    assert board.unqueue("r3") and not board.unqueue("r3")
    assert not board.claim("r3", "w2:20")  # stopped while in line: its message finds nothing
    assert board.active_count("sid-a") == 2
    assert board.release("r1", "w1:10") and board.position("r1") is None
    assert board.active_count("sid-a") == 1


def test_a_lease_is_renewed_by_its_holder_only_and_lapses_when_it_runs_out(board):
    board.enqueue("r1", None)
    board.claim("r1", "w1:10")
    assert board.renew("r1", "w1:10") and not board.renew("r1", "w2:20")
    assert board.lapsed() == []
    board.redis.delete("playground:lease:r1")  # what LEASE_S seconds without a heartbeat do
    assert board.lapsed() == ["r1"] and not board.renew("r1", "w1:10")
    board.drop("r1")  # a reaper ended it
    assert not board.release("r1", "w1:10") and board.position("r1") is None


def test_a_stop_is_heard_on_its_channel_and_kept_as_a_flag(board):
    listener = board.stop_listener("r1")
    board.request_stop("r1")
    deadline = time.monotonic() + 5
    message = None
    while message is None and time.monotonic() < deadline:
        message = listener.get_message(timeout=0.5)
    assert message is not None and message["type"] == "message"
    assert board.stop_requested("r1") and not board.stop_requested("r2")
    listener.close()


def test_workers_count_while_they_announce_themselves(board):
    board.worker_alive("a@host", 2)
    board.worker_alive("b@host", 1)
    assert board.worker_slots() == 3
    board.redis.delete("playground:worker:b@host")  # its heartbeat stopped
    assert board.worker_slots() == 2
    board.worker_gone("a@host")
    assert board.worker_slots() == 0


def test_the_reaper_marks_a_lapsed_run_interrupted_once_and_tells_its_room(board, store):
    recorder = Recorder()
    store.create_run("lost1", tiny_config())
    store.set_status("lost1", "running")
    store.create_run("fine1", tiny_config())
    store.set_status("fine1", "running")
    for run in ("lost1", "fine1"):
        board.enqueue(run, "sid-a")
        board.claim(run, "w1:10")
    board.redis.delete("playground:lease:lost1")
    reapers = [Reaper(board, store, recorder), Reaper(board, store, recorder)]
    assert reapers[0].sweep() == ["lost1"] and reapers[1].sweep() == []
    assert store.get_run("lost1")["status"] == "interrupted"
    assert store.get_run("lost1")["message"] == LOST_WORKER
    assert store.get_run("fine1")["status"] == "running"
    assert recorder.of("lost1") == [("run:error", {"run_id": "lost1", "error": LOST_WORKER,
                                                   "status": "interrupted"})]
    assert recorder.of("fine1") == [] and board.active_count("sid-a") == 1


def test_a_run_that_ended_before_its_lease_lapsed_is_left_as_it_ended(board, store):
    recorder = Recorder()
    store.create_run("ended1", tiny_config())
    store.finish_run("ended1", "done", {"status": "done"})
    board.enqueue("ended1", None)
    board.claim("ended1", "w1:10")
    board.redis.delete("playground:lease:ended1")  # its worker died between the store and Redis
    assert Reaper(board, store, recorder).sweep() == []
    assert store.get_run("ended1")["status"] == "done" and recorder.of("ended1") == []
    assert board.running() == {}


def test_redis_down_is_one_clear_error(redis_server):
    board = RunBoard(redis_server.url.replace(str(redis_server.port), str(_closed_port())))
    with pytest.raises(QueueUnavailable, match=r"the run queue \(Redis at 127\.0\.0\.1:\d+\) is not reachable"):
        board.ping()
    with pytest.raises(QueueUnavailable):
        board.enqueue("r1", "sid")


def _closed_port():
    from tests.support.services import free_port

    return free_port()
