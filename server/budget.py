"""The cores shared out among the runs that train at the same time.

A run given n > 1 threads evaluates each epoch on n threads while its next
epoch trains (nnengine.trainer); given one, it evaluates in between epochs.
Alone on the machine it should use every core: with one thread, a run through
the UI took much longer than the same run through the CLI. With several runs at
once, every extra thread only makes them fight each other and the request
threads, so each gets its share: cores // runs, at least one.
The share is asked again before every epoch's evaluation, so a run that started
alone gives its extra thread back when another starts, and takes it again when
the other ends.

Other programs count too. On a machine busy with other work, a run's extra
threads at its low priority (nice 10) only wait for each other, and two
evaluation threads were slower than one. So a child also measures the cores it
actually gets (`CoreProbe`) and keeps to those (`RunThreads`).

bench/MEASUREMENTS.md has the figures behind these choices.
"""

import math
import os
import threading
import time


def usable_cores():
    """Cores this process may run on (its CPU affinity where the OS tells)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def share_of(cores, running):
    """Threads each of `running` runs may use on `cores` cores (at least one)."""
    return max(1, cores // max(1, running))


class CoreBudget:
    """Knows how many runs are training now; `share()` is each one's number of threads.

    The run manager sets the count under its own lock, after a finished run's
    successor has been dispatched, so that a run never sees a moment alone
    between two others (it would rebuild its evaluation twice for nothing).
    Child processes cannot call back into the server between epochs, so the count
    is mirrored into shared memory (`shared_count`) and they apply `share_of`
    to it themselves.
    """

    def __init__(self, cores=None):
        self.cores = max(1, int(cores)) if cores else usable_cores()
        self._lock = threading.Lock()
        self._running = 0
        self._shared = None  # multiprocessing Value, made on first use

    @property
    def running_count(self):
        return self._running

    def share(self):
        return share_of(self.cores, self._running)

    def set_running(self, count):
        with self._lock:
            self._running = count
            if self._shared is not None:
                self._shared.value = count

    def shared_count(self, mp):
        """A counter in shared memory that mirrors the runs training now, for child processes.

        An int read without a lock: a child that reads it a moment late takes its new
        share at its next epoch, which is all the precision this needs.
        """
        with self._lock:
            if self._shared is None:
                self._shared = mp.Value("i", self._running, lock=False)
            return self._shared


def read_proc_stat(path="/proc/stat"):
    """(idle, total) CPU time of the whole machine so far, in clock ticks, or None."""
    try:
        with open(path) as stat:
            fields = [int(value) for value in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    if len(fields) < 5:
        return None
    return fields[3] + fields[4], sum(fields)  # idle + iowait; user .. steal


class CoreProbe:
    """How many cores this process could have now: the machine's idle cores plus the
    ones it is using itself, measured over the last `window` seconds or more.

    `sample()` gives None until a first window has passed, or where the machine's
    CPU times cannot be read (not Linux). The kernel counts CPU time in ticks of
    10 ms, hence windows of half a second rather than one epoch.
    """

    def __init__(self, cores, window=0.5, read=None, clock=time.monotonic, cpu=time.process_time):
        self.cores, self.window = cores, window
        self._read, self._clock, self._cpu = read or read_proc_stat, clock, cpu
        self._last = self._now()
        self.available = None

    def _now(self):
        return self._read(), self._clock(), self._cpu()

    def sample(self):
        now = self._now()
        (stat0, wall0, cpu0), (stat1, wall1, cpu1) = self._last, now
        if stat0 is None or stat1 is None or wall1 - wall0 < self.window:
            return self.available
        ticks = stat1[1] - stat0[1]
        if ticks > 0:
            idle = (stat1[0] - stat0[0]) / ticks * self.cores
            self.available = idle + (cpu1 - cpu0) / (wall1 - wall0)
        self._last = now
        return self.available


class RunThreads:
    """A child's `eval_threads` for the trainer: its share of the cores among the runs
    training now (`running`, a shared counter), and no more than the machine gives it.

    Measured, not guessed (bench/MEASUREMENTS.md): two threads that get a little more than a
    core between them still beat one thread; two that get half a core lose to one. So a thread
    is given up only when the run gets less than a core for each thread but one, and taken again
    once a quarter of a core more than the threads it has is there for it; between the two,
    nothing changes (each change rebuilds the evaluation).
    """

    def __init__(self, cores, running, probe=None):
        self.cores, self.running = cores, running
        self.probe = probe or CoreProbe(cores)
        self.fits = cores  # until measured: a run alone on a quiet machine is the common case

    def __call__(self):
        available = self.probe.sample()
        if available is not None:
            if available < self.fits - 1:
                self.fits = max(1, math.ceil(available))
            elif available >= self.fits + 0.25:
                self.fits = min(self.cores, self.fits + 1)
        return min(share_of(self.cores, self.running.value), self.fits)
