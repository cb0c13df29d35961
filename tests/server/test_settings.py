"""Deployment settings: the server's command line, settings from the environment, and turning the
listing of stored runs off. A bad one is refused by name, in one line."""

import dataclasses
import os
import subprocess
import sys

import pytest

from server import create_app
from server.__main__ import parse_args
from server.settings import Settings, command_line_settings, settings_fields
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
    (["--broker", "amqp://guest@h/"], "--broker"),
    (["--broker", "redis://:secret@h:port/0"], "--broker"),
    (["--broker", "redis://h:6379/0", "--workers", "-1"], "--workers"),
    (["--broker", "redis://h:6379/0", "--workers", "65"], "--workers"),
])
def test_bad_server_arguments_exit_2_with_one_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_with_a_broker_workers_counts_the_worker_processes_and_sets_no_setting():
    args = parse_args(["--broker", "redis://127.0.0.1:6379/3", "--workers", "0"])
    assert args.workers == 0
    given = command_line_settings(args)
    assert given["BROKER_URL"] == "redis://127.0.0.1:6379/3" and "MAX_CONCURRENT_RUNS" not in given
    assert command_line_settings(parse_args(["--workers", "3"]))["MAX_CONCURRENT_RUNS"] == 3


def test_a_broker_password_is_never_echoed(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--broker", "redis://:secret@h:port/0"])
    assert "secret" not in capsys.readouterr().err


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


# -- server/settings.py: every setting, one parser each --------------------------------------------

BAD_SETTINGS = [
    ("TESTING", "maybe"), ("SECRET_KEY", ""), ("HOST", 5), ("PORT", 70000),
    ("DATABASE", "mysql://u@h/runs"), ("MAX_CONCURRENT_RUNS", 0), ("THREADS", 1), ("BLAS_THREADS", -1),
    ("ALLOWED_ORIGINS", "lab.example"), ("START_RATE", "ten"), ("START_RATE_PER_ADDRESS", "5/-1"),
    ("SEARCH_RATE_PER_ADDRESS", "6"), ("LIMITS_STORAGE", "memcached://h:1"), ("MAX_QUEUED_PER_ADDRESS", -2),
    ("TRUSTED_PROXIES", -1), ("DATABASE_MAX_MB", "lots"), ("LIST_RUNS", "maybe"), ("DEFAULT_MODEL", ""),
    ("RUN_ISOLATION", "fork"), ("MAX_QUEUED_PER_CLIENT", 0), ("MAX_CONTENT_LENGTH", 0),
    ("PRIORITY_PATHS", ["api/predict"]), ("PRIORITY_MAX_PAUSE_S", -1), ("PREDICT_MAX_IN_FLIGHT", 0),
    ("PREDICT_WAIT_S", "soon"), ("TRAINING_NICE", 40), ("LAB_SEARCH_WORKERS", 0), ("PREDICT_CACHE_SIZE", 2.5),
    ("BROKER_URL", "amqp://guest@h"), ("RETENTION_DAYS", "weekly"), ("RUN_WEIGHTS_MAX_MB", 0),
]


def test_every_setting_is_checked():
    assert {key for key, _ in BAD_SETTINGS} == {f.name.upper() for f in settings_fields()}


@pytest.mark.parametrize("key, value", BAD_SETTINGS)
def test_a_bad_setting_is_refused_in_one_line_naming_it_and_its_value(key, value):
    with pytest.raises(ValueError) as error:
        Settings.load({key: value}, environ={})
    message = str(error.value)
    assert message.startswith(key) and str(value) in message and "\n" not in message
    if key in ENVIRONMENT:
        assert f"{key} ({ENVIRONMENT[key]})" in message


ENVIRONMENT = {f.name.upper(): f.metadata["env"] for f in settings_fields() if f.metadata["env"]}


@pytest.mark.parametrize("key, value", [(key, str(value)) for key, value in BAD_SETTINGS
                                        if key in ENVIRONMENT and str(value).strip()])
def test_a_bad_setting_in_the_environment_names_its_variable(key, value):
    with pytest.raises(ValueError, match=rf"^{key} \({ENVIRONMENT[key]}\): "):
        Settings.load({}, environ={ENVIRONMENT[key]: value})


def test_given_settings_win_over_the_environment_which_wins_over_the_defaults():
    environ = {"PLAYGROUND_TRUSTED_PROXIES": "2", "PLAYGROUND_START_RATE": "3/30"}
    assert Settings.load({}, environ={}).trusted_proxies == 0
    assert Settings.load({}, environ=environ).trusted_proxies == 2
    assert Settings.load({"TRUSTED_PROXIES": 1}, environ=environ).trusted_proxies == 1
    assert Settings.load({"TRUSTED_PROXIES": None}, environ=environ).trusted_proxies == 2  # None: not given
    assert Settings.load({}, environ={"PLAYGROUND_TRUSTED_PROXIES": "  "}).trusted_proxies == 0  # blank: unset
    assert Settings.load({}, environ=environ).start_rate == (3, 30.0)
    # A setting that is given is never read from the environment, so a bad variable there does not matter.
    assert Settings.load({"START_RATE": "off"}, environ={"PLAYGROUND_START_RATE": "lots"}).start_rate is None


def test_create_app_takes_the_environment_and_test_config_the_same_way(make_app, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_DATABASE_MAX_MB", "5")
    monkeypatch.setenv("PLAYGROUND_RUN_ISOLATION", "process")
    app = make_app()
    assert (app.config["DATABASE_MAX_MB"], app.config["RUN_ISOLATION"]) == (5.0, "process")
    app = make_app(DATABASE_MAX_MB=2, RUN_ISOLATION="thread")
    assert (app.config["DATABASE_MAX_MB"], app.config["RUN_ISOLATION"]) == (2.0, "thread")
    assert app.extensions["runs"].isolation == "thread"


def test_settings_that_follow_from_others():
    assert Settings.load({"TESTING": True}, environ={}).run_isolation == "thread"
    assert Settings.load({}, environ={}).run_isolation == "process"
    assert Settings.load({"TESTING": True}, environ={"PLAYGROUND_RUN_ISOLATION": "process"}).run_isolation == "process"
    assert "http://10.0.0.5:8000" in Settings.load({"HOST": "10.0.0.5", "PORT": 8000}, environ={}).allowed_origins


def test_entries_that_are_not_settings_reach_app_config_as_given(make_app):
    app = make_app(SERVER_NAME="lab.example:5000", SOMETHING_ELSE=[1, 2])
    assert (app.config["SERVER_NAME"], app.config["SOMETHING_ELSE"]) == ("lab.example:5000", [1, 2])


def test_settings_are_frozen():
    settings = Settings.load({}, environ={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.port = 80


def test_the_command_line_gives_the_settings_its_flags_name():
    args = parse_args(["--host", "0.0.0.0", "--port", "8000", "--db", "x.sqlite", "--workers", "3",
                       "--threads", "64", "--blas-threads", "0"])
    settings = Settings.load(command_line_settings(args), environ={})
    assert (settings.host, settings.port, settings.database, settings.max_concurrent_runs,
            settings.threads, settings.blas_threads) == ("0.0.0.0", 8000, "x.sqlite", 3, 64, 0)
    defaults = Settings.load(command_line_settings(parse_args([])), environ={})
    assert defaults.database is None and defaults.max_concurrent_runs == (os.cpu_count() or 1)
