"""The app's Socket.IO server: one per app, in `app.extensions["socketio"]`.

Handlers are registered by each feature's own init_app (`socketio.on_event`), and code that emits
from a thread (runs, searches) takes this app's server from there, never another app's.
"""

import logging

from flask_socketio import SocketIO

log = logging.getLogger(__name__)


def init_app(app):
    # Threading mode: training runs off the request threads, and Gunicorn's gthread worker
    # serves (server/serving.py).
    socketio = SocketIO(app, async_mode="threading", cors_allowed_origins=list(app.config["ALLOWED_ORIGINS"]))
    socketio.on_error_default(_on_error)
    return socketio


def _on_error(exc):
    # The return value becomes the ack, so the client is never left waiting.
    log.exception("socket handler failed: %s", exc)
    return {"error": "internal server error"}
