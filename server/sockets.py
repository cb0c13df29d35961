"""The app's Socket.IO server: one per app, in `app.extensions["socketio"]`.

Handlers are registered by each feature's own init_app (`socketio.on_event`), and code that emits
from a thread (runs, searches) takes this app's server from there, never another app's.
"""

import logging

from flask_socketio import SocketIO

log = logging.getLogger(__name__)

# Flask-SocketIO's default channel; the workers publish on it too (server/worker/context.py).
CHANNEL = "flask-socketio"


def init_app(app):
    # Threading mode: training runs off the request threads, and Gunicorn's gthread worker
    # serves (server/serving.py).
    options = {}
    if app.config.get("BROKER_URL"):
        # Cluster mode: events go through Redis to every web node, which delivers them to its own
        # clients in the room, so a run's events reach its client whichever node it is on.
        options["client_manager"] = _message_queue(app.config["BROKER_URL"])
    socketio = SocketIO(app, async_mode="threading", cors_allowed_origins=list(app.config["ALLOWED_ORIGINS"]),
                        **options)
    socketio.on_error_default(_on_error)
    return socketio


def _message_queue(broker_url):
    """Flask-SocketIO's message queue on Redis, with the run queue's connect and read timeouts (an
    unreachable Redis costs an emit seconds, never minutes)."""
    import socketio as python_socketio

    from .runs.board import REDIS_OPTIONS

    return python_socketio.RedisManager(broker_url, channel=CHANNEL, redis_options=dict(REDIS_OPTIONS))


def _on_error(exc):
    # The return value becomes the ack, so the client is never left waiting.
    log.exception("socket handler failed: %s", exc)
    return {"error": "internal server error"}
