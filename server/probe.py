"""Probing a trained network over HTTP: thin adapters over ``nnengine.probe`` (the engine computes,
this module reads requests, bounds their cost and answers JSON).

Run id ``default`` is the default model; any other is a stored run with saved weights.

- ``GET /api/runs/<run_id>/dreams`` (query: the ``DreamSettings``; ``frames`` defaults to 0 here) ->
  ``{images: 10 x 28x28 in [0, 1], probabilities: 10 x [10], steps, settings, own_probability,
  frame_steps, frames?: [{step, images: 10 x 784 grey levels}], model}``
- ``POST /api/adversarial`` (multipart ``image``; optional ``run_id``, ``target``, ``preprocess``,
  ``max_epsilon``, ``iterations``) -> ``{original: {input, prediction, probabilities}, epsilon,
  perturbed: 28x28, prediction, probabilities, flipped, target, curve, settings, model}``
- ``GET /api/probe/<run_id>`` -> ``{model, about, layers, test_images, accuracy, loss, config?}``
- ``GET /api/probe/<run_id>/examples?count=N`` -> ``{digits: [10 x [{index, image: 28x28}]]}``
- ``POST /api/probe/<run_id>/surgery`` JSON ``{off: {layer: [units]}, image?: 28x28, layer?, k?}`` ->
  ``{accuracy, loss, intact_accuracy, off, prediction?, probabilities?, images, elapsed_ms}``
- ``GET /api/probe/<run_id>/rank?layer=i`` -> ``{layer, units: [{unit, drop, accuracy, loss}], ...}``
- ``GET /api/probe/<run_id>/robustness`` (query: the ``RobustnessSettings``) -> ``{noise, blur, images, settings}``
- ``POST /api/probe/<run_id>/morph`` JSON ``{a, b, points?}`` (each end a 28x28 picture or ``{"test": i}``)
  -> ``{s, probabilities, predictions, flips, settings}``
- ``GET /labs/probe/<run_id>``: the lab page on that run.

Every refusal is JSON ``{error, errors?}``: 400 bad settings or pictures (``errors`` names each field),
404 unknown run, 409 a run without weights, 503 busy or no default model.  Cost is bounded twice: at
most ``PROBE_MAX_IN_FLIGHT`` probes run at once (the others wait up to ``PROBE_WAIT_S``, then 503),
and a request whose settings would cost more than ``PROBE_MAX_MACS`` multiply-adds on its network is
refused with the largest setting that fits.  Interactive probes (surgery, adversarial, morph, dreams)
pause training between batches as predictions do (``jobs.PriorityGate``).
"""
from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
from flask import Blueprint, abort, current_app, jsonify, render_template, request

from nnengine.config import ConfigError
from nnengine.images import PreprocessError
from nnengine.labs.registry import LABS, LABS_BY_NAME
from nnengine.models import DEFAULT_MODEL, ModelFileError
from nnengine.probe import cost
from nnengine.probe.adversarial import AttackSettings, smallest_flip
from nnengine.probe.dreams import DreamSettings, dream, pictures
from nnengine.probe.morph import MorphSettings, morph
from nnengine.probe.robustness import RobustnessSettings, robustness_curves
from nnengine.probe.settings import SettingsError, SettingsReader
from nnengine.probe.subjects import Subject, model_subject, run_subject
from nnengine.probe.surgery import Surgery

from .runs import is_run_id
from .predict import PredictError, network_picture, uploaded_picture

probe_bp = Blueprint("probe", __name__)

# Probes computed at once per app (each takes one core for up to a few seconds).
MAX_IN_FLIGHT = 2
# How long a probe waits for a slot before the answer is 503: a page asks for several at once
# (dreams, an attack, surgery, a morph), each a few seconds on a convolutional network.
WAIT_S = 20.0
# Multiply-adds one request may cost: about 5 s of one core.
MAX_MACS = 6e10
# Networks kept loaded (with their test images and the surgery's kept activations, up to ~80 MB each).
CACHE_SIZE = 3
# Results kept per network (dreams and robustness curves are the same for the same settings).
RESULTS_KEPT = 8
MAX_EXAMPLES = 10


