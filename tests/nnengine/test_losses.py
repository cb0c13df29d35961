import math
import warnings

import numpy as np
import pytest

from nnengine.gradcheck import eval_numerical_gradient, rel_error
from nnengine.losses import LOSSES, BinaryCrossEntropy, CrossEntropy, MeanSquaredError, get_loss

NAMES = ["cross_entropy", "mean_squared_error", "binary_cross_entropy"]


def softplus(v):
    return max(v, 0.0) + math.log1p(math.exp(-abs(v)))


def test_registry():
    assert list(LOSSES) == NAMES
    assert isinstance(get_loss("cross_entropy"), CrossEntropy)
    assert isinstance(get_loss("mean_squared_error"), MeanSquaredError)
    assert isinstance(get_loss("binary_cross_entropy"), BinaryCrossEntropy)


def test_unknown_loss_lists_known_names():
    with pytest.raises(ValueError) as excinfo:
        get_loss("hinge")
    assert "hinge" in str(excinfo.value) and all(name in str(excinfo.value) for name in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_numerical(name):
    rng = np.random.default_rng(0)
    scores = 2.0 * rng.standard_normal((7, 5))
    t = rng.integers(0, 5, size=7)
    loss = get_loss(name)
    value = loss.forward(scores, t)
    assert isinstance(value, float)
    dscores = loss.backward()
    numeric = eval_numerical_gradient(lambda s: get_loss(name).forward(s, t), scores)
    assert rel_error(dscores, numeric) < 1e-7


# ----------------------------------------------------------------------------- hand-computed values
def test_cross_entropy_values():
    loss = CrossEntropy()
    assert loss.forward(np.array([[0.0, 0.0]]), np.array([0])) == pytest.approx(math.log(2), rel=1e-14)
    e1, e2, e3 = math.exp(1), math.exp(2), math.exp(3)
    scores = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    expected = (-math.log(e3 / (e1 + e2 + e3)) - math.log(e1 / (e1 + e2 + e3))) / 2
    assert loss.forward(scores, np.array([2, 0])) == pytest.approx(expected, rel=1e-14)
    np.testing.assert_allclose(loss.backward(), [[e1 / (e1 + e2 + e3) / 2, e2 / (e1 + e2 + e3) / 2,
                                                  (e3 / (e1 + e2 + e3) - 1) / 2],
                                                 [(e1 / (e1 + e2 + e3) - 1) / 2, e2 / (e1 + e2 + e3) / 2,
                                                  e3 / (e1 + e2 + e3) / 2]], rtol=1e-14)


def test_mean_squared_error_values():
    loss = MeanSquaredError()
    # sample 1: 0.5 * (0.5^2 + 0.5^2) = 0.25; sample 2: 0.5 * (1^2 + 2^2) = 2.5
    scores = np.array([[0.5, 0.5], [2.0, 2.0]])
    assert loss.forward(scores, np.array([0, 1])) == pytest.approx((0.25 + 2.5) / 2, rel=1e-14)
    np.testing.assert_allclose(loss.backward(), [[-0.25, 0.25], [1.0, 0.5]], rtol=1e-14)


def test_binary_cross_entropy_values():
    loss = BinaryCrossEntropy()
    assert loss.forward(np.array([[0.0, 0.0]]), np.array([0])) == pytest.approx(2 * math.log(2), rel=1e-14)
    # target class 1: -log(1 - s(2)) - log(s(-1)) = softplus(2) + softplus(1)
    value = loss.forward(np.array([[2.0, -1.0]]), np.array([1]))
    assert value == pytest.approx(softplus(2.0) + softplus(1.0), rel=1e-14)
    s = 1 / (1 + math.exp(-2.0)), 1 / (1 + math.exp(1.0))
    np.testing.assert_allclose(loss.backward(), [[s[0], s[1] - 1.0]], rtol=1e-14)


# ----------------------------------------------------------------------------- outputs, stability, dtypes
def test_predict_outputs():
    scores = np.random.default_rng(1).standard_normal((4, 10))
    p = CrossEntropy().predict(scores)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-14)
    assert np.all(p > 0)
    np.testing.assert_allclose(MeanSquaredError().predict(scores), scores)
    np.testing.assert_allclose(BinaryCrossEntropy().predict(scores), 1 / (1 + np.exp(-scores)), rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_and_bce_stable_for_huge_scores(dtype):
    scores = np.array([[1000.0, 0.0], [-1000.0, 1000.0]], dtype=dtype)
    t = np.array([1, 1])
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        ce = CrossEntropy()
        assert ce.forward(scores, t) == pytest.approx(1000.0 / 2)
        assert np.all(np.isfinite(ce.backward()))
        assert np.all(np.isfinite(ce.predict(scores)))
        bce = BinaryCrossEntropy()
        # sample 1: softplus(1000) + softplus(0); sample 2: softplus(-1000) + softplus(-1000)
        assert bce.forward(scores, t) == pytest.approx((1000.0 + math.log(2)) / 2)
        assert np.all(np.isfinite(bce.backward()))
        assert np.all(np.isfinite(bce.predict(scores)))


@pytest.mark.parametrize("name", NAMES)
def test_float32_gradient_stays_float32(name):
    rng = np.random.default_rng(2)
    scores = rng.standard_normal((5, 4)).astype(np.float32)
    loss = get_loss(name)
    assert isinstance(loss.forward(scores, rng.integers(0, 4, size=5)), float)
    assert loss.backward().dtype == np.float32
    assert loss.predict(scores).dtype == np.float32


@pytest.mark.parametrize("name", NAMES)
def test_one_hot_targets_equal_int_labels(name):
    rng = np.random.default_rng(3)
    scores = rng.standard_normal((6, 3))
    t = rng.integers(0, 3, size=6)
    a, b = get_loss(name), get_loss(name)
    assert a.forward(scores, t) == pytest.approx(b.forward(scores, np.eye(3)[t]), rel=1e-15)
    np.testing.assert_array_equal(a.backward(), b.backward())


@pytest.mark.parametrize("name", NAMES)
def test_forward_and_backward_leave_scores_alone(name):
    scores = np.random.default_rng(4).standard_normal((3, 4))
    saved = scores.copy()
    loss = get_loss(name)
    loss.forward(scores, np.array([0, 1, 3]))
    loss.backward()
    loss.predict(scores)
    np.testing.assert_array_equal(scores, saved)
