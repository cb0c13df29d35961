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

Models are cached per app in ``app.extensions["predict_models"]`` (a small LRU). Each model has a lock
around its forward pass, kept on purpose: ``Network.predict`` runs the layers' ``forward``, which stores
its input and output on the layer for ``backward`` (``self.x``, ``self.y``, ``Conv2D.col``, ...), and
layers without a stateless ``infer`` fall back to it, so one network shared by request threads is only
correct while CPython happens to run each store-then-read without switching threads. The lock costs
next to nothing: it is held for the forward pass only (about 1 ms for the default CNN on one picture),
while decoding and preprocessing (15-130 ms) run outside it, concurrently.
The default model is ``models/default-v1.npz`` + ``.json`` (scripts/train_default_model.py).
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from flask import Blueprint, current_app, jsonify, request

from nnengine.images import MAX_BYTES, PreprocessError, preprocess_bytes
from nnengine.images.network_input import network_input
from nnengine.models import DEFAULT_MODEL as DEFAULT_MODEL_PATH
from nnengine.models import load_model_files, network_for_run

__all__ = ["predict_bp", "ModelCache"]

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


def _cache() -> ModelCache:
    ext = current_app.extensions
    if "predict_models" not in ext:
        ext["predict_models"] = ModelCache(current_app.config.get("PREDICT_CACHE_SIZE", CACHE_SIZE))
    return ext["predict_models"]


def _default_paths():
    base = Path(current_app.config.get("DEFAULT_MODEL", DEFAULT_MODEL_PATH))
    return base.with_suffix(".npz"), base.with_suffix(".json")


def _check_run(run_id: str) -> dict:
    if not RUN_ID_RE.match(run_id):
        raise PredictError(f"unknown run {run_id[:80]!r}", 404)
    run = current_app.extensions["store"].get_run(run_id)
    if run is None:
        raise PredictError(f"unknown run {run_id!r}", 404)
    return run


def _get_model(run_id: str | None) -> LoadedModel:
    if not run_id or run_id == "default":
        npz, meta = _default_paths()
        if not npz.exists() or not meta.exists():
            raise PredictError("the default model is not installed (models/default-v1.npz)", 503)
        return _cache().get("default", lambda: load_model_files(npz, meta))
    run = _check_run(run_id)
    store = current_app.extensions["store"]

    def load():
        weights = store.get_weights(run_id)
        if weights is None:
            raise PredictError(f"run {run_id} has no saved weights (status: {run.get('status')}); "
                               "wait until it finishes", 409)
        try:
            return network_for_run(run["config"], weights)
        except PredictError:
            raise
        except Exception as exc:  # noqa: BLE001 - a stored run we cannot rebuild is not the client's fault
            current_app.logger.warning("cannot rebuild run %s for prediction: %s", run_id, exc)
            raise PredictError(f"the weights of run {run_id} cannot be loaded for prediction", 409) from None

    return _cache().get(run_id, load)


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
    if run_id and run_id != "default":
        _check_run(run_id)                     # an unknown run is a 404 before any image work
    x = network_picture(data, preprocess)
    model = _get_model(run_id)
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
    _, meta = _default_paths()
    if not meta.exists():
        raise PredictError("the default model is not installed", 404)
    info = json.loads(meta.read_text())
    return jsonify({k: info.get(k) for k in ("name", "description", "layers", "training", "accuracy",
                                               "quality_set")})
