"""The search lab over Socket.IO: searches run off the request thread, one per app at a time.

Registered by ``init_app(app)`` (from ``server.labs.init_app``); each search has its own room:

- ``search:start {config, trials, lr: [lo, hi], weight_decay: [lo, hi], sampler_seed?}`` -> ack
  ``{search_id, trials: [{trial, lr, weight_decay}], workers, config}`` or ``{error, errors?}``
- server -> room: ``search:trial {search_id, done, total, trial, lr, weight_decay, val_acc, train_acc,
  curve, ...}``, ``search:done {search_id, status, results: n, total, best: [...], narrowed, elapsed_s,
  workers}``, ``search:error {search_id, error}``
- ``search:stop {search_id}`` -> ``{ok}``: no new trial starts; running trials finish first.

``search:start`` is rate-limited per address (SEARCH_RATE_PER_ADDRESS, server/fairness.py); a start
refused because a search is running costs the address nothing.

A search stops by itself when the connection that started it goes away (its results are not stored).
What a search may be is checked by ``nnengine.search.plan_search``, with this server's limits.
"""
from __future__ import annotations

import logging
import math
import os
import secrets
import threading
import time

from flask import current_app, request
from flask_socketio import join_room, leave_room

from nnengine.config import ConfigError, parse_config
from nnengine.labs import search_lab
from nnengine.labs.experiments import LAB_MAX_TRIALS
from nnengine.search import SEARCH_BUDGET, SearchError, best, plan_search, search

log = logging.getLogger(__name__)

TOP_N = search_lab.TOP
SEARCH_BUSY = "a search is already running on this server (it uses every core); wait for it or stop it"


def search_workers(app) -> int:
    """Worker processes a search of this app trains its trials in."""
    return int(app.config.get("LAB_SEARCH_WORKERS") or os.cpu_count() or 1)


class _Search:
    __slots__ = ("search_id", "client_sid", "config", "trials", "stop_event", "thread", "started_at")

    def __init__(self, search_id, client_sid, config, trials):
        self.search_id = search_id
        self.client_sid = client_sid
        self.config = config
        self.trials = trials
        self.stop_event = threading.Event()
        self.thread = None
        self.started_at = time.time()


class SearchManager:
    """Runs hyperparameter searches off the request thread, one per app at a time (a search already
    uses every core through its worker processes)."""

    def __init__(self, emit, workers, is_connected=None, max_active=1, nice=0, search=None):
        """`workers`: trials trained at once (a number, or a callable asked at each search's start);
        `search(config, trials, workers, should_stop, search_id)` yields the results (default: in
        this machine's processes, nnengine.search; in a cluster, server/runs/trials.py)."""
        self._emit = emit
        self._workers = workers
        self._search = search or _search_here
        self.nice = int(nice or 0)
        self.max_active = max(1, int(max_active))
        self._is_connected = is_connected or (lambda sid: True)
        self._lock = threading.Lock()
        self._active = {}

    @property
    def workers(self):
        return max(1, int(self._workers() if callable(self._workers) else self._workers))

    def start(self, config, trials, client_sid, search_id=None):
        search_id = search_id or "s-" + secrets.token_urlsafe(9)
        job = _Search(search_id, client_sid, config, trials)
        with self._lock:
            if len(self._active) >= self.max_active:
                raise RuntimeError(SEARCH_BUSY)
            self._active[search_id] = job
        job.thread = threading.Thread(target=self._run, args=(job,), name=f"search-{search_id}", daemon=True)
        job.thread.start()
        return search_id

    def stop(self, search_id):
        with self._lock:
            job = self._active.get(search_id)
        if job is None:
            return False
        job.stop_event.set()
        return True

    def active(self):
        with self._lock:
            return list(self._active)

    def shutdown(self, wait=True, timeout=None):
        with self._lock:
            jobs = list(self._active.values())
        for job in jobs:
            job.stop_event.set()
        if wait:
            for job in jobs:
                job.thread.join(timeout)

    def _should_stop(self, job):
        # The main thread ends when the server shuts down: then no new trial should start, or the
        # process pool would keep the exiting server alive until every queued trial had run.
        return (job.stop_event.is_set() or not self._is_connected(job.client_sid)
                or not threading.main_thread().is_alive())

    def _run(self, job):
        if self.nice > 0:
            # Like the runs: below interactive requests. On Linux the niceness is this thread's own,
            # and the worker processes it spawns inherit it.
            try:
                os.nice(self.nice)
            except OSError:
                pass
        results = []
        status = "done"
        start = time.perf_counter()
        workers = min(self.workers, len(job.trials))
        try:
            for result in self._search(job.config, job.trials, workers=workers,
                                       should_stop=lambda: self._should_stop(job), search_id=job.search_id):
                results.append(result)
                self._send("search:trial", {"search_id": job.search_id, "done": len(results),
                                            "total": len(job.trials), **_json_safe(result)}, job.search_id)
            if len(results) < len(job.trials):
                status = "stopped"
        except Exception as exc:  # a worker crash or an engine bug ends this search only
            log.exception("search %s failed", job.search_id)
            self._send("search:error", {"search_id": job.search_id, "error": f"{type(exc).__name__}: {exc}"},
                       job.search_id)
            status = "error"
        finally:
            with self._lock:
                self._active.pop(job.search_id, None)
        elapsed = time.perf_counter() - start
        top = [{k: v for k, v in r.items() if k != "curve"} for r in best(results, TOP_N)]
        try:
            narrowed = search_lab.narrow(results, min(TOP_N, len(top))) if top else None
        except ValueError:
            narrowed = None
        self._send("search:done", _json_safe({
            "search_id": job.search_id, "status": status, "results": len(results), "total": len(job.trials),
            "best": top, "narrowed": narrowed, "elapsed_s": round(elapsed, 3), "workers": workers,
        }), job.search_id)

    def _send(self, event, data, room):
        try:
            self._emit(event, data, room)
        except Exception:
            log.exception("could not emit %s to %s", event, room)


