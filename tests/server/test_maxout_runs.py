"""Runs with maxout layers through the server: validated, streamed over Socket.IO, stored, re-run bit for
bit, their weights downloaded and used to recognise a digit, looked inside; the histograms lab's maxout;
the CLI."""
import io
import json

import numpy as np
import pytest

from nnengine.__main__ import main as cli_main
from tests.support.images import digit_image, post
from tests.support.runs import wait_status, without_elapsed
from tests.support.sockets import SocketUser, socket_client

MAXOUT_RUN = {
    "seed": 2,
    "data": {"train_size": 60, "validation_size": 20, "test_size": 60},
    "model": {"hidden_layers": [
        {"type": "maxout", "units": 12, "pieces": 3, "dropout": 0.1},
        {"units": 10, "activation": "tanh", "batch_norm": True},
        {"type": "maxout", "units": 8, "pieces": 2}]},
    "optimizer": {"name": "adam", "lr": 0.003},
    "training": {"epochs": 3, "batch_size": 20, "weight_decay": 0.001},
}


@pytest.fixture
def maxout_runs(labs_app):
    """Two runs of MAXOUT_RUN through the socket API (the second from the first's stored config)."""
    client = labs_app.test_client()
    sio = socket_client(labs_app, client)
    user = SocketUser(sio)
    first = user.start(MAXOUT_RUN)["run_id"]
    name, done = user.wait_finished(first, timeout=60)
    assert name == "run:done", done
    wait_status(labs_app, first, ("done",))
    stored = client.get(f"/api/runs/{first}").get_json()
    second = user.start(stored["config"])["run_id"]
    assert user.wait_finished(second, timeout=60)[0] == "run:done"
    wait_status(labs_app, second, ("done",))
    yield client, user, first, second
    sio.disconnect()


def test_a_maxout_run_streams_is_stored_and_reruns_bit_for_bit(maxout_runs):
    client, user, first, second = maxout_runs
    epochs = user.events("run:epoch", first)
    assert [e["epoch"] for e in epochs] == [0, 1, 2, 3]
    stored = client.get(f"/api/runs/{first}").get_json()
    assert stored["config"]["model"]["hidden_layers"][0] == {"type": "maxout", "units": 12, "pieces": 3, "dropout": 0.1}
    assert stored["config"]["model"]["hidden_layers"][2] == {"type": "maxout", "units": 8, "pieces": 2, "dropout": 0.0}
    assert stored["metrics"] == [{k: v for k, v in e.items() if k != "run_id"} for e in epochs]
    again = client.get(f"/api/runs/{second}").get_json()
    assert again["config"] == stored["config"]
    assert without_elapsed(again["metrics"]) == without_elapsed(stored["metrics"])
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]


def test_a_maxout_runs_weights_download_and_recognise_a_digit(maxout_runs):
    client, _, first, _ = maxout_runs
    r = client.get(f"/api/runs/{first}/weights.npz")
    assert r.status_code == 200
    with np.load(io.BytesIO(r.data)) as saved:
        assert saved["0.W"].shape == (784, 36) and saved["0.b"].shape == (36,)
        assert saved["5.W"].shape == (10, 16) and saved["6.W"].shape == (8, 10)
    r = post(client, digit_image(7), run_id=first)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["model"] == first and 0 <= body["prediction"] <= 9
    assert abs(sum(body["probabilities"]) - 1) < 1e-3


def test_look_inside_a_maxout_run_draws_each_units_pieces(maxout_runs):
    client, _, first, _ = maxout_runs
    body = client.get(f"/api/labs/inside/{first}?samples=30&images=5").get_json()
    assert [w["shape"] for w in body["weights"]] == [[784, 36], [12, 10], [10, 16], [8, 10]]
    assert [w["label"] for w in body["weights"]] == ["W1 maxout 784×12×3", "W2 12×10", "W3 maxout 10×8×2",
                                                      "W4 8×10"]
    assert [a["label"] for a in body["activations"]] == ["layer 1 Maxout k=3", "layer 2 Tanh", "layer 3 Maxout k=2"]
    assert sum(body["activations"][0]["counts"]) == 30 * 12 and sum(body["activations"][2]["counts"]) == 30 * 8
    first_layer = body["first_layer"]
    assert first_layer["kind"] == "maxout" and first_layer["pieces"] == 3 and first_layer["units"] == 12
    assert first_layer["image_shape"] == [28, 28]
    images = first_layer["images"]
    assert len(images) == 5 * 3 and all(len(img) == 784 for img in images)
    # each unit's pieces are scaled together: one of its three reaches 127, not necessarily each
    peaks = [max(abs(v) for v in img) for img in images]
    assert all(max(peaks[u * 3:u * 3 + 3]) == 127 for u in range(5))
    assert len(body["batch_norm"]) == 1
    # more units asked for than the layer has: all 12, three images each
    many = client.get(f"/api/labs/inside/{first}?samples=5&images=256").get_json()["first_layer"]
    assert len(many["images"]) == 12 * 3                       # the layer has only 12 units


def test_the_server_validates_maxout_layers_at_their_fields(labs_app):
    client = labs_app.test_client()
    assert client.post("/api/validate", json=MAXOUT_RUN).get_json()["ok"] is True
    bad = json.loads(json.dumps(MAXOUT_RUN))
    bad["model"]["hidden_layers"][0].update(pieces=1, batch_norm=True)
    r = client.post("/api/validate", json=bad)
    assert r.status_code == 400
    fields = {e["field"]: e["message"] for e in r.get_json()["errors"]}
    assert set(fields) == {"model.hidden_layers[0].pieces", "model.hidden_layers[0].batch_norm"}
    assert "from 2 to 10, got 1" in fields["model.hidden_layers[0].pieces"]
    schema = client.get("/api/schema").get_json()
    assert "maxout" in schema["layer_types"] and schema["limits"]["pieces"] == [2, 10]


def test_the_histograms_lab_answers_for_maxout(labs_app):
    client = labs_app.test_client()
    body = client.get("/api/labs/histograms?activation=maxout&pieces=3&samples=200&layers=3").get_json()
    assert body["activation"] == "maxout" and body["pieces"] == 3
    assert [len(i["layers"]) for i in body["inits"]] == [3, 3, 3, 3]
    assert sum(body["inits"][2]["layers"][0]["counts"]) == 200 * 100
    r = client.get("/api/labs/histograms?activation=maxout&pieces=11")
    assert r.status_code == 400 and "pieces must be a whole number from 2 to 10, got 11" in r.get_json()["error"]


def test_cli_runs_a_maxout_config_and_refuses_a_bad_one(tmp_path):
    path = tmp_path / "maxout.json"
    path.write_text(json.dumps(MAXOUT_RUN))
    out, err = io.StringIO(), io.StringIO()
    assert cli_main(["run", str(path)], out=out, err=err) == 0, err.getvalue()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["epoch"] for line in lines[:-1]] == [0, 1, 2, 3] and lines[-1]["event"] == "done"
    bad = json.loads(json.dumps(MAXOUT_RUN))
    bad["model"]["hidden_layers"].append({"type": "conv", "filters": 4})
    path.write_text(json.dumps(bad))
    out, err = io.StringIO(), io.StringIO()
    assert cli_main(["run", str(path)], out=out, err=err) == 2
    message = err.getvalue()
    assert message.count("\n") == 1 and "model.hidden_layers[3].type" in message
    assert "cannot follow a maxout layer" in message
