"""Elementwise activation layers and the softmax-family output functions.

Each activation is a parameter-free ``Layer``: ``f(x)`` is the forward formula and ``df(x, y)`` (with
``y = f(x)``) its exact derivative, written right under it.  Method parameters are constructor keyword
arguments with the defaults of the paper (or of ``torch.nn`` where the paper gives none).

Shapes: x : ndarray of any shape -> y : ndarray of the same shape and dtype.

Constants are Python floats on purpose: under NumPy 2 promotion rules a NumPy float64 scalar (``np.log(2)``,
``np.float64(...)``) would silently upcast a float32 batch to float64.
"""
import inspect

import numpy as np

from .layers import Layer

# Largest exponent fed to exp(): exp(30) ~ 1e13 is finite even in float32, and every function that clips
# at it is already saturated there (tanh(exp(30)) == 1 to machine precision).
_EXP_CLIP = 30.0


# --------------------------------------------------------------------------- stable building blocks
_ZEROS = {}  # dtype -> flat array of zeros, grown on demand and never written (see _zeros_like)


def _zeros_like(x):
    """A read-only array of zeros shaped like C-contiguous x (None otherwise), shared between calls.

    ``np.maximum(x, zeros)`` runs NumPy's vectorised loop, several times faster than ``np.maximum(x, 0.0)``,
    whose broadcast scalar takes a slow path; calloc'd pages that are only read cost no memory.
    """
    if not x.flags.c_contiguous:
        return None
    zeros = _ZEROS.get(x.dtype)
    if zeros is None or zeros.size < x.size:
        zeros = np.zeros(max(x.size, 1 << 16), dtype=x.dtype)
        zeros.flags.writeable = False
        _ZEROS[x.dtype] = zeros
    return zeros[:x.size].reshape(x.shape)


def _relu(x, out=None):
    """max(x, 0) (NaN stays NaN), with the fast loop when x is C-contiguous."""
    zeros = _zeros_like(x)
    return np.maximum(x, 0.0 if zeros is None else zeros, out=out)


def _const(value, x):
    """``value`` as a scalar of x's dtype, so np.where(cond, a, b) of two constants stays in that dtype."""
    return x.dtype.type(value)


def _sigmoid_and_z(x):
    """(sigmoid(x), z) with z = exp(-|x|) <= 1, so nothing overflows on either side of 0.

    z also gives sigmoid(x) * (1 - sigmoid(x)) = z / (1 + z)^2 without the cancellation in 1 - sigmoid.
    """
    z = np.abs(x)
    np.negative(z, out=z)
    np.exp(z, out=z)
    y = np.where(x >= 0, _const(1.0, z), z)
    y /= 1.0 + z
    return y, z


def _sigmoid(x):
    """1 / (1 + exp(-x)), overflow-free."""
    return _sigmoid_and_z(x)[0]


def _sigmoid_slope(z):
    """sigmoid'(x) = sigmoid(x) (1 - sigmoid(x)) = z / (1 + z)^2, given z = exp(-|x|)."""
    return z / ((1.0 + z) * (1.0 + z))


