"""Predictions before training: the requests to PRIORITY_PATHS pause the runs while they are
served (runs.PriorityGate), and only a few are served at once."""

import json
import threading


class InteractiveFirst:
    """WSGI middleware for the requests to `paths` (predictions): served before training
    (see PriorityGate), and at most `max_in_flight` at a time.

    A prediction decodes an image of up to 16 megapixels (a 20 KB PNG can be that
    large), so unbounded concurrency would let a few clients exhaust memory; the
    ones over the limit wait up to `wait_s`, then get a JSON 503 with Retry-After.
    """

    def __init__(self, wsgi_app, gate, paths, max_in_flight, wait_s):
        self.wsgi_app = wsgi_app
        self.gate = gate
        self.paths = frozenset(paths or ())
        self.slots = threading.BoundedSemaphore(max_in_flight)
        self.wait_s = wait_s

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") not in self.paths:
            return self.wsgi_app(environ, start_response)
        if not self.slots.acquire(timeout=self.wait_s):
            body = json.dumps({"error": "the server is busy with other predictions;"
                                        " try again in a moment"}).encode()
            start_response("503 Service Unavailable", [
                ("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                ("Retry-After", "1")])
            return [body]
        try:
            with self.gate.interactive():
                # Flask builds the whole JSON body inside this call, so the priority
                # and the slot cover the work, not the sending.
                return self.wsgi_app(environ, start_response)
        finally:
            self.slots.release()


def init_app(app):
    """Wrap the app (Flask-SocketIO's middleware included); needs the run manager's gate."""
    app.wsgi_app = InteractiveFirst(app.wsgi_app, app.extensions["runs"].gate, app.config["PRIORITY_PATHS"],
                                    max_in_flight=app.config["PREDICT_MAX_IN_FLIGHT"],
                                    wait_s=app.config["PREDICT_WAIT_S"])
