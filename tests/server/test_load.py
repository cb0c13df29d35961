"""A five-second version of bench/load.py: a real server, real Socket.IO clients training,
prediction traffic. It judges correctness only (every run finishes, no errors, no event
reaches another client); latency is the bench's business (bench/LOAD.md)."""

import importlib.util
import os

from tests.support.paths import ROOT


def test_a_short_load_has_no_errors_and_no_cross_talk():
    spec = importlib.util.spec_from_file_location("bench_load", os.path.join(ROOT, "bench", "load.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    args = bench.parse_args(["--runs", "3", "--workers", "2", "--duration", "5", "--drain", "20",
                             "--predict-rate", "5", "--preset", "quick", "--epochs", "3"])
    result = bench.measure(args)
    assert result["errors"] == 0, result["error_samples"]
    assert result["cross_talk"] == 0
    assert result["runs_started"] >= 3, result
    finished = result["runs_finished"]
    assert finished.get("done", 0) + finished.get("stopped", 0) == result["runs_started"], result
    assert result["epochs_received"] >= 4 * finished.get("done", 0), result
    assert result["predictions_ok"] >= 20, result
