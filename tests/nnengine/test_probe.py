"""The probes of nnengine.probe, checked numerically on small trained networks: dreams raise their class's
probability, adversarial pictures change the answer within the epsilon they report, switching a unit off
is cutting its outgoing weights, robustness and morphing are what their formulas say."""
import copy
import io
import json

import numpy as np
import pytest

from nnengine.config import parse_config
from nnengine.gradcheck import eval_numerical_gradient
from nnengine.labs.__main__ import main as labs_main
from nnengine.layers import Affine
from nnengine.models import weights_npz
from nnengine.probe.adversarial import LEVELS, AttackSettings, smallest_flip
from nnengine.probe.dreams import DreamSettings, dream, smoothness_gradient
from nnengine.probe.morph import MorphSettings, blend, morph
from nnengine.probe.robustness import RobustnessSettings, blur, gaussian_kernel, robustness_curves
from nnengine.probe.settings import SettingsError
from nnengine.probe.subjects import run_subject
from nnengine.probe.surgery import Surgery, hidden_layers
from nnengine.trainer import train


def trained(hidden, epochs=12, **model):
    """A small network trained on 1000 pool images (about 90 % on its 500 test images), as a subject."""
    config = parse_config({"seed": 1, "data": {"train_size": 1000, "test_size": 500},
                           "model": {"hidden_layers": hidden, **model},
                           "optimizer": {"name": "adam", "lr": 0.003},
                           "training": {"epochs": epochs, "batch_size": 50}})
    return run_subject(config, weights_npz(train(config).network), name="test")


@pytest.fixture(scope="module")
def mlp():
    return trained([{"units": 64}, {"units": 32}])


@pytest.fixture(scope="module")
def mixed():
    """Maxout, batch norm and book-style dropout in one network."""
    return trained([{"type": "maxout", "units": 24, "pieces": 3}, {"units": 32, "batch_norm": True, "dropout": 0.2}],
                   epochs=6, dropout_style="book")


# ------------------------------------------------------------------ dreams

