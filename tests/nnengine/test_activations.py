import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nnengine.activations import ACTIVATIONS, ReLU, get_activation, log_softmax, softmax, softmin
from nnengine.gradcheck import check_layer

NAMES = ("step identity bent_identity hard_shrink soft_shrink threshold sigmoid hard_sigmoid log_sigmoid "
         "tanh tanh_shrink hard_tanh relu relu6 leaky_relu elu selu celu softplus softsign swish mish "
         "tanhexp").split()

# (name, constructor kwargs, points where the function is not differentiable)
CASES = [
    ("step", {}, [0.0]),
    ("identity", {}, []),
    ("bent_identity", {}, []),
    ("hard_shrink", {}, [-0.5, 0.5]),
    ("hard_shrink", {"lambd": 1.5}, [-1.5, 1.5]),
    ("soft_shrink", {}, [-0.5, 0.5]),
    ("soft_shrink", {"lambd": 1.5}, [-1.5, 1.5]),
    ("threshold", {}, [0.0]),
    ("threshold", {"threshold": 0.7, "value": -2.0}, [0.7]),
    ("sigmoid", {}, []),
    ("hard_sigmoid", {}, [-3.0, 3.0]),
    ("log_sigmoid", {}, []),
    ("tanh", {}, []),
    ("tanh_shrink", {}, []),
    ("hard_tanh", {}, [-1.0, 1.0]),
    ("hard_tanh", {"min_val": -2.0, "max_val": 0.5}, [-2.0, 0.5]),
    ("relu", {}, [0.0]),
    ("relu6", {}, [0.0, 6.0]),
    ("leaky_relu", {}, [0.0]),
    ("leaky_relu", {"alpha": 0.3}, [0.0]),
    ("elu", {}, [0.0]),
    ("elu", {"alpha": 0.5}, [0.0]),       # alpha != 1: the derivative jumps at 0
    ("selu", {}, [0.0]),
    ("celu", {}, []),
    ("celu", {"alpha": 2.0}, []),
    ("softplus", {}, [20.0]),
    ("softplus", {"beta": 2.0, "threshold": 5.0}, [2.5]),
    ("softsign", {}, []),
    ("swish", {}, []),
    ("swish", {"beta": 1.7}, []),
    ("mish", {}, []),
    ("tanhexp", {}, []),
]


def inputs_away_from(kinks, rng, shape=(6, 8), gap=1e-2):
    """Uniform inputs covering every kink (and [-4, 4]), with each point within ``gap`` of a kink pushed
    out of that band.  Not much wider: where a function saturates its slope is so small that the
    central difference itself (round-off ~1e-16 / h) is what limits the relative error."""
    reach = max([4.0] + [abs(k) + 1.0 for k in kinks])
    x = rng.uniform(-reach, reach, size=shape)
    for k in kinks:
        near = np.abs(x - k) < gap
        x[near] = k + np.where(x[near] >= k, 2 * gap, -2 * gap)
    return x


def case_id(case):
    name, kwargs, _ = case
    return name + "".join(f"-{k}={v}" for k, v in kwargs.items())


def test_registry_names_are_exactly_the_documented_ones():
    assert list(ACTIVATIONS) == NAMES


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_gradient_matches_numerical(case):
    name, kwargs, kinks = case
    rng = np.random.default_rng(0)
    x = inputs_away_from(kinks, rng)
    errors = check_layer(get_activation(name, **kwargs), x, rng)
    assert errors["x"] < 1e-7


def test_softplus_gradient_in_linear_region():
    rng = np.random.default_rng(1)
    x = rng.uniform(21.0, 40.0, size=(3, 4))
    assert check_layer(get_activation("softplus"), x, rng)["x"] < 1e-9


def test_every_name_is_gradient_checked():
    assert {name for name, _, _ in CASES} == set(NAMES)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_stable_for_large_inputs(name, dtype):
    x = np.concatenate([np.linspace(-1e3, 1e3, 401), [-1e3, -710.0, -89.0, 89.0, 710.0, 1e3]]).astype(dtype)
    layer = get_activation(name)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        y = layer.forward(x, True)
        dx = layer.backward(np.ones_like(x))
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))