class ProbeError(Exception):
    def __init__(self, message: str, status: int = 400, errors: list | None = None):
        super().__init__(message)
        self.message, self.status, self.errors = message, status, errors


# ------------------------------------------------------------------------------------------------
# the networks probed


class Probed:
    """A loaded subject with what is kept between requests: its ``Surgery`` and recent results.
    ``lock`` is held while anything runs on its network (the layers keep per-call state)."""

    def __init__(self, subject: Subject, key: str):
        self.subject, self.key = subject, key
        self.lock = threading.Lock()
        self.forward_cost = cost.forward_cost(subject.network)
        self._surgery: Surgery | None = None
        self.results: OrderedDict = OrderedDict()

    @property
    def surgery(self) -> Surgery:
        if self._surgery is None:
            self._surgery = Surgery(self.subject)
        return self._surgery

    def remembered(self, key, compute):
        """compute(), or the result it gave for ``key`` before (call under ``lock``)."""
        if key in self.results:
            self.results.move_to_end(key)
            return self.results[key]
        result = compute()
        self.results[key] = result
        while len(self.results) > RESULTS_KEPT:
            self.results.popitem(last=False)
        return result


class ProbeCache:
    """A small LRU of ``Probed`` networks keyed by "default" or a run id, and the slots that bound how
    many probes run at once.  Thread-safe; one per app (``app.extensions["probe"]``)."""

    def __init__(self, size: int, in_flight: int):
        self.size = size
        self.slots = threading.BoundedSemaphore(in_flight)
        self._items: OrderedDict[str, Probed] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, loader) -> Probed:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        probed = Probed(loader(), key)                # loading takes a moment: outside the lock
        with self._lock:
            self._items[key] = probed
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return probed


def _cache() -> ProbeCache:
    return current_app.extensions["probe"]


def _known_run(run_id: str) -> dict:
    run = current_app.extensions["store"].get_run(run_id) if is_run_id(run_id) else None
    if run is None:
        raise ProbeError(f"unknown run {run_id[:80]!r}: there is no stored run with this id (use 'default' "
                         "for the default model)", 404)
    return run


def _probed(run_id: str | None) -> Probed:
    """The network of ``run_id`` ("default" or None: the default model), loaded once."""
    if not run_id or run_id == "default":
        base = Path(current_app.config.get("DEFAULT_MODEL", DEFAULT_MODEL))

        def load_default():
            try:
                return model_subject(base)
            except ModelFileError:
                raise ProbeError("the default model is not installed (models/default-v1.npz)", 503) from None
        return _cache().get("default", load_default)
    run = _known_run(run_id)
    store = current_app.extensions["store"]

    def load_run():
        weights = store.get_weights(run_id)
        if weights is None:
            raise ProbeError(f"run {run_id} has no saved weights (status: {run.get('status')}); only finished "
                             "or stopped runs can be probed", 409)
        try:
            return run_subject(run["config"], weights, name=run_id)
        except (ConfigError, ValueError) as exc:
            current_app.logger.warning("cannot rebuild run %s for probing: %s", run_id, exc)
            raise ProbeError(f"the weights of run {run_id} cannot be loaded for probing", 409) from None
    return _cache().get(run_id, load_run)


@contextlib.contextmanager
def _slot(probed: Probed, interactive: bool = True):
    """One of the app's probe slots (503 after PROBE_WAIT_S), training paused between batches while
    an interactive probe runs, and the network's lock."""
    if not _cache().slots.acquire(timeout=current_app.config.get("PROBE_WAIT_S", WAIT_S)):
        raise ProbeError("the server is busy with other probes; try again in a moment", 503)
    try:
        runs = current_app.extensions.get("runs")
        gate = runs.gate.interactive() if interactive and runs is not None else contextlib.nullcontext()
        with gate, probed.lock:
            yield
    finally:
        _cache().slots.release()


