"""Socket.IO handlers (default namespace): run:start, run:stop, run:watch.

Every handler answers through its ack and never raises: a bad payload gets
`{error}` back instead of a silent disconnect. run:start {config, origin?} is
checked in order: shape and size, the config (every field, the compute budget, the weights it
would store: server/stored_weights.py),
the origin (server/origin.py), the queue limit per address and the start rate (per connection
and per address; both server/fairness.py), then the per-connection queue limit and the
database. A refused start holds no place in the queue and costs no start.

Registered on the app's own Socket.IO server by init_app(app).
"""

import json
import logging

from flask import current_app, request
from flask_socketio import join_room, leave_room

from nnengine.config import ConfigError, parse_config

from .runs import ClientLimitError, is_run_id, new_run_id
from .origin import OriginError, parse_origin
from .store import StoreError
from .stored_weights import weights_limit_errors

log = logging.getLogger(__name__)

# A config is a few hundred bytes; anything far larger is a mistake or abuse.
MAX_CONFIG_BYTES = 64 * 1024


def _payload(args):
    """The single dict argument of an event, or None."""
    if len(args) == 1 and isinstance(args[0], dict):
        return args[0]
    return None


def _run_id(args):
    data = _payload(args)
    run_id = data.get("run_id") if data else None
    return run_id if is_run_id(run_id) else None


def on_start(*args):
    data = _payload(args)
    if data is None or not isinstance(data.get("config"), dict):
        return {"error": "expected {config: {...}}"}
    raw = data["config"]
    try:
        size = len(json.dumps(raw))
    except (TypeError, ValueError):
        return {"error": "config is not plain JSON"}
    if size > MAX_CONFIG_BYTES:
        return {"error": f"config is too large ({size} bytes; at most {MAX_CONFIG_BYTES})"}
    try:
        config = parse_config(raw)
    except ConfigError as exc:
        return {"error": str(exc), "errors": exc.errors}
    except Exception:  # a validator bug must not reach the client as a dropped ack
        log.exception("parse_config failed on %r", raw)
        return {"error": "the config could not be validated"}
    too_large = weights_limit_errors(config, current_app.config["RUN_WEIGHTS_MAX_MB"])
    if too_large:
        return {"error": too_large[0]["message"], "errors": too_large}
    try:
        origin = parse_origin(data.get("origin"), run_config=current_app.extensions["store"].get_config)
    except OriginError as exc:
        return {"error": str(exc), "errors": exc.errors}
    except StoreError as exc:
        log.error("could not look up the source of a re-run: %s", exc)
        return {"error": f"the run could not be recorded: {exc.public}"}

    run_id = new_run_id()
    queue = current_app.extensions["queue_limit"]
    refusal = queue.acquire(request.remote_addr, run_id)
    if refusal is not None:
        return {"error": refusal}
    refusal = current_app.extensions["start_limiter"].acquire(request.sid, request.remote_addr)
    if refusal is not None:
        queue.release(run_id)
        return {"error": refusal}

    manager = current_app.extensions["runs"]
    # Join before the run exists, so not even its first event can be missed.
    join_room(run_id)
    try:
        manager.submit(config, request.sid, run_id=run_id, origin=origin)
    except (ClientLimitError, RuntimeError) as exc:
        leave_room(run_id)
        queue.release(run_id)
        return {"error": str(exc)}
    except StoreError as exc:
        leave_room(run_id)
        queue.release(run_id)
        log.error("could not record a new run: %s", exc)
        return {"error": f"the run could not be recorded: {exc.public}"}
    position = manager.position(run_id)
    return {"run_id": run_id, "queue_position": position or 0}


def on_stop(*args):
    run_id = _run_id(args)
    if run_id is None:
        return {"error": "expected {run_id: string}"}
    try:
        stopped = current_app.extensions["runs"].stop(run_id)
    except RuntimeError as exc:  # cluster mode: Redis cannot be reached (the message says so)
        return {"error": str(exc)}
    if stopped:
        return {"ok": True}
    return {"error": f"run {run_id} is not queued or running"}


def on_watch(*args):
    run_id = _run_id(args)
    if run_id is None:
        return {"error": "expected {run_id: string}"}
    # Join first, then read: an epoch is stored before it is emitted, so the
    # watcher may see an epoch twice (dedupe by "epoch") but never miss one.
    join_room(run_id)
    try:
        run = current_app.extensions["store"].get_run(run_id)
    except StoreError as exc:
        log.error("could not read run %s: %s", run_id, exc)
        return {"error": f"the run could not be read: {exc.public}"}
    if run is None:
        leave_room(run_id)
        return {"error": f"unknown run {run_id}"}
    return {
        "run_id": run_id,
        "status": run["status"],
        "config": run["config"],
        "metrics": run["metrics"],
        "summary": run["summary"],
        "queue_position": current_app.extensions["runs"].position(run_id),
    }


def on_disconnect(*args):
    # Runs keep going (they are stored); only the connection's rate bucket goes.
    current_app.extensions["start_limiter"].forget_client(request.sid)


def init_app(app):
    socketio = app.extensions["socketio"]
    socketio.on_event("run:start", on_start)
    socketio.on_event("run:stop", on_stop)
    socketio.on_event("run:watch", on_watch)
    socketio.on_event("disconnect", on_disconnect)
