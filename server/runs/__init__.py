"""Runs: what submits and watches them (the web node) and what trains them (a child process here,
or a Celery worker), behind one small interface (backend.py).

    ids.py        run ids
    gate.py       the priority gate: interactive requests before training
    nice.py       nice levels of training threads and processes
    outcome.py    a finished training's status, summary and weights, serialised
    child.py      the child entry point: one run in a process of its own
    context.py    the multiprocessing context training processes start from
    saving.py     what one run stores, and the account of what is missing when not all of it could be
    recording.py  a run's life in the store and on its room (the same wherever it trains)
    backend.py    the backend interface, Run, ClientLimitError
    local.py      the local backend: this machine's bounded pool and visible queue
    manager.py    RunManager: what the socket handlers talk to
    extension.py  init_app(app): the app's run manager, local or cluster
"""

from .backend import ClientLimitError, Run
from .child import ChildFailed
from .gate import PriorityGate
from .ids import is_run_id, new_run_id
from .local import LocalBackend
from .extension import init_app
from .manager import RunManager
from .outcome import Outcome, weights_npz
from .recording import RunRecorder

__all__ = ["ChildFailed", "ClientLimitError", "LocalBackend", "Outcome", "PriorityGate", "Run",
           "RunManager", "RunRecorder", "init_app", "is_run_id", "new_run_id", "weights_npz"]