def _within_budget(macs: float, setting: str, largest: float, what: str) -> None:
    """Refuse settings whose cost is over PROBE_MAX_MACS, naming the setting and the most it may be."""
    budget = float(current_app.config.get("PROBE_MAX_MACS", MAX_MACS))
    if macs > budget:
        raise ProbeError(f"{what} would cost about {macs:.2g} multiply-adds on this network, more than the "
                         f"{budget:.2g} one request may take here; use {setting} {math.floor(largest):g} or less",
                         400, [{"field": setting, "message": f"at most {math.floor(largest):g} on this network"}])


# ------------------------------------------------------------------------------------------------
# reading requests


def _query_settings(reader: SettingsReader, allowed_extra=()) -> dict:
    """The query string as settings: each value JSON when it parses (``steps=30``), else a string."""
    values = {}
    for key, text in request.args.items():
        try:
            values[key] = json.loads(text)
        except json.JSONDecodeError:
            values[key] = text
    _refuse_unknown(values, reader.names() + list(allowed_extra))
    return values


def _refuse_unknown(values: dict, known) -> None:
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ProbeError(f"unknown setting {unknown[0]!r}; the settings are {', '.join(sorted(known))}", 400,
                         [{"field": key, "message": "is not a setting of this probe"} for key in unknown])


def _json_body(known) -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ProbeError("expected a JSON object in the request body", 400)
    _refuse_unknown(body, known)
    return body


