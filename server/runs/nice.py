"""Nice levels: training runs below the requests' CPU priority."""

import logging
import os
import sys
import threading

log = logging.getLogger(__name__)


def lower_thread_priority(nice):
    """Raise this thread's nice value to at least `nice` (Linux: nice is per thread)."""
    if nice <= 0 or not hasattr(os, "setpriority") or not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError as exc:
        log.debug("could not lower the priority of a training thread: %s", exc)


def lower_process_priority(nice):
    """Add `nice` to this process's nice value (a training process); quietly nothing where refused."""
    if nice <= 0:
        return
    try:
        os.nice(nice)
    except (OSError, AttributeError):
        pass
