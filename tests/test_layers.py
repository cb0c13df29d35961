import numpy as np
import pytest

from nnengine.gradcheck import (check_layer, eval_numerical_gradient, eval_numerical_gradient_array,
                                rel_error)
from nnengine.layers import Affine, BatchNorm, Dropout, Layer

TOL = 1e-7


def make_affine(rng, d_in=5, d_out=4, dtype=np.float64, **kwargs):
    return Affine(rng.standard_normal((d_in, d_out)).astype(dtype), rng.standard_normal(d_out).astype(dtype),
                  **kwargs)


def make_batchnorm(rng, d=5, dtype=np.float64, **kwargs):
    return BatchNorm((1.0 + 0.5 * rng.standard_normal(d)).astype(dtype), rng.standard_normal(d).astype(dtype),
                     **kwargs)


# ----------------------------------------------------------------------------- gradcheck helpers
def test_numerical_gradient_of_scalar_function():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    grad = eval_numerical_gradient(lambda v: float(np.sum(v ** 3)), x)
    assert rel_error(grad, 3 * x ** 2) < 1e-8
    assert np.array_equal(x, [[1.0, -2.0], [0.5, 3.0]])  # restored


def test_numerical_gradient_array_is_vector_jacobian_product():
    x = np.array([0.3, -1.2, 2.0])
    df = np.array([1.0, -2.0, 0.5])
    grad = eval_numerical_gradient_array(np.sin, x, df)
    assert rel_error(grad, np.cos(x) * df) < 1e-8


def test_rel_error():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_error(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(np.array([0.0]), np.array([1e-9])) == pytest.approx(0.1)  # floor of 1e-8


# ----------------------------------------------------------------------------- Affine
def test_affine_forward():
    layer = Affine(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), np.array([0.5, -1.0]))
    out = layer.forward(np.array([[1.0, 0.0, -1.0]]), True)
    np.testing.assert_allclose(out, [[-3.5, -5.0]])


def test_affine_gradients():
    rng = np.random.default_rng(0)
    errors = check_layer(make_affine(rng), rng.standard_normal((6, 5)), rng)
    assert set(errors) == {"x", "W", "b"}
    assert max(errors.values()) < TOL


def test_affine_without_dx_skips_it_and_keeps_param_grads():
    rng = np.random.default_rng(1)
    full = make_affine(rng)
    first = Affine(full.params["W"].copy(), full.params["b"].copy(), need_dx=False)
    x, dout = rng.standard_normal((6, 5)), rng.standard_normal((6, 4))
    full.forward(x, True)
    first.forward(x, True)
    assert full.backward(dout) is not None
    assert first.backward(dout) is None
    for key in ("W", "b"):
        np.testing.assert_array_equal(first.grads[key], full.grads[key])
    errors = check_layer(Affine(full.params["W"], full.params["b"], need_dx=False), x, rng)
    assert set(errors) == {"W", "b"} and max(errors.values()) < TOL


def test_affine_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        Affine(np.zeros((3, 2)), np.zeros(3))


# ----------------------------------------------------------------------------- BatchNorm
def test_batchnorm_train_normalises_with_batch_statistics():
    rng = np.random.default_rng(2)
    gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 3.0])
    layer = BatchNorm(gamma.copy(), beta.copy())
    x = 4.0 + 3.0 * rng.standard_normal((200, 3))
    out = layer.forward(x, True)
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-10)
    np.testing.assert_allclose(out.std(axis=0), gamma * np.sqrt(x.var(0) / (x.var(0) + 1e-5)), rtol=1e-10)


def test_batchnorm_train_gradients():
    rng = np.random.default_rng(3)
    errors = check_layer(make_batchnorm(rng), 2.0 + 3.0 * rng.standard_normal((8, 5)), rng)
    assert set(errors) == {"x", "gamma", "beta"}
    assert max(errors.values()) < TOL


def test_batchnorm_eval_gradients():
    rng = np.random.default_rng(4)
    layer = make_batchnorm(rng)
    layer.running_mean[:] = rng.standard_normal(5)
    layer.running_var[:] = rng.uniform(0.5, 2.0, 5)
    errors = check_layer(layer, rng.standard_normal((4, 5)), rng, train=False)
    assert max(errors.values()) < TOL


def test_batchnorm_running_statistics_and_eval_mode():
    rng = np.random.default_rng(5)
    layer = make_batchnorm(rng, d=3, momentum=0.9, eps=1e-5)
    gamma, beta = layer.params["gamma"].copy(), layer.params["beta"].copy()
    running_mean, running_var = np.zeros(3), np.ones(3)
    for _ in range(5):
        x = 1.0 + 2.0 * rng.standard_normal((50, 3))
        layer.forward(x, True)
        running_mean = 0.9 * running_mean + 0.1 * x.mean(axis=0)
        running_var = 0.9 * running_var + 0.1 * x.var(axis=0)
    np.testing.assert_allclose(layer.running_mean, running_mean, rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, running_var, rtol=1e-12)

    x = rng.standard_normal((4, 3))
    out = layer.forward(x, False)
    np.testing.assert_allclose(out, gamma * (x - running_mean) / np.sqrt(running_var + 1e-5) + beta,
                               rtol=1e-12)
    # eval mode is per-sample (no batch statistics) and does not touch the running statistics
    np.testing.assert_allclose(layer.forward(x[:1], False), out[:1], rtol=1e-12)
    np.testing.assert_allclose(layer.running_mean, running_mean, rtol=1e-12)


