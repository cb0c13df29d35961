"""The probe endpoints: dreams, adversarial digits (checked by sending the perturbed picture back through
POST /api/predict with preprocess=none), surgery, ranking, robustness, morphing; and a clear 4xx for
every bad input."""
import io
import threading

import numpy as np
import pytest
from PIL import Image

from nnengine.config import parse_config
from nnengine.images.network_input import png_bytes
from nnengine.models import DEFAULT_MODEL, weights_npz
from nnengine.probe.subjects import run_subject
from nnengine.trainer import train
from tests.support.images import digit_image, post

CONFIG = {"seed": 1, "data": {"train_size": 1000, "test_size": 500},
          "model": {"hidden_layers": [{"units": 64}, {"units": 32}]},
          "optimizer": {"name": "adam", "lr": 0.003}, "training": {"epochs": 12, "batch_size": 50}}
RUN = "probe-run"

needs_default_model = pytest.mark.skipif(not DEFAULT_MODEL.with_suffix(".npz").exists(),
                                         reason="the default model is not installed")


@pytest.fixture(scope="module")
def weights():
    return weights_npz(train(parse_config(CONFIG)).network)


@pytest.fixture(scope="module")
def subject(weights):
    return run_subject(CONFIG, weights, name=RUN)


@pytest.fixture
def stored(app, weights):
    """The app with a finished run (weights saved) and a run still training (none yet)."""
    store = app.extensions["store"]
    store.create_run(RUN, parse_config(CONFIG).to_dict())
    store.finish_run(RUN, "done", {"epochs": 12}, weights_npz_bytes=weights)
    store.create_run("still-training", parse_config(CONFIG).to_dict())
    return app


def as_png(picture):
    return io.BytesIO(png_bytes(np.asarray(picture))), "picture.png"


def predict_as_is(client, picture, run_id):
    res = client.post("/api/predict", data={"image": as_png(picture), "preprocess": "none", "run_id": run_id})
    assert res.status_code == 200, res.get_json()
    return res.get_json()


# ------------------------------------------------------------------ POST /api/predict, preprocess=none

def test_a_28x28_picture_is_taken_as_the_input_as_it_is(client):
    rng = np.random.default_rng(0)
    levels = rng.integers(0, 256, (28, 28))
    body = predict_as_is(client, levels / 255, "default")
    np.testing.assert_allclose(body["input"], np.round(levels / 255, 3), atol=1e-9)


def test_transparent_pixels_are_black_and_colour_is_grey(client):
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[10:18, 10:18] = (200, 200, 200, 255)      # an opaque grey square
    rgba[0, 0] = (255, 255, 255, 0)                # a transparent white pixel
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    res = client.post("/api/predict", data={"image": (io.BytesIO(buf.getvalue()), "a.png"), "preprocess": "none"})
    seen = np.asarray(res.get_json()["input"])
    assert seen[0, 0] == 0 and seen[12, 12] == pytest.approx(200 / 255, abs=1e-3)
    assert seen.sum() == pytest.approx(64 * 200 / 255, abs=0.1)


@pytest.mark.parametrize("form, picture, says", [
    ({"preprocess": "none"}, digit_image(3, size=40), "a 28x28 picture; this one is 40x40"),
    ({"preprocess": "sharpen"}, digit_image(3), "preprocess must be 'auto'"),
])
def test_predict_refuses_a_bad_preprocess_or_size(client, form, picture, says):
    res = post(client, picture, **form)
    assert res.status_code == 400 and says in res.get_json()["error"]


# ------------------------------------------------------------------ dreams

def test_dreams_of_a_stored_run_keep_the_contract(client, stored, subject):
    res = client.get(f"/api/runs/{RUN}/dreams?steps=60&frames=3")
    assert res.status_code == 200, res.get_json()
    body = res.get_json()
    images = np.asarray(body["images"])
    assert images.shape == (10, 28, 28) and images.min() >= 0 and images.max() <= 1
    p = np.asarray(body["probabilities"])
    assert p.shape == (10, 10) and np.allclose(p.sum(axis=1), 1, atol=1e-4)
    assert body["steps"] == 60 and body["settings"]["steps"] == 60 and body["model"] == RUN
    assert [f["step"] for f in body["frames"]] == body["frame_steps"] == [1, 8, 60]
    # the dream of each digit is, to the network, that digit (checked by the network itself)
    assert np.mean(p.argmax(axis=1) == np.arange(10)) >= 0.8
    own = [predict_as_is(client, image, RUN)["probabilities"][c] for c, image in enumerate(body["images"])]
    start = subject.probabilities(np.full((10, 784), body["settings"]["grey"]))
    assert all(own[c] > start[c, c] for c in range(10))


