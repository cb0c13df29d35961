"""Stored runs and share links made before ``model.dropout_style`` and ``model.batch_norm_eps`` existed
keep their numbers.

The configs (tests/support/stored_configs.py) are ``Config.to_dict()`` of the code before these keys
(the book's overfitting preset with dropout 0.2, the batch-norm lab's w = 1e-4 run, a small CNN with
spatial batch norm and dropout), shortened to a few epochs, and the records below are what that code
trained from them.  On the machine they were computed on the records match bit for bit; across
machines a BLAS may round float32 products differently, so they are compared to 1e-5, a thousandth of
what reading the missing keys as the book's values changes (checked below, so this test can fail).
Bit for bit, on any machine: a config without the keys trains exactly like the same config spelling
out today's values.
"""
import copy

import pytest

from nnengine.config import parse_config
from nnengine.trainer import train
from tests.support.stored_configs import STORED


# (train_loss, train_acc, test_loss, test_acc) for epochs 0, 1, ... as trained before the new keys.
RECORDS = {
    "dropout": [
        (2.4342606608072916, 0.09666666666666666, 2.458177775930851, 0.07361702127659575),
        (2.384244588216146, 0.09, 2.4009599401595745, 0.06489361702127659),
        (2.3567696126302082, 0.09666666666666666, 2.3703993517287234, 0.06659574468085107),
        (2.3377030436197916, 0.09666666666666666, 2.351530501994681, 0.06936170212765957),
    ],
    "batch_norm": [
        (2.302585205078125, 0.086, None, None),
        (2.3024697265625, 0.118, None, None),
        (2.302356689453125, 0.118, None, None),
        (2.30224609375, 0.118, None, None),
        (2.302137451171875, 0.118, None, None),
        (2.302031005859375, 0.118, None, None),
        (2.3019267578125, 0.118, None, None),
    ],
    "cnn": [
        (2.4497225952148436, 0.09, 2.4141780090332032, 0.05),
        (2.2757081604003906, 0.17, 2.3335745239257815, 0.11),
        (2.145139465332031, 0.32, 2.2740098571777345, 0.19),
    ],
}
KEYS = ("train_loss", "train_acc", "test_loss", "test_acc")


def records_of(config: dict) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in train(parse_config(config)).records]


def as_tuples(records: list[dict]) -> list[tuple]:
    return [tuple(r[k] for k in KEYS) for r in records]


def flat(rows: list[tuple]) -> list:
    """Every value of the rows in order, an empty test set's null as NaN (so approx can compare it)."""
    return [float("nan") if value is None else value for row in rows for value in row]


def with_model(config: dict, **model) -> dict:
    config = copy.deepcopy(config)
    config["model"].update(model)
    return config


@pytest.mark.parametrize("name", sorted(STORED))
def test_a_stored_config_without_the_new_keys_keeps_its_numbers(name):
    stored = STORED[name]
    assert "dropout_style" not in stored["model"] and "batch_norm_eps" not in stored["model"]
    doc = parse_config(stored).to_dict()
    assert (doc["model"]["dropout_style"], doc["model"]["batch_norm_eps"]) == ("inverted", 1e-5)

    records = records_of(stored)
    assert [r["epoch"] for r in records] == list(range(len(RECORDS[name])))
    assert flat(as_tuples(records)) == pytest.approx(flat(RECORDS[name]), rel=1e-5, nan_ok=True)
    # bit for bit the same as spelling out today's values (and so as its canonical form, re-stored)
    assert records_of(with_model(stored, dropout_style="inverted", batch_norm_eps=1e-5)) == records
    assert records_of(doc) == records

    # the book's values are a different run: far outside the tolerance above
    book = as_tuples(records_of(with_model(stored, dropout_style="book", batch_norm_eps=1e-6)))
    assert abs(book[-1][0] - RECORDS[name][-1][0]) > 1e-3 * RECORDS[name][-1][0]
