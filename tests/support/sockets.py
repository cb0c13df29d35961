"""Socket.IO test users whose received events can be awaited.

Socket events emitted from worker threads are awaited with bounded waits on a
condition variable (see Inbox), never with fixed sleeps.
"""
import threading
import time

WAIT_S = 10.0  # upper bound for any single wait; tests normally finish far sooner


def socket_client(app, client=None):
    """A Socket.IO test client of `app`'s own server (each app has one), over `client`
    (a Flask test client of the same app; a new one if None)."""
    return app.extensions["socketio"].test_client(app, flask_test_client=client or app.test_client())


class Inbox(list):
    """Stands in for SocketIOTestClient.queue: the test client appends every
    received event to it (from worker threads too), and we can block on it."""

    def __init__(self):
        super().__init__()
        self.cond = threading.Condition()

    def append(self, item):
        with self.cond:
            super().append(item)
            self.cond.notify_all()

    def snapshot(self):
        with self.cond:
            return list(self)

    def wait_until(self, predicate, timeout=WAIT_S):
        """Block until predicate(list of events) is truthy; return its value."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                value = predicate(list(self))
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out; received {[e['name'] for e in self]}")
                self.cond.wait(remaining)


class SocketUser:
    """A Socket.IO test client plus helpers to read what it received."""

    def __init__(self, sio_client):
        self.sio = sio_client
        self.inbox = Inbox()
        sio_client.queue = self.inbox  # never call get_received(): it would replace the inbox

    def emit(self, event, *args):
        return self.sio.emit(event, *args, callback=True)

    def events(self, name=None, run_id=None):
        """Payloads (first argument) of the events received so far, in order."""
        return [
            e["args"][0]
            for e in self.inbox.snapshot()
            if (name is None or e["name"] == name)
            and (run_id is None or (e["args"] and e["args"][0].get("run_id") == run_id))
        ]

    def wait_for(self, name, run_id=None, timeout=WAIT_S, count=1):
        """The first `count` payloads of `name` for `run_id`, waiting for them if need be."""

        def found(received):
            matches = [
                e["args"][0] for e in received
                if e["name"] == name and (run_id is None or e["args"][0].get("run_id") == run_id)
            ]
            return matches if len(matches) >= count else None

        return self.inbox.wait_until(found, timeout)[:count]

    def wait_finished(self, run_id, timeout=WAIT_S):
        """The run:done or run:error payload of a run (as (name, payload))."""

        def found(received):
            for e in received:
                if e["name"] in ("run:done", "run:error") and e["args"][0].get("run_id") == run_id:
                    return e["name"], e["args"][0]
            return None

        return self.inbox.wait_until(found, timeout)

    def start(self, config):
        ack = self.emit("run:start", {"config": config})
        assert "run_id" in ack, ack
        return ack