def _search_here(config, trials, workers, should_stop, search_id):
    """The trials in this machine's processes (search_id names nothing here)."""
    return search(config, trials, workers=workers, should_stop=should_stop)


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def on_search_start(*args):
    data = args[0] if len(args) == 1 and isinstance(args[0], dict) else None
    if data is None or not isinstance(data.get("config"), dict):
        return {"error": "expected {config, trials, lr: [lo, hi], weight_decay: [lo, hi]}"}
    try:
        config = parse_config(data["config"])
        plan = plan_search(config, data.get("trials", 20), data.get("lr", [1e-6, 1e-2]),
                           data.get("weight_decay", [1e-8, 1e-4]), data.get("sampler_seed"),
                           max_trials=LAB_MAX_TRIALS, budget=SEARCH_BUDGET)
    except (ConfigError, SearchError) as exc:
        return {"error": str(exc), "errors": exc.errors}
    manager = current_app.extensions["labs_search"]
    if len(manager.active()) >= manager.max_active:  # refused before it is charged to the address
        return {"error": SEARCH_BUSY}
    refusal = current_app.extensions["search_limiter"].acquire(request.sid, request.remote_addr)
    if refusal is not None:
        return {"error": refusal}
    search_id = "s-" + secrets.token_urlsafe(9)
    join_room(search_id)
    try:
        manager.start(config, plan.trials, request.sid, search_id=search_id)
    except RuntimeError as exc:
        leave_room(search_id)
        return {"error": str(exc)}
    return {"search_id": search_id, "trials": plan.trials, "workers": min(manager.workers, len(plan.trials)),
            "config": config.to_dict()}


def on_search_stop(*args):
    data = args[0] if len(args) == 1 and isinstance(args[0], dict) else {}
    search_id = data.get("search_id")
    if not isinstance(search_id, str):
        return {"error": "expected {search_id: string}"}
    if current_app.extensions["labs_search"].stop(search_id):
        return {"ok": True}
    return {"error": f"search {search_id} is not running"}


def init_app(app):
    """The app's search manager (``app.extensions["labs_search"]``) and the search:* handlers on its
    Socket.IO server (``app.extensions["socketio"]``), through which the manager emits."""
    socketio = app.extensions["socketio"]
    server = socketio.server

    def emit(event, data, room):
        server.emit(event, data, to=room, namespace="/")

    def is_connected(sid):
        try:
            return server.manager.is_connected(sid, "/")
        except Exception:
            return True

    cluster = app.extensions.get("cluster")
    if cluster is None:
        manager = SearchManager(emit, search_workers(app), is_connected=is_connected,
                                nice=app.config.get("TRAINING_NICE", 10))
    else:  # the trials go to the cluster's workers, as many at once as they have processes
        manager = SearchManager(emit, cluster.search.slots, is_connected=is_connected, search=cluster.search)
    app.extensions["labs_search"] = manager
    socketio.on_event("search:start", on_search_start)
    socketio.on_event("search:stop", on_search_stop)