def _softplus(x):
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), exact and overflow-free."""
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


# --------------------------------------------------------------------------- base class
class Activation(Layer):
    """Elementwise activation: subclasses define ``f(x)`` and ``df(x, y)``; may cache in ``f``."""

    def __init__(self):
        super().__init__()
        self.x = None
        self.y = None

    def forward(self, x, train=True):
        self.x = x
        self.y = self.f(x)
        return self.y

    def backward(self, dout):
        return dout * self.df(self.x, self.y)

    def f(self, x):
        raise NotImplementedError

    def df(self, x, y):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in inspect.signature(type(self)).parameters)
        return f"{type(self).__name__}({args})"


# --------------------------------------------------------------------------- identity-like
class Step(Activation):
    """step(x) = 1 if x > 0 else 0  (Heaviside step; McCulloch & Pitts 1943)."""

    def f(self, x):
        return (x > 0).astype(x.dtype)

    def df(self, x, y):
        return np.zeros_like(y)  # 0 everywhere (undefined at 0)

    def backward(self, dout):
        return np.zeros_like(dout)


class Identity(Activation):
    """identity(x) = x  (returns its input array itself)."""

    def f(self, x):
        return x

    def df(self, x, y):
        return np.ones_like(y)  # 1

    def infer(self, x, owned=False, out=None):
        return x, owned

    def backward(self, dout):
        return dout.copy()


class BentIdentity(Activation):
    """bent_identity(x) = (sqrt(x^2 + 1) - 1) / 2 + x."""

    def f(self, x):
        self.r = np.hypot(x, 1.0)  # sqrt(x^2 + 1) without overflowing x^2
        return (self.r - 1.0) / 2.0 + x

    def df(self, x, y):
        return x / (2.0 * self.r) + 1.0  # x / (2 sqrt(x^2 + 1)) + 1


# --------------------------------------------------------------------------- shrinkage / threshold
class HardShrink(Activation):
    """hard_shrink(x) = x if |x| > lambd else 0  (as torch.nn.Hardshrink, lambd=0.5)."""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = float(lambd)

    def f(self, x):
        self.keep = np.abs(x) > self.lambd
        return x * self.keep

    def df(self, x, y):
        return self.keep  # 1 if |x| > lambd else 0


class SoftShrink(Activation):
    """soft_shrink(x) = sign(x) * max(|x| - lambd, 0)  (Donoho 1995 soft thresholding; lambd=0.5)."""

    def __init__(self, lambd=0.5):
        super().__init__()
        if lambd < 0:
            raise ValueError(f"soft_shrink lambd must be >= 0, got {lambd!r}")
        self.lambd = float(lambd)

    def f(self, x):
        return np.sign(x) * np.maximum(np.abs(x) - self.lambd, 0.0)

    def df(self, x, y):
        return np.abs(x) > self.lambd  # 1 if |x| > lambd else 0


class Threshold(Activation):
    """threshold(x) = x if x > threshold else value  (as torch.nn.Threshold; defaults 0, 0)."""

    def __init__(self, threshold=0.0, value=0.0):
        super().__init__()
        self.threshold = float(threshold)
        self.value = float(value)

    def f(self, x):
        self.keep = x > self.threshold
        return np.where(self.keep, x, self.value).astype(x.dtype, copy=False)

    def df(self, x, y):
        return self.keep  # 1 if x > threshold else 0


# --------------------------------------------------------------------------- sigmoid family
class Sigmoid(Activation):
    """sigmoid(x) = 1 / (1 + exp(-x))  (logistic function)."""

    def f(self, x):
        y, self.z = _sigmoid_and_z(x)
        return y

    def df(self, x, y):
        return _sigmoid_slope(self.z)  # sigmoid(x) (1 - sigmoid(x))


class HardSigmoid(Activation):
    """hard_sigmoid(x) = relu6(x + 3) / 6  (Howard et al. 2019, MobileNetV3; as torch.nn.Hardsigmoid)."""

    def f(self, x):
        return np.clip(x / 6.0 + 0.5, 0.0, 1.0)

    def df(self, x, y):
        return np.where((x > -3.0) & (x < 3.0), _const(1.0 / 6.0, x), _const(0.0, x))  # 1/6 on (-3, 3)


class LogSigmoid(Activation):
    """log_sigmoid(x) = log(1 / (1 + exp(-x))) = -softplus(-x) = min(x, 0) - log1p(exp(-|x|))."""

    def f(self, x):
        self.z = np.exp(-np.abs(x))
        return np.minimum(x, 0.0) - np.log1p(self.z)

    def df(self, x, y):
        return np.where(x >= 0, self.z, 1.0) / (1.0 + self.z)  # 1 - sigmoid(x) = sigmoid(-x)


# --------------------------------------------------------------------------- tanh family
class Tanh(Activation):
    """tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x))."""

    def f(self, x):
        return np.tanh(x)

    def df(self, x, y):
        return 1.0 - y * y  # 1 - tanh^2(x)


class TanhShrink(Activation):
    """tanh_shrink(x) = x - tanh(x)  (as torch.nn.Tanhshrink)."""

    def f(self, x):
        self.t = np.tanh(x)
        return x - self.t

    def df(self, x, y):
        return self.t * self.t  # 1 - (1 - tanh^2 x) = tanh^2(x)


class HardTanh(Activation):
    """hard_tanh(x) = clip(x, min_val, max_val)  (Collobert 2004; as torch.nn.Hardtanh, -1 and 1)."""

    def __init__(self, min_val=-1.0, max_val=1.0):
        super().__init__()
        if not min_val < max_val:
            raise ValueError(f"hard_tanh needs min_val < max_val, got {min_val!r} and {max_val!r}")
        self.min_val = float(min_val)
        self.max_val = float(max_val)

    def f(self, x):
        return np.clip(x, self.min_val, self.max_val)

    def df(self, x, y):
        return (x > self.min_val) & (x < self.max_val)  # 1 inside (min_val, max_val), 0 outside


# --------------------------------------------------------------------------- rectifiers
class ReLU(Activation):
    """relu(x) = max(x, 0)  (Nair & Hinton 2010).

    ``inplace=True`` overwrites the input array: saves an allocation when the input is a temporary nobody
    else keeps (the output of the previous Affine / BatchNorm); the derivative only needs the output.
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = bool(inplace)

    def f(self, x):
        return _relu(x, out=x if self.inplace else None)

    def df(self, x, y):
        return y > 0  # 1 if x > 0 else 0 (y > 0 <=> x > 0, and y survives an in-place forward)

    def forward(self, x, train=True):
        self.y = self.f(x)
        self.x = None if self.inplace else x
        return self.y

    def infer(self, x, owned=False, out=None):
        """max(x, 0) in place when x is a scratch array (keeps no state)."""
        return _relu(x, out=x if owned else None), True


