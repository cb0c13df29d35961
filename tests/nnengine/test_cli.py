"""The command line: JSON lines out, bad input answered with exit status 2 and one line."""
import io
import json
import os
import shlex
import subprocess
import sys

import pytest

from nnengine.__main__ import main
from nnengine.config import parse_config
from nnengine.labs.experiments import search_setup
from tests.support.paths import ROOT

TINY = {"seed": 1, "data": {"train_size": 50, "validation_size": 20, "test_size": 30},
        "model": {"hidden_layers": [{"units": 8, "activation": "relu"}]},
        "optimizer": {"name": "adam", "lr": 0.01}, "training": {"epochs": 3, "batch_size": 25}}


def run_cli(args):
    out, err = io.StringIO(), io.StringIO()
    status = main(args, out=out, err=err)
    return status, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(TINY))
    return str(path)


def test_run_prints_epoch_records_then_done(config_file):
    status, lines, err = run_cli(["run", config_file])
    assert status == 0 and err == ""
    assert [line["epoch"] for line in lines[:-1]] == [0, 1, 2, 3]
    assert lines[-1]["event"] == "done"
    assert lines[-1]["final"]["epoch"] == 3


def test_search_prints_trials_then_best(config_file):
    status, lines, _ = run_cli(["search", config_file, "--trials", "3", "--lr", "1e-3:1e-1",
                                "--weight-decay", "1e-8:1e-4", "--workers", "1"])
    assert status == 0
    trials, final = lines[:-1], lines[-1]
    assert sorted(t["trial"] for t in trials) == [0, 1, 2]
    for trial in trials:
        assert 1e-3 <= trial["lr"] <= 1e-1 and 1e-8 <= trial["weight_decay"] <= 1e-4
        assert {"val_acc", "train_acc"} <= set(trial)
    assert final["event"] == "best"
    assert final["best"]["val_acc"] == max(t["val_acc"] for t in trials)


@pytest.mark.parametrize("args, words", [
    (["run", "/nonexistent.json"], "cannot read config"),
    (["run"], "config"),
    (["fly", "x"], "invalid choice"),
    (["search", "CONFIG", "--lr", "abc"], "--lr must look like LO:HI"),
    (["search", "CONFIG", "--lr", "1e-2:1e-6"], "0 < LO <= HI"),
    (["search", "CONFIG", "--trials", "0"], "--trials"),
])
def test_bad_arguments_exit_2_with_one_line(args, words, config_file):
    args = [config_file if a == "CONFIG" else a for a in args]
    status, lines, err = run_cli(args)
    assert status == 2 and lines == []
    assert len(err.strip().splitlines()) == 1
    assert words in err


@pytest.mark.parametrize("text, words", [
    ("{not json", "not valid JSON"),
    ('{"training": {"epochs": 0}}', "training.epochs"),
    ('{"model": {"hidden_layers": [{"activation": "nope"}]}}', "model.hidden_layers[0].activation"),
])
def test_bad_config_exits_2_naming_the_field(tmp_path, text, words):
    path = tmp_path / "bad.json"
    path.write_text(text)
    status, _, err = run_cli(["run", str(path)])
    assert status == 2 and words in err and len(err.strip().splitlines()) == 1


def test_search_needs_a_validation_split(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({**TINY, "data": {"train_size": 50, "test_size": 30}}))
    status, _, err = run_cli(["search", str(path), "--trials", "2"])
    assert status == 2 and "validation_size" in err


def test_real_process_no_traceback_on_bad_input(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"seed": "zero"}')
    proc = subprocess.run([sys.executable, "-m", "nnengine", "run", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "seed" in proc.stderr


def test_the_readmes_search_example_runs_as_written():
    """The README's search line, with 2 trials instead of 100: bench/search.json is the book's
    search setting (the search lab's), and --progress draws tqdm's bar on stderr only."""
    line = next(line for line in (ROOT / "README.md").read_text().splitlines()
                if line.startswith("python -m nnengine search "))
    args = shlex.split(line)[3:]
    assert args[1] == "bench/search.json" and "--progress" in args
    args[args.index("--trials") + 1] = "2"
    config = json.loads((ROOT / args[1]).read_text())
    book = search_setup()["config"]
    del book["name"]
    assert parse_config(config).to_dict() == {**book, "optimizer": {**book["optimizer"], "lr": 0.01}}

    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    try:
        os.chdir(ROOT)
        status = main(args, out=out, err=err)
    finally:
        os.chdir(cwd)
    assert status == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert sorted(line["trial"] for line in lines[:-1]) == [0, 1] and lines[-1]["event"] == "best"
    bar = err.getvalue()
    assert "search: 100%|" in bar and "2/2" in bar and "best val_acc" in bar   # tqdm's format


def test_without_progress_nothing_goes_to_stderr(config_file):
    status, lines, err = run_cli(["search", config_file, "--trials", "2", "--workers", "1"])
    assert status == 0 and err == "" and len(lines) == 3
