"""HTTP routes: the pages (one blueprint) and the JSON API (another).

Everything under /api/ answers JSON, errors included, so a script or the
dashboard never has to parse an HTML traceback.
"""

import io
import logging

from flask import Blueprint, abort, current_app, jsonify, render_template, request, send_file
from werkzeug.exceptions import HTTPException

from nnengine.config import ConfigError, parse_config
from nnengine.labs import LABS
from nnengine.schema import schema

from .runs import is_run_id
from .origin import LAB_TITLES
from .run_query import QueryError, parse_list_args
from .store import StoreError
from .stored_weights import weights_limit_errors

log = logging.getLogger(__name__)

pages_bp = Blueprint("pages", __name__)
api_bp = Blueprint("api", __name__, url_prefix="/api")


def _store():
    return current_app.extensions["store"]


def _known_run(run_id):
    """The stored run, or a 404 (ids with foreign characters cannot exist)."""
    run = _store().get_run(run_id) if is_run_id(run_id) else None
    if run is None:
        abort(404, description=f"unknown run {run_id}")
    return run


# -- pages -----------------------------------------------------------------------

@pages_bp.get("/")
def index():
    return render_template("index.html")


@pages_bp.get("/runs")
def runs_page():
    # With listing turned off the page says so itself instead of asking /api/runs for a 403.
    return render_template("runs.html", listing=bool(current_app.config.get("LIST_RUNS", True)))


@pages_bp.get("/runs/<run_id>")
def run_page(run_id):
    run = _known_run(run_id)
    name = run["config"].get("name") if isinstance(run["config"], dict) else None
    return render_template("run.html", run_id=run_id, status=run["status"],
                           name=name if isinstance(name, str) and name.strip() else None)


# -- API -------------------------------------------------------------------------

@api_bp.get("/schema")
def get_schema():
    return jsonify(schema())


@api_bp.post("/validate")
def validate():
    raw = request.get_json(silent=True)
    if raw is None:
        return jsonify(error="expected a JSON config in the request body"), 400
    try:
        config = parse_config(raw)
    except ConfigError as exc:
        return jsonify(error=str(exc), errors=exc.errors), 400
    too_large = weights_limit_errors(config, current_app.config["RUN_WEIGHTS_MAX_MB"])
    if too_large:  # as run:start would refuse it
        return jsonify(error=too_large[0]["message"], errors=too_large), 400
    return jsonify(ok=True, config=config.to_dict())


@api_bp.get("/runs")
def list_runs():
    if not current_app.config.get("LIST_RUNS", True):
        # A deployment where run ids are the only key to a run (docs/security.md).
        abort(403, description="listing runs is turned off on this server; open a run by its link")
    try:
        query = parse_list_args(request.args)
    except QueryError as exc:
        return jsonify(error=str(exc)), 400
    limit, offset, facets = query.pop("limit"), query.pop("offset"), query.pop("facets")
    store = _store()
    runs = [_with_lab_title(run) for run in store.list_runs(limit=limit, offset=offset, **query)]
    body = {"runs": runs, "total": store.count_runs(**query), "limit": limit, "offset": offset}
    if facets:
        body["facets"] = _facets(store)
    return jsonify(body)


def _with_lab_title(run):
    origin = run.get("origin")
    if origin and origin.get("kind") == "lab":
        origin["lab_title"] = LAB_TITLES.get(origin.get("lab"), origin.get("lab"))
    return run


def _facets(store):
    """How many runs each origin and each status has (for the filters of /runs)."""
    origins = []
    for kind, lab, count in store.origin_counts():
        if kind is None:
            origins.append({"origin": "untagged", "count": count})
        elif kind == "lab":
            origins.append({"origin": f"lab:{lab}", "lab": lab, "title": LAB_TITLES.get(lab, lab), "count": count})
        else:
            origins.append({"origin": kind, "count": count})
    return {"origins": origins, "statuses": store.status_counts()}


@api_bp.get("/runs/<run_id>")
def get_run(run_id):
    run = _with_lab_title(_known_run(run_id))
    run["queue_position"] = current_app.extensions["runs"].position(run_id)
    return jsonify(run)


@api_bp.delete("/runs/<run_id>")
def delete_run(run_id):
    """204 once the run, its metrics and its weights are gone; 404 unknown; 409 queued or running."""
    outcome = current_app.extensions["runs"].delete(run_id) if is_run_id(run_id) else "unknown"
    if outcome == "unknown":
        return jsonify(error=f"unknown run {run_id}"), 404
    if outcome == "active":
        return jsonify(error=f"run {run_id} is queued or running; stop it first, then delete it"), 409
    # A deleted run is unknown to the store, which the queue limit reads as "maybe not submitted
    # yet": its place would stay taken for a minute.
    current_app.extensions["queue_limit"].release(run_id)
    return "", 204


@api_bp.get("/runs/<run_id>/weights.npz")
def get_weights(run_id):
    weights = _store().get_weights(run_id) if is_run_id(run_id) else None
    if weights is None:
        abort(404, description=f"no saved weights for run {run_id}")
    return send_file(io.BytesIO(weights), mimetype="application/octet-stream",
                     as_attachment=True, download_name=f"{run_id}.npz")


# -- errors ----------------------------------------------------------------------

def _wants_json():
    return request.path == "/api" or request.path.startswith("/api/")


def init_app(app):
    app.register_blueprint(pages_bp)
    app.register_blueprint(api_bp)
    register_error_handlers(app)


def register_error_handlers(app):
    """App-wide, because routing errors (404, 405) never reach a blueprint's handlers."""

    @app.errorhandler(HTTPException)
    def http_error(exc):
        if _wants_json():
            message = exc.description or exc.name
            if exc.code == 413:
                # Werkzeug's text does not say what the limit is.
                limit = current_app.config.get("MAX_CONTENT_LENGTH")
                message = "the request is too large" + (
                    f" (at most {limit} bytes, {limit / 2**20:g} MB)" if limit else "")
            return jsonify(error=message), exc.code
        if exc.code == 404:
            return _not_found_page(exc), 404
        return exc

    def _not_found_page(exc):
        """The 404 page worded for what was asked for: a run (its page, or a look inside it), a lab,
        or any other address. Routes that matched say so through their arguments."""
        args = request.view_args or {}
        if "run_id" in args:
            kind = "run"
        elif "slug" in args or request.path.startswith("/labs/"):
            kind = "lab"
        else:
            kind = "page"
        return render_template("404.html", error=exc, kind=kind, run_id=args.get("run_id"),
                               slug=args.get("slug"), labs=LABS, path=request.path)

    @app.errorhandler(StoreError)
    def database_error(exc):
        log.error("database error on %s: %s", request.path, exc)
        message = f"the run database is unavailable: {exc.public}"
        # A server that is down or busy may be back in a moment; a full or read-only one is not.
        headers = {"Retry-After": "5"} if exc.reason in ("unavailable", "busy") else {}
        if _wants_json():
            return jsonify(error=message), 503, headers
        return message, 503, headers

    @app.errorhandler(Exception)
    def unexpected_error(exc):
        log.exception("unhandled error on %s", request.path)
        if _wants_json():
            return jsonify(error="internal server error"), 500
        return "internal server error", 500