class ReLU6(Activation):
    """relu6(x) = min(max(x, 0), 6)  (Krizhevsky 2010)."""

    def f(self, x):
        return np.clip(x, 0.0, 6.0)

    def df(self, x, y):
        return (x > 0.0) & (x < 6.0)  # 1 on (0, 6), 0 outside


class LeakyReLU(Activation):
    """leaky_relu(x) = x if x > 0 else alpha * x  (Maas et al. 2013; alpha=0.01)."""

    def __init__(self, alpha=0.01):
        super().__init__()
        self.alpha = float(alpha)

    def f(self, x):
        return np.where(x > 0, x, self.alpha * x)

    def df(self, x, y):
        return np.where(x > 0, _const(1.0, x), _const(self.alpha, x))  # 1 or alpha


class ELU(Activation):
    """elu(x) = x if x > 0 else alpha * (exp(x) - 1)  (Clevert et al. 2016; alpha=1)."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = float(alpha)

    def f(self, x):
        # exp only of the non-positive part: np.where evaluates both branches
        return np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0.0)))

    def df(self, x, y):
        return np.where(x > 0, 1.0, y + self.alpha)  # 1 or alpha * exp(x) = elu(x) + alpha


class SELU(Activation):
    """selu(x) = scale * (x if x > 0 else alpha (exp(x) - 1)), alpha~1.6733, scale~1.0507 (Klambauer 2017)."""

    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946

    def f(self, x):
        return self.scale * np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0.0)))

    def df(self, x, y):
        # scale or scale * alpha * exp(x) = selu(x) + scale * alpha
        return np.where(x > 0, self.scale, y + self.scale * self.alpha)


class CELU(Activation):
    """celu(x) = max(0, x) + min(0, alpha * (exp(x / alpha) - 1))  (Barron 2017; alpha=1)."""

    def __init__(self, alpha=1.0):
        super().__init__()
        if alpha == 0:
            raise ValueError("celu alpha must be non-zero")
        self.alpha = float(alpha)

    def f(self, x):
        return np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0.0) / self.alpha))

    def df(self, x, y):
        return np.where(x > 0, 1.0, y / self.alpha + 1.0)  # 1 or exp(x / alpha) = celu(x) / alpha + 1


# --------------------------------------------------------------------------- smooth rectifiers
class Softplus(Activation):
    """softplus(x) = log(1 + exp(beta x)) / beta; x where beta x > threshold  (Dugas 2001; as torch)."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        if beta <= 0:
            raise ValueError(f"softplus beta must be > 0, got {beta!r}")
        self.beta = float(beta)
        self.threshold = float(threshold)

    def f(self, x):
        bx = self.beta * x
        self.linear = bx > self.threshold
        return np.where(self.linear, x, _softplus(bx) / self.beta)

    def df(self, x, y):
        return np.where(self.linear, 1.0, _sigmoid(self.beta * x))  # sigmoid(beta x), 1 in the linear part