def test_large_input_limits():
    x = np.array([-1e3, 1e3])
    assert np.allclose(get_activation("sigmoid").forward(x), [0.0, 1.0])
    assert np.allclose(get_activation("softplus").forward(x), [0.0, 1e3])
    assert np.allclose(get_activation("log_sigmoid").forward(x), [-1e3, 0.0])
    assert np.allclose(get_activation("mish").forward(x), [0.0, 1e3])
    assert np.allclose(get_activation("tanhexp").forward(x), [0.0, 1e3])
    layer = get_activation("tanhexp")
    layer.forward(x)
    assert np.allclose(layer.backward(np.ones(2)), [0.0, 1.0])


@pytest.mark.parametrize("name", NAMES)
def test_float32_stays_float32(name):
    x = np.random.default_rng(2).standard_normal((5, 7)).astype(np.float32)
    layer = get_activation(name)
    y = layer.forward(x, True)
    dx = layer.backward(np.ones_like(y))
    assert y.dtype == np.float32 and dx.dtype == np.float32
    assert y.shape == x.shape and dx.shape == x.shape


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_backward_does_not_write_into_dout(case):
    name, kwargs, _ = case
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 6))
    dout = rng.standard_normal((4, 6))
    saved = dout.copy()
    layer = get_activation(name, **kwargs)
    layer.forward(x, True)
    dx = layer.backward(dout)
    assert np.array_equal(dout, saved)
    assert dx is not dout


def test_forward_leaves_input_alone_unless_inplace():
    x = np.array([-2.0, -0.5, 0.5, 2.0])
    for name in NAMES:
        saved = x.copy()
        get_activation(name).forward(x, True)
        assert np.array_equal(x, saved), name


def test_inplace_relu_overwrites_input_and_matches():
    x = np.array([[-2.0, 1.0], [3.0, -0.1]])
    plain, inplace = ReLU(), ReLU(inplace=True)
    y_plain = plain.forward(x.copy(), True)
    buf = x.copy()
    y_inplace = inplace.forward(buf, True)
    assert y_inplace is buf
    assert np.array_equal(y_plain, y_inplace)
    dout = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert np.array_equal(plain.backward(dout), inplace.backward(dout))
    assert np.array_equal(inplace.backward(dout), [[0.0, 2.0], [3.0, 0.0]])


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def sig(v):
    return 1.0 / (1.0 + math.exp(-v))


KNOWN_VALUES = [
    ("step", {}, [-1.0, 0.0, 0.1], [0.0, 0.0, 1.0]),
    ("identity", {}, [-1.5, 2.0], [-1.5, 2.0]),
    ("bent_identity", {}, [0.0, 1.0], [0.0, (math.sqrt(2) - 1) / 2 + 1]),
    ("hard_shrink", {}, [-0.7, 0.4, 0.6], [-0.7, 0.0, 0.6]),
    ("soft_shrink", {}, [-1.0, 0.3, 1.0], [-0.5, 0.0, 0.5]),
    ("threshold", {}, [-1.0, 2.0], [0.0, 2.0]),
    ("threshold", {"threshold": 1.0, "value": -3.0}, [0.5, 1.5], [-3.0, 1.5]),
    ("sigmoid", {}, [0.0, 2.0, -2.0], [0.5, sig(2.0), sig(-2.0)]),
    ("hard_sigmoid", {}, [-4.0, 0.0, 1.5, 3.0], [0.0, 0.5, 0.75, 1.0]),
    ("log_sigmoid", {}, [0.0, -3.0], [-math.log(2), math.log(sig(-3.0))]),
    ("tanh", {}, [0.5], [math.tanh(0.5)]),
    ("tanh_shrink", {}, [1.0], [1.0 - math.tanh(1.0)]),
    ("hard_tanh", {}, [-3.0, 0.2, 3.0], [-1.0, 0.2, 1.0]),
    ("relu", {}, [-1.0, 2.5], [0.0, 2.5]),
    ("relu6", {}, [-1.0, 3.0, 7.0], [0.0, 3.0, 6.0]),
    ("leaky_relu", {}, [-2.0, 2.0], [-0.02, 2.0]),
    ("elu", {}, [-1.0, 1.0], [math.exp(-1) - 1, 1.0]),
    ("selu", {}, [1.0, -1.0], [1.0507009873554805, -1.1113307378125628]),
    ("celu", {"alpha": 2.0}, [-1.0, 1.0], [2.0 * (math.exp(-0.5) - 1), 1.0]),
    ("softplus", {}, [0.0, 25.0], [math.log(2), 25.0]),
    ("softplus", {"beta": 2.0}, [1.0], [math.log1p(math.exp(2.0)) / 2]),
    ("softsign", {}, [1.0, -3.0], [0.5, -0.75]),
    ("swish", {}, [1.0], [sig(1.0)]),
    ("mish", {}, [1.0], [0.8650983882673103]),
    ("tanhexp", {}, [1.0], [0.9913289158005998]),
]


