"""Deployment settings: the server's command line, settings from the environment, and turning the
listing of stored runs off. A bad one is refused by name, in one line."""

import os
import subprocess
import sys

import pytest

from server import create_app
from server.__main__ import parse_args
from tests.support.configs import tiny_config
from tests.support.paths import ROOT


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
