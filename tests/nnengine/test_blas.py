"""BLAS thread control: limits nest and restore, a count set inside a limit waits for its end, the
environment reaches spawned processes, and without a library nothing breaks."""

import os
import subprocess
import sys
import threading

import pytest

from nnengine.blas import ENV_VARS, BlasThreads, _Library, blas_threads, limit_blas_threads, single_threaded_env
from tests.support.paths import ROOT


class CountingLibrary:
    """A thread count held in Python, behind the same get/set calls as a BLAS library's."""

    def __init__(self, threads):
        self.threads = threads
        self.sets = []

    def library(self):
        def put(n):
            self.sets.append(n)
            self.threads = n
        return _Library("counting", lambda: self.threads, put)


def test_a_limit_caps_the_count_and_restores_it_when_the_last_caller_leaves():
    counting = CountingLibrary(4)
    threads = BlasThreads(find=counting.library)
    with threads.limit(1):
        assert counting.threads == 1
        with threads.limit(1):
            assert counting.threads == 1
        assert counting.threads == 1         # the outer caller is still inside
        assert threads.cores() == min(4, len(os.sched_getaffinity(0)))   # what the count was before
    assert counting.threads == 4
    assert counting.sets == [1, 4]


def test_a_limit_above_the_count_changes_nothing():
    counting = CountingLibrary(1)
    threads = BlasThreads(find=counting.library)
    with threads.limit(2):
        assert counting.threads == 1
    assert counting.sets == []


def test_limits_from_several_threads_restore_the_count_once_all_have_left():
    counting = CountingLibrary(3)
    threads = BlasThreads(find=counting.library)
    inside, release = threading.Barrier(3), threading.Event()

    def run():
        with threads.limit(1):
            inside.wait()
            release.wait()

    workers = [threading.Thread(target=run) for _ in range(2)]
    for worker in workers:
        worker.start()
    inside.wait()
    assert counting.threads == 1
    release.set()
    for worker in workers:
        worker.join()
    assert counting.threads == 3 and counting.sets == [1, 3]


def test_a_count_set_inside_a_limit_takes_effect_when_the_limit_ends():
    counting = CountingLibrary(4)
    threads = BlasThreads(find=counting.library)
    with threads.limit(1):
        assert threads.set(2) == "counting"
        assert counting.threads == 1
    assert counting.threads == 2


def test_without_a_blas_library_nothing_is_read_or_limited():
    threads = BlasThreads(find=lambda: None)
    assert not threads.available and threads.library is None and threads.get() is None
    with threads.limit(1):
        pass
    assert threads.set(1) is None
    assert threads.cores() == 1


def test_blas_threads_can_be_limited(monkeypatch):
    before = blas_threads.get()
    if before is None:
        pytest.skip("this NumPy's BLAS cannot be asked for its threads")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(var, "1")  # so that the environment is restored afterwards
    try:
        assert limit_blas_threads(1) is not None
        assert blas_threads.get() == 1
    finally:
        limit_blas_threads(before)


def test_numpys_blas_is_limited_inside_and_restored_after():
    before = blas_threads.get()
    if before is None:
        pytest.skip("this NumPy's BLAS cannot be asked for its threads")
    with blas_threads.limit(1):
        assert blas_threads.get() == 1
    assert blas_threads.get() == before


def test_processes_started_in_single_threaded_env_load_numpy_with_one_thread(monkeypatch):
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    code = "from nnengine.blas import blas_threads; print(blas_threads.get())"
    with single_threaded_env():
        assert all(os.environ[var] == "1" for var in ENV_VARS)
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
    assert os.environ["OMP_NUM_THREADS"] == "2"
    assert not any(var in os.environ for var in ENV_VARS if var != "OMP_NUM_THREADS")
    if out != "None":
        assert out == "1"
