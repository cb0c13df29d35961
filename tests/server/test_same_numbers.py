"""One set of numbers: the same config gives the same records, bit for bit, from the command line
(``python -m nnengine run``, a process of its own with every BLAS thread) and from the server
(``run:start``, trained in a child process as in production), the way the dashboard and the labs
start runs; and the same trials from ``python -m nnengine search`` and the search lab's
``search:start``.  Every field is compared except the wall-clock ones."""

import copy
import json
import os
import subprocess
import sys

import pytest

from nnengine.labs.experiments import batchnorm_runs
from nnengine.presets import preset
from tests.support.paths import ROOT
from tests.support.sockets import SocketUser, socket_client

BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
TIMEOUT_S = 60.0


def _batchnorm_lab_run(epochs):
    """A run of the batch-norm lab as its page starts it: 1,000 training rows, no test set (so the
    evaluation has one worker and the CLI once trained with every BLAS thread)."""
    run = next(r for r in batchnorm_runs({"epochs": epochs})["runs"] if r["key"] == "6-bn")
    return run["config"]


def _overfitting(epochs):
    """The book's overfitting preset, shortened: 5,000 rows evaluated by several workers."""
    config = preset("overfitting")
    config["training"]["epochs"] = epochs
    return config


CONFIGS = {
    "batchnorm lab, train_size 1000": _batchnorm_lab_run(epochs=4),
    "overfitting preset with dropout": {**_overfitting(epochs=35), "model": {
        **_overfitting(1)["model"],
        "hidden_layers": [{"units": 100, "activation": "relu", "batch_norm": True, "dropout": 0.2}] * 3}},
}


def without_wall_clock(value):
    """value with every elapsed_s (and the server's run_id) left out, at any depth."""
    if isinstance(value, dict):
        return {k: without_wall_clock(v) for k, v in value.items() if k not in ("elapsed_s", "run_id")}
    if isinstance(value, list):
        return [without_wall_clock(v) for v in value]
    return value


def cli(tmp_path, *args, config):
    """JSON lines of ``python -m nnengine ARGS CONFIG`` run as a user would: a fresh process, the
    BLAS thread count left to NumPy."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if k not in BLAS_VARS}
    proc = subprocess.run([sys.executable, "-m", "nnengine", *args[:1], str(path), *args[1:]], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


@pytest.fixture
def production_user(make_app):
    """A Socket.IO client of an app that trains in child processes, as `python -m server` does."""
    app = make_app(RUN_ISOLATION="process", LAB_SEARCH_WORKERS=2)
    assert app.extensions["runs"].isolation == "process"
    sio = socket_client(app)
    yield app, SocketUser(sio)
    if sio.is_connected():
        sio.disconnect()


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_the_cli_and_the_server_give_the_same_records_bit_for_bit(name, tmp_path, production_user):
    app, user = production_user
    config = CONFIGS[name]
    run_id = user.start(copy.deepcopy(config))["run_id"]
    lines = cli(tmp_path, "run", config=config)
    event, finished = user.wait_finished(run_id, timeout=TIMEOUT_S)
    assert event == "run:done", finished

    *records, done = lines
    assert done["event"] == "done" and len(records) == config["training"]["epochs"] + 1
    streamed = user.events("run:epoch", run_id)
    stored = app.test_client().get(f"/api/runs/{run_id}").get_json()
    assert without_wall_clock(streamed) == without_wall_clock(records)
    assert without_wall_clock(stored["metrics"]) == without_wall_clock(records)
    assert without_wall_clock(finished["summary"]) == without_wall_clock(done)


def test_the_cli_search_and_the_search_lab_give_the_same_trials(tmp_path, production_user):
    _, user = production_user
    config = json.loads((ROOT / "bench" / "search.json").read_text())
    config["training"]["epochs"] = 3
    # --workers 1 trains the trials in the CLI's own process (every BLAS thread before); the lab's
    # two worker processes each have one BLAS thread.
    lines = cli(tmp_path, "search", "--trials", "2", "--workers", "1", "--lr", "1e-3:1e-1",
                "--weight-decay", "1e-8:1e-4", config=config)
    ack = user.emit("search:start", {"config": config, "trials": 2, "lr": [1e-3, 1e-1],
                                     "weight_decay": [1e-8, 1e-4]})
    assert "search_id" in ack, ack
    done = user.wait_for("search:done", timeout=TIMEOUT_S)[0]
    assert done["status"] == "done" and done["workers"] == 2

    by_trial = lambda trials: sorted(trials, key=lambda t: t["trial"])  # noqa: E731
    cli_trials = by_trial([line for line in lines if "trial" in line])
    lab_trials = by_trial(user.events("search:trial"))
    keys = set(cli_trials[0]) - {"elapsed_s"}
    assert len(cli_trials) == len(lab_trials) == 2
    assert [{k: t[k] for k in keys} for t in lab_trials] == [{k: t[k] for k in keys} for t in cli_trials]
    assert lines[-1]["event"] == "best"