@needs_default_model
def test_dreams_of_the_default_model(client):
    body = client.get("/api/runs/default/dreams?steps=10").get_json()
    assert np.asarray(body["images"]).shape == (10, 28, 28) and body["model"] == "default" and "frames" not in body


# ------------------------------------------------------------------ adversarial digits

@pytest.mark.parametrize("i", [0, 1, 2])
def test_the_adversarial_picture_changes_the_prediction_within_epsilon_through_predict(client, stored, subject, i):
    picture = subject.x_test[i].reshape(28, 28)
    res = client.post("/api/adversarial", data={"image": as_png(picture), "preprocess": "none", "run_id": RUN})
    assert res.status_code == 200, res.get_json()
    body = res.get_json()
    original, perturbed = np.asarray(body["original"]["input"]), np.asarray(body["perturbed"])
    assert original.shape == perturbed.shape == (28, 28)
    assert np.max(np.abs(perturbed - original)) <= body["epsilon"] + 1e-6
    assert body["flipped"] and body["prediction"] != body["original"]["prediction"]
    # what POST /api/predict answers for the two pictures, sent back as PNGs and taken as they are
    assert predict_as_is(client, original, RUN)["prediction"] == body["original"]["prediction"]
    assert predict_as_is(client, perturbed, RUN)["prediction"] == body["prediction"]
    assert np.allclose(predict_as_is(client, perturbed, RUN)["probabilities"], body["probabilities"], atol=1e-5)


def test_an_adversarial_picture_toward_a_chosen_digit(client, stored, subject):
    picture = subject.x_test[3].reshape(28, 28)
    answer = int(subject.predictions(picture)[0])
    target = (answer + 5) % 10
    body = client.post("/api/adversarial", data={"image": as_png(picture), "preprocess": "none", "run_id": RUN,
                                                  "target": str(target)}).get_json()
    assert body["target"] == target == body["prediction"]
    assert predict_as_is(client, body["perturbed"], RUN)["prediction"] == target


@needs_default_model
def test_a_drawn_digit_is_preprocessed_then_attacked(client):
    res = client.post("/api/adversarial", data={"image": (io.BytesIO(digit_image(7)), "seven.png")})
    assert res.status_code == 200, res.get_json()
    body = res.get_json()
    assert body["original"]["prediction"] == 7 and body["model"] == "default"
    assert body["curve"][0]["epsilon"] <= body["epsilon"]


# ------------------------------------------------------------------ surgery, ranking, robustness, morphing

def test_surgery_updates_the_test_accuracy_and_the_digits_probabilities(client, stored, subject):
    intact = client.post(f"/api/probe/{RUN}/surgery", json={"off": {}, "image": {"test": 0}}).get_json()
    assert intact["accuracy"] == pytest.approx(subject.accuracy()) == intact["intact_accuracy"]
    cut = client.post(f"/api/probe/{RUN}/surgery",
                      json={"off": {"1": list(range(20))}, "image": {"test": 0}}).get_json()
    assert cut["accuracy"] < intact["accuracy"] and cut["off"] == {"1": list(range(20))}
    assert len(cut["probabilities"]) == 10 and cut["probabilities"] != intact["probabilities"]
    ranked = client.get(f"/api/probe/{RUN}/rank?layer=1").get_json()
    top3 = sorted(u["unit"] for u in ranked["units"][:3])
    by_k = client.post(f"/api/probe/{RUN}/surgery", json={"off": {}, "layer": 1, "k": 3}).get_json()
    assert by_k["off"] == {"1": top3}
    assert by_k["accuracy"] <= intact["accuracy"] - ranked["units"][0]["drop"] + 1e-9


