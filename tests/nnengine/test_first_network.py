"""The network a fresh dashboard shows (static/js/main.js START_PRESET) keeps the intro's promise:
an untouched Train memorises the 300 training images (100 % train accuracy) while the test accuracy
stalls far below. The config defaults (parse_config({})) are not that network and stay as they are."""
from nnengine.config import parse_config
from nnengine.presets import preset
from nnengine.schema import schema
from nnengine.trainer import train


def test_the_dashboards_first_network_memorises_its_training_images():
    config = preset("overfitting")
    # Fewer test images to score each epoch: the training split is the first 300 of the seeded
    # permutation whatever the test size (nnengine/data.py split), so training is the same.
    config["data"]["test_size"] = 100
    records = train(parse_config(config)).records
    final = records[-1]
    assert final["epoch"] == config["training"]["epochs"]
    assert final["train_acc"] == 1.0                       # every training image right
    assert final["train_acc"] - final["test_acc"] > 0.1    # and far better than on new images
    first_perfect = next(r["epoch"] for r in records if r["train_acc"] == 1.0)
    assert first_perfect < 0.75 * final["epoch"]           # "soon", with epochs left to watch the gap


def test_the_config_defaults_are_not_the_dashboards_first_network():
    assert len(parse_config({}).to_dict()["model"]["hidden_layers"]) == 1
    assert len(schema()["default_config"]["model"]["hidden_layers"]) == 1
    assert len(schema()["presets"]["overfitting"]["config"]["model"]["hidden_layers"]) == 6
