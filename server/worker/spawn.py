"""Worker processes a web node starts beside itself (`python -m server --broker URL --workers N`)."""

import ctypes
import os
import signal
import subprocess
import sys

STOP_WAIT_S = 15


def _term_with_parent():
    """In the child, before exec: SIGTERM when the web node dies, even by SIGKILL (Linux)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def default_database():
    """The SQLite file a web node uses when given no --db (its instance folder's playground.sqlite)."""
    from flask import Flask

    return os.path.join(Flask("server", instance_relative_config=True).instance_path, "playground.sqlite")


def spawn_worker(broker, database, concurrency=1):
    return subprocess.Popen(
        [sys.executable, "-m", "server.worker", "--broker", broker, "--db", str(database),
         "--concurrency", str(concurrency)],
        preexec_fn=_term_with_parent)


def stop_worker(process, wait=STOP_WAIT_S):
    """SIGTERM (its runs stop within a batch), then SIGKILL if it has not ended within `wait` s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(wait)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
