"""The playground's web server: create_app() builds a Flask app with Socket.IO.

The only module-level state is the `socketio` extension object (the Flask
extension pattern); everything per app lives in `app.config` and
`app.extensions` ("store", "runs").
"""

import json
import logging
import os
import secrets
import threading

from flask import Flask
from flask_socketio import SocketIO

from .jobs import PriorityGate, RunManager
from .security import HostOriginGuard, StartRateLimiter, default_origins, parse_origins, parse_rate
from .store import Store, StoreError, ensure_folder

log = logging.getLogger(__name__)

socketio = SocketIO()

# Imported after `socketio` exists and before any init_app, so that the
# handlers it declares are replayed onto the server of every app created.
from . import events  # noqa: E402,F401

ORIGINS_ENV = "PLAYGROUND_ALLOWED_ORIGINS"
# Settings a deployment may give through the environment (a test_config value wins).
ENV_SETTINGS = {
    "START_RATE": "PLAYGROUND_START_RATE",
    "START_RATE_PER_ADDRESS": "PLAYGROUND_START_RATE_PER_ADDRESS",
    "TRUSTED_PROXIES": "PLAYGROUND_TRUSTED_PROXIES",
    "DATABASE_MAX_MB": "PLAYGROUND_DATABASE_MAX_MB",
    # Base path (no extension) of the digit model POST /api/predict uses by default.
    "DEFAULT_MODEL": "PLAYGROUND_DEFAULT_MODEL",
    # "0"/"off": GET /api/runs refuses to list runs, so that run ids stay secret.
    "LIST_RUNS": "PLAYGROUND_LIST_RUNS",
    # "process" (default) or "thread": where runs train (see RunManager).
    "RUN_ISOLATION": "PLAYGROUND_RUN_ISOLATION",
}
DEFAULT_START_RATE = "10/10"  # per connection: 10 starts, then one more every second
DEFAULT_START_RATE_PER_ADDRESS = "30/10"  # a classroom behind one NAT still starts together


def configure(test_config=None):
    """A Flask app with its settings loaded and checked, and nothing started: no store, no
    runs, no sockets. `python -m server` checks the settings with it before it starts the
    serving process (see server/serving.py); create_app() builds on it.

    Raises ValueError naming the setting (and its PLAYGROUND_* variable) that is wrong.
    """
    app = Flask(__name__, instance_relative_config=True,
                template_folder="../templates", static_folder="../static")
    app.config.from_mapping(
        # Random per start: there are no logins, so nothing must survive a restart.
        SECRET_KEY=secrets.token_hex(32),
        DATABASE=os.path.join(app.instance_path, "playground.sqlite"),
        HOST="127.0.0.1",
        PORT=5000,
        MAX_CONCURRENT_RUNS=os.cpu_count() or 1,
        MAX_QUEUED_PER_CLIENT=4,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        ALLOWED_ORIGINS=None,
        # run:start rate ("COUNT/SECONDS" or "off"), per connection and per remote address.
        START_RATE=None,
        START_RATE_PER_ADDRESS=None,
        # Reverse proxies in front of the app whose X-Forwarded-For is believed (0: none).
        TRUSTED_PROXIES=None,
        # Cap on the run database's size in megabytes (None: no cap but the disk's).
        DATABASE_MAX_MB=None,
        # Whether GET /api/runs lists every run (its ids are what grants access to a run).
        LIST_RUNS=None,
        # Requests served before training (runs pause between batches, at most this long
        # at a time, while one is in flight); 0 turns the priority off.
        PRIORITY_PATHS=("/api/predict",),
        PRIORITY_MAX_PAUSE_S=0.25,
        # Of those, at most this many at once; the others wait up to PREDICT_WAIT_S, then 503.
        PREDICT_MAX_IN_FLIGHT=max(2, 2 * (os.cpu_count() or 1)),
        PREDICT_WAIT_S=5.0,
        # "process": each run trains in a child process (no GIL shared with the requests,
        # a crash ends one run); "thread": in the worker thread, which is what tests use
        # (TESTING) so that they can patch the trainer. None: by TESTING.
        RUN_ISOLATION=None,
        # How much lower training's CPU priority is than the requests' (nice; 0 = same).
        TRAINING_NICE=10,
    )
    if test_config:
        app.config.update(test_config)
    _settings_from_environment(app)
    if app.config["ALLOWED_ORIGINS"] is None:
        env = os.environ.get(ORIGINS_ENV, "").strip()
        app.config["ALLOWED_ORIGINS"] = (
            parse_origins(env) if env else default_origins(app.config["HOST"], app.config["PORT"])
        )

    if app.config["RUN_ISOLATION"] is None:
        app.config["RUN_ISOLATION"] = "thread" if app.config.get("TESTING") else "process"
    if app.config["RUN_ISOLATION"] not in ("process", "thread"):
        raise ValueError(f"RUN_ISOLATION ({ENV_SETTINGS['RUN_ISOLATION']}) must be process or thread,"
                         f" got {app.config['RUN_ISOLATION']!r}")
    return app


