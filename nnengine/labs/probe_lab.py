"""The probe lab on the command line: ``python -m nnengine.labs probe SETTINGS`` runs one probe of
``nnengine.probe`` on the default model, a saved model or a run, and prints its result as JSON.

Settings: ``task`` (``TASKS``), the network (``model``: "default" or the base path of model files;
or ``config`` + ``weights``: a run's config, an object or a JSON file, and its ``.npz`` weights as
``GET /api/runs/<id>/weights.npz`` gives them; a config without weights is trained first), the pictures
(``image``, ``a``, ``b``: a PNG/JPEG file, read as ``POST /api/predict`` reads it unless ``preprocess``
is "none", or ``{"test": i}`` the subject's i-th test image, or ``{"digit": d}`` its first test image of
digit d), and the task's own settings.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..probe.adversarial import AttackSettings, smallest_flip
from ..probe.dreams import DreamSettings, dream
from ..probe.morph import MorphSettings, morph
from ..probe.robustness import RobustnessSettings, robustness_curves
from ..probe.settings import SettingsError, SettingsReader
from ..probe.subjects import Subject, model_subject, run_subject
from ..probe.surgery import Surgery

TASKS = ("dreams", "adversarial", "robustness", "surgery", "rank", "morph")
COMMON = ("task", "model", "config", "weights", "image", "preprocess", "a", "b", "target", "off", "layer", "k")
TASK_SETTINGS = {"dreams": DreamSettings, "adversarial": AttackSettings, "robustness": RobustnessSettings,
                 "morph": MorphSettings}

KEYS = (
    ("task", f"one of {', '.join(TASKS)} (default \"dreams\")"),
    ("model", "\"default\" (the default digit model) or the base path of model files NAME.npz + NAME.json"),
    ("config", "instead of model: a run's config (object or JSON file); trained first unless weights are given"),
    ("weights", "the run's weights (.npz, as GET /api/runs/<id>/weights.npz gives them)"),
    ("image", "adversarial, surgery: a picture file, {\"test\": i} or {\"digit\": d} (default {\"test\": 0})"),
    ("preprocess", "\"auto\" (as /api/predict: crop, fit, centre) or \"none\" (a 28x28 network input as is)"),
    ("target", "adversarial: the digit to push the answer toward (default: any other digit)"),
    ("a, b", "morph: the two ends, as image (default {\"digit\": 1} and {\"digit\": 7})"),
    ("off", "surgery: units switched off, {\"LAYER\": [units]} (hidden layers from 0)"),
    ("layer, k", "surgery: also switch off the k units of that layer whose loss costs the most test accuracy; "
                 "rank: the layer to rank (default 0)"),
    ("dreams", "steps, step_size, l2, smoothness, start (grey|noise), grey, seed, objective (score|log_probability), "
               "frames"),
    ("adversarial ", "max_epsilon, iterations"),
    ("robustness", "noise_max, blur_max, levels, images, seed"),
    ("morph ", "points"),
)
PRINTS = ("dreams {images: 10 x 28x28, probabilities: 10 x [10], steps, settings}; adversarial {original, epsilon, "
          "perturbed, prediction, probabilities, flipped, curve}; robustness {noise, blur: [{sigma, accuracy}]}; "
          "surgery {accuracy, loss, off, probabilities}; rank {units: [{unit, drop, accuracy, loss}]}; "
          "morph {s, probabilities, predictions, flips}; each with \"subject\"")


def _error(field: str, message: str) -> SettingsError:
    return SettingsError([{"field": field, "message": message}])


def _json_or_file(value: Any, field: str) -> dict:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            return json.loads(Path(value).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise _error(field, f"cannot read {value!r}: {exc}") from None
    raise _error(field, "must be a config object or the name of a JSON file")


def load_subject(settings: dict) -> Subject:
    """The network the settings name (module docstring)."""
    if settings.get("config") is not None:
        config = _json_or_file(settings["config"], "config")
        weights = settings.get("weights")
        if weights is None:
            from ..config import parse_config
            from ..models import weights_npz
            from ..trainer import train
            data = weights_npz(train(parse_config(config)).network)
        else:
            try:
                data = Path(weights).read_bytes()
            except (OSError, TypeError) as exc:
                raise _error("weights", f"cannot read {weights!r}: {exc}") from None
        return run_subject(config, data, name="run")
    model = settings.get("model", "default")
    if model == "default":
        return model_subject()
    if not isinstance(model, str):
        raise _error("model", f"must be \"default\" or the base path of model files, got {model!r}")
    return model_subject(model, name=Path(model).name)


def picture(subject: Subject, value: Any, field: str, preprocess: str = "auto") -> np.ndarray:
    """(784,) in [0, 1]: a picture file, a test image {"test": i} or the first of a digit {"digit": d}."""
    if isinstance(value, dict) and set(value) == {"test"}:
        i = value["test"]
        if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(subject.t_test):
            raise _error(field, f"test must be an index 0 to {len(subject.t_test) - 1}, got {i!r}")
        return subject.x_test[i].astype(np.float64)
    if isinstance(value, dict) and set(value) == {"digit"}:
        d = value["digit"]
        rows = subject.examples(d, 1) if isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 9 else []
        if not len(rows):
            raise _error(field, f"digit must be one of the test images' digits 0 to 9, got {d!r}")
        return subject.x_test[rows[0]].astype(np.float64)
    if isinstance(value, str):
        from ..images import PreprocessError, preprocess_bytes
        from ..images.network_input import network_input
        try:
            data = Path(value).read_bytes()
        except OSError as exc:
            raise _error(field, f"cannot read {value!r}: {exc}") from None
        try:
            x = network_input(data) if preprocess == "none" else preprocess_bytes(data)
        except PreprocessError as exc:
            raise _error(field, exc.message) from None
        return np.asarray(x, dtype=np.float64).reshape(-1)
    raise _error(field, "must be a picture file, {\"test\": i} or {\"digit\": d}")


def _layer_and_k(settings: dict, surgery: Surgery) -> tuple[int, int]:
    layer, k = settings.get("layer", 0), settings.get("k", 0)
    if not isinstance(layer, int) or isinstance(layer, bool) or not 0 <= layer < len(surgery.layers):
        raise _error("layer", f"must be a hidden layer 0 to {len(surgery.layers) - 1}, got {layer!r}")
    if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= surgery.layers[layer].units:
        raise _error("k", f"must be a whole number 0 to {surgery.layers[layer].units}, got {k!r}")
    return layer, k


def compute(settings: dict) -> dict:
    """The result of ``settings["task"]`` (module docstring) as JSON."""
    task = settings.get("task", "dreams")
    if task not in TASKS:
        raise _error("task", f"must be one of {', '.join(TASKS)}, got {task!r}")
    reader = SettingsReader(TASK_SETTINGS[task]) if task in TASK_SETTINGS else None
    unknown = sorted(set(settings) - set(COMMON) - set(reader.names() if reader else ()))
    if unknown:
        raise _error(unknown[0], f"is not a setting of the {task} probe; its settings are "
                                 f"{', '.join(sorted(set(COMMON) | set(reader.names() if reader else ())))}")
    preprocess = settings.get("preprocess", "auto")
    if preprocess not in ("auto", "none"):
        raise _error("preprocess", f"must be \"auto\" or \"none\", got {preprocess!r}")
    task_settings = reader.read(settings) if reader else None
    subject = load_subject(settings)
    result = _TASKS[task](subject, settings, task_settings, preprocess)
    result["subject"] = {"name": subject.name, "about": subject.about}
    return result


def _dreams(subject, settings, task_settings, preprocess):
    return dream(subject, task_settings).to_dict()


def _adversarial(subject, settings, task_settings, preprocess):
    x = picture(subject, settings.get("image", {"test": 0}), "image", preprocess)
    return smallest_flip(subject, x, settings.get("target"), task_settings).to_dict()


def _robustness(subject, settings, task_settings, preprocess):
    return robustness_curves(subject, task_settings)


def _surgery(subject, settings, task_settings, preprocess):
    surgery = Surgery(subject)
    off = surgery.check(settings.get("off"))
    if settings.get("k"):
        layer, k = _layer_and_k(settings, surgery)
        ranked = [u["unit"] for u in surgery.rank(layer)["units"][:k]]
        off[layer] = np.union1d(off.get(layer, np.zeros(0, np.int64)), ranked)
    accuracy, loss = surgery.evaluate(off)
    x = picture(subject, settings.get("image", {"test": 0}), "image", preprocess)
    p = surgery.probabilities(x[None], off)[0]
    return {"accuracy": accuracy, "loss": loss, "off": {str(i): units.tolist() for i, units in off.items()},
            "layers": [layer.to_dict() for layer in surgery.layers], "images": len(surgery.t),
            "prediction": int(np.argmax(p)), "probabilities": np.round(p, 6).tolist()}


def _rank(subject, settings, task_settings, preprocess):
    surgery = Surgery(subject)
    layer, _ = _layer_and_k({"layer": settings.get("layer", 0)}, surgery)
    return surgery.rank(layer)


def _morph(subject, settings, task_settings, preprocess):
    a = picture(subject, settings.get("a", {"digit": 1}), "a", preprocess)
    b = picture(subject, settings.get("b", {"digit": 7}), "b", preprocess)
    return morph(subject, a, b, task_settings)


_TASKS = {"dreams": _dreams, "adversarial": _adversarial, "robustness": _robustness, "surgery": _surgery,
          "rank": _rank, "morph": _morph}
