"""The child entry point: one run trained in a process of its own, streaming to the server.

Messages through the pipe: ("epoch", record) ..., then ("result", Outcome fields) or
("error", text).
"""

import ctypes
import os
import signal
import sys
import time

from nnengine import trainer

from ..budget import RunThreads
from ..store import to_json_safe
from nnengine.blas import limit_blas_threads
from .nice import lower_process_priority
from .outcome import Outcome, outcome_of


class ChildFailed(Exception):
    """The training process reported an error or died; str() is the message for run:error."""


def die_with_parent():
    """Have the kernel kill this process (SIGKILL) when its parent dies, instead of training for
    nobody (Linux; elsewhere nothing)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def child_main(config_dict, conn, stop, busy, max_pause, nice, cores, running):
    """Entry point of a training process: train, streaming records through `conn`.

    Runs at a lower priority (nice) than the server, with one BLAS thread per product;
    evaluates each epoch on its share of the `cores` (server.budget.RunThreads: `running`
    is the number of runs training now, read before every epoch's evaluation); pauses
    between batches while the server serves an interactive request (`busy` > 0).
    """
    die_with_parent()
    # Ctrl-C in a terminal reaches the whole process group: the server decides what
    # stops (through `stop`), so that an interrupted run is stored as 'stopped'.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lower_process_priority(nice)
    limit_blas_threads(1)
    parent = os.getppid()

    def should_stop():
        waited = 0.0
        while busy.value > 0 and waited < max_pause:
            time.sleep(0.002)
            waited += 0.002
        return stop.is_set() or os.getppid() != parent

    try:
        from nnengine.config import parse_config

        config = parse_config(config_dict)
        result = trainer.train(config, on_epoch=lambda record: conn.send(("epoch", to_json_safe(dict(record)))),
                               should_stop=should_stop,
                               eval_threads=RunThreads(cores, running))
        conn.send(("result", *outcome_of(result, "(child)")))
    except (BrokenPipeError, EOFError, KeyboardInterrupt):
        pass  # the server went away
    except BaseException as exc:  # noqa: BLE001 - reported to the server, which ends the run
        import traceback

        traceback.print_exc()
        try:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        except (OSError, ValueError):
            pass
    finally:
        conn.close()


def train_in_child(mp, run, on_epochs, on_started, nice, gate, budget):
    """Train `run` in a child process; here, in the server, on_started() is called once
    the child is on its way and on_epochs(records) with the records as they arrive.
    Returns the Outcome; raises ChildFailed.

    Records that arrived together are handed over together, so that they are stored in
    one transaction: a commit costs 10 to 20 ms on this machine's disk, longer than an
    epoch of the overfitting experiment, so one commit per epoch fell behind the run.
    """
    receive, send = mp.Pipe(duplex=False)
    child = mp.Process(
        target=child_main,
        args=(run.config.to_dict(), send, run.stop_event, gate.shared_busy(mp), gate.max_pause, nice,
              budget.cores, budget.shared_count(mp)),
        name=f"run-{run.run_id}", daemon=True,
    )
    child.start()
    send.close()  # ours; the child holds its own copy
    try:
        on_started()  # while the child starts up
        while True:
            records, message = receive_batch(receive)
            if records:
                on_epochs(records)
            if message is None:
                continue
            if message[0] == "result":
                return Outcome(*message[1:])
            if message[0] == "error":
                raise ChildFailed(message[1])
            child.join(5)
            raise ChildFailed(f"the training process ended unexpectedly (exit code {child.exitcode})")
    finally:
        receive.close()
        child.join(5)
        if child.is_alive():
            child.kill()
            child.join(5)


def receive_batch(receive):
    """Wait for the child's next message, then take every epoch record already waiting.

    Returns (records, message): message is the first other message (("result", ...),
    ("error", text), or ("eof",) when the child is gone), or None.
    """
    records = []
    while not records or receive.poll():
        try:
            message = receive.recv()
        except EOFError:
            return records, ("eof",)
        if message[0] != "epoch":
            return records, message
        records.append(message[1])
    return records, None


def warm_child():
    """Nothing: starting it starts the forkserver, which imports the engine (see LocalBackend)."""
