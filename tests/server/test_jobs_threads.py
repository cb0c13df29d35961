"""Cores shared among runs (server.budget), records handed over in batches, and the
forkserver started ahead of the first run."""

import multiprocessing
import time

import pytest

from nnengine.config import parse_config
from server.budget import CoreBudget, CoreProbe, RunThreads, read_proc_stat, share_of
from server.runs import RunManager
from server.runs.child import receive_batch
from server.store import Store
from tests.support.configs import tiny_config
from tests.support.runs import Recorder
from tests.support.sockets import WAIT_S


@pytest.mark.parametrize("cores, running, share", [
    (2, 0, 2), (2, 1, 2), (2, 2, 1), (2, 3, 1), (2, 8, 1),
    (4, 1, 4), (4, 2, 2), (4, 3, 1), (8, 3, 2), (1, 1, 1),
])
def test_each_run_gets_its_share_of_the_cores(cores, running, share):
    assert share_of(cores, running) == share


def test_the_budget_shares_the_cores_among_the_runs_set():
    budget = CoreBudget(cores=2)
    shared = budget.shared_count(multiprocessing.get_context("spawn"))
    assert (budget.share(), shared.value) == (2, 0)
    budget.set_running(1)
    assert (budget.share(), shared.value) == (2, 1)
    budget.set_running(2)
    assert (budget.share(), shared.value, budget.running_count) == (1, 2, 2)
    budget.set_running(0)
    assert (budget.share(), shared.value) == (2, 0)


class Machine:
    """A fake clock, CPU clock and /proc/stat: `run(seconds, idle_cores, own_cores)`."""

    def __init__(self, cores=2):
        self.cores, self.wall, self.cpu, self.idle, self.total = cores, 0.0, 0.0, 0, 0

    def run(self, seconds, idle_cores, own_cores):
        self.wall += seconds
        self.cpu += own_cores * seconds
        self.idle += round(100 * idle_cores * seconds)  # ticks of 10 ms
        self.total += round(100 * self.cores * seconds)

    def probe(self, window=0.5):
        return CoreProbe(self.cores, window, read=lambda: (self.idle, self.total),
                         clock=lambda: self.wall, cpu=lambda: self.cpu)


def test_the_probe_sees_idle_cores_plus_its_own():
    machine = Machine()
    probe = machine.probe()
    machine.run(0.2, idle_cores=2, own_cores=0)
    assert probe.sample() is None  # less than a window
    machine.run(0.8, idle_cores=0.5, own_cores=1)  # a quiet machine: it could have both
    assert probe.sample() == pytest.approx(0.2 * 2 + 0.8 * 0.5 + 0.8 * 1)
    machine.run(1.0, idle_cores=0, own_cores=0.4)  # others take most of the machine
    assert probe.sample() == pytest.approx(0.4)
    machine.run(0.1, idle_cores=2, own_cores=0)
    assert probe.sample() == pytest.approx(0.4)  # the last window's, until the next one is full


