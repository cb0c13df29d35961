"""Gradient-based optimizers behind the book's protocol.

``get_optimizer(name, **hyperparams)`` returns an object whose
``update(params, grads, loss=None)`` changes the arrays of ``params`` IN PLACE
(layers share those arrays with the network, so rebinding ``params[k]`` would
silently train nothing).

Conventions shared by every class:

- ``defaults`` lists exactly the hyperparameters the constructor accepts.
- State lives in ``self.state[key]`` (one dict per parameter key), created on
  the first update of that key with the parameter's shape and dtype; a float32
  network stays float32 (scalars are Python floats, arrays are updated with
  ``out=`` / in-place operators).
- ``grads`` are read, never written.
- Each key keeps its own step counter ``t`` (1 on the first update of that key).
"""

import math

import numpy as np

__all__ = [
    "OPTIMIZERS", "get_optimizer", "Optimizer",
    "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "AdaDelta", "Adamax",
    "Nadam", "AMSGrad", "AdaBound", "AMSBound", "RMSpropGraves", "SMORMS3", "Eve",
    "SantaE", "SantaSSS",
]


# --- hyperparameter validation -------------------------------------------------------------

def _positive(value):
    return value > 0


def _non_negative(value):
    return value >= 0


def _unit_interval(value):
    return 0 <= value < 1


def _count(value):
    return value >= 0 and float(value).is_integer()


# key -> (predicate, what is allowed); a key missing here only has to be a finite number
_RULES = {
    "lr": (_positive, "> 0"),
    "final_lr": (_positive, "> 0"),
    "gamma": (_positive, "> 0"),
    "eps": (_positive, "> 0"),
    "k": (_positive, "> 0"),
    "K": (_positive, "> 0"),
    "anneal_a": (_positive, "> 0"),
    "anneal_b": (_non_negative, ">= 0"),
    "anneal_c": (_non_negative, ">= 0"),
    "C": (_non_negative, ">= 0"),
    "N": (_positive, "> 0"),
    "burnin": (_count, "a whole number >= 0"),
    "momentum": (_unit_interval, "in [0, 1)"),
    "decay_rate": (_unit_interval, "in [0, 1)"),
    "rho": (_unit_interval, "in [0, 1)"),
    "beta1": (_unit_interval, "in [0, 1)"),
    "beta2": (_unit_interval, "in [0, 1)"),
    "beta3": (_unit_interval, "in [0, 1)"),
    "sigma": (_unit_interval, "in [0, 1)"),
}


def hyperparameter_rule(key: str) -> str | None:
    """What a hyperparameter must be, in words ("> 0", "in [0, 1)"), or None where any finite number does."""
    rule = _RULES.get(key)
    return rule[1] if rule else None


