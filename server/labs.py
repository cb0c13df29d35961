"""The chapter-6 labs: pages, JSON endpoints and the search lab's socket events.

Registered by ``init_labs(app, socketio)`` (called from ``create_app``):

Pages (templates/labs/): ``/labs`` (index), ``/labs/<slug>`` (one lab), ``/labs/inside/<run_id>``.

JSON (errors are ``{error, errors?}`` with a 4xx status):
- ``GET /api/labs`` -> ``{labs: [{slug, section, title, summary}]}``
- ``GET|POST /api/labs/paths`` -> optimizer paths + contour grid (``nnengine.labs.paths.run_paths``);
  ``GET /api/labs/paths/defaults`` -> functions, optimizers and the lab's learning rates
- ``GET|POST /api/labs/histograms`` -> per-init, per-layer histogram counts
- ``POST /api/labs/gradcheck`` ``{config, batch?, max_entries?, seed?}`` -> ``[{param, shape, rel_error, ...}]``
  (``?detail=1``: ``{params: [...], max_rel_error, ok, loss, ...}``)
- ``GET|POST /api/labs/<optimizers|init|batchnorm|overfitting>/runs`` -> ``{settings, runs: [{key, label,
  group, config}], meta}`` (configs for ``run:start``)
- ``GET|POST /api/labs/search/setup`` -> ``{config, trials, lr, weight_decay}``;
  ``POST /api/labs/search/narrow`` ``{results, top}`` -> ``{lr, weight_decay, from}``
- ``GET /api/labs/inside/<run_id>`` -> histograms of weights/activations and first-layer images

GET endpoints read settings from the query string: each value is JSON if it parses (``steps=30``,
``optimizers=[{"name":"sgd"}]``), else a string (``activation=tanh``), or all at once as
``?settings=<JSON>``.

Socket.IO (default namespace), the search lab; each search has its own room:
- ``search:start {config, trials, lr: [lo, hi], weight_decay: [lo, hi], sampler_seed?}`` -> ack
  ``{search_id, trials: [{trial, lr, weight_decay}], workers}`` or ``{error, errors?}``
- server -> room: ``search:trial {search_id, done, total, trial, lr, weight_decay, val_acc, train_acc,
  curve, ...}``, ``search:done {search_id, status, results: n, best: [...], narrowed, elapsed_s, workers}``,
  ``search:error {search_id, error}``
- ``search:stop {search_id}`` -> ``{ok}``: no new trial starts; running trials finish first.
``search:start`` is rate-limited per address (SEARCH_RATE_PER_ADDRESS, server/fairness.py).
A search stops by itself when the connection that started it goes away (its results are not stored).
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import threading
import time

from flask import Blueprint, abort, current_app, jsonify, render_template, request
from flask_socketio import join_room, leave_room

from nnengine.config import ConfigError, estimated_cost, parse_config
from nnengine.labs import LAB_SLUGS, LABS
from nnengine.labs import experiments, histograms, inside, paths, search_lab
from nnengine.labs.__main__ import run_lab
from nnengine.search import LogRange, best, sample_trials, search

from .jobs import is_run_id

log = logging.getLogger(__name__)

labs_bp = Blueprint("labs", __name__)

RUN_LABS = tuple(experiments.LAB_RUNS)
MAX_SEARCH_TRIALS = 1000
# Multiply-adds one search may spend: about 15 times the book's 100-trial search.
SEARCH_BUDGET = 2e13
TOP_N = 5


# ---------------------------------------------------------------- pages

def _lab(slug):
    return next((lab for lab in LABS if lab["slug"] == slug), None)


@labs_bp.get("/labs")
@labs_bp.get("/labs/")
def labs_index():
    return render_template("labs/index.html", labs=LABS)


@labs_bp.get("/labs/<slug>")
def lab_page(slug):
    lab = _lab(slug)
    if lab is None:
        abort(404, description=f"there is no lab '{slug}'; the labs are {', '.join(LAB_SLUGS)}")
    return render_template(f"labs/{slug}.html", lab=lab, labs=LABS,
                           max_per_client=current_app.config.get("MAX_QUEUED_PER_CLIENT", 4),
                           workers=current_app.config.get("MAX_CONCURRENT_RUNS", 1),
                           search_workers=_search_workers(current_app), run_id=None)


@labs_bp.get("/labs/inside/<run_id>")
def inside_page(run_id):
    if not is_run_id(run_id):
        abort(404, description=f"unknown run {run_id}")
    return render_template("labs/inside.html", lab=_lab("inside"), labs=LABS, run_id=run_id)


# ---------------------------------------------------------------- JSON helpers

class _BadRequest(Exception):
    def __init__(self, message, errors=None):
        super().__init__(message)
        self.errors = errors


def _settings():
    """Lab settings from a JSON body (POST) or the query string (GET)."""
    if request.method == "POST":
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise _BadRequest("expected a JSON object in the request body")
        return body
    if "settings" in request.args:
        try:
            value = json.loads(request.args["settings"])
        except json.JSONDecodeError as exc:
            raise _BadRequest(f"settings is not valid JSON: {exc.msg}") from None
        if not isinstance(value, dict):
            raise _BadRequest("settings must be a JSON object")
        return value
    settings = {}
    for key, text in request.args.items():
        try:
            settings[key] = json.loads(text)
        except json.JSONDecodeError:
            settings[key] = text
    return settings


def _compute(fn):
    """Call fn(); bad input becomes 400 {error, errors?}."""
    try:
        return jsonify(fn())
    except _BadRequest as exc:
        return _error(str(exc), exc.errors)
    except (experiments.SettingsError, ConfigError) as exc:
        return _error(str(exc), exc.errors)
    except (ValueError, TypeError) as exc:
        return _error(str(exc), getattr(exc, "errors", None))   # e.g. the paths lab's field errors


def _error(message, errors=None, status=400):
    body = {"error": message}
    if errors:
        body["errors"] = errors
    return jsonify(body), status


# ---------------------------------------------------------------- JSON endpoints

@labs_bp.get("/api/labs")
def list_labs():
    return jsonify(labs=LABS)


@labs_bp.get("/api/labs/paths/defaults")
def paths_defaults():
    return jsonify(paths.lab_defaults())


@labs_bp.route("/api/labs/paths", methods=["GET", "POST"])
def paths_api():
    return _compute(lambda: run_lab("paths", _settings()))


@labs_bp.route("/api/labs/histograms", methods=["GET", "POST"])
def histograms_api():
    def go():
        settings = _settings()
        if "range" in settings and settings["range"] is not None:
            value = settings["range"]
            if not (isinstance(value, list) and len(value) == 2
                    and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
                raise _BadRequest("range must be [lo, hi]")
        result = run_lab("histograms", settings)
        result["book_inits"] = histograms.BOOK_INITS
        return result
    return _compute(go)


@labs_bp.post("/api/labs/gradcheck")
def gradcheck_api():
    def go():
        body = _settings()
        if not isinstance(body.get("config", {}), dict):
            raise _BadRequest("config must be an experiment config object")
        result = run_lab("gradcheck", body)
        if request.args.get("detail") in ("1", "true"):
            return result
        return result["params"]
    return _compute(go)


@labs_bp.route("/api/labs/<lab>/runs", methods=["GET", "POST"])
def lab_runs_api(lab):
    if lab not in RUN_LABS:
        return _error(f"no run configs for lab '{lab}'; labs with runs: {', '.join(RUN_LABS)}", status=404)
    return _compute(lambda: run_lab(lab, _settings()))


@labs_bp.route("/api/labs/search/setup", methods=["GET", "POST"])
def search_setup_api():
    return _compute(lambda: run_lab("search", _settings()))


@labs_bp.post("/api/labs/search/narrow")
def search_narrow_api():
    def go():
        body = _settings()
        results = body.get("results")
        if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
            raise _BadRequest("results must be a list of trials {lr, weight_decay, val_acc}")
        for i, r in enumerate(results):
            for key in ("lr", "weight_decay"):
                if not _is_number(r.get(key)):
                    raise _BadRequest(f"results[{i}].{key} must be a number")
            if r.get("val_acc") is not None and not _is_number(r.get("val_acc")):
                raise _BadRequest(f"results[{i}].val_acc must be a number or null")
        return search_lab.narrow(results, body.get("top", TOP_N), body.get("widen", 1.0))
    return _compute(go)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@labs_bp.get("/api/labs/inside/<run_id>")
def inside_api(run_id):
    store = current_app.extensions["store"]
    run = store.get_run(run_id) if is_run_id(run_id) else None
    if run is None:
        return _error(f"unknown run {run_id}", status=404)
    weights = store.get_weights(run_id)
    if weights is None:
        return _error(f"run {run_id} has no saved weights (status: {run['status']}); "
                      "only finished or stopped runs keep them", status=409)
    split = request.args.get("split", "test")
    samples = request.args.get("samples", 1000, type=int)
    images = request.args.get("images", 100, type=int)
    first_layer = request.args.get("first_layer", "change")

    def go():
        result = inside.inspect_network(run["config"], weights, split=split, samples=samples, images=images,
                                        first_layer=first_layer)
        result.update(run_id=run_id, status=run["status"], config=run["config"],
                      summary=run.get("summary"), metrics=run.get("metrics", []))
        return result
    return _compute(go)


# ---------------------------------------------------------------- the search lab

def _search_workers(app):
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

    def __init__(self, emit, workers, is_connected=None, max_active=1, nice=0):
        self._emit = emit
        self.workers = max(1, int(workers))
        self.nice = int(nice or 0)
        self.max_active = max(1, int(max_active))
        self._is_connected = is_connected or (lambda sid: True)
        self._lock = threading.Lock()
        self._active = {}

    def start(self, config, trials, client_sid, search_id=None):
        search_id = search_id or "s-" + secrets.token_urlsafe(9)
        job = _Search(search_id, client_sid, config, trials)
        with self._lock:
            if len(self._active) >= self.max_active:
                raise RuntimeError("a search is already running on this server (it uses every core); "
                                   "wait for it or stop it")
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
            for result in search(job.config, job.trials, workers=workers,
                                 should_stop=lambda: self._should_stop(job)):
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


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _range(value, name):
    """[lo, hi] or "lo:hi" -> LogRange (ValueError naming the field otherwise)."""
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_number(v) for v in value):
        value = f"{float(value[0])!r}:{float(value[1])!r}"
    if not isinstance(value, str):
        raise ValueError(f"{name} must be [lo, hi] with 0 < lo <= hi, got {value!r}")
    return LogRange.parse(value, name)


def on_search_start(*args):
    data = args[0] if len(args) == 1 and isinstance(args[0], dict) else None
    if data is None or not isinstance(data.get("config"), dict):
        return {"error": "expected {config, trials, lr: [lo, hi], weight_decay: [lo, hi]}"}
    try:
        config = parse_config(data["config"])
    except ConfigError as exc:
        return {"error": str(exc), "errors": exc.errors}
    if config.data.validation_size <= 0:
        return {"error": "the search ranks trials on a validation split: set data.validation_size above 0",
                "errors": [{"field": "data.validation_size", "message": "must be above 0 for a search"}]}
    trials = data.get("trials", 20)
    if isinstance(trials, bool) or not isinstance(trials, int) or not 1 <= trials <= MAX_SEARCH_TRIALS:
        return {"error": f"trials must be a whole number from 1 to {MAX_SEARCH_TRIALS}, got {trials!r}"}
    try:
        lr = _range(data.get("lr", [1e-6, 1e-2]), "lr")
        weight_decay = _range(data.get("weight_decay", [1e-8, 1e-4]), "weight_decay")
    except ValueError as exc:
        return {"error": str(exc)}
    cost = trials * estimated_cost(config)
    if cost > SEARCH_BUDGET:
        return {"error": f"this search needs about {cost:.2g} multiply-adds, over the budget of "
                         f"{SEARCH_BUDGET:.2g}; use fewer trials, epochs or samples"}
    sampler_seed = data.get("sampler_seed")
    if sampler_seed is not None and (isinstance(sampler_seed, bool) or not isinstance(sampler_seed, int)
                                     or not 0 <= sampler_seed < 2**32):
        return {"error": "sampler_seed must be a whole number from 0 to 2^32 - 1"}
    manager = current_app.extensions["labs_search"]
    if len(manager.active()) >= manager.max_active:  # refused before it is charged to the address
        return {"error": "a search is already running on this server (it uses every core); "
                         "wait for it or stop it"}
    refusal = current_app.extensions["search_limiter"].acquire(request.sid, request.remote_addr)
    if refusal is not None:
        return {"error": refusal}
    planned = sample_trials(config, trials, lr, weight_decay, sampler_seed=sampler_seed)
    search_id = "s-" + secrets.token_urlsafe(9)
    join_room(search_id)
    try:
        manager.start(config, planned, request.sid, search_id=search_id)
    except RuntimeError as exc:
        leave_room(search_id)
        return {"error": str(exc)}
    return {"search_id": search_id, "trials": planned, "workers": min(manager.workers, trials),
            "config": config.to_dict()}


def on_search_stop(*args):
    data = args[0] if len(args) == 1 and isinstance(args[0], dict) else {}
    search_id = data.get("search_id")
    if not isinstance(search_id, str):
        return {"error": "expected {search_id: string}"}
    if current_app.extensions["labs_search"].stop(search_id):
        return {"ok": True}
    return {"error": f"search {search_id} is not running"}


# ---------------------------------------------------------------- registration

def init_labs(app, socketio):
    """Register the lab pages and endpoints, and the search lab's socket handlers, on ``app``.

    Call after ``socketio.init_app(app)``: events are then emitted through this app's own server.
    """
    app.register_blueprint(labs_bp)
    server = socketio.server

    def emit(event, data, room):
        server.emit(event, data, to=room, namespace="/")

    def is_connected(sid):
        try:
            return server.manager.is_connected(sid, "/")
        except Exception:
            return True

    app.extensions["labs_search"] = SearchManager(emit, _search_workers(app), is_connected=is_connected,
                                                  nice=app.config.get("TRAINING_NICE", 10))
    socketio.on_event("search:start", on_search_start)
    socketio.on_event("search:stop", on_search_stop)
