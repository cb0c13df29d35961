"""Validation at every entry point: the compute budget, the command lines, deployment
settings, and configs that arrive through tampered or truncated share links."""

import base64
import copy
import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnengine.config import LIMITS, estimated_cost, parse_config
from server import create_app
from server.__main__ import parse_args
from tests.conftest import tiny_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def over_budget_config():
    config = tiny_config()
    config["data"] = {"train_size": 4000, "validation_size": 0, "test_size": 1000}
    config["model"]["hidden_layers"] = [{"units": 2048, "activation": "relu"}] * 3
    config["training"]["epochs"] = 1000
    return config


def test_the_over_budget_config_is_valid_but_for_the_budget():
    config = over_budget_config()
    smaller = copy.deepcopy(config)
    smaller["training"]["epochs"] = 1
    assert estimated_cost(parse_config(smaller)) * 1000 > LIMITS["compute_budget"]


def test_the_budget_is_enforced_on_the_socket(user):
    ack = user.emit("run:start", {"config": over_budget_config()})
    assert "run_id" not in ack
    assert [e["field"] for e in ack["errors"]] == ["training.epochs"]
    assert "budget" in ack["error"] and "multiply-adds" in ack["error"]
    assert user.events() == []


def test_the_budget_is_enforced_over_http(client):
    response = client.post("/api/validate", json=over_budget_config())
    assert response.status_code == 400
    body = response.get_json()
    assert body["errors"][0]["field"] == "training.epochs" and "budget" in body["error"]


@pytest.mark.parametrize("command", [["run"], ["search", "--trials", "1"]])
def test_the_budget_is_enforced_on_the_engine_command_line(tmp_path, command):
    config = over_budget_config()
    config["data"]["validation_size"] = 100
    config["data"]["test_size"] = 900
    path = tmp_path / "big.json"
    path.write_text(json.dumps(config))
    done = subprocess.run([sys.executable, "-m", "nnengine", *command, str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "training.epochs" in done.stderr and "budget" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""


def test_the_budget_is_enforced_for_a_stored_config_replayed(app, user):
    """A run's stored config comes back through run:start: it meets the same checks."""
    store = app.extensions["store"]
    store.create_run("tamperedrun1", over_budget_config())  # as if the database were edited
    replay = store.get_run("tamperedrun1")["config"]
    assert "budget" in user.emit("run:start", {"config": replay})["error"]


# -- the server's command line and settings ----------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["--port", "70000"], "--port"),
    (["--port", "web"], "invalid int"),
    (["--workers", "0"], "--workers"),
    (["--workers", "1000"], "--workers"),
    (["--blas-threads", "-1"], "--blas-threads"),
    (["--db", "/no/such/folder/runs.sqlite"], "does not exist"),
    (["--bogus"], "unrecognized"),
    (["--threads", "1"], "--threads"),
    (["--threads", "100000"], "--threads"),
])
def test_bad_server_arguments_exit_2_with_one_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_db_path_that_is_a_folder_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--db", str(tmp_path)])
    assert "is a directory" in capsys.readouterr().err


@pytest.mark.parametrize("variable, value, field", [
    ("PLAYGROUND_START_RATE", "ten per second", "START_RATE"),
    ("PLAYGROUND_START_RATE", "0/10", "START_RATE"),
    ("PLAYGROUND_START_RATE_PER_ADDRESS", "5/-1", "START_RATE_PER_ADDRESS"),
    ("PLAYGROUND_TRUSTED_PROXIES", "yes", "TRUSTED_PROXIES"),
    ("PLAYGROUND_DATABASE_MAX_MB", "0", "DATABASE_MAX_MB"),
])
def test_bad_settings_in_the_environment_are_refused_by_name(tmp_path, monkeypatch, variable, value, field):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError) as error:
        create_app({"TESTING": True, "DATABASE": str(tmp_path / "r.sqlite")})
    assert field in str(error.value) and variable in str(error.value)


