import math

import numpy as np
import pytest

from nnengine.initializers import INITIALIZERS, get_initializer

N_IN, N_OUT = 784, 1000


def expected_std(name, n_in, std):
    return {"std": std, "xavier": 1 / math.sqrt(n_in), "he": math.sqrt(2 / n_in)}[name]


def test_registry():
    assert set(INITIALIZERS) == {"std", "xavier", "he"}
    assert get_initializer("he") is INITIALIZERS["he"]
    with pytest.raises(ValueError, match="xavier"):
        get_initializer("lecun")


@pytest.mark.parametrize("name", ["std", "xavier", "he"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_std_shape_and_dtype(name, dtype):
    W = INITIALIZERS[name](N_IN, N_OUT, np.random.default_rng(0), 0.05, dtype)
    assert W.shape == (N_IN, N_OUT) and W.dtype == dtype
    target = expected_std(name, N_IN, 0.05)
    assert W.std() == pytest.approx(target, rel=0.05)
    assert abs(W.mean()) < 0.05 * target


@pytest.mark.parametrize("name", ["std", "xavier", "he"])
def test_deterministic_and_drawn_as_scaled_standard_normal(name):
    W1 = INITIALIZERS[name](20, 30, np.random.default_rng(5), 0.1, np.float32)
    W2 = INITIALIZERS[name](20, 30, np.random.default_rng(5), 0.1, np.float32)
    np.testing.assert_array_equal(W1, W2)
    z = np.random.default_rng(5).standard_normal((20, 30), dtype=np.float32)
    np.testing.assert_allclose(W1, z * np.float32(expected_std(name, 20, 0.1)), rtol=1e-6)


def test_every_initializer_consumes_the_rng_the_same_way():
    after = []
    for init in INITIALIZERS.values():
        rng = np.random.default_rng(9)
        init(10, 7, rng, 0.01, np.float32)
        after.append(rng.random())
    assert len(set(after)) == 1


def test_std_follows_the_given_value():
    rng = np.random.default_rng(1)
    for std in (1.0, 0.01):
        assert INITIALIZERS["std"](500, 500, rng, std, np.float64).std() == pytest.approx(std, rel=0.05)
