"""Runs with conv and pool layers through the server: streamed over Socket.IO, stored, re-run bit for
bit, recognising a digit through POST /api/predict, looked inside by the labs, and the CLI."""
import io
import json

import pytest

from nnengine.__main__ import main as cli_main
from tests.support.images import digit_image, post
from tests.support.runs import wait_status, without_elapsed
from tests.support.sockets import SocketUser, socket_client

CONV_RUN = {
    "seed": 4,
    "data": {"train_size": 60, "validation_size": 20, "test_size": 60},
    "model": {"hidden_layers": [
        {"type": "conv", "filters": 4, "kernel": 5, "stride": 1, "pad": 2, "activation": "relu", "batch_norm": True},
        {"type": "pool", "size": 2, "stride": 2},
        {"type": "conv", "filters": 6, "kernel": 3, "stride": 1, "pad": 1, "activation": "tanh", "dropout": 0.1},
        {"type": "pool", "size": 2, "stride": 2},
        {"units": 20, "activation": "relu"}]},
    "optimizer": {"name": "adam", "lr": 0.003},
    "training": {"epochs": 3, "batch_size": 20, "weight_decay": 0.001},
}


@pytest.fixture
def conv_runs(labs_app):
    """Two runs of CONV_RUN through the socket API (the second from the first's stored config)."""
    client = labs_app.test_client()
    sio = socket_client(labs_app, client)
    user = SocketUser(sio)
    first = user.start(CONV_RUN)["run_id"]
    name, done = user.wait_finished(first, timeout=60)
    assert name == "run:done", done
    wait_status(labs_app, first, ("done",))
    stored = client.get(f"/api/runs/{first}").get_json()
    second = user.start(stored["config"])["run_id"]
    assert user.wait_finished(second, timeout=60)[0] == "run:done"
    wait_status(labs_app, second, ("done",))
    yield client, user, first, second
    sio.disconnect()


def test_a_conv_run_streams_is_stored_and_reruns_bit_for_bit(conv_runs):
    client, user, first, second = conv_runs
    epochs = user.events("run:epoch", first)
    assert [e["epoch"] for e in epochs] == [0, 1, 2, 3]
    assert {"val_loss", "val_acc"} <= set(epochs[-1])
    stored = client.get(f"/api/runs/{first}").get_json()
    assert stored["config"]["model"]["hidden_layers"][0]["type"] == "conv"
    assert stored["config"]["model"]["hidden_layers"][1] == {"type": "pool", "size": 2, "stride": 2}
    assert stored["metrics"] == [{k: v for k, v in e.items() if k != "run_id"} for e in epochs]
    again = client.get(f"/api/runs/{second}").get_json()
    assert again["config"] == stored["config"]
    assert without_elapsed(again["metrics"]) == without_elapsed(stored["metrics"])
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]


def test_a_conv_run_recognises_a_digit(conv_runs):
    client, _, first, _ = conv_runs
    r = post(client, digit_image(3), run_id=first)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["model"] == first and 0 <= body["prediction"] <= 9
    assert abs(sum(body["probabilities"]) - 1) < 1e-3 and len(body["input"]) == 28


def test_look_inside_a_conv_run_draws_its_kernels(conv_runs):
    client, _, first, _ = conv_runs
    body = client.get(f"/api/labs/inside/{first}?samples=30&images=3").get_json()
    assert [w["shape"] for w in body["weights"]] == [[4, 1, 5, 5], [6, 4, 3, 3], [294, 20], [20, 10]]
    assert body["weights"][0]["label"] == "W1 conv 4×1×5×5"
    assert len(body["activations"]) == 3                        # relu, tanh (conv) and relu (dense)
    assert sum(body["activations"][0]["counts"]) == 30 * 4 * 28 * 28
    first_layer = body["first_layer"]
    assert first_layer["kind"] == "conv" and first_layer["image_shape"] == [5, 5]
    assert len(first_layer["images"]) == 3 and all(len(img) == 25 for img in first_layer["images"])
    assert max(max(abs(v) for v in img) for img in first_layer["images"]) == 127
    assert len(body["batch_norm"]) == 1


def test_cli_runs_a_conv_config(tmp_path):
    path = tmp_path / "cnn.json"
    path.write_text(json.dumps(CONV_RUN))
    out, err = io.StringIO(), io.StringIO()
    assert cli_main(["run", str(path)], out=out, err=err) == 0, err.getvalue()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["epoch"] for line in lines[:-1]] == [0, 1, 2, 3] and lines[-1]["event"] == "done"


def test_cli_refuses_a_bad_conv_layer_with_one_line(tmp_path):
    bad = json.loads(json.dumps(CONV_RUN))
    bad["model"]["hidden_layers"].append({"type": "conv", "filters": 4})
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    out, err = io.StringIO(), io.StringIO()
    assert cli_main(["run", str(path)], out=out, err=err) == 2
    message = err.getvalue()
    assert message.count("\n") == 1 and "model.hidden_layers[5].type" in message and "dense layer" in message