def test_batchnorm_fresh_eval_is_affine_in_x():
    layer = BatchNorm(np.array([2.0]), np.array([1.0]), eps=0.0)
    np.testing.assert_allclose(layer.forward(np.array([[3.0]]), False), [[7.0]])


# ----------------------------------------------------------------------------- Dropout
def test_dropout_gradient_with_fixed_mask():
    rng = np.random.default_rng(6)
    layer = Dropout(0.3, np.random.default_rng(42))

    def reseed():
        layer.rng = np.random.default_rng(42)

    x = rng.standard_normal((6, 7))
    errors = check_layer(layer, x, rng, before_forward=reseed)
    assert errors["x"] < TOL
    assert 0 < np.count_nonzero(layer.mask == 0) < layer.mask.size


def test_dropout_same_rng_state_same_mask():
    x = np.ones((10, 10))
    a = Dropout(0.5, np.random.default_rng(7)).forward(x, True)
    b = Dropout(0.5, np.random.default_rng(7)).forward(x, True)
    np.testing.assert_array_equal(a, b)
    layer = Dropout(0.5, np.random.default_rng(7))
    assert not np.array_equal(layer.forward(x, True), layer.forward(x, True))  # the rng advances


def test_dropout_inverted_scaling():
    p = 0.3
    x = np.random.default_rng(8).uniform(0.5, 1.5, size=(400, 500))
    layer = Dropout(p, np.random.default_rng(9))
    out = layer.forward(x, True)
    kept = out != 0
    assert kept.mean() == pytest.approx(1 - p, abs=5e-3)
    np.testing.assert_allclose(out[kept], x[kept] / (1 - p), rtol=1e-15)
    assert out.mean() == pytest.approx(x.mean(), rel=5e-3)  # expectation preserved
    dx = layer.backward(np.ones_like(x))
    np.testing.assert_allclose(dx, kept / (1 - p), rtol=1e-15)


def test_dropout_is_identity_at_test_time():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((5, 6))
    layer = Dropout(0.5, rng)
    state = rng.bit_generator.state
    np.testing.assert_array_equal(layer.forward(x, False), x)
    assert rng.bit_generator.state == state  # no random draw in evaluation
    dout = rng.standard_normal((5, 6))
    np.testing.assert_array_equal(layer.backward(dout), dout)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_rejects_bad_p(p):
    with pytest.raises(ValueError):
        Dropout(p, np.random.default_rng())


# ----------------------------------------------------------------------------- all layers
def all_layers(rng, dtype):
    return {
        "affine": make_affine(rng, dtype=dtype),
        "affine_first": make_affine(rng, dtype=dtype, need_dx=False),
        "batchnorm": make_batchnorm(rng, dtype=dtype),
        "dropout": Dropout(0.4, np.random.default_rng(0)),
    }


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("name", ["affine", "affine_first", "batchnorm", "dropout"])
def test_backward_does_not_write_into_dout_or_x(name, train):
    rng = np.random.default_rng(11)
    layer = all_layers(rng, np.float64)[name]
    x = rng.standard_normal((6, 5))
    x_saved = x.copy()
    out = layer.forward(x, train)
    dout = rng.standard_normal(out.shape)
    dout_saved = dout.copy()
    dx = layer.backward(dout)
    np.testing.assert_array_equal(dout, dout_saved)
    np.testing.assert_array_equal(x, x_saved)
    assert dx is not dout


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("name", ["affine", "affine_first", "batchnorm", "dropout"])
def test_float32_stays_float32(name, train):
    rng = np.random.default_rng(12)
    layer = all_layers(rng, np.float32)[name]
    x = rng.standard_normal((6, 5)).astype(np.float32)
    out = layer.forward(x, train)
    assert out.dtype == np.float32
    dx = layer.backward(np.ones_like(out))
    assert dx is None or dx.dtype == np.float32
    for key, grad in layer.grads.items():
        assert grad.dtype == np.float32 and grad.shape == layer.params[key].shape


@pytest.mark.parametrize("name", ["affine", "affine_first", "batchnorm"])
def test_params_and_grads_are_never_rebound(name):
    rng = np.random.default_rng(13)
    layer = all_layers(rng, np.float64)[name]
    params = {k: v for k, v in layer.params.items()}
    grads = {k: v for k, v in layer.grads.items()}
    for train in (True, False, True):
        out = layer.forward(rng.standard_normal((6, 5)), train)
        layer.backward(rng.standard_normal(out.shape))
    for key in params:
        assert layer.params[key] is params[key]
        assert layer.grads[key] is grads[key]


def test_base_layer():
    layer = Layer()
    assert layer.params == {} and layer.grads == {}
    with pytest.raises(NotImplementedError):
        layer.forward(np.zeros(1), True)