@pytest.mark.parametrize("name,kwargs,x,expected", KNOWN_VALUES)
def test_known_values(name, kwargs, x, expected):
    y = get_activation(name, **kwargs).forward(np.array(x), False)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-15)


def test_known_derivatives():
    def slope(name, x, **kwargs):
        layer = get_activation(name, **kwargs)
        layer.forward(np.array([x]), True)
        return layer.backward(np.ones(1))[0]

    assert slope("sigmoid", 0.0) == pytest.approx(0.25)
    assert slope("tanh", 0.0) == pytest.approx(1.0)
    assert slope("selu", 1.0) == pytest.approx(SELU_SCALE)
    assert slope("selu", -1.0) == pytest.approx(SELU_SCALE * SELU_ALPHA * math.exp(-1))
    assert slope("elu", -1.0) == pytest.approx(math.exp(-1))
    assert slope("leaky_relu", -1.0) == pytest.approx(0.01)
    assert slope("hard_sigmoid", 1.0) == pytest.approx(1 / 6)
    assert slope("softplus", 0.0) == pytest.approx(0.5)
    assert slope("step", 1.0) == 0.0
    assert slope("swish", 0.0) == pytest.approx(0.5)
    assert slope("mish", 0.0) == pytest.approx(math.tanh(math.log(2)))
    assert slope("tanhexp", 0.0) == pytest.approx(math.tanh(1.0))


def test_get_activation_passes_keyword_parameters():
    layer = get_activation("leaky_relu", alpha=0.2)
    assert layer.alpha == 0.2
    assert get_activation("elu").alpha == 1.0
    assert get_activation("softplus").beta == 1.0 and get_activation("softplus").threshold == 20.0
    assert get_activation("hard_shrink").lambd == 0.5
    assert get_activation("leaky_relu") is not get_activation("leaky_relu")  # a new layer each time


def test_unknown_activation_lists_known_names():
    with pytest.raises(ValueError) as excinfo:
        get_activation("relu7")
    message = str(excinfo.value)
    assert "relu7" in message
    assert all(name in message for name in NAMES)


def test_unknown_keyword_is_named():
    with pytest.raises(ValueError, match="slope"):
        get_activation("leaky_relu", slope=0.2)
    with pytest.raises(ValueError, match="alpha"):
        get_activation("relu6", alpha=1.0)


def test_activations_have_no_params():
    for name in NAMES:
        layer = get_activation(name)
        assert layer.params == {} and layer.grads == {}
        assert ACTIVATIONS[name].__doc__.strip()


# ----------------------------------------------------------------------------- output functions
def test_softmax_family_values():
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(softmax(x)[0], e / e.sum(), rtol=1e-14)
    np.testing.assert_allclose(softmax(x)[1], [1 / 3] * 3, rtol=1e-14)
    np.testing.assert_allclose(softmin(x), softmax(-x), rtol=1e-14)
    np.testing.assert_allclose(log_softmax(x), np.log(softmax(x)), rtol=1e-13)


def test_softmax_family_stable_and_last_axis():
    x = np.array([[[1000.0, 0.0, -1000.0]], [[-1000.0, -1000.0, -1000.0]]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is expected
        p = softmax(x)
        q = softmin(x)
        lp = log_softmax(x)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0)
    np.testing.assert_allclose(p[0, 0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(q[0, 0], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(lp[0, 0], [0.0, -1000.0, -2000.0])
    np.testing.assert_allclose(lp[1, 0], [-math.log(3)] * 3)


def test_softmax_family_keeps_float32_and_input():
    x = np.random.default_rng(4).standard_normal((3, 5)).astype(np.float32)
    saved = x.copy()
    for fn in (softmax, softmin, log_softmax):
        assert fn(x).dtype == np.float32
    assert np.array_equal(x, saved)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 6)),
              elements=st.floats(-1e4, 1e4, allow_nan=False)))
def test_softmax_is_a_distribution(x):
    p = softmax(x)
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.exp(log_softmax(x)), p, atol=1e-12)