def test_info_examples_robustness_and_morph(client, stored, subject):
    info = client.get(f"/api/probe/{RUN}").get_json()
    assert [(layer["kind"], layer["units"]) for layer in info["layers"]] == [("dense", 64), ("dense", 32)]
    assert info["test_images"] == 500 and info["accuracy"] == pytest.approx(subject.accuracy())
    examples = client.get(f"/api/probe/{RUN}/examples?count=2").get_json()["digits"]
    assert len(examples) == 10 and all(subject.t_test[e["index"]] == d for d, row in enumerate(examples) for e in row)
    curves = client.get(f"/api/probe/{RUN}/robustness?levels=3&images=200").get_json()
    assert [p["sigma"] for p in curves["noise"]] == [0.0, 0.3, 0.6] and curves["images"] == 200
    one, seven = examples[1][0]["index"], examples[7][0]["index"]
    path = client.post(f"/api/probe/{RUN}/morph", json={"a": {"test": one}, "b": examples[7][0]["image"],
                                                         "points": 11}).get_json()
    assert len(path["s"]) == 11 and path["predictions"][0] == subject.predictions(subject.x_test[one])[0]
    assert path["predictions"][-1] == subject.predictions(subject.x_test[seven])[0]


# ------------------------------------------------------------------ every bad input: a clear 4xx

PNG = digit_image(4)


def bad_requests():
    """(name, method, url, payload, status, words the error must contain)."""
    png = lambda: (io.BytesIO(PNG), "four.png")  # noqa: E731 - a fresh stream per request
    wrong_size = lambda: (io.BytesIO(digit_image(4, size=30)), "four.png")  # noqa: E731
    picture = [[0.0] * 28] * 28
    return [
        ("dreams: unknown run", "get", "/api/runs/nope/dreams", None, 404, "unknown run 'nope'"),
        ("dreams: run still training", "get", "/api/runs/still-training/dreams", None, 409, "no saved weights"),
        ("dreams: steps not a number", "get", f"/api/runs/{RUN}/dreams?steps=many", None, 400, "steps"),
        ("dreams: steps out of range", "get", f"/api/runs/{RUN}/dreams?steps=0", None, 400, "steps"),
        ("dreams: unknown start", "get", f"/api/runs/{RUN}/dreams?start=black", None, 400, "start"),
        ("dreams: unknown setting", "get", f"/api/runs/{RUN}/dreams?stepz=3", None, 400, "stepz"),
        ("adversarial: no picture", "post", "/api/adversarial", {"run_id": RUN}, 400, "'image'"),
        ("adversarial: not a picture", "post", "/api/adversarial", {"image": (io.BytesIO(b"hello"), "x.txt")}, 415,
         "not a supported image"),
        ("adversarial: unknown run", "post", "/api/adversarial", {"image": png(), "run_id": "nope"}, 404,
         "unknown run"),
        ("adversarial: target not a digit", "post", "/api/adversarial", {"image": png(), "target": "seven"}, 400,
         "target"),
        ("adversarial: target 10", "post", "/api/adversarial", {"image": png(), "target": "10"}, 400, "target"),
        ("adversarial: epsilon too large", "post", "/api/adversarial", {"image": png(), "max_epsilon": "3"}, 400,
         "max_epsilon"),
        ("adversarial: unknown field", "post", "/api/adversarial", {"image": png(), "epsilon": "0.1"}, 400,
         "'epsilon'"),
        ("adversarial: not 28x28 as is", "post", "/api/adversarial", {"image": wrong_size(), "preprocess": "none"},
         400, "30x30"),
        ("adversarial: bad preprocess", "post", "/api/adversarial", {"image": png(), "preprocess": "x"}, 400,
         "preprocess"),
        ("info: unknown run", "get", "/api/probe/nope", None, 404, "unknown run"),
        ("info: unknown setting", "get", f"/api/probe/{RUN}?x=1", None, 400, "'x'"),
        ("examples: count 0", "get", f"/api/probe/{RUN}/examples?count=0", None, 400, "count"),
        ("surgery: no JSON", "post", f"/api/probe/{RUN}/surgery", "off", 400, "JSON object"),
        ("surgery: unknown layer", "post", f"/api/probe/{RUN}/surgery", {"off": {"5": [1]}}, 400, "off.5"),
        ("surgery: unknown unit", "post", f"/api/probe/{RUN}/surgery", {"off": {"1": [32]}}, 400, "off.1"),
        ("surgery: picture of 27 rows", "post", f"/api/probe/{RUN}/surgery", {"image": picture[:27]}, 400, "image"),
        ("surgery: picture too bright", "post", f"/api/probe/{RUN}/surgery", {"image": [[2.0] * 28] * 28}, 400,
         "from 0 to 1"),
        ("surgery: k too large", "post", f"/api/probe/{RUN}/surgery", {"layer": 1, "k": 33}, 400, "k must be"),
        ("surgery: unknown key", "post", f"/api/probe/{RUN}/surgery", {"units": [1]}, 400, "'units'"),
        ("rank: no such layer", "get", f"/api/probe/{RUN}/rank?layer=2", None, 400, "layer must be"),
        ("rank: layer not a number", "get", f"/api/probe/{RUN}/rank?layer=first", None, 400, "layer"),
        ("robustness: one level", "get", f"/api/probe/{RUN}/robustness?levels=1", None, 400, "levels"),
        ("robustness: unknown run", "get", "/api/probe/nope/robustness", None, 404, "unknown run"),
        ("morph: one end missing", "post", f"/api/probe/{RUN}/morph", {"a": {"test": 0}}, 400, "b is missing"),
        ("morph: a test image that is not there", "post", f"/api/probe/{RUN}/morph",
         {"a": {"test": 500}, "b": {"test": 0}}, 400, "a.test"),
        ("morph: one point", "post", f"/api/probe/{RUN}/morph", {"a": picture, "b": picture, "points": 1}, 400,
         "points"),
    ]


