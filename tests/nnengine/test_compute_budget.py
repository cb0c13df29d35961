"""The compute budget (LIMITS["compute_budget"]) in the engine: a config over it is valid but for the
budget, and both command lines refuse it in one line (the server's edges: tests/server/test_compute_budget.py)."""

import copy
import json
import subprocess
import sys

import pytest

from nnengine.config import LIMITS, parse_config
from nnengine.cost import estimated_cost
from tests.support.configs import over_budget_config
from tests.support.paths import ROOT


def test_the_over_budget_config_is_valid_but_for_the_budget():
    config = over_budget_config()
    smaller = copy.deepcopy(config)
    smaller["training"]["epochs"] = 1
    assert estimated_cost(parse_config(smaller)) * 1000 > LIMITS["compute_budget"]


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
