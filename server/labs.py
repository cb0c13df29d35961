"""The chapter-6 labs on the web: pages and JSON endpoints over ``nnengine.labs.registry``, and the
search lab's socket events (``server.search``).

Registered by ``init_app(app)`` (called from ``create_app``):

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

Socket.IO: the search lab's ``search:start`` / ``search:stop`` (``server/search.py``).
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, jsonify, render_template, request

from nnengine.labs import histograms, inside, paths
from nnengine.labs.registry import LAB_SLUGS, LABS, LABS_BY_NAME, RUN_LABS, run_lab

from . import search
from .runs import is_run_id

labs_bp = Blueprint("labs", __name__)


# ---------------------------------------------------------------- pages

def _lab(slug):
    return LABS_BY_NAME[slug].card() if slug in LAB_SLUGS else None


@labs_bp.get("/labs")
@labs_bp.get("/labs/")
def labs_index():
    return render_template("labs/index.html", labs=LABS)


@labs_bp.get("/labs/<slug>")
def lab_page(slug):
    lab = _lab(slug)
    if lab is None:
        abort(404, description=f"there is no lab '{slug}'; the labs are {', '.join(LAB_SLUGS)}")
    search_workers = current_app.extensions["labs_search"].workers
    # In a cluster, runs train on the workers: as many at once as they have processes.
    workers = search_workers if current_app.config.get("BROKER_URL") else current_app.config.get(
        "MAX_CONCURRENT_RUNS", 1)
    return render_template(f"labs/{slug}.html", lab=lab, labs=LABS,
                           max_per_client=current_app.config.get("MAX_QUEUED_PER_CLIENT", 4),
                           workers=workers, search_workers=search_workers, run_id=None)


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
    except (ValueError, TypeError) as exc:   # SettingsError, ConfigError, SearchError carry field errors
        return _error(str(exc), getattr(exc, "errors", None))


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
        return {**run_lab("histograms", _settings()), "book_inits": histograms.BOOK_INITS}
    return _compute(go)


@labs_bp.post("/api/labs/gradcheck")
def gradcheck_api():
    def go():
        result = run_lab("gradcheck", _settings())
        return result if request.args.get("detail") in ("1", "true") else result["params"]
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
    return _compute(lambda: run_lab("narrow", _settings()))


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


# ---------------------------------------------------------------- registration

def init_app(app):
    """The lab pages and endpoints, and the search lab's socket handlers (``server.search``), on
    ``app``; its Socket.IO server is ``app.extensions["socketio"]``."""
    app.register_blueprint(labs_bp)
    search.init_app(app)