def create_app(test_config=None):
    app = configure(test_config)
    start_rate = parse_rate(app.config["START_RATE"])
    address_rate = parse_rate(app.config["START_RATE_PER_ADDRESS"])
    app.extensions["start_limiter"] = StartRateLimiter(start_rate, address_rate)

    store = _open_store(app)
    app.extensions["store"] = store

    socketio.init_app(app, async_mode="threading",
                      cors_allowed_origins=list(app.config["ALLOWED_ORIGINS"]))
    # Emit through this app's own Socket.IO server, captured now: the shared
    # `socketio` object points at whichever app was initialised last, and a run
    # must never emit into another app's server (several apps exist in tests).
    server = socketio.server

    def emit(event, data, room):
        server.emit(event, data, to=room, namespace="/")

    gate = PriorityGate(max_pause=float(app.config["PRIORITY_MAX_PAUSE_S"]))
    app.extensions["runs"] = RunManager(
        store, emit,
        max_workers=app.config["MAX_CONCURRENT_RUNS"],
        max_queued_per_client=app.config["MAX_QUEUED_PER_CLIENT"],
        gate=gate,
        nice=int(app.config["TRAINING_NICE"]),
        isolation=app.config["RUN_ISOLATION"],
    )

    from .routes import api_bp, pages_bp, register_error_handlers

    app.register_blueprint(pages_bp)
    app.register_blueprint(api_bp)
    register_error_handlers(app)
    _register_predict(app)
    from .labs import init_labs  # the chapter-6 labs: /labs pages, /api/labs, search:* events

    init_labs(app, socketio)

    # Wraps Flask-SocketIO's middleware too, so /socket.io/ is guarded as well.
    app.wsgi_app = InteractiveFirst(app.wsgi_app, gate, app.config["PRIORITY_PATHS"],
                                    max_in_flight=int(app.config["PREDICT_MAX_IN_FLIGHT"]),
                                    wait_s=float(app.config["PREDICT_WAIT_S"]))
    app.wsgi_app = HostOriginGuard(app.wsgi_app, app.config["ALLOWED_ORIGINS"])
    proxies = int(app.config["TRUSTED_PROXIES"] or 0)
    if proxies > 0:
        # Outermost, so that the rate limits see the client's address, not the proxy's.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    return app


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


def _settings_from_environment(app):
    """Fill unset settings from PLAYGROUND_* variables, then the defaults; refuse bad values."""
    for key, var in ENV_SETTINGS.items():
        if app.config.get(key) is None and os.environ.get(var, "").strip():
            app.config[key] = os.environ[var].strip()
    if app.config["START_RATE"] is None:
        app.config["START_RATE"] = DEFAULT_START_RATE
    if app.config["START_RATE_PER_ADDRESS"] is None:
        app.config["START_RATE_PER_ADDRESS"] = DEFAULT_START_RATE_PER_ADDRESS
    for key, kind, low, allowed in (("TRUSTED_PROXIES", int, 0, "a whole number >= 0"),
                                    ("DATABASE_MAX_MB", float, 0.1, "a number of megabytes >= 0.1")):
        value = app.config[key]
        if value is None:
            continue
        try:
            number = kind(value)
        except (TypeError, ValueError):
            number = None
        if number is None or not low <= number < float("inf"):
            raise ValueError(f"{key} ({ENV_SETTINGS[key]}) must be {allowed}, got {value!r}")
        app.config[key] = number
    listing = app.config["LIST_RUNS"]
    if listing is None:
        app.config["LIST_RUNS"] = True
    elif not isinstance(listing, bool):
        text = str(listing).strip().lower()
        if text not in ("1", "0", "true", "false", "on", "off", "yes", "no"):
            raise ValueError(f"LIST_RUNS ({ENV_SETTINGS['LIST_RUNS']}) must be on or off, got {listing!r}")
        app.config["LIST_RUNS"] = text in ("1", "true", "on", "yes")
    for key in ("START_RATE", "START_RATE_PER_ADDRESS"):
        try:
            parse_rate(app.config[key])
        except ValueError as exc:
            raise ValueError(f"{key} ({ENV_SETTINGS[key]}): {exc}") from None


def _open_store(app):
    """The store of DATABASE (an SQLite path or URI, or a postgresql:// URL), its schema created or
    upgraded. A database that is read-only, full or unreachable still lets the app start: pages are
    served, whatever can be read is, and each refusal names the cause (StoreError)."""
    database = str(app.config["DATABASE"])
    ensure_folder(database)
    max_mb = app.config["DATABASE_MAX_MB"]
    store = Store(database, max_bytes=None if max_mb is None else int(max_mb * 1024 * 1024))
    try:
        store.init_schema()
        # Only the runs whose process is gone: another server on the same database keeps its own.
        count = len(store.expire_leases())
        if count:
            log.info("marked %d unfinished runs of a stopped process as interrupted", count)
    except StoreError as exc:
        log.error("database %s is not writable or not usable: %s", store.location, exc)
    return store


def _register_predict(app):
    try:
        from .predict import predict_bp
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.predict":
            raise  # predict exists but is broken: that should be loud
        log.info("server/predict.py is absent; POST /api/predict is not served")
        return
    app.register_blueprint(predict_bp)