def test_smoothness_gradient_is_the_gradient_of_the_smoothness_penalty():
    rng = np.random.default_rng(0)
    x = rng.random((2, 28, 28))

    def penalty(_):
        return 0.5 * (np.sum(np.diff(x, axis=2) ** 2) + np.sum(np.diff(x, axis=1) ** 2))
    numeric = eval_numerical_gradient(penalty, x)
    np.testing.assert_allclose(smoothness_gradient(x), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("start", ["grey", "noise"])
def test_each_dream_raises_its_own_class_probability(mlp, start):
    settings = DreamSettings(steps=60, start=start, frames=3)
    before = mlp.probabilities(np.full((10, 784), settings.grey) if start == "grey" else
                               np.random.default_rng(0).uniform(0, 2 * settings.grey, (10, 784)))
    dreams = dream(mlp, settings)
    own = dreams.probabilities[np.arange(10), np.arange(10)]
    assert np.all(own > before[np.arange(10), np.arange(10)])
    assert np.mean(own > 0.9) >= 0.8                      # most dreams are what they dream of
    assert dreams.images.min() >= 0 and dreams.images.max() <= 1
    assert [step for step, _ in dreams.frames] == [1, 8, 60]       # spaced evenly in log scale
    np.testing.assert_array_equal(dreams.frames[-1][1], dreams.images)
    assert dreams.own_probability[-1] == pytest.approx(own.tolist(), abs=1e-6)


def test_dreams_are_the_same_for_the_same_settings_and_report_them(mlp):
    settings = DreamSettings(steps=15, start="noise", seed=3, l2=2.0)
    a, b = dream(mlp, settings).to_dict(), dream(mlp, settings).to_dict()
    assert a == b
    assert a["settings"] == {**DreamSettings().to_dict(), "steps": 15, "start": "noise", "seed": 3, "l2": 2.0}
    assert np.asarray(a["images"]).shape == (10, 28, 28) and np.asarray(a["probabilities"]).shape == (10, 10)


def test_the_l2_penalty_darkens_the_dreams(mlp):
    light = dream(mlp, DreamSettings(steps=80, l2=0.0, smoothness=0.0)).images
    dark = dream(mlp, DreamSettings(steps=80, l2=5.0, smoothness=0.0)).images
    assert dark.mean() < 0.7 * light.mean()


@pytest.mark.parametrize("settings, field", [({"steps": 0}, "steps"), ({"start": "black"}, "start"),
                                             ({"l2": -1}, "l2"), ({"steps": 2.5}, "steps"), ({"grey": "x"}, "grey")])
def test_bad_dream_settings_name_the_field(settings, field):
    with pytest.raises(SettingsError) as info:
        DreamSettings.read(settings)
    assert [e["field"] for e in info.value.errors] == [field]
    assert repr(settings[field]) in str(info.value)


# ------------------------------------------------------------------ adversarial digits

@pytest.mark.parametrize("i", range(4))
def test_the_perturbed_picture_changes_the_answer_within_the_reported_epsilon(mlp, i):
    x = mlp.x_test[i]
    attack = smallest_flip(mlp, x)
    assert attack.flipped
    original = np.rint(np.asarray(x, dtype=np.float64) * LEVELS) / LEVELS
    np.testing.assert_array_equal(attack.original, original)
    change = np.max(np.abs(attack.perturbed - original))
    assert change == pytest.approx(attack.epsilon, abs=1e-12) and 0 < attack.epsilon <= 0.5
    # on the 8-bit grid, so a PNG carries it exactly
    np.testing.assert_array_equal(np.rint(attack.perturbed * LEVELS) / LEVELS, attack.perturbed)
    assert attack.perturbed.min() >= 0 and attack.perturbed.max() <= 1
    answer = mlp.probabilities(attack.perturbed)[0]
    assert np.argmax(answer) == attack.prediction != attack.original_prediction
    # no smaller epsilon tried changed the answer
    assert all(point["prediction"] == attack.original_prediction for point in attack.curve
               if point["epsilon"] < attack.epsilon - 1e-9)
    assert [p["epsilon"] for p in attack.curve] == sorted(p["epsilon"] for p in attack.curve)


def test_a_targeted_attack_reaches_its_digit(mlp):
    x = mlp.x_test[0]
    answer = int(mlp.predictions(x)[0])
    target = (answer + 3) % 10
    attack = smallest_flip(mlp, x, target=target)
    assert attack.flipped and attack.prediction == target == attack.target
    assert int(mlp.predictions(attack.perturbed)[0]) == target
    with pytest.raises(SettingsError, match="already answers"):
        smallest_flip(mlp, x, target=answer)
    with pytest.raises(SettingsError, match="digit 0 to 9"):
        smallest_flip(mlp, x, target=10)


def test_a_too_small_epsilon_budget_says_it_did_not_flip(mlp):
    attack = smallest_flip(mlp, mlp.x_test[0], settings=AttackSettings(max_epsilon=1 / 255, iterations=2))
    if attack.flipped:      # one grey level was enough: then it is the smallest possible
        assert attack.epsilon == pytest.approx(1 / 255)
    else:
        assert attack.prediction == attack.original_prediction and attack.epsilon <= 1 / 255 + 1e-12


# ------------------------------------------------------------------ robustness

def test_blur_is_a_normalised_gaussian():
    for sigma in (0.5, 1.0, 2.5):
        k = gaussian_kernel(sigma)
        assert k.sum() == pytest.approx(1.0) and len(k) == 2 * int(np.ceil(3 * sigma)) + 1
    x = np.zeros((1, 784), np.float32)
    x[0, 14 * 28 + 14] = 1.0
    b = blur(x, 1.0).reshape(28, 28)
    assert b.sum() == pytest.approx(1.0, rel=1e-5) and b[14, 14] == b.max()
    assert b[14, 13] == pytest.approx(b[13, 14]) == pytest.approx(b[14, 15])
    np.testing.assert_array_equal(blur(x, 0.0), x)


def test_robustness_starts_at_the_clean_accuracy_and_falls(mlp):
    curves = robustness_curves(mlp, RobustnessSettings(levels=4, images=300))
    clean = mlp.accuracy(mlp.x_test[:300], mlp.t_test[:300])
    assert curves["noise"][0]["sigma"] == 0.0 and curves["noise"][0]["accuracy"] == clean == curves["blur"][0]["accuracy"]
    np.testing.assert_allclose(curves["noise"][0]["example"], mlp.x_test[0].reshape(28, 28), atol=5e-4)
    assert np.std(curves["noise"][-1]["example"]) > np.std(curves["noise"][0]["example"]) * 0.5
    assert curves["noise"][-1]["accuracy"] < clean - 0.1 and curves["blur"][-1]["accuracy"] < clean - 0.1
    assert curves == robustness_curves(mlp, RobustnessSettings(levels=4, images=300))   # seeded noise


# ------------------------------------------------------------------ neuron surgery

def test_hidden_layers_of_dense_maxout_and_conv_networks(mixed):
    assert [(layer.kind, layer.units) for layer in hidden_layers(mixed.network)] == [("maxout", 24), ("dense", 32)]
    assert hidden_layers(mixed.network)[1].label == "dense 32 relu + batch norm + dropout"
    conv = trained([{"type": "conv", "filters": 4, "kernel": 3}, {"type": "pool", "size": 2}, {"units": 16}], epochs=1)
    layers = hidden_layers(conv.network)
    assert [(layer.kind, layer.units) for layer in layers] == [("conv", 4), ("dense", 16)]
    surgery = Surgery(conv)
    channel_off = surgery.scores(conv.x_test[:5], {0: [1, 2]})
    cut = copy.deepcopy(conv.network)                    # a channel off = its kernel and bias set to 0
    cut.layers[1].params["W"][[1, 2]] = 0
    cut.layers[1].params["b"][[1, 2]] = 0
    np.testing.assert_allclose(channel_off, cut.forward(conv.rows(conv.x_test[:5]), train=False), rtol=1e-5, atol=1e-6)


def next_affine_cut(subject, layer_end, units):
    """A copy of the network whose next weight matrix has the rows of ``units`` set to 0."""
    cut = copy.deepcopy(subject.network)
    nxt = next(layer for layer in cut.layers[layer_end + 1:] if "W" in layer.params)
    nxt.params["W"][units] = 0
    return cut


@pytest.mark.parametrize("fixture, layer", [("mlp", 0), ("mlp", 1), ("mixed", 0)])
def test_switching_units_off_is_cutting_their_outgoing_weights(request, fixture, layer):
    subject = request.getfixturevalue(fixture)
    surgery = Surgery(subject)
    units = [0, 3, 5]
    end = surgery.layers[layer].end
    cut = next_affine_cut(subject, end, units)
    if fixture == "mixed" and layer == 0:    # the next layer is dense with batch norm: zero rows of its W
        assert isinstance(cut.layers[end + 1], Affine)
    expected = cut.forward(subject.rows(subject.x_test), train=False)
    np.testing.assert_allclose(surgery.scores(subject.x_test, {layer: units}), expected, rtol=1e-5, atol=1e-5)
    accuracy, _ = surgery.evaluate({layer: units})
    assert accuracy == pytest.approx(np.mean(expected.argmax(axis=1) == subject.t_test))


def test_kept_activations_give_the_same_numbers_as_a_fresh_start(mlp):
    surgery = Surgery(mlp)
    for off in ({1: [1]}, {1: [1, 2, 7]}, {0: [4]}, {}, {1: list(range(32))}):
        assert surgery.evaluate(off) == Surgery(mlp).evaluate(off)
    assert surgery.evaluate({}) == (mlp.accuracy(), pytest.approx(surgery.evaluate({})[1]))


def test_a_whole_layer_off_answers_the_same_for_every_picture(mlp):
    scores = Surgery(mlp).scores(mlp.x_test[:50], {1: list(range(32))})
    assert np.allclose(scores, scores[0])


def test_ranking_orders_units_by_the_accuracy_lost_without_them(mlp):
    surgery = Surgery(mlp)
    ranked = surgery.rank(1)
    drops = [u["drop"] for u in ranked["units"]]
    assert sorted(u["unit"] for u in ranked["units"]) == list(range(32)) and drops == sorted(drops, reverse=True)
    assert ranked["images"] == 500 and ranked["accuracy"] == mlp.accuracy()
    top = ranked["units"][0]
    assert top["accuracy"] == pytest.approx(surgery.evaluate({1: [top["unit"]]})[0])
    assert top["drop"] > 0
    worst_k = [u["unit"] for u in ranked["units"][:5]]
    spread = list(range(0, 32, 7))[:5]
    assert surgery.evaluate({1: worst_k})[0] <= surgery.evaluate({1: spread})[0]


@pytest.mark.parametrize("off, field", [({"7": [0]}, "off.7"), ({"0": [64]}, "off.0"), ({"x": [1]}, "off.x"),
                                        ({"0": "all"}, "off.0"), ({"0": [True]}, "off.0")])
def test_units_that_do_not_exist_are_refused_by_name(mlp, off, field):
    with pytest.raises(SettingsError) as info:
        Surgery(mlp).evaluate(off)
    assert info.value.errors[0]["field"] == field


# ------------------------------------------------------------------ morph

def test_morph_goes_from_one_digit_to_the_other_and_marks_the_flips(mlp):
    one, seven = (mlp.x_test[mlp.examples(d, 1)[0]] for d in (1, 7))
    result = morph(mlp, one, seven, MorphSettings(points=21))
    assert result["s"][0] == 0 and result["s"][-1] == 1 and len(result["probabilities"]) == 21
    ends = mlp.predictions(np.stack([one, seven]))
    assert [result["predictions"][0], result["predictions"][-1]] == ends.tolist()
    changes = [i for i in range(20) if result["predictions"][i] != result["predictions"][i + 1]]
    assert len(result["flips"]) == len(changes) >= (1 if ends[0] != ends[1] else 0)
    for flip, i in zip(result["flips"], changes):
        assert result["s"][i] <= flip["s"] <= result["s"][i + 1]
        before, after = mlp.predictions(blend(one, seven, [flip["s"] - 2e-3, flip["s"] + 2e-3]))
        assert before == flip["from"] and after == flip["to"]


# ------------------------------------------------------------------ the command line

def test_the_probe_lab_on_the_command_line(tmp_path, mlp):
    (tmp_path / "config.json").write_text(json.dumps(mlp.config))
    (tmp_path / "w.npz").write_bytes(weights_npz(mlp.network))
    run = {"config": str(tmp_path / "config.json"), "weights": str(tmp_path / "w.npz")}
    out, err = io.StringIO(), io.StringIO()
    settings = json.dumps({**run, "task": "adversarial", "image": {"test": 2}})
    assert labs_main(["probe", settings], out, err) == 0, err.getvalue()
    result = json.loads(out.getvalue())
    direct = smallest_flip(mlp, mlp.x_test[2]).to_dict()
    assert result["epsilon"] == direct["epsilon"] and result["perturbed"] == direct["perturbed"]
    out = io.StringIO()
    assert labs_main(["probe", json.dumps({**run, "task": "surgery", "layer": 1, "k": 3})], out, err) == 0
    surgery = json.loads(out.getvalue())
    assert len(surgery["off"]["1"]) == 3 and surgery["accuracy"] < mlp.accuracy()


@pytest.mark.parametrize("settings, says", [
    ({"task": "nap"}, "task: must be one of dreams"),
    ({"task": "dreams", "step": 3}, "step: is not a setting of the dreams probe"),
    ({"task": "dreams", "steps": -1}, "steps: must be from 1 to 2000, got -1"),
    ({"task": "morph", "a": {"digit": 12}}, "a: digit must be"),
    ({"task": "adversarial", "image": "/nonexistent.png"}, "image: cannot read '/nonexistent.png'"),
    ({"task": "dreams", "model": "/nonexistent/model"}, "no model files"),
])
def test_bad_probe_settings_exit_2_with_one_line(settings, says):
    out, err = io.StringIO(), io.StringIO()
    assert labs_main(["probe", json.dumps(settings)], out, err) == 2
    assert out.getvalue() == "" and err.getvalue().count("\n") == 1 and says in err.getvalue(), err.getvalue()
