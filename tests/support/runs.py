"""Waiting on runs and reading their records: in the store, or through a recording emit."""
import time

from tests.support.sockets import WAIT_S, Inbox


def wait_status(app, run_id, statuses, timeout=WAIT_S):
    """Poll the store (bounded) until the run reaches one of `statuses`."""
    deadline = time.monotonic() + timeout
    while True:
        run = app.extensions["store"].get_run(run_id)
        if run and run["status"] in statuses:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} is {run and run['status']}, wanted {statuses}")
        time.sleep(0.01)


def without_elapsed(records):
    return [{k: v for k, v in r.items() if k not in ("elapsed_s", "run_id")} for r in records]


class Recorder:
    """An emit(event, data, room) that records, and can be waited on."""

    def __init__(self):
        self.inbox = Inbox()

    def __call__(self, event, data, room):
        assert room == data["run_id"]  # every event goes to its own run's room only
        self.inbox.append({"name": event, "data": data})

    def of(self, run_id, name=None):
        return [(e["name"], e["data"]) for e in self.inbox.snapshot()
                if e["data"]["run_id"] == run_id and (name is None or e["name"] == name)]

    def wait_finished(self, run_id, timeout=WAIT_S):
        def found(events):
            return next(((e["name"], e["data"]) for e in events
                         if e["data"]["run_id"] == run_id
                         and e["name"] in ("run:done", "run:error")), None)
        return self.inbox.wait_until(found, timeout)

    def wait(self, run_id, name, timeout=WAIT_S):
        def found(events):
            return next((e["data"] for e in events
                         if e["data"]["run_id"] == run_id and e["name"] == name), None)
        return self.inbox.wait_until(found, timeout)
