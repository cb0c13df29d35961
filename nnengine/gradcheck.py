"""Numerical gradients for checking backward passes (after CS231n's ``gradient_check.py``).

Use float64 arrays: with h = 1e-5 central differences are accurate to ~1e-10 there, while float32 round-off
alone is ~1e-2 at that step.
"""
import numpy as np


def eval_numerical_gradient(f, x, h=1e-5):
    """Central-difference gradient of a scalar function.

    f : callable taking x and returning a float; x : ndarray (perturbed in place, restored exactly).
    Returns an ndarray shaped like x.
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        grad[it.multi_index] = central_difference(lambda: f(x), x, it.multi_index, h)
    return grad


def central_difference(f, x, ix, h=1e-5):
    """(f() at x[ix] + h  -  f() at x[ix] - h) / 2h, with x[ix] restored exactly afterwards.

    f : callable of no arguments returning a float (it reads ``x``, which is perturbed in place);
    ix : an index into ``x`` (a tuple, or an int for a flat view).
    """
    old = x[ix]
    x[ix] = old + h
    f_plus = f()
    x[ix] = old - h
    f_minus = f()
    x[ix] = old
    return (f_plus - f_minus) / (2 * h)


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Central-difference gradient of sum(f(x) * df), i.e. the vector-Jacobian product df^T J_f(x).

    f : callable taking x and returning an ndarray shaped like df; x : ndarray (perturbed in place,
    restored exactly); df : upstream gradient.  Returns an ndarray shaped like x.
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        f_plus = np.array(f(x), copy=True)   # f may return a buffer it reuses
        x[ix] = old - h
        f_minus = np.array(f(x), copy=True)
        x[ix] = old
        grad[ix] = np.sum((f_plus - f_minus) * df) / (2 * h)
    return grad


def rel_error(a, b):
    """max over elements of |a - b| / max(1e-8, |a| + |b|)."""
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)), initial=0.0))


def check_layer(layer, x, rng, train=True, h=1e-5, before_forward=None):
    """Compare a layer's backward with numerical gradients under a random upstream gradient.

    layer : a Layer; x : float ndarray input (copied, the caller's array is left alone);
    rng : numpy.random.Generator for the upstream gradient; before_forward : optional callable run
    before every forward (e.g. to re-seed a Dropout rng so every call draws the same mask).
    Returns {"x": rel_error of dx, "<param>": rel_error of each grad}; "x" is omitted when backward
    returns None (Affine with need_dx=False).  Parameters are restored exactly afterwards.
    """
    x = np.array(x, copy=True)

    def forward(inp):
        if before_forward is not None:
            before_forward()
        return layer.forward(inp, train)

    out = forward(x)
    dout = rng.standard_normal(out.shape).astype(out.dtype, copy=False)
    dx = layer.backward(dout)
    grads = {k: g.copy() for k, g in layer.grads.items()}

    errors = {}
    if dx is not None:
        errors["x"] = rel_error(dx, eval_numerical_gradient_array(forward, x, dout, h))
    for key, param in layer.params.items():
        numeric = eval_numerical_gradient_array(lambda _: forward(x), param, dout, h)
        errors[key] = rel_error(grads[key], numeric)
    return errors
