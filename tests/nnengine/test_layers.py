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


@pytest.mark.parametrize("eps", [1e-5, 1e-6])
def test_batchnorm_adds_its_eps_to_the_variance_in_training_and_evaluation(eps):
    # pre-activations of weights with std 1e-4: a batch variance near 1e-6, where eps decides the scale
    rng = np.random.default_rng(21)
    x = 1e-3 * rng.standard_normal((100, 4))
    layer = BatchNorm(np.ones(4), np.zeros(4), eps=eps)
    out = layer.forward(x, True)
    np.testing.assert_allclose(out, (x - x.mean(0)) / np.sqrt(x.var(0) + eps), rtol=1e-12)
    expected_std = np.sqrt(x.var(0) / (x.var(0) + eps))
    np.testing.assert_allclose(out.std(0), expected_std, rtol=1e-10)
    assert (expected_std > 0.6).all() if eps == 1e-6 else (expected_std < 0.35).all()  # ~0.71 vs ~0.30
    x_eval = rng.standard_normal((3, 4))
    want = (x_eval - layer.running_mean) / np.sqrt(layer.running_var + eps)
    np.testing.assert_allclose(layer.forward(x_eval, False), want, rtol=1e-12)
    np.testing.assert_allclose(layer.infer(x_eval.copy(), owned=True)[0], want, rtol=1e-12)


@pytest.mark.parametrize("train", [True, False])
def test_batchnorm_gradients_with_the_books_eps(train):
    rng = np.random.default_rng(22)
    layer = make_batchnorm(rng, eps=1e-6)
    layer.running_var[:] = rng.uniform(0.5, 2.0, 5)
    errors = check_layer(layer, 2.0 + 3.0 * rng.standard_normal((8, 5)), rng, train=train)
    assert max(errors.values()) < TOL


def test_batchnorm_fresh_eval_is_affine_in_x():
    layer = BatchNorm(np.array([2.0]), np.array([1.0]), eps=0.0)
    np.testing.assert_allclose(layer.forward(np.array([[3.0]]), False), [[7.0]])


# ----------------------------------------------------------------------------- Dropout
@pytest.mark.parametrize("style", ["inverted", "book"])
def test_dropout_gradient_with_fixed_mask(style):
    rng = np.random.default_rng(6)
    layer = Dropout(0.3, np.random.default_rng(42), style=style)

    def reseed():
        layer.rng = np.random.default_rng(42)

    x = rng.standard_normal((6, 7))
    errors = check_layer(layer, x, rng, before_forward=reseed)
    assert errors["x"] < TOL
    assert 0 < np.count_nonzero(layer.mask == 0) < layer.mask.size


@pytest.mark.parametrize("style", ["inverted", "book"])
def test_dropout_gradient_in_evaluation_mode(style):
    rng = np.random.default_rng(23)
    errors = check_layer(Dropout(0.3, np.random.default_rng(0), style=style), rng.standard_normal((4, 5)), rng,
                         train=False)
    assert errors["x"] < TOL


def test_book_dropout_masks_while_training_and_scales_by_1_minus_p_at_test_time():
    """The book's Dropout (common/layers.py): x * mask while training, x * (1 - p) at test time."""
    p = 0.3
    x = np.random.default_rng(24).uniform(0.5, 1.5, size=(400, 500))
    layer = Dropout(p, np.random.default_rng(9), style="book")
    out = layer.forward(x, True)
    kept = out != 0
    assert kept.mean() == pytest.approx(1 - p, abs=5e-3)
    np.testing.assert_array_equal(out[kept], x[kept])                  # kept units pass unscaled
    assert out.mean() == pytest.approx((1 - p) * x.mean(), rel=5e-3)   # the training signal shrinks by 1 - p
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), kept.astype(float))  # dx = dout * mask
    test_out = layer.forward(x, False)
    np.testing.assert_array_equal(test_out, x * (1 - p))               # test time matches the expectation
    dout = np.random.default_rng(25).standard_normal(x.shape)
    np.testing.assert_array_equal(layer.backward(dout), dout * (1 - p))


def test_both_dropout_styles_draw_the_same_mask_and_agree_in_expectation():
    x = np.random.default_rng(26).uniform(0.5, 1.5, size=(300, 400))
    p = 0.2
    inverted = Dropout(p, np.random.default_rng(3)).forward(x, True)
    book = Dropout(p, np.random.default_rng(3), style="book").forward(x, True)
    np.testing.assert_array_equal(inverted != 0, book != 0)
    np.testing.assert_allclose(inverted, book / (1 - p), rtol=1e-15)
    # each style's test-time output is its own training output's expectation
    assert inverted.mean() == pytest.approx(Dropout(p, None).forward(x, False).mean(), rel=5e-3)
    assert book.mean() == pytest.approx(Dropout(p, None, style="book").forward(x, False).mean(), rel=5e-3)


@pytest.mark.parametrize("style", ["inverted", "book"])
@pytest.mark.parametrize("owned", [False, True])
def test_dropout_infer_is_its_evaluation_forward(style, owned):
    x = np.random.default_rng(27).standard_normal((6, 5)).astype(np.float32)
    layer = Dropout(0.4, np.random.default_rng(0), style=style)
    want = layer.forward(x, False).copy()
    given = x.copy()
    y, y_owned = layer.infer(given, owned=owned)
    np.testing.assert_array_equal(y, want)
    assert y.dtype == np.float32
    if style == "book":
        assert y_owned and (y is given) == owned          # scaled in place only in a scratch array
        if not owned:
            np.testing.assert_array_equal(given, x)
    else:
        assert y is given and y_owned == owned


def test_dropout_rejects_an_unknown_style():
    with pytest.raises(ValueError, match="inverted, book.*'Book'"):
        Dropout(0.5, np.random.default_rng(), style="Book")


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
        "dropout_book": Dropout(0.4, np.random.default_rng(0), style="book"),
    }


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("name", ["affine", "affine_first", "batchnorm", "dropout", "dropout_book"])
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
@pytest.mark.parametrize("name", ["affine", "affine_first", "batchnorm", "dropout", "dropout_book"])
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
