"""POST /api/predict through the Flask test client (app/client fixtures from tests/server/conftest.py)."""
import io
import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from nnengine.models import DEFAULT_MODEL as DEFAULT_MODEL_PATH
from nnengine.models import load_model_files
from tests.support.images import digit_image, post

needs_default_model = pytest.mark.skipif(not DEFAULT_MODEL_PATH.with_suffix(".npz").exists(),
                                         reason="models/default-v1.npz is not there")


def png_header(w, h):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


@needs_default_model
@pytest.mark.parametrize("fmt,d", [("PNG", 0), ("PNG", 2), ("PNG", 3), ("JPEG", 4), ("JPEG", 5), ("PNG", 6),
                                   ("JPEG", 7), ("PNG", 8), ("PNG", 9)])
def test_rendered_digits_are_recognised(client, fmt, d):
    r = post(client, digit_image(d, fmt, quality=60) if fmt == "JPEG" else digit_image(d, fmt),
             filename=f"d.{fmt.lower()}")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["prediction"] == d
    assert body["model"] == "default"
    assert len(body["probabilities"]) == 10 and abs(sum(body["probabilities"]) - 1) < 1e-3
    x = np.array(body["input"])
    assert x.shape == (28, 28) and x.min() >= 0 and x.max() <= 1


@needs_default_model
def test_white_on_black_and_model_cache(client, app):
    r = post(client, digit_image(3, ink="white", bg="black"))
    assert r.get_json()["prediction"] == 3
    cache = app.extensions["predict_models"]
    first = cache.get("default", lambda: pytest.fail("the default model should be cached"))
    post(client, digit_image(1))
    assert cache.get("default", lambda: None) is first


@pytest.mark.parametrize("data,status", [
    (b"", 400),
    (b"just some text, not a picture\n", 415),
    (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', 415),
    (png_header(100000, 100000), 413),
])
def test_bad_files_are_refused_with_json(client, data, status):
    r = post(client, data)
    assert r.status_code == status
    assert r.is_json and isinstance(r.get_json()["error"], str)


def test_truncated_png(client):
    data = digit_image(5)
    r = post(client, data[: len(data) // 2])
    assert r.status_code == 400 and "error" in r.get_json()


def test_oversize_upload(client):
    r = post(client, b"\x89PNG\r\n\x1a\n" + b"\x00" * (2 * 1024 * 1024 + 10))
    assert r.status_code == 413 and "error" in r.get_json()


def test_wrong_field_name(client):
    r = post(client, digit_image(5), name="file")
    assert r.status_code == 400
    assert "'image'" in r.get_json()["error"]


def test_no_multipart_at_all(client):
    r = client.post("/api/predict", json={"image": "nope"})
    assert r.status_code == 400 and "error" in r.get_json()


@needs_default_model
def test_blank_picture_says_no_digit(client):
    buf = io.BytesIO()
    Image.new("RGBA", (280, 280), (0, 0, 0, 0)).save(buf, "PNG")
    r = post(client, buf.getvalue())
    assert 400 <= r.status_code < 500
    assert r.get_json()["error"] == "no digit found in the image"


@pytest.mark.parametrize("run_id", ["no-such-run", "../../etc/passwd", "x" * 300])
def test_unknown_run_is_404(client, run_id):
    r = post(client, digit_image(5), run_id=run_id)
    assert r.status_code == 404 and "error" in r.get_json()


def test_server_carries_on_after_refusals(client):
    for data in (b"", b"text", png_header(100000, 100000)):
        post(client, data)
    r = client.get("/api/predict/default-model")
    assert r.status_code in (200, 404)
    if DEFAULT_MODEL_PATH.with_suffix(".npz").exists():
        assert post(client, digit_image(7)).status_code == 200


def _store_run(app, run_id, status="done", weights=True):
    """Put a tiny finished run into the store, the way the run manager would."""
    from nnengine.config import parse_config
    from nnengine.models import build_network

    config = {"seed": 0, "data": {"train_size": 50, "validation_size": 0, "test_size": 50},
              "model": {"hidden_layers": [{"units": 10, "activation": "relu"}]},
              "optimizer": {"name": "sgd", "lr": 0.1}, "training": {"epochs": 1, "batch_size": 10}}
    cfg = parse_config(config)
    store = app.extensions["store"]
    store.create_run(run_id, cfg.to_dict())
    blob = None
    if weights:
        net = build_network(cfg.model, cfg.training, np.random.default_rng(0))
        buf = io.BytesIO()
        np.savez(buf, **net.state_dict())
        blob = buf.getvalue()
    if status == "done":
        store.finish_run(run_id, "done", {"epochs": 1}, weights_npz_bytes=blob)
    return config


def test_finished_run_predicts(client, app):
    _store_run(app, "run-for-predict")
    r = post(client, digit_image(4), run_id="run-for-predict")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["model"] == "run-for-predict"
    assert 0 <= body["prediction"] <= 9 and abs(sum(body["probabilities"]) - 1) < 1e-3


def test_unfinished_run_is_409(client, app):
    _store_run(app, "run-still-training", status="running", weights=False)
    r = post(client, digit_image(4), run_id="run-still-training")
    assert r.status_code == 409 and "error" in r.get_json()


@needs_default_model
def test_default_model_files_describe_themselves():
    meta = json.loads(DEFAULT_MODEL_PATH.with_suffix(".json").read_text())
    assert meta["accuracy"]["heldout_mnist"] >= 0.97
    assert DEFAULT_MODEL_PATH.with_suffix(".npz").stat().st_size < 5 * 1024 * 1024
    net = load_model_files(DEFAULT_MODEL_PATH.with_suffix(".npz"), DEFAULT_MODEL_PATH.with_suffix(".json"))
    assert net.predict(np.zeros((2, 784), np.float32)).shape == (2, 10)


def test_concurrent_predictions_on_one_model_give_the_sequential_answers():
    """Request threads share one cached network; its per-model lock keeps their forward passes apart."""
    import threading

    from nnengine.config import parse_config
    from nnengine.models import build_network
    from server.predict import LoadedModel

    cfg = parse_config({"model": {"hidden_layers": [{"units": 32, "activation": a, "batch_norm": True}
                                                    for a in ("tanh", "bent_identity", "swish")]}})
    model = LoadedModel(build_network(cfg.model, cfg.training, np.random.default_rng(0)), "shared")
    pictures = np.random.default_rng(1).random((8, 28, 28)).astype(np.float32)
    expected = [model.probabilities(x) for x in pictures]
    wrong = []

    def predict_many(k):
        for i in range(200):
            j = (i + k) % len(pictures)
            if not np.array_equal(model.probabilities(pictures[j]), expected[j]):
                wrong.append((k, i))

    threads = [threading.Thread(target=predict_many, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not wrong


def test_a_prediction_looks_its_run_up_once_and_caches_its_network(client, app, monkeypatch):
    _store_run(app, "run-looked-up")
    store = app.extensions["store"]
    lookups, weights = [], []
    get_run, get_weights = store.get_run, store.get_weights
    monkeypatch.setattr(store, "get_run", lambda run_id: lookups.append(run_id) or get_run(run_id))
    monkeypatch.setattr(store, "get_weights", lambda run_id: weights.append(run_id) or get_weights(run_id))
    for _ in range(2):
        assert post(client, digit_image(4), run_id="run-looked-up").status_code == 200
    assert lookups == ["run-looked-up"] * 2            # once per prediction
    assert weights == ["run-looked-up"]                # the network is built once, then cached
