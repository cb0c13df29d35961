"""What the run manager hands runs to: one small interface, two backends.

A backend trains the runs it is given somewhere (this machine's processes: local.py; Celery
workers fed through Redis: cluster.py) and knows which of them are still queued or running:

    check_available()        raise RuntimeError (saying why) if no run can be taken now
    new_stop_event()         the event a run's trainer checks between batches
    submit(run)              queue a run already recorded in the store (status 'queued')
    stop(run_id) -> bool     stop a queued or running run; False if it is neither
    position(run_id)         0 running, n >= 1 n-th in line, None not active
    active_count(client_sid) runs of that connection queued or running
    shutdown(wait=True)      stop taking runs; what stopping means is the backend's own
    isolation, warmed_up     where runs train ("thread", "process", "cluster"); an Event set once
                             the backend can start a run at once

Every backend reports through a RunRecorder (recording.py): it stores a run's life and emits
its events to the run's room.
"""

import threading


class ClientLimitError(Exception):
    """The client already has as many queued and running runs as allowed."""


class Run:
    """One run on its way: what trains, who asked, and how it is told to stop.

    `abandoned` (an Event, or None) is set when someone else has taken over the run's ending
    (cluster mode: its lease ran out and it was marked interrupted); from then on nothing more
    of it is written or sent.
    """

    __slots__ = ("run_id", "config", "client_sid", "stop_event", "storage_error", "abandoned")

    def __init__(self, run_id, config, client_sid, stop_event=None, abandoned=None):
        self.run_id = run_id
        self.config = config
        self.client_sid = client_sid
        self.stop_event = stop_event or threading.Event()
        self.storage_error = None  # what the first StoreError met while writing this run said
        self.abandoned = abandoned

    def is_abandoned(self):
        return self.abandoned is not None and self.abandoned.is_set()