def _picture(value, field: str, subject: Subject) -> np.ndarray:
    """(784,) float64 from a 28x28 list of numbers in [0, 1] or ``{"test": i}``."""
    if isinstance(value, dict) and set(value) == {"test"}:
        i = value["test"]
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(subject.t_test):
            raise ProbeError(f"{field}.test must be a test image 0 to {len(subject.t_test) - 1}, got {i!r}", 400,
                             [{"field": f"{field}.test", "message": f"must be 0 to {len(subject.t_test) - 1}"}])
        return subject.x_test[i].astype(np.float64)
    message = (f"{field} must be a 28x28 picture (28 rows of 28 numbers from 0 to 1, ink bright on black) "
               "or {\"test\": i}")
    if not isinstance(value, list) or len(value) != 28 or not all(
            isinstance(row, list) and len(row) == 28 for row in value):
        raise ProbeError(message, 400, [{"field": field, "message": "must be 28 rows of 28 numbers"}])
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for row in value for v in row):
        raise ProbeError(message, 400, [{"field": field, "message": "must hold numbers only"}])
    x = np.asarray(value, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 1:
        raise ProbeError(f"{field} must hold numbers from 0 to 1, got values from {x.min():g} to {x.max():g}", 400,
                         [{"field": field, "message": "must hold numbers from 0 to 1"}])
    return x


def _whole(value, field: str, lo: int, hi: int) -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ProbeError(f"{field} must be a whole number from {lo} to {hi}, got {value!r}", 400,
                         [{"field": field, "message": f"must be a whole number from {lo} to {hi}"}])
    return value


def _probabilities(p) -> list:
    return np.round(np.asarray(p, dtype=np.float64), 6).tolist()


# ------------------------------------------------------------------------------------------------
# errors


@probe_bp.errorhandler(ProbeError)
def _probe_error(exc: ProbeError):
    body = {"error": exc.message}
    if exc.errors:
        body["errors"] = exc.errors
    headers = {"Retry-After": "1"} if exc.status == 503 else {}
    return jsonify(body), exc.status, headers


@probe_bp.errorhandler(SettingsError)
def _settings_error(exc: SettingsError):
    return jsonify(error=str(exc), errors=exc.errors), 400


@probe_bp.errorhandler(PredictError)
def _predict_error(exc: PredictError):
    return jsonify(error=exc.message), exc.status


@probe_bp.errorhandler(PreprocessError)
def _preprocess_error(exc: PreprocessError):
    return jsonify(error=exc.message), exc.status


# ------------------------------------------------------------------------------------------------
# routes


@probe_bp.get("/labs/probe/<run_id>")
def probe_page(run_id):
    if run_id != "default" and not is_run_id(run_id):
        abort(404, description=f"unknown run {run_id}")
    return render_template("labs/probe.html", lab=LABS_BY_NAME["probe"].card(), labs=LABS, run_id=run_id)


@probe_bp.get("/api/runs/<run_id>/dreams")
def dreams_api(run_id):
    reader = SettingsReader(DreamSettings)
    values = _query_settings(reader)
    settings = reader.read({"frames": 0, **values})
    probed = _probed(run_id)
    per = probed.forward_cost
    _within_budget(cost.dreams_cost(per, settings), "steps",
                   (float(current_app.config.get("PROBE_MAX_MACS", MAX_MACS)) / (per * 10) - settings.frames - 1)
                   / cost.GRADIENT, f"{settings.steps} steps of 10 dreams")
    def compute():
        began = time.perf_counter()
        doc = dream(probed.subject, settings).to_dict(frames=settings.frames > 0)
        return {**doc, "elapsed_s": round(time.perf_counter() - began, 4)}     # kept with the result

    with _slot(probed):
        result = probed.remembered(("dreams", settings), compute)
    return jsonify({**result, "model": probed.key})


@probe_bp.post("/api/adversarial")
def adversarial_api():
    form = {key: value for key, value in request.form.items()}
    _refuse_unknown(form, ["run_id", "target", "preprocess", *SettingsReader(AttackSettings).names()])
    run_id = (form.pop("run_id", "") or "").strip() or None
    if run_id and run_id != "default":
        _known_run(run_id)                      # an unknown run is a 404 before any picture work
    target = (form.pop("target", "") or "").strip()
    target = None if target == "" else _whole(target, "target", 0, 9)
    form.pop("preprocess", None)
    values = {}
    for key, text in form.items():
        try:
            values[key] = json.loads(text)
        except json.JSONDecodeError:
            values[key] = text
    settings = AttackSettings.read(values)
    data, preprocess = uploaded_picture()
    x = network_picture(data, preprocess)
    probed = _probed(run_id)
    per = probed.forward_cost
    budget = float(current_app.config.get("PROBE_MAX_MACS", MAX_MACS))
    _within_budget(cost.attack_cost(per, settings), "iterations",
                   budget / (per * cost.attack_rows(settings) * (cost.GRADIENT + 1)),
                   f"{settings.iterations} iterations")
    with _slot(probed):
        attack = smallest_flip(probed.subject, x, target, settings)
    return jsonify({**attack.to_dict(), "model": probed.key})


@probe_bp.get("/api/probe/<run_id>")
def probe_info(run_id):
    probed = _probed(run_id)
    _refuse_unknown(dict(request.args), [])
    with _slot(probed, interactive=False):
        accuracy, loss = probed.surgery.evaluate({})
        layers = [layer.to_dict() for layer in probed.surgery.layers]
    subject = probed.subject
    doc = {"model": probed.key, "about": subject.about, "layers": layers, "test_images": int(len(subject.t_test)),
           "accuracy": accuracy, "loss": loss, "forward_cost": probed.forward_cost}
    if subject.config is not None:
        doc["config"] = subject.config
    return jsonify(doc)


@probe_bp.get("/api/probe/<run_id>/examples")
def examples_api(run_id):
    _refuse_unknown(dict(request.args), ["count"])
    count = _whole(request.args.get("count", "3"), "count", 1, MAX_EXAMPLES)
    subject = _probed(run_id).subject
    digits = []
    for d in range(10):
        rows = subject.examples(d, count)
        digits.append([{"index": int(i), "image": pictures(subject.x_test[i:i + 1], 3)[0]} for i in rows])
    return jsonify(model=run_id, digits=digits)


@probe_bp.post("/api/probe/<run_id>/surgery")
def surgery_api(run_id):
    probed = _probed(run_id)
    body = _json_body(["off", "image", "layer", "k"])
    subject = probed.subject
    x = _picture(body["image"], "image", subject) if body.get("image") is not None else None
    with _slot(probed):
        began = time.perf_counter()
        surgery = probed.surgery
        off = surgery.check(body.get("off") or {})
        if body.get("k"):
            layer = _whole(body.get("layer", 0), "layer", 0, len(surgery.layers) - 1)
            k = _whole(body["k"], "k", 0, surgery.layers[layer].units)
            ranked = [u["unit"] for u in surgery.rank(layer)["units"][:k]]
            off[layer] = np.union1d(off.get(layer, np.zeros(0, np.int64)), ranked)
        accuracy, loss = surgery.evaluate(off)
        intact, _ = surgery.evaluate({})
        doc = {"accuracy": accuracy, "loss": loss, "intact_accuracy": intact, "images": int(len(surgery.t)),
               "off": {str(i): units.tolist() for i, units in off.items()}}
        if x is not None:
            p = surgery.probabilities(x[None], off)[0]
            doc.update(prediction=int(np.argmax(p)), probabilities=_probabilities(p))
        doc["elapsed_ms"] = round((time.perf_counter() - began) * 1000, 1)
    return jsonify(doc)


@probe_bp.get("/api/probe/<run_id>/rank")
def rank_api(run_id):
    _refuse_unknown(dict(request.args), ["layer"])
    probed = _probed(run_id)
    layers = probed.surgery.layers
    layer = _whole(request.args.get("layer", "0"), "layer", 0, len(layers) - 1)
    with _slot(probed, interactive=False):
        ranked = probed.surgery.rank(layer)
    return jsonify({**ranked, "model": probed.key})


@probe_bp.get("/api/probe/<run_id>/robustness")
def robustness_api(run_id):
    reader = SettingsReader(RobustnessSettings)
    settings = reader.read(_query_settings(reader))
    probed = _probed(run_id)
    per, n = probed.forward_cost, len(probed.subject.t_test)
    budget = float(current_app.config.get("PROBE_MAX_MACS", MAX_MACS))
    _within_budget(cost.robustness_cost(per, settings, n), "images", budget / (per * 2 * settings.levels),
                   f"{settings.levels} strengths of noise and of blur on {min(settings.images, n)} test images")
    with _slot(probed, interactive=False):
        result = probed.remembered(("robustness", settings), lambda: robustness_curves(probed.subject, settings))
    return jsonify({**result, "model": probed.key})


@probe_bp.post("/api/probe/<run_id>/morph")
def morph_api(run_id):
    probed = _probed(run_id)
    body = _json_body(["a", "b", "points"])
    for end in ("a", "b"):
        if body.get(end) is None:
            raise ProbeError(f"{end} is missing: send both ends of the path, each a 28x28 picture or "
                             "{\"test\": i}", 400, [{"field": end, "message": "is missing"}])
    a, b = (_picture(body[end], end, probed.subject) for end in ("a", "b"))
    settings = MorphSettings.read({"points": body.get("points")})
    per = probed.forward_cost
    budget = float(current_app.config.get("PROBE_MAX_MACS", MAX_MACS))
    _within_budget(cost.morph_cost(per, settings), "points", budget / (per * 11), f"{settings.points} points")
    with _slot(probed):
        result = morph(probed.subject, a, b, settings)
    return jsonify({**result, "model": probed.key})


def init_app(app):
    """The probe routes, and the per-app cache of probed networks and probe slots."""
    app.extensions["probe"] = ProbeCache(app.config.get("PROBE_CACHE_SIZE", CACHE_SIZE),
                                         app.config.get("PROBE_MAX_IN_FLIGHT", MAX_IN_FLIGHT))
    app.register_blueprint(probe_bp)
