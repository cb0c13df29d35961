"""The labs' registry: one entry per lab for its page, its computation and its help, used by the
command line, the JSON endpoints and the pages alike."""
import io
import json

import pytest

from nnengine.labs import LAB_SLUGS, LABS
from nnengine.labs.__main__ import main as labs_main
from nnengine.labs.registry import COMMANDS, LABS_BY_NAME, RUN_LABS, computing_lab, run_lab


def test_the_pages_and_the_computations_come_from_one_registry():
    assert [card["slug"] for card in LABS] == [lab.name for lab in LABS_BY_NAME.values() if lab.page]
    assert LAB_SLUGS == ("paths", "optimizers", "histograms", "init", "batchnorm", "overfitting", "search",
                         "gradcheck", "inside", "probe")
    assert set(COMMANDS) == set(LABS_BY_NAME) - {"inside"}
    assert set(RUN_LABS) == {"optimizers", "init", "batchnorm", "overfitting"}
    assert [card for card in LABS if card.get("book_settings") is False] == [
        LABS_BY_NAME["gradcheck"].card(), LABS_BY_NAME["inside"].card(), LABS_BY_NAME["probe"].card()]


@pytest.mark.parametrize("name", COMMANDS)
def test_every_computing_lab_has_help_and_prints_what_the_registry_computes(name):
    lab = computing_lab(name)
    assert lab.help().startswith(f"usage: python -m nnengine.labs {name} [SETTINGS_JSON]")
    if name in ("gradcheck", "narrow"):
        return               # their defaults are not a computation of their own (a default network; no trials)
    out = io.StringIO()
    assert labs_main([name], out, io.StringIO()) == 0
    assert json.loads(out.getvalue()) == json.loads(json.dumps(run_lab(name, {})))


def test_an_unknown_or_page_only_lab_names_the_labs_that_compute():
    for name in ("nope", "inside", None):
        with pytest.raises(ValueError) as info:
            run_lab(name, {})
        assert f"unknown lab {name!r}; known: " in str(info.value) and all(c in str(info.value) for c in COMMANDS)


def test_bad_settings_get_the_same_message_on_the_command_line_and_from_the_registry():
    err = io.StringIO()
    assert labs_main(["histograms", '{"range": 3}'], io.StringIO(), err) == 2
    with pytest.raises(ValueError) as info:
        run_lab("histograms", {"range": 3})
    assert err.getvalue() == f"nnengine.labs: error: {info.value}\n" == "nnengine.labs: error: range must be [lo, hi]\n"
    with pytest.raises(ValueError, match=r"results\[0\]\.lr must be a number"):
        run_lab("narrow", {"results": [{"lr": "x", "weight_decay": 0.1}]})