class Softsign(Activation):
    """softsign(x) = x / (1 + |x|)  (Bergstra et al. 2009)."""

    def f(self, x):
        self.d = 1.0 + np.abs(x)
        return x / self.d

    def df(self, x, y):
        return 1.0 / (self.d * self.d)  # 1 / (1 + |x|)^2


class Swish(Activation):
    """swish(x) = x * sigmoid(beta * x)  (Ramachandran et al. 2017; beta=1 is SiLU)."""

    def __init__(self, beta=1.0):
        super().__init__()
        self.beta = float(beta)

    def f(self, x):
        self.s, self.z = _sigmoid_and_z(self.beta * x)
        return x * self.s

    def df(self, x, y):
        return self.s + self.beta * x * _sigmoid_slope(self.z)  # s(bx) + beta x s(bx) (1 - s(bx))


class Mish(Activation):
    """mish(x) = x * tanh(softplus(x))  (Misra 2019, arXiv:1908.08681)."""

    def f(self, x):
        self.t = np.tanh(_softplus(x))
        return x * self.t

    def df(self, x, y):
        return self.t + x * (1.0 - self.t * self.t) * _sigmoid(x)  # tanh(sp) + x sech^2(sp) sigmoid(x)


class TanhExp(Activation):
    """tanhexp(x) = x * tanh(exp(x))  (Liu & Di 2020, arXiv:2003.09855)."""

    def f(self, x):
        self.u = np.exp(np.minimum(x, _EXP_CLIP))
        self.t = np.tanh(self.u)
        return x * self.t

    def df(self, x, y):
        # tanh(e^x) + x e^x sech^2(e^x); sech^2(u) = 4 q / (1 + q)^2 with q = exp(-2u) <= 1: no overflow and
        # no cancellation of 1 - tanh^2 near 1
        q = np.exp(-2.0 * self.u)
        return self.t + x * self.u * (4.0 * q / ((1.0 + q) * (1.0 + q)))


# --------------------------------------------------------------------------- registry
ACTIVATIONS = {
    "step": Step,
    "identity": Identity,
    "bent_identity": BentIdentity,
    "hard_shrink": HardShrink,
    "soft_shrink": SoftShrink,
    "threshold": Threshold,
    "sigmoid": Sigmoid,
    "hard_sigmoid": HardSigmoid,
    "log_sigmoid": LogSigmoid,
    "tanh": Tanh,
    "tanh_shrink": TanhShrink,
    "hard_tanh": HardTanh,
    "relu": ReLU,
    "relu6": ReLU6,
    "leaky_relu": LeakyReLU,
    "elu": ELU,
    "selu": SELU,
    "celu": CELU,
    "softplus": Softplus,
    "softsign": Softsign,
    "swish": Swish,
    "mish": Mish,
    "tanhexp": TanhExp,
}


def get_activation(name, **kwargs):
    """A new activation layer ``name`` built with ``kwargs``; ValueError on an unknown name or keyword."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}")
    allowed = inspect.signature(ACTIVATIONS[name]).parameters
    for key in kwargs:
        if key not in allowed:
            raise ValueError(f"unknown parameter {key!r} for activation {name!r}; "
                             f"allowed: {', '.join(allowed) or 'none'}")
    return ACTIVATIONS[name](**kwargs)


# --------------------------------------------------------------------------- output functions
def softmax(x):
    """softmax(x)_i = exp(x_i - max x) / sum_j exp(x_j - max x) over the last axis.

    x : ndarray of shape (..., k) -> probabilities of the same shape.
    """
    e = x - x.max(axis=-1, keepdims=True)
    np.exp(e, out=e)
    e /= e.sum(axis=-1, keepdims=True)
    return e


def softmin(x):
    """softmin(x) = softmax(-x) over the last axis.  x : ndarray of shape (..., k)."""
    return softmax(-x)


def log_softmax(x):
    """log_softmax(x)_i = (x_i - max x) - log sum_j exp(x_j - max x) over the last axis.

    x : ndarray of shape (..., k) -> log-probabilities of the same shape.
    """
    shifted = x - x.max(axis=-1, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return shifted