def test_the_server_command_line_reports_a_bad_setting_in_one_line(tmp_path):
    env = {**os.environ, "PLAYGROUND_START_RATE": "lots"}
    done = subprocess.run([sys.executable, "-m", "server", "--port", "0", "--db", str(tmp_path / "r.sqlite")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "START_RATE" in done.stderr and "Traceback" not in done.stderr


# -- share links: #config=<base64url(JSON)> ------------------------------------------------

def encode_link(config):
    return base64.urlsafe_b64encode(json.dumps(config).encode()).decode().rstrip("=")


def decode_link(text):
    """What static/js/hash.js does with a #config= part: the object, or None if it refuses."""
    if not text or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                       for c in text) or len(text) % 4 == 1:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def assert_answered(client, user, config):
    """The server either accepts the config or names fields it refuses; never anything else."""
    response = client.post("/api/validate", json=config)
    body = response.get_json()
    if response.status_code == 200:
        assert body["ok"] is True
        # What it accepted is canonical: accepting it again gives the same document.
        assert client.post("/api/validate", json=body["config"]).get_json()["config"] == body["config"]
    else:
        assert response.status_code == 400
        assert body["errors"] and all(e["field"] and e["message"] for e in body["errors"])
        ack = user.emit("run:start", {"config": config})
        # The same fields (the test client sends JSON with sorted keys, so a message
        # quoting an object may list its keys in another order).
        assert "run_id" not in ack
        assert sorted(e["field"] for e in ack["errors"]) == sorted(e["field"] for e in body["errors"])


LINK = encode_link(tiny_config())


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=len(LINK)),
       flips=st.lists(st.tuples(st.integers(0, len(LINK) - 1),
                                st.sampled_from("AZaz09-_Qw")), max_size=3))
def test_tampered_and_truncated_share_links(client, user, cut, flips):
    text = list(LINK[:cut])
    for index, char in flips:
        if index < len(text):
            text[index] = char
    config = decode_link("".join(text))
    if config is not None:  # what the page would send on
        assert_answered(client, user, config)


JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40),
                        st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20))
JSON = st.recursive(JSON_LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=12)
PATHS = [("seed",), ("data", "train_size"), ("data", "test_size"), ("model", "hidden_layers"),
         ("model", "hidden_layers", 0), ("model", "hidden_layers", 0, "units"),
         ("model", "hidden_layers", 0, "activation"), ("model", "loss"), ("optimizer",),
         ("optimizer", "lr"), ("optimizer", "name"), ("training", "epochs"),
         ("training", "batch_size"), ("model",), ("data",), ("extra",)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS), value=JSON)
def test_a_link_with_any_value_anywhere_is_answered(client, user, path, value):
    config = tiny_config()
    target = config
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert_answered(client, user, config)


@pytest.mark.parametrize("value, listed", [(None, True), ("off", False), ("0", False), ("on", True)])
def test_listing_runs_can_be_turned_off(make_app, monkeypatch, value, listed):
    if value is not None:
        monkeypatch.setenv("PLAYGROUND_LIST_RUNS", value)
    app = make_app()
    app.extensions["store"].create_run("secretrun12", tiny_config())
    client = app.test_client()
    response = client.get("/api/runs")
    assert response.status_code == (200 if listed else 403)
    if not listed:
        assert "turned off" in response.get_json()["error"]
    # The run itself stays reachable by its id either way.
    assert client.get("/api/runs/secretrun12").status_code == 200


@pytest.mark.parametrize("value, listed", [(None, True), ("off", False)])
def test_the_runs_page_says_when_listing_is_turned_off(make_app, monkeypatch, value, listed):
    """Not an empty list, not an error: the page explains that runs are opened by their links."""
    if value is not None:
        monkeypatch.setenv("PLAYGROUND_LIST_RUNS", value)
    page = make_app().test_client().get("/runs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Listing the stored runs is turned off on this server" in html  # in the page either way ...
    off_block = html.split('id="listing-off"', 1)[1].split(">", 1)[0]
    table_block = html.split('id="runs-card"', 1)[1].split(">", 1)[0]
    assert ("hidden" in off_block) == listed  # ... but shown only when listing is off
    assert ("hidden" in table_block) == (not listed)


def test_a_bad_listing_setting_is_refused(make_app, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_LIST_RUNS", "maybe")
    with pytest.raises(ValueError, match="LIST_RUNS"):
        make_app()
