"""The playground's web server: create_app() builds a Flask app with Socket.IO.

The only module-level state is the `socketio` extension object (the Flask
extension pattern); everything per app lives in `app.config` and
`app.extensions` ("store", "runs").
"""

import logging
import os
import secrets
import sqlite3

from flask import Flask
from flask_socketio import SocketIO

from .jobs import RunManager
from .security import HostOriginGuard, default_origins, parse_origins
from .store import Store

log = logging.getLogger(__name__)

socketio = SocketIO()

# Imported after `socketio` exists and before any init_app, so that the
# handlers it declares are replayed onto the server of every app created.
from . import events  # noqa: E402,F401

ORIGINS_ENV = "PLAYGROUND_ALLOWED_ORIGINS"


def create_app(test_config=None):
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
    )
    if test_config:
        app.config.update(test_config)
    if app.config["ALLOWED_ORIGINS"] is None:
        env = os.environ.get(ORIGINS_ENV, "").strip()
        app.config["ALLOWED_ORIGINS"] = (
            parse_origins(env) if env else default_origins(app.config["HOST"], app.config["PORT"])
        )

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

    app.extensions["runs"] = RunManager(
        store, emit,
        max_workers=app.config["MAX_CONCURRENT_RUNS"],
        max_queued_per_client=app.config["MAX_QUEUED_PER_CLIENT"],
    )

    from .routes import api_bp, pages_bp, register_error_handlers

    app.register_blueprint(pages_bp)
    app.register_blueprint(api_bp)
    register_error_handlers(app)
    _register_predict(app)

    # Wraps Flask-SocketIO's middleware too, so /socket.io/ is guarded as well.
    app.wsgi_app = HostOriginGuard(app.wsgi_app, app.config["ALLOWED_ORIGINS"])
    return app


def _open_store(app):
    database = str(app.config["DATABASE"])
    if not database.startswith("file:"):
        os.makedirs(os.path.dirname(os.path.abspath(database)), exist_ok=True)
    store = Store(database)
    try:
        store.init_schema()
        count = store.mark_interrupted()
        if count:
            log.info("marked %d unfinished runs of a previous process as interrupted", count)
    except sqlite3.Error as exc:
        # A read-only or broken database still lets the app serve pages and
        # whatever can be read; writes report their own errors later.
        log.error("database %s is not writable or not usable: %s", database, exc)
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
