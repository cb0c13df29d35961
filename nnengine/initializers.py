"""Weight initializers: ``init(n_in, n_out, rng, std, dtype) -> W`` of shape (n_in, n_out).

All three draw one standard-normal matrix from ``rng`` (a ``numpy.random.Generator``) and scale it, so the
rng consumption (and hence the rest of a seeded run) does not depend on which one is chosen.  Biases start
at 0 and are not drawn here.
"""
import math

import numpy as np


def _scaled_normal(n_in, n_out, rng, scale, dtype):
    """N(0, scale^2) matrix of shape (n_in, n_out) in ``dtype``.

    Generator.standard_normal draws float32 directly (about twice as fast as drawing float64 and casting);
    any other dtype is drawn in float64 and cast.
    """
    dtype = np.dtype(dtype)
    if dtype in (np.float32, np.float64):
        W = rng.standard_normal((n_in, n_out), dtype=dtype)
    else:
        W = rng.standard_normal((n_in, n_out)).astype(dtype)
    W *= scale
    return W


def std_init(n_in, n_out, rng, std=0.01, dtype=np.float32):
    """W ~ N(0, std^2): the book's ``weight_init_std``."""
    return _scaled_normal(n_in, n_out, rng, float(std), dtype)


def xavier_init(n_in, n_out, rng, std=None, dtype=np.float32):
    """W ~ N(0, 1 / n_in)  (Glorot & Bengio 2010, in the book's 1/sqrt(n) form); ``std`` is ignored."""
    return _scaled_normal(n_in, n_out, rng, 1.0 / math.sqrt(n_in), dtype)


def he_init(n_in, n_out, rng, std=None, dtype=np.float32):
    """W ~ N(0, 2 / n_in)  (He et al. 2015, for ReLU layers); ``std`` is ignored."""
    return _scaled_normal(n_in, n_out, rng, math.sqrt(2.0 / n_in), dtype)


INITIALIZERS = {
    "std": std_init,
    "xavier": xavier_init,
    "he": he_init,
}


def get_initializer(name):
    """The initializer function ``name``; ValueError listing the known names otherwise."""
    if name not in INITIALIZERS:
        raise ValueError(f"unknown weight init {name!r}; known: {', '.join(INITIALIZERS)}")
    return INITIALIZERS[name]
