"""The search's checks, in one place for the command line, the search lab and the server:
plan_search collects every problem with the caller's field names, and samples the trials."""
import pytest

from nnengine.config import parse_config
from nnengine.labs import experiments
from nnengine.search import SearchError, LogRange, plan_search, sample_trials

CONFIG = parse_config({"seed": 4, "data": {"train_size": 40, "validation_size": 10, "test_size": 0},
                       "model": {"hidden_layers": [{"units": 8}]}, "training": {"epochs": 2}})


def test_a_plan_samples_the_trials_sample_trials_draws():
    plan = plan_search(CONFIG, 5, "1e-4:1e-1", [1e-8, 1e-4])
    assert plan.trials == sample_trials(CONFIG, 5, LogRange(1e-4, 1e-1), LogRange(1e-8, 1e-4))
    assert (plan.lr, plan.weight_decay) == (LogRange(1e-4, 1e-1), LogRange(1e-8, 1e-4))
    reseeded = plan_search(CONFIG, 5, "1e-4:1e-1", [1e-8, 1e-4], sampler_seed=9)
    assert reseeded.trials != plan.trials


def test_every_problem_is_listed_with_the_callers_names():
    no_validation = parse_config({"data": {"train_size": 40, "validation_size": 0}})
    with pytest.raises(SearchError) as info:
        plan_search(no_validation, 0, "abc", "1e-2:1e-6", sampler_seed=-1,
                    names={"trials": "--trials", "lr": "--lr", "weight_decay": "--weight-decay"})
    fields = [e["field"] for e in info.value.errors]
    assert fields == ["data.validation_size", "--trials", "--lr", "--weight-decay", "sampler_seed"]
    text = str(info.value)
    assert "--lr must look like LO:HI, e.g. 1e-6:1e-2, got 'abc'" in text
    assert "--weight-decay needs 0 < LO <= HI" in text and "--trials must be a whole number from 1 to 10000" in text
    assert "\n" not in text


@pytest.mark.parametrize("value, ok", [
    ([1e-3, 1e-1], True), ("1e-3:1e-1", True), ([0.1, 0.1], True),
    ([0.1, 0.01], False), ([0, 1e-2], False), ([True, 1], False), ([float("nan"), 1], False),
    ("1e-3", False), (5, False), (None, False),
])
def test_a_range_is_positive_and_ordered(value, ok):
    if ok:
        assert LogRange.parse(value, "lr").lo > 0
    else:
        with pytest.raises(SearchError, match=r"^lr "):
            LogRange.parse(value, "lr")


def test_no_weight_decay_is_0_0_and_a_learning_rate_is_never_0():
    assert LogRange.parse("0:0", "weight_decay") == LogRange(0.0, 0.0)
    assert LogRange.parse([0, 0], "weight_decay").sample(None, 3).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(SearchError) as info:
        plan_search(CONFIG, 2, "0:0", "0:0")
    assert [e["field"] for e in info.value.errors] == ["lr"]


def test_a_budget_refuses_a_search_too_dear():
    plan_search(CONFIG, 10, [1e-3, 1e-1], [1e-8, 1e-4], budget=1e12)
    with pytest.raises(SearchError, match=r"search needs about .* multiply-adds, over the budget of 1e\+06"):
        plan_search(CONFIG, 10, [1e-3, 1e-1], [1e-8, 1e-4], budget=1e6)


def test_the_search_lab_reports_the_same_problems_with_its_other_settings():
    with pytest.raises(experiments.SettingsError) as info:
        experiments.search_setup({"trials": 0, "lr": [1, 0.1], "epochs": 0})
    errors = {e["field"]: e["message"] for e in info.value.errors}
    assert set(errors) == {"trials", "lr", "epochs"}
    assert errors["trials"] == "must be a whole number from 1 to 1000, got 0"
    assert errors["lr"] == "must be [lo, hi] with 0 < lo <= hi, got [1, 0.1]"