@pytest.mark.parametrize("case", range(len(bad_requests())), ids=[c[0] for c in bad_requests()])
def test_every_bad_input_gets_a_clear_json_4xx(client, stored, case):
    name, method, url, payload, status, says = bad_requests()[case]
    if method == "get":
        res = client.get(url)
    elif isinstance(payload, dict) and url.startswith("/api/adversarial"):
        res = client.post(url, data=payload)
    elif isinstance(payload, str):
        res = client.post(url, data=payload, content_type="text/plain")
    else:
        res = client.post(url, json=payload)
    assert res.status_code == status, (name, res.get_json())
    body = res.get_json()
    assert says in body["error"], (name, body)


def test_settings_over_the_cost_budget_are_refused_with_what_fits(make_app, weights):
    app = make_app(PROBE_MAX_MACS=1e8)
    store = app.extensions["store"]
    store.create_run(RUN, parse_config(CONFIG).to_dict())
    store.finish_run(RUN, "done", {}, weights_npz_bytes=weights)
    client = app.test_client()
    res = client.get(f"/api/runs/{RUN}/dreams?steps=1000")
    assert res.status_code == 400
    body = res.get_json()
    assert "multiply-adds" in body["error"] and body["errors"][0]["field"] == "steps"
    largest = int(body["error"].rsplit("use steps ", 1)[1].split()[0])
    assert client.get(f"/api/runs/{RUN}/dreams?steps={largest}").status_code == 200
    assert client.get(f"/api/runs/{RUN}/dreams?steps={largest + 1}").status_code == 400
    assert client.get(f"/api/probe/{RUN}/robustness?images=5000&levels=21").get_json()["errors"][0]["field"] == "images"


def test_a_busy_server_answers_503_and_serves_again_after(make_app, weights):
    app = make_app(PROBE_MAX_IN_FLIGHT=1, PROBE_WAIT_S=0.05)
    store = app.extensions["store"]
    store.create_run(RUN, parse_config(CONFIG).to_dict())
    store.finish_run(RUN, "done", {}, weights_npz_bytes=weights)
    client = app.test_client()
    slots = app.extensions["probe"].slots
    assert slots.acquire(timeout=1)          # another probe is running
    try:
        res = client.post(f"/api/probe/{RUN}/surgery", json={"off": {}})
        assert res.status_code == 503 and "busy" in res.get_json()["error"] and res.headers["Retry-After"] == "1"
    finally:
        slots.release()
    assert client.post(f"/api/probe/{RUN}/surgery", json={"off": {}}).status_code == 200


def test_concurrent_probes_of_one_network_give_the_sequential_answers(client, stored):
    cuts = [{"1": list(range(k))} for k in range(0, 30, 3)]
    expected = [client.post(f"/api/probe/{RUN}/surgery", json={"off": off}).get_json()["accuracy"] for off in cuts]
    got = [None] * len(cuts)

    def ask(i):
        res = client.application.test_client().post(f"/api/probe/{RUN}/surgery", json={"off": cuts[i]})
        got[i] = res.get_json()["accuracy"]
    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(cuts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == expected


# ------------------------------------------------------------------ the page

def test_the_probe_page_is_a_lab(client, stored):
    assert 'href="/labs/probe"' in client.get("/labs").get_data(as_text=True)
    for path in ("/labs/probe", f"/labs/probe/{RUN}", "/labs/probe/default"):
        res = client.get(path)
        assert res.status_code == 200, path
        assert 'src="/static/js/pages/probe.js"' in res.get_data(as_text=True)
    assert client.get("/labs/probe/not%20an%20id").status_code == 404