def test_read_proc_stat_reads_the_machine_or_says_none(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 5 20 300 7 0 1 2 0 0\ncpu0 50 2 10 150 3 0 0 1 0 0\n")
    assert read_proc_stat(stat) == (307, 435)
    assert read_proc_stat(tmp_path / "missing") is None
    stat.write_text("garbage\n")
    assert read_proc_stat(stat) is None


class Count:
    def __init__(self, value):
        self.value = value


def test_a_run_keeps_to_the_cores_it_gets():
    machine = Machine()
    running = Count(1)
    threads = RunThreads(2, running, probe=machine.probe())
    assert threads() == 2  # not measured yet: alone, it takes both
    machine.run(0.6, idle_cores=0.1, own_cores=1.9)
    assert threads() == 2  # quiet: it uses both
    machine.run(0.6, idle_cores=0, own_cores=1.2)
    assert threads() == 2  # a browser beside it: two threads on 1.2 cores still beat one
    machine.run(0.6, idle_cores=0, own_cores=0.5)
    assert threads() == 1  # a busy machine: one thread
    machine.run(0.6, idle_cores=0.2, own_cores=1)
    assert threads() == 1  # 1.2 cores: not enough to go back
    machine.run(0.6, idle_cores=0.4, own_cores=1)
    assert threads() == 2  # the others are done
    running.value = 2
    assert threads() == 1  # another run started: its share is one thread whatever the machine
    running.value = 1
    assert threads() == 2


def test_a_run_on_many_cores_gives_up_what_it_does_not_get_and_takes_it_back_one_by_one():
    machine = Machine(cores=8)
    threads = RunThreads(8, Count(1), probe=machine.probe())
    machine.run(0.6, idle_cores=0, own_cores=2.5)
    assert threads() == 3
    machine.run(0.6, idle_cores=2, own_cores=2.9)
    assert threads() == 4
    machine.run(0.6, idle_cores=4, own_cores=3.9)
    assert threads() == 5


def test_without_proc_stat_the_share_alone_decides():
    running = Count(1)
    threads = RunThreads(4, running, probe=CoreProbe(4, window=0, read=lambda: None))
    assert [threads(), threads()] == [4, 4]
    running.value = 3
    assert threads() == 1


class CountLog(CoreBudget):
    """A budget that remembers every count it was given."""

    def __init__(self, cores):
        super().__init__(cores)
        self.counts = []

    def set_running(self, count):
        self.counts.append(count)
        super().set_running(count)


def test_the_manager_counts_its_training_runs(tmp_path, gated_train):
    store = Store(tmp_path / "runs.sqlite")
    store.init_schema()
    budget = CountLog(cores=2)
    recorder = Recorder()
    manager = RunManager(store, recorder, max_workers=2, max_queued_per_client=4, budget=budget)
    try:
        first = manager.submit(parse_config(tiny_config()), "a")
        recorder.wait(first, "run:epoch")
        assert (budget.running_count, budget.share()) == (1, 2)
        second = manager.submit(parse_config(tiny_config()), "a")
        recorder.wait(second, "run:epoch")
        assert (budget.running_count, budget.share()) == (2, 1)
        queued = manager.submit(parse_config(tiny_config()), "a")  # waits for a worker: not counted
        assert manager.position(queued) == 1 and budget.running_count == 2
        gated_train.release.set()
        for run_id in (first, second, queued):
            assert recorder.wait_finished(run_id)[0] == "run:done"
        deadline = time.monotonic() + WAIT_S
        while budget.running_count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert budget.running_count == 0
        # The queued run took the first finished run's place without a moment at one run.
        assert budget.counts == [1, 2, 2, 2, 1, 0]
    finally:
        manager.shutdown(wait=True)


def test_records_that_arrived_together_are_handed_over_together():
    receive, send = multiprocessing.Pipe(duplex=False)
    for epoch in range(3):
        send.send(("epoch", {"epoch": epoch}))
    assert receive_batch(receive) == ([{"epoch": 0}, {"epoch": 1}, {"epoch": 2}], None)
    send.send(("epoch", {"epoch": 3}))
    send.send(("result", "done"))
    send.send(("epoch", {"epoch": 99}))  # never happens, but must not be taken with the result
    assert receive_batch(receive) == ([{"epoch": 3}], ("result", "done"))
    send.close()  # the child is gone: what it sent still counts, then the end
    assert receive_batch(receive) == ([{"epoch": 99}], ("eof",))
    assert receive_batch(receive) == ([], ("eof",))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_a_child_run_takes_its_share_as_others_start_and_end(tmp_path, monkeypatch):
    """With fork, the children inherit a trainer that writes its eval_threads() into each record."""
    import nnengine.trainer

    real_train = nnengine.trainer.train

    def reporting(config, *, on_epoch, eval_threads, **kwargs):
        def report(record):
            time.sleep(0.01)  # a few seconds in all: the test decides when the runs end
            on_epoch({**record, "threads": eval_threads()})
        return real_train(config, on_epoch=report, eval_threads=eval_threads, **kwargs)

    monkeypatch.setattr(nnengine.trainer, "train", reporting)
    # Only the count of runs decides here, not how busy the machine running the tests is.
    monkeypatch.setattr("server.budget.read_proc_stat", lambda: None)
    store = Store(tmp_path / "runs.sqlite")
    store.init_schema()
    recorder = Recorder()
    manager = RunManager(store, recorder, max_workers=2, max_queued_per_client=4, isolation="process",
                         mp_context=multiprocessing.get_context("fork"), budget=CoreBudget(cores=2))
    long = parse_config(tiny_config(epochs=1000))

    def threads_reported(run_id, threads, after=0):
        """Wait for an epoch record of run_id, after `after` of them, that says `threads`."""
        def found(events):
            records = [e["data"] for e in events if e["name"] == "run:epoch" and e["data"]["run_id"] == run_id]
            return next((r for r in records[after:] if r["threads"] == threads), None)
        return recorder.inbox.wait_until(found, WAIT_S)

    def epochs_of(run_id):
        return len(recorder.of(run_id, "run:epoch"))

    try:
        alone = manager.submit(long, "a")
        assert threads_reported(alone, 2)
        other = manager.submit(long, "b")
        assert threads_reported(other, 1)
        assert threads_reported(alone, 1, after=epochs_of(alone))
        assert manager.stop(other)
        assert recorder.wait_finished(other)[0] == "run:done"
        assert threads_reported(alone, 2, after=epochs_of(alone))
        # What was streamed is what was stored, share included.
        assert manager.stop(alone)
        assert recorder.wait_finished(alone)[0] == "run:done"
        streamed = [{k: v for k, v in d.items() if k != "run_id"} for _, d in recorder.of(alone, "run:epoch")]
        assert store.get_run(alone)["metrics"] == streamed
    finally:
        manager.shutdown(wait=True)


@pytest.mark.skipif("forkserver" not in multiprocessing.get_all_start_methods(), reason="needs forkserver")
def test_the_forkserver_is_started_before_the_first_run(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    store.init_schema()
    manager = RunManager(store, Recorder(), max_workers=1, max_queued_per_client=1, isolation="process")
    try:
        assert manager.warmed_up.wait(30)
    finally:
        manager.shutdown(wait=True)
    in_threads = RunManager(store, Recorder(), max_workers=1, max_queued_per_client=1)
    in_threads.shutdown()
    assert not in_threads.warmed_up.is_set()
