"""POST /api/predict: recognise an uploaded or drawn digit with the default model or a finished run's.

- multipart field ``image`` (PNG, JPEG, GIF, BMP or WebP; at most 2 MB), optional fields ``run_id`` and
  ``preprocess``: "auto" (the default: the digit is cropped, fitted and centred as MNIST's were) or "none"
  (a 28x28 picture is the network's input as it is: grey, ink bright on black, 0-255 read as 0-1; a
  dream or an adversarial digit sent back is seen pixel for pixel);
- answers ``{prediction, probabilities: [10], input: 28x28 nested list (what the network sees, ink high),
  model: "default" | run_id}``;
- every refusal is JSON ``{error}`` with a 4xx status (400 bad/missing file, 404 unknown run, 409 run
  without weights, 413 too large, 415 not an image, 422 no digit found); 503 if the default model files
  are missing.

A prediction looks its run up once (an unknown run is a 404 before any image work), preprocesses the
picture (``nnengine.images``) and asks the run's network, built by ``nnengine.models`` (the default
model: ``models/default-v1.npz`` + ``.json``, or the app's ``DEFAULT_MODEL``).

Models are cached per app in ``app.extensions["predict_models"]`` (a small LRU). Each model has a lock
around its forward pass, kept on purpose: ``Network.predict`` runs the layers' ``forward``, which stores
its input and output on the layer for ``backward`` (``self.x``, ``self.y``, ``Conv2D.col``, ...), and
layers without a stateless ``infer`` fall back to it, so one network shared by request threads is only
correct while CPython happens to run each store-then-read without switching threads. The lock is held
for the forward pass only, a small part of a prediction next to decoding and preprocessing, which run
outside it, concurrently (bench/MEASUREMENTS.md).

Registered by ``init_app(app)``.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

import numpy as np
from flask import Blueprint, current_app, jsonify, request

from nnengine.images import MAX_BYTES, PreprocessError, preprocess_bytes
from nnengine.images.network_input import network_input
from nnengine.models import DEFAULT_MODEL, ModelFileError, load_model, network_for_run, read_description

__all__ = ["init_app", "predict_bp", "ModelCache", "LoadedModel"]

predict_bp = Blueprint("predict", __name__)

RUN_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
CACHE_SIZE = 4


class PredictError(Exception):
    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message, self.status = message, status


# ------------------------------------------------------------------------------------------------
# models


class LoadedModel:
    def __init__(self, net, key: str):
        self.net, self.key = net, key
        self.lock = threading.Lock()
        first = next(iter(net.params.values()), None)
        self.dtype = first.dtype if first is not None else np.float32

    def probabilities(self, x28: np.ndarray) -> np.ndarray:
        x = x28.reshape(1, 784).astype(self.dtype)
        with self.lock:                 # the layers keep per-call state in forward (module docstring)
            p = np.asarray(self.net.predict(x), dtype=np.float64)[0]
        p = np.nan_to_num(p, nan=0.0, posinf=0.0, neginf=0.0)
        s = p.sum()
        if not np.isclose(s, 1.0, atol=1e-3):
            # identity (squared error) or per-class sigmoid outputs: show them as shares of the total
            p = np.clip(p, 0.0, None)
            s = p.sum()
            p = p / s if s > 0 else np.full(len(p), 1.0 / len(p))
        return p


class ModelCache:
    """A small LRU of loaded models, keyed by "default" or a run id. Thread-safe."""

    def __init__(self, size: int = CACHE_SIZE):
        self.size = size
        self._items: OrderedDict[str, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, loader) -> LoadedModel:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        model = LoadedModel(loader(), key)               # load outside the lock: it takes a moment
        with self._lock:
            self._items[key] = model
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return model


def _default_model_base():
    return current_app.config.get("DEFAULT_MODEL") or DEFAULT_MODEL


def _find_run(run_id: str) -> dict:
    """The stored run ``run_id`` (404 if there is none)."""
    if not RUN_ID_RE.match(run_id):
        raise PredictError(f"unknown run {run_id[:80]!r}", 404)
    run = current_app.extensions["store"].get_run(run_id)
    if run is None:
        raise PredictError(f"unknown run {run_id!r}", 404)
    return run


def _default_model() -> LoadedModel:
    def load():
        try:
            return load_model(_default_model_base())
        except ModelFileError:
            raise PredictError("the default model is not installed (models/default-v1.npz)", 503) from None
    return current_app.extensions["predict_models"].get("default", load)


def _run_model(run_id: str, run: dict) -> LoadedModel:
    """The network of the stored ``run`` (found by ``_find_run``), from the cache or its saved weights."""
    store = current_app.extensions["store"]

    def load():
        weights = store.get_weights(run_id)
        if weights is None:
            raise PredictError(f"run {run_id} has no saved weights (status: {run.get('status')}); "
                               "wait until it finishes", 409)
        try:
            return network_for_run(run["config"], weights)
        except Exception as exc:  # noqa: BLE001 - a stored run we cannot rebuild is not the client's fault
            current_app.logger.warning("cannot rebuild run %s for prediction: %s", run_id, exc)
            raise PredictError(f"the weights of run {run_id} cannot be loaded for prediction", 409) from None

    return current_app.extensions["predict_models"].get(run_id, load)


# ------------------------------------------------------------------------------------------------
# routes


@predict_bp.errorhandler(PredictError)
def _predict_error(exc: PredictError):
    return jsonify(error=exc.message), exc.status


@predict_bp.errorhandler(PreprocessError)
def _preprocess_error(exc: PreprocessError):
    return jsonify(error=exc.message), exc.status


PREPROCESS = ("auto", "none")


def uploaded_picture() -> tuple[bytes, str]:
    """The multipart field ``image`` (at most MAX_BYTES + 1 bytes read) and the form's ``preprocess``:
    "auto" (absent: crop, fit and centre the digit) or "none" (a 28x28 network input as it is)."""
    upload = request.files.get("image")
    if upload is None:
        got = ", ".join(repr(k) for k in request.files) or "none"
        raise PredictError(f"send the picture as a multipart/form-data file field named 'image' "
                           f"(file fields received: {got})", 400)
    preprocess = (request.form.get("preprocess") or "auto").strip()
    if preprocess not in PREPROCESS:
        raise PredictError(f"preprocess must be 'auto' (crop, fit and centre the digit) or 'none' (a 28x28 "
                           f"picture taken as the network's input as it is), got {preprocess[:40]!r}", 400)
    return upload.stream.read(MAX_BYTES + 1), preprocess


def network_picture(data: bytes, preprocess: str) -> np.ndarray:
    """The (28, 28) input in [0, 1], ink high, that the network is shown for an uploaded picture."""
    return network_input(data) if preprocess == "none" else preprocess_bytes(data)


@predict_bp.post("/api/predict")
def predict():
    data, preprocess = uploaded_picture()
    run_id = (request.form.get("run_id") or "").strip() or None
    run = _find_run(run_id) if run_id and run_id != "default" else None
    x = network_picture(data, preprocess)
    model = _run_model(run_id, run) if run is not None else _default_model()
    p = model.probabilities(x)
    return jsonify(
        prediction=int(np.argmax(p)),
        probabilities=[round(float(v), 6) for v in p],
        input=np.round(x, 3).tolist(),
        model=model.key,
    )


@predict_bp.get("/api/predict/default-model")
def default_model_info():
    """The default model's description (architecture, training, measured accuracy) for the panel."""
    try:
        info = read_description(_default_model_base())
    except ModelFileError:
        raise PredictError("the default model is not installed", 404) from None
    return jsonify({k: info.get(k) for k in ("name", "description", "layers", "training", "accuracy",
                                               "quality_set")})


def init_app(app):
    """POST /api/predict and the default model's description on ``app``, with its model cache
    (``app.extensions["predict_models"]``, ``PREDICT_CACHE_SIZE`` models)."""
    app.extensions["predict_models"] = ModelCache(app.config.get("PREDICT_CACHE_SIZE", CACHE_SIZE))
    app.register_blueprint(predict_bp)