def _check_hyperparameter(owner, key, value):
    """Return ``value`` as a Python float (int for ``burnin``) or raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{owner}: {key} must be a number, got {key}={value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{owner}: {key} must be finite, got {key}={value!r}")
    predicate, allowed = _RULES.get(key, (None, None))
    if predicate is not None and not predicate(number):
        raise ValueError(f"{owner}: {key} must be {allowed}, got {key}={value!r}")
    return int(number) if key == "burnin" else number


# --- base class ----------------------------------------------------------------------------

class Optimizer:
    """Base class: hyperparameter handling, lazy per-key state, the update loop.

    Subclasses set ``name``, ``defaults`` and implement
    ``_init_state(param) -> dict`` and ``_step(param, grad, state)``.
    """

    name: str = ""
    defaults: dict[str, float] = {}
    stochastic: bool = False

    def __init__(self, **hyperparams):
        owner = f"optimizer {self.name!r}"
        unknown = [key for key in hyperparams if key not in self.defaults]
        if unknown:
            allowed = ", ".join(self.defaults)
            raise ValueError(
                f"unknown hyperparameter {unknown[0]!r} for {owner}; allowed: {allowed}")
        self.hyperparams = {
            key: _check_hyperparameter(owner, key, hyperparams.get(key, default))
            for key, default in self.defaults.items()
        }
        for key, value in self.hyperparams.items():
            setattr(self, key, value)
        self.state: dict[str, dict] = {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparams.items())
        return f"{type(self).__name__}({args})"

    def update(self, params, grads, loss=None):
        """Update every array of ``params`` in place from ``grads`` (same keys).

        ``loss`` (the current objective value) is used only by Eve.
        """
        for key, param in params.items():
            state = self.state.get(key)
            if state is None:
                state = self.state[key] = self._init_state(param)
            self._step(param, grads[key], state)

    def _init_state(self, param):
        raise NotImplementedError

    def _step(self, param, grad, state):
        raise NotImplementedError


def _zeros(param, *names):
    """State dict of zero arrays shaped/typed like ``param`` (plus the step counter)."""
    state = {name: np.zeros_like(param) for name in names}
    state["t"] = 0
    return state


def _update_moments(m, v, grad, b1, b2, scratch):
    """In place: m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2 (Adam's two running moments).

    ``scratch`` (shape of ``grad``) is overwritten. The Adam-family papers (NAdam, AMSGrad, AdaBound,
    Eve) share these two lines; Adam itself keeps the book's (g - m) form.
    """
    m *= b1
    np.multiply(grad, 1 - b1, out=scratch)
    m += scratch
    v *= b2
    np.multiply(grad, grad, out=scratch)
    scratch *= 1 - b2
    v += scratch


# --- the book's six ------------------------------------------------------------------------

class SGD(Optimizer):
    """Robbins & Monro (1951), "A Stochastic Approximation Method".

        W <- W - lr * dL/dW
    """

    name = "sgd"
    defaults = {"lr": 0.01}

    def _init_state(self, param):
        return _zeros(param, "scratch")

    def _step(self, param, grad, state):
        step = state["scratch"]
        np.multiply(grad, self.lr, out=step)
        param -= step


class Momentum(Optimizer):
    """Polyak (1964), "Some methods of speeding up the convergence of iteration methods".

    The book's form:

        v <- momentum * v - lr * dL/dW
        W <- W + v
    """

    name = "momentum"
    defaults = {"lr": 0.01, "momentum": 0.9}

    def _init_state(self, param):
        return _zeros(param, "v", "scratch")

    def _step(self, param, grad, state):
        v, step = state["v"], state["scratch"]
        v *= self.momentum
        np.multiply(grad, self.lr, out=step)
        v -= step
        param += v


class Nesterov(Optimizer):
    """Nesterov (1983), "A method for unconstrained convex minimization problem with the rate of convergence O(1/k^2)".

    Exactly the book's update (common/optimizer.py), whose second line uses the *updated* v:

        v <- momentum * v - lr * g
        W <- W + momentum^2 * v - (1 + momentum) * lr * g

    This is not the reparametrisation of Bengio, Boulanger-Lewandowski & Pascanu (2013) that
    torch.optim.SGD(nesterov=True) follows, which uses the previous v (W <- W + momentum^2 * v_prev -
    (1 + momentum) * lr * g): the book's step adds momentum^2 * lr * g more.  From W = 0 with lr 0.1,
    momentum 0.9 and gradient 1, one step here gives W = -0.81 * 0.1 - 1.9 * 0.1 = -0.271; torch's gives
    -0.19.
    """

    name = "nesterov"
    defaults = {"lr": 0.01, "momentum": 0.9}

    def _init_state(self, param):
        return _zeros(param, "v", "scratch")

    def _step(self, param, grad, state):
        v, step = state["v"], state["scratch"]
        mu, lr = self.momentum, self.lr
        v *= mu
        np.multiply(grad, lr, out=step)
        v -= step
        np.multiply(v, mu * mu, out=step)
        param += step
        np.multiply(grad, (1 + mu) * lr, out=step)
        param -= step


class AdaGrad(Optimizer):
    """Duchi, Hazan & Singer (2011), "Adaptive Subgradient Methods for Online Learning and Stochastic Optimization".

    The book's form (eps = 1e-7):

        h <- h + g * g
        W <- W - lr * g / (sqrt(h) + eps)
    """

    name = "adagrad"
    defaults = {"lr": 0.01, "eps": 1e-7}

    def _init_state(self, param):
        return _zeros(param, "h", "scratch")

    def _step(self, param, grad, state):
        h, step = state["h"], state["scratch"]
        np.multiply(grad, grad, out=step)
        h += step
        np.sqrt(h, out=step)
        step += self.eps
        np.divide(grad, step, out=step)
        step *= self.lr
        param -= step


class RMSprop(Optimizer):
    """Tieleman & Hinton (2012), "Lecture 6.5 - rmsprop", COURSERA: Neural Networks for Machine Learning.

    The book's form (eps = 1e-7):

        h <- decay_rate * h + (1 - decay_rate) * g * g
        W <- W - lr * g / (sqrt(h) + eps)
    """

    name = "rmsprop"
    defaults = {"lr": 0.01, "decay_rate": 0.99, "eps": 1e-7}

    def _init_state(self, param):
        return _zeros(param, "h", "scratch")

    def _step(self, param, grad, state):
        h, step = state["h"], state["scratch"]
        rho = self.decay_rate
        h *= rho
        np.multiply(grad, grad, out=step)
        step *= 1 - rho
        h += step
        np.sqrt(h, out=step)
        step += self.eps
        np.divide(grad, step, out=step)
        step *= self.lr
        param -= step


class Adam(Optimizer):
    """Kingma & Ba (2015), "Adam: A Method for Stochastic Optimization".

    The book's form (bias correction folded into the step size, eps = 1e-7 outside it):

        m <- m + (1 - beta1) * (g - m)
        v <- v + (1 - beta2) * (g * g - v)
        lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
        W <- W - lr_t * m / (sqrt(v) + eps)
    """

    name = "adam"
    defaults = {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-7}

    def _init_state(self, param):
        return _zeros(param, "m", "v", "scratch")

    def _step(self, param, grad, state):
        m, v, step = state["m"], state["v"], state["scratch"]
        t = state["t"] = state["t"] + 1
        b1, b2 = self.beta1, self.beta2
        lr_t = self.lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        np.subtract(grad, m, out=step)
        step *= 1 - b1
        m += step
        np.multiply(grad, grad, out=step)
        step -= v
        step *= 1 - b2
        v += step
        np.sqrt(v, out=step)
        step += self.eps
        np.divide(m, step, out=step)
        step *= lr_t
        param -= step


# --- adaptive methods from the papers ------------------------------------------------------

class AdaDelta(Optimizer):
    """Zeiler (2012), "ADADELTA: An Adaptive Learning Rate Method", Algorithm 1.

        E[g^2]  <- rho * E[g^2] + (1 - rho) * g^2
        dx       = - sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) * g
        E[dx^2] <- rho * E[dx^2] + (1 - rho) * dx^2
        W       <- W + lr * dx          (lr = 1 is the paper's method; other values scale it)
    """

    name = "adadelta"
    defaults = {"lr": 1.0, "rho": 0.95, "eps": 1e-6}

    def _init_state(self, param):
        return _zeros(param, "mean_sq_grad", "mean_sq_delta", "delta", "scratch")

    def _step(self, param, grad, state):
        eg2, edx2 = state["mean_sq_grad"], state["mean_sq_delta"]
        delta, scratch = state["delta"], state["scratch"]   # delta holds -dx
        rho, eps = self.rho, self.eps
        eg2 *= rho
        np.multiply(grad, grad, out=scratch)
        scratch *= 1 - rho
        eg2 += scratch
        # sqrt(a)/sqrt(b) as two roots (not sqrt(a/b)) to follow the paper's RMS ratio
        np.add(edx2, eps, out=delta)
        np.sqrt(delta, out=delta)
        np.add(eg2, eps, out=scratch)
        np.sqrt(scratch, out=scratch)
        delta /= scratch
        delta *= grad
        edx2 *= rho
        np.multiply(delta, delta, out=scratch)
        scratch *= 1 - rho
        edx2 += scratch
        delta *= self.lr
        param -= delta


class Adamax(Optimizer):
    """Kingma & Ba (2015), "Adam: A Method for Stochastic Optimization", Algorithm 2 (AdaMax).

        m <- beta1 * m + (1 - beta1) * g
        u <- max(beta2 * u, |g|)
        W <- W - lr / (1 - beta1^t) * m / (u + eps)
    eps (not in the paper) only guards 0/0 while every gradient seen so far is 0.
    """

    name = "adamax"
    defaults = {"lr": 0.002, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}

    def _init_state(self, param):
        return _zeros(param, "m", "u", "scratch")

    def _step(self, param, grad, state):
        m, u, step = state["m"], state["u"], state["scratch"]
        t = state["t"] = state["t"] + 1
        b1 = self.beta1
        m *= b1
        np.multiply(grad, 1 - b1, out=step)
        m += step
        u *= self.beta2
        np.abs(grad, out=step)
        np.maximum(u, step, out=u)
        np.add(u, self.eps, out=step)
        np.divide(m, step, out=step)
        step *= self.lr / (1 - b1**t)
        param -= step


class Nadam(Optimizer):
    """Dozat (2016), "Incorporating Nesterov Momentum into Adam", Algorithm 2 with constant mu = beta1.

        m    <- beta1 * m + (1 - beta1) * g
        n    <- beta2 * n + (1 - beta2) * g^2
        mbar  = beta1 * m / (1 - beta1^(t+1)) + (1 - beta1) * g / (1 - beta1^t)
        W    <- W - lr * mbar / (sqrt(n / (1 - beta2^t)) + eps)
    """

    name = "nadam"
    defaults = {"lr": 0.002, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}

    def _init_state(self, param):
        return _zeros(param, "m", "n", "scratch", "denom")

    def _step(self, param, grad, state):
        m, n, step, denom = state["m"], state["n"], state["scratch"], state["denom"]
        t = state["t"] = state["t"] + 1
        b1, b2 = self.beta1, self.beta2
        _update_moments(m, n, grad, b1, b2, step)
        # Nesterov look-ahead: the next step's momentum applied to m, plus the current gradient
        np.multiply(grad, (1 - b1) / (1 - b1**t), out=step)
        np.multiply(m, b1 / (1 - b1 ** (t + 1)), out=denom)
        step += denom
        np.multiply(n, 1 / (1 - b2**t), out=denom)
        np.sqrt(denom, out=denom)
        denom += self.eps
        step /= denom
        step *= self.lr
        param -= step


class AMSGrad(Optimizer):
    """Reddi, Kale & Kumar (2018), "On the Convergence of Adam and Beyond", Algorithm 2.

        m    <- beta1 * m + (1 - beta1) * g
        v    <- beta2 * v + (1 - beta2) * g^2
        vhat <- max(vhat, v)
        W    <- W - lr * m / (sqrt(vhat) + eps)
    As in the paper there is no bias correction; eps only guards a zero vhat.
    """

    name = "amsgrad"
    defaults = {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}

    def _init_state(self, param):
        return _zeros(param, "m", "v", "vhat", "scratch")

    def _step(self, param, grad, state):
        m, v, vhat, step = state["m"], state["v"], state["vhat"], state["scratch"]
        state["t"] += 1
        b1, b2 = self.beta1, self.beta2
        _update_moments(m, v, grad, b1, b2, step)
        np.maximum(vhat, v, out=vhat)
        np.sqrt(vhat, out=step)
        step += self.eps
        np.divide(m, step, out=step)
        step *= self.lr
        param -= step


class AdaBound(Optimizer):
    """Luo, Xiong, Liu & Sun (2019), "Adaptive Gradient Methods with Dynamic Bound of Learning Rate".

        m      <- beta1 * m + (1 - beta1) * g
        v      <- beta2 * v + (1 - beta2) * g^2
        eta_l   = final_lr * (1 - 1 / (gamma * t + 1))
        eta_u   = final_lr * (1 + 1 / (gamma * t))
        eta     = clip(lr * sqrt(1 - beta2^t) / (1 - beta1^t) / (sqrt(v) + eps), eta_l, eta_u)
        W      <- W - eta * m
    Bounds and bias correction as in the authors' released code (gamma plays 1 - beta2 of the
    paper's bound functions; no extra 1/sqrt(t) factor).
    """

    name = "adabound"
    defaults = {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "final_lr": 0.1, "gamma": 1e-3,
                "eps": 1e-8}
    amsbound = False

    def _init_state(self, param):
        names = ("m", "v", "vhat", "scratch") if self.amsbound else ("m", "v", "scratch")
        return _zeros(param, *names)

    def _step(self, param, grad, state):
        m, v, step = state["m"], state["v"], state["scratch"]
        t = state["t"] = state["t"] + 1
        b1, b2 = self.beta1, self.beta2
        _update_moments(m, v, grad, b1, b2, step)
        if self.amsbound:
            second_moment = state["vhat"]
            np.maximum(second_moment, v, out=second_moment)
        else:
            second_moment = v
        step_size = self.lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        lower = self.final_lr * (1 - 1 / (self.gamma * t + 1))
        upper = self.final_lr * (1 + 1 / (self.gamma * t))
        np.sqrt(second_moment, out=step)
        step += self.eps
        np.divide(step_size, step, out=step)
        np.clip(step, lower, upper, out=step)
        step *= m
        param -= step


class AMSBound(AdaBound):
    """Luo, Xiong, Liu & Sun (2019), "Adaptive Gradient Methods with Dynamic Bound of Learning Rate".

    AMSBound: AdaBound with AMSGrad's running maximum of the second moment:
        vhat <- max(vhat, v)
        eta   = clip(lr * sqrt(1 - beta2^t) / (1 - beta1^t) / (sqrt(vhat) + eps), eta_l, eta_u)
        W    <- W - eta * m
    """

    name = "amsbound"
    defaults = dict(AdaBound.defaults)
    amsbound = True


class RMSpropGraves(Optimizer):
    """Graves (2013), "Generating Sequences With Recurrent Neural Networks", eq. 38-41.

        n     <- decay_rate * n + (1 - decay_rate) * g^2
        gbar  <- decay_rate * gbar + (1 - decay_rate) * g
        delta <- momentum * delta - lr * g / sqrt(n - gbar^2 + eps)
        W     <- W + delta
    """

    name = "rmsprop_graves"
    defaults = {"lr": 1e-4, "decay_rate": 0.95, "momentum": 0.9, "eps": 1e-4}

    def _init_state(self, param):
        return _zeros(param, "n", "gbar", "delta", "scratch")

    def _step(self, param, grad, state):
        n, gbar, delta, step = state["n"], state["gbar"], state["delta"], state["scratch"]
        rho = self.decay_rate
        n *= rho
        np.multiply(grad, grad, out=step)
        step *= 1 - rho
        n += step
        gbar *= rho
        np.multiply(grad, 1 - rho, out=step)
        gbar += step
        # n - gbar^2 is a running variance estimate: the step is normalised by the gradient's spread
        np.multiply(gbar, gbar, out=step)
        np.subtract(n, step, out=step)
        step += self.eps
        np.sqrt(step, out=step)
        np.divide(grad, step, out=step)
        step *= self.lr
        delta *= self.momentum
        delta -= step
        param += delta


class SMORMS3(Optimizer):
    """Funk (2015), "RMSprop loses to SMORMS3 - Beware the Epsilon!" (blog post).

        r    = 1 / (mem + 1)
        g1  <- (1 - r) * g1 + r * g
        g2  <- (1 - r) * g2 + r * g^2
        x    = g1^2 / (g2 + eps)
        W   <- W - g * min(lr, x) / (sqrt(g2) + eps)
        mem <- 1 + mem * (1 - x)
    with mem = 1, g1 = g2 = 0 at the start.
    """

    name = "smorms3"
    defaults = {"lr": 0.001, "eps": 1e-16}

    def _init_state(self, param):
        state = _zeros(param, "g1", "g2", "scratch", "ratio")
        state["mem"] = np.ones_like(param)
        return state

    def _step(self, param, grad, state):
        mem, g1, g2 = state["mem"], state["g1"], state["g2"]
        scratch, ratio = state["scratch"], state["ratio"]
        eps = self.eps
        np.add(mem, 1, out=ratio)
        np.reciprocal(ratio, out=ratio)                  # r
        # (1 - r) * a + r * b written as a + r * (b - a): one buffer, same value
        np.subtract(grad, g1, out=scratch)
        scratch *= ratio
        g1 += scratch
        np.multiply(grad, grad, out=scratch)
        scratch -= g2
        scratch *= ratio
        g2 += scratch
        np.multiply(g1, g1, out=ratio)
        np.add(g2, eps, out=scratch)
        ratio /= scratch                                 # x = g1^2 / (g2 + eps)
        np.subtract(1, ratio, out=scratch)
        mem *= scratch
        mem += 1
        np.minimum(ratio, self.lr, out=ratio)
        ratio *= grad
        np.sqrt(g2, out=scratch)
        scratch += eps
        ratio /= scratch
        param -= ratio


class Eve(Optimizer):
    """Koushik & Hayashi (2016), "Improving Stochastic Gradient Descent with Feedback", Algorithm 1.

        m <- beta1 * m + (1 - beta1) * g;     mhat = m / (1 - beta1^t)
        v <- beta2 * v + (1 - beta2) * g^2;   vhat = v / (1 - beta2^t)
        first loss f:   fhat <- f,  d <- 1
        later:          (delta, Delta) = (k + 1, K + 1)           if f >= fhat
                                         (1/(K + 1), 1/(k + 1))   otherwise
                        c     = min(max(delta, f / fhat), Delta)
                        fhat' = c * fhat
                        r     = |fhat' - fhat| / min(fhat', fhat)
                        d    <- beta3 * d + (1 - beta3) * r;  fhat <- fhat'
        W <- W - lr * mhat / (d * sqrt(vhat) + eps)

    Pass the current objective value as ``update(params, grads, loss=f)``; the feedback
    coefficient d is shared by all keys (it comes from the one scalar loss). The method assumes
    f > 0 (minimum 0): losses are floored at the smallest positive float so the ratios stay finite.
    The paper takes 0 < k < K; that is not enforced here so that each key can be validated on its
    own (k >= K only makes the clipping range degenerate, every value stays finite).
    With ``loss=None`` the step uses d = 1, i.e. it is Adam (with bias-corrected vhat and this
    eps), and the feedback state is left untouched.
    """

    name = "eve"
    defaults = {"lr": 0.001, "beta1": 0.9, "beta2": 0.999, "beta3": 0.999, "k": 0.1, "K": 10.0,
                "eps": 1e-8}

    def __init__(self, **hyperparams):
        super().__init__(**hyperparams)
        self.d = 1.0                  # feedback coefficient d_t, shared by all keys
        self.loss_hat = None          # fhat: the smoothed loss, None until a loss is seen
        self._d_step = 1.0            # the d used by the current update (1 without a loss)

    def update(self, params, grads, loss=None):
        if loss is None:
            self._d_step = 1.0
        else:
            self._feedback(max(float(loss), np.finfo(float).tiny))
            self._d_step = self.d
        super().update(params, grads)

    def _feedback(self, f):
        if self.loss_hat is None:
            self.loss_hat, self.d = f, 1.0
            return
        f_hat = self.loss_hat
        if f >= f_hat:
            low, high = self.k + 1, self.K + 1
        else:
            low, high = 1 / (self.K + 1), 1 / (self.k + 1)
        c = min(max(low, f / f_hat), high)
        new_hat = c * f_hat
        r = abs(new_hat - f_hat) / min(new_hat, f_hat)
        self.d = self.beta3 * self.d + (1 - self.beta3) * r
        self.loss_hat = new_hat

    def _init_state(self, param):
        return _zeros(param, "m", "v", "scratch", "denom")

    def _step(self, param, grad, state):
        m, v, step, denom = state["m"], state["v"], state["scratch"], state["denom"]
        t = state["t"] = state["t"] + 1
        b1, b2 = self.beta1, self.beta2
        _update_moments(m, v, grad, b1, b2, step)
        np.multiply(v, 1 / (1 - b2**t), out=denom)
        np.sqrt(denom, out=denom)
        denom *= self._d_step
        denom += self.eps
        np.multiply(m, self.lr / (1 - b1**t), out=step)
        step /= denom
        param -= step


# --- Santa ---------------------------------------------------------------------------------

def _fill_standard_normal(rng, out):
    """Draw N(0, 1) into ``out`` without a temporary where the generator allows it."""
    if out.dtype in (np.float32, np.float64):
        rng.standard_normal(dtype=out.dtype, out=out)
    else:
        out[...] = rng.standard_normal(out.shape)


class _Santa(Optimizer):
    """Shared parts of Santa (Chen, Carlson, Gan, Li & Carin 2016).

    Conventions: f_t = N x (gradient of the mean mini-batch loss), the paper's stochastic gradient
    of U = N x mean loss; eta = lr, lambda = eps, u_0 = sqrt(eta) N(0, I), alpha_0 = sqrt(eta) C,
    v_0 = 0, g_0 = g_1, zeta_t ~ N(0, I); t counts this key's updates from 1. Random draws (from
    ``rng``): per key in ``params`` order, u_0 on the key's first update, then zeta_t on each
    exploration step.

    Two departures from the printed Algorithms 1 and 2, both as in the authors' released code:

    - The noise is sqrt(2 eta^(3/2) / beta_t * g_{t-1}) zeta_t, not the printed
      sqrt(2 eta / beta_t * g_{t-1}) zeta_t: the paper's reparametrisation u = h p, alpha = h xi,
      eta = h^2 (which gives its alpha update, u_0 and alpha_0) turns the SDE's noise
      sqrt(2 h G / beta) on p into eta^(3/2); the printed form is eta^(-1/4) times (100x at the
      default) too hot and cuts test accuracy on the overfitting network from ~0.83 to ~0.70.
    - The term eta/beta_t (1 - g_{t-1}/g_t) / u_{t-1} (a finite-difference estimate of the
      preconditioner's derivative) is left out: it divides by u_{t-1}, which passes near 0, and
      g_{t-1}/g_t jumps when a sparse pixel's gradient first turns non-zero; its kicks push alpha
      out of range and made 1 to 2 runs in 10 diverge on the overfitting network. The authors
      leave it out for its "minor" influence.

    Defaults (chosen on the book's 300-sample overfitting network and its presets, float32):

    - ``lr`` = eta = 1e-8: eta is the squared step h^2 of the dynamics, u ~ sqrt(eta) the scale of
      the momentum; at 1e-8 the thermal motion g sqrt(eta / beta) of a weight stays near 1e-3 per
      update (at 1e-6 the noise already costs test accuracy).
    - ``N`` = 1e4: the gradient step on u is eta N = 1e-4, an effective rate eta N / alpha of about
      1e-3 (Adam's). In the paper N is the training-set size; here it is a fixed scale (a Chainer
      implementation defaults to 1e4 too), independent of the run's train_size. A larger N takes
      larger steps at a lower temperature.
    - ``C`` = 1000: alpha_0 = sqrt(eta) C = 0.1, momentum 0.9 (the authors' Caffe MNIST example
      also uses C = 1000). At these scales alpha hardly moves (u^2 and eta / beta are ~eta).
    - ``eps`` = lambda = 1e-2 caps the preconditioner at g = lambda^(-1/2) = 10. With 1e-8 an
      element whose gradient is 0 (a pixel blank in every training image, a dead ReLU) gets
      g = 1e4, and u_0 and the noise throw it about 1e4 sqrt(eta) per update; a cap of 10 also
      keeps the SSS scheme (stale force, see ``SantaSSS``) stable under weight decay 0.1.
    - ``sigma`` = 0.999 (RMSprop-like average), beta_t = 1 * (t + 0)^0.5 (``anneal_a``,
      ``anneal_b``, ``anneal_c``), ``burnin`` = 100 exploration updates (a sixth of the book's
      600).
    """

    defaults = {"lr": 1e-8, "N": 1e4, "sigma": 0.999, "eps": 1e-2, "anneal_a": 1.0,
                "anneal_b": 0.0, "anneal_c": 0.5, "burnin": 100, "C": 1000.0}
    stochastic = True

    def __init__(self, rng=None, **hyperparams):
        super().__init__(**hyperparams)
        self.rng = np.random.default_rng(0) if rng is None else rng

    def _init_state(self, param):
        state = _zeros(param, "v", "u", "alpha", "g", "g_prev", "scratch", "scratch2")
        state["alpha"].fill(math.sqrt(self.lr) * self.C)        # alpha_0 = sqrt(eta) * C
        _fill_standard_normal(self.rng, state["u"])
        state["u"] *= math.sqrt(self.lr)                         # u_0 = sqrt(eta) * N(0, I)
        return state

    def _preconditioner(self, grad, state):
        """v <- sigma v + (1 - sigma) grad^2; g_t = 1 / sqrt(eps + sqrt(v)); returns (t, beta_t).

        ``grad`` is the gradient of the mean loss, i.e. f_t / N: the paper's (1 - sigma)/N^2 f_t^2.
        """
        t = state["t"] = state["t"] + 1
        v, g, scratch = state["v"], state["g"], state["scratch"]
        sigma = self.sigma
        v *= sigma
        np.multiply(grad, grad, out=scratch)
        scratch *= 1 - sigma
        v += scratch
        np.sqrt(v, out=g)
        g += self.eps
        np.sqrt(g, out=g)
        np.reciprocal(g, out=g)
        if t == 1:
            state["g_prev"][...] = g                             # g_0 = g_1 (v_0 = 0 has no g)
        beta = self.anneal_a * (t + self.anneal_b) ** self.anneal_c
        return t, beta

    def _noise(self, beta, state, out):
        """out = sqrt(2 eta^(3/2) / beta_t * g_{t-1}) * zeta_t (overwrites g_prev, see _finish)."""
        g_prev = state["g_prev"]
        _fill_standard_normal(self.rng, out)                     # zeta_t
        np.sqrt(g_prev, out=g_prev)
        g_prev *= math.sqrt(2 * self.lr**1.5 / beta)
        out *= g_prev

    def _finish(self, state):
        # g_t becomes g_{t-1} of the next step: swap buffers instead of copying
        state["g"], state["g_prev"] = state["g_prev"], state["g"]


class SantaE(_Santa):
    """Chen, Carlson, Gan, Li & Carin (2016), "Bridging the Gap between Stochastic Gradient MCMC and Stochastic Optimization".

    Algorithm 1, Santa with the Euler scheme:

        v_t = sigma v_{t-1} + (1 - sigma) (f_t / N)^2;    g_t = 1 / sqrt(eps + sqrt(v_t))
        beta_t = anneal_a * (t + anneal_b)^anneal_c   (inverse temperature)
        exploration (t < burnin):
            alpha_t = alpha_{t-1} + u_{t-1}^2 - eta / beta_t
            u_t = sqrt(2 eta^(3/2) / beta_t * g_{t-1}) * zeta_t
        refinement:  alpha_t = alpha_{t-1};  u_t = 0
        u_t = u_t + (1 - alpha_t) u_{t-1} - eta g_t f_t
        theta_t = theta_{t-1} + g_t u_t

    Conventions, defaults and the two departures from the printed algorithm (eta^(3/2) in the
    noise, no 1/u_{t-1} term): see ``_Santa``. The Euler scheme diverges once some alpha leaves
    (0, 2).
    """

    name = "santa_e"

    def _step(self, param, grad, state):
        t, beta = self._preconditioner(grad, state)
        u, alpha, g = state["u"], state["alpha"], state["g"]
        new_u, scratch = state["scratch"], state["scratch2"]
        eta = self.lr
        if t < self.burnin:
            np.multiply(u, u, out=scratch)
            scratch -= eta / beta
            alpha += scratch
            self._noise(beta, state, new_u)
            np.subtract(1, alpha, out=scratch)
            scratch *= u
            new_u += scratch
        else:
            np.subtract(1, alpha, out=new_u)
            new_u *= u
        np.multiply(g, grad, out=scratch)
        scratch *= eta * self.N                                  # eta g_t f_t, f_t = N grad
        new_u -= scratch
        np.multiply(g, new_u, out=scratch)
        param += scratch
        state["u"], state["scratch"] = new_u, u
        self._finish(state)


class SantaSSS(_Santa):
    """Chen, Carlson, Gan, Li & Carin (2016), "Bridging the Gap between Stochastic Gradient MCMC and Stochastic Optimization".

    Algorithm 2, Santa with the symmetric splitting scheme (SSS):

        v_t = sigma v_{t-1} + (1 - sigma) (f_t / N)^2;    g_t = 1 / sqrt(eps + sqrt(v_t))
        beta_t = anneal_a * (t + anneal_b)^anneal_c
        theta = theta_{t-1} + g_t u_{t-1} / 2
        exploration (t < burnin):
            alpha = alpha_{t-1} + (u_{t-1}^2 - eta/beta_t) / 2
            u = exp(-alpha/2) u_{t-1}
            u = u - eta g_t f_t + sqrt(2 eta^(3/2) / beta_t * g_{t-1}) zeta_t
            u_t = exp(-alpha/2) u
            alpha_t = alpha + (u_t^2 - eta/beta_t) / 2
        refinement:
            alpha_t = alpha_{t-1};  u_t = exp(-alpha_t/2) (exp(-alpha_t/2) u_{t-1} - eta g_t f_t)
        theta_t = theta + g_t u_t / 2

    Conventions, defaults and the two departures from the printed algorithm: see ``_Santa``.
    f_t is taken at theta_{t-1}, before the first half step, as printed: this stale force makes the
    scheme less stable than the Euler one (on a quadratic of curvature k it needs about
    eta N g^2 k < 2 alpha where Euler allows 2 (2 - alpha)), hence the default eps.
    """

    name = "santa_sss"

    def _step(self, param, grad, state):
        t, beta = self._preconditioner(grad, state)
        u, alpha, g = state["u"], state["alpha"], state["g"]
        scratch, decay = state["scratch"], state["scratch2"]
        eta = self.lr
        np.multiply(g, u, out=scratch)
        scratch *= 0.5
        param += scratch                                         # first half step of theta
        if t < self.burnin:
            np.multiply(u, u, out=scratch)
            scratch -= eta / beta
            scratch *= 0.5
            alpha += scratch
        np.multiply(alpha, -0.5, out=decay)
        np.exp(decay, out=decay)
        u *= decay
        np.multiply(g, grad, out=scratch)
        scratch *= eta * self.N                                  # eta g_t f_t, f_t = N grad
        u -= scratch
        if t < self.burnin:
            self._noise(beta, state, scratch)
            u += scratch
        u *= decay
        if t < self.burnin:
            np.multiply(u, u, out=scratch)
            scratch -= eta / beta
            scratch *= 0.5
            alpha += scratch
        np.multiply(g, u, out=scratch)
        scratch *= 0.5
        param += scratch                                         # second half step of theta
        self._finish(state)


# --- registry ------------------------------------------------------------------------------

OPTIMIZERS: dict[str, type] = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": AdaGrad,
    "rmsprop": RMSprop,
    "adam": Adam,
    "adadelta": AdaDelta,
    "adamax": Adamax,
    "nadam": Nadam,
    "amsgrad": AMSGrad,
    "adabound": AdaBound,
    "amsbound": AMSBound,
    "rmsprop_graves": RMSpropGraves,
    "smorms3": SMORMS3,
    "eve": Eve,
    "santa_e": SantaE,
    "santa_sss": SantaSSS,
}


def get_optimizer(name, *, rng=None, **hyperparams):
    """Build the optimizer registered as ``name`` with ``hyperparams`` (missing ones: defaults).

    ``rng`` (a ``numpy.random.Generator``) goes to the stochastic optimizers (santa_*) and is
    ignored by the others, so a caller can pass its run's generator whatever the name.
    Raises ValueError for an unknown name (listing the known ones), an unknown hyperparameter
    (listing the allowed ones) or an invalid value (naming key and value).
    """
    cls = OPTIMIZERS.get(name)
    if cls is None:
        raise ValueError(f"unknown optimizer {name!r}; known optimizers: {', '.join(OPTIMIZERS)}")
    if cls.stochastic:
        return cls(rng=rng, **hyperparams)
    return cls(**hyperparams)
