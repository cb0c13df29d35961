"""Tests for nnengine.optimizers.

Every optimizer is checked against a reference written out with plain Python floats from its
paper's equations (one scalar at a time: all these methods act element-wise), never by calling
the implementation.
"""

import math

import numpy as np
import pytest

from nnengine.optimizers import OPTIMIZERS, get_optimizer

NAMES = ("sgd momentum nesterov adagrad rmsprop adam adadelta adamax nadam amsgrad adabound "
         "amsbound rmsprop_graves smorms3 eve santa_e santa_sss").split()
SANTA = ("santa_e", "santa_sss")


# --- plain-float references: (theta, [g_1, g_2, ...], **hp) -> theta after the steps ----------

def ref_sgd(theta, grads, lr):
    for g in grads:
        theta = theta - lr * g
    return theta


def ref_momentum(theta, grads, lr, momentum):
    v = 0.0
    for g in grads:
        v = momentum * v - lr * g
        theta = theta + v
    return theta


def ref_nesterov(theta, grads, lr, momentum):
    v = 0.0
    for g in grads:
        v = momentum * v - lr * g
        theta = theta + momentum * momentum * v - (1 + momentum) * lr * g
    return theta


def ref_adagrad(theta, grads, lr, eps):
    h = 0.0
    for g in grads:
        h = h + g * g
        theta = theta - lr * g / (math.sqrt(h) + eps)
    return theta


def ref_rmsprop(theta, grads, lr, decay_rate, eps):
    h = 0.0
    for g in grads:
        h = decay_rate * h + (1 - decay_rate) * g * g
        theta = theta - lr * g / (math.sqrt(h) + eps)
    return theta


def ref_adam(theta, grads, lr, beta1, beta2, eps):
    m = v = 0.0
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        lr_t = lr * math.sqrt(1 - beta2**t) / (1 - beta1**t)
        theta = theta - lr_t * m / (math.sqrt(v) + eps)
    return theta


def ref_adadelta(theta, grads, lr, rho, eps):
    eg2 = edx2 = 0.0
    for g in grads:
        eg2 = rho * eg2 + (1 - rho) * g * g
        dx = -math.sqrt(edx2 + eps) / math.sqrt(eg2 + eps) * g
        edx2 = rho * edx2 + (1 - rho) * dx * dx
        theta = theta + lr * dx
    return theta


def ref_adamax(theta, grads, lr, beta1, beta2, eps):
    m = u = 0.0
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        u = max(beta2 * u, abs(g))
        theta = theta - lr / (1 - beta1**t) * m / (u + eps)
    return theta


def ref_nadam(theta, grads, lr, beta1, beta2, eps):
    m = n = 0.0
    for t, g in enumerate(grads, start=1):
        g_hat = g / (1 - beta1**t)
        m = beta1 * m + (1 - beta1) * g
        m_hat = m / (1 - beta1 ** (t + 1))
        n = beta2 * n + (1 - beta2) * g * g
        n_hat = n / (1 - beta2**t)
        m_bar = (1 - beta1) * g_hat + beta1 * m_hat
        theta = theta - lr * m_bar / (math.sqrt(n_hat) + eps)
    return theta


def ref_amsgrad(theta, grads, lr, beta1, beta2, eps):
    m = v = v_hat = 0.0
    for g in grads:
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_hat = max(v_hat, v)
        theta = theta - lr * m / (math.sqrt(v_hat) + eps)
    return theta


def _ref_bound(theta, grads, lr, beta1, beta2, final_lr, gamma, eps, ams):
    m = v = v_hat = 0.0
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_hat = max(v_hat, v)
        second = v_hat if ams else v
        lower = final_lr * (1 - 1 / (gamma * t + 1))
        upper = final_lr * (1 + 1 / (gamma * t))
        eta = lr * math.sqrt(1 - beta2**t) / (1 - beta1**t) / (math.sqrt(second) + eps)
        eta = min(max(eta, lower), upper)
        theta = theta - eta * m
    return theta


def ref_adabound(theta, grads, **hp):
    return _ref_bound(theta, grads, ams=False, **hp)


def ref_amsbound(theta, grads, **hp):
    return _ref_bound(theta, grads, ams=True, **hp)


def ref_rmsprop_graves(theta, grads, lr, decay_rate, momentum, eps):
    n = g_bar = delta = 0.0
    for g in grads:
        n = decay_rate * n + (1 - decay_rate) * g * g
        g_bar = decay_rate * g_bar + (1 - decay_rate) * g
        delta = momentum * delta - lr * g / math.sqrt(n - g_bar * g_bar + eps)
        theta = theta + delta
    return theta


def ref_smorms3(theta, grads, lr, eps):
    mem, g1, g2 = 1.0, 0.0, 0.0
    for g in grads:
        r = 1 / (mem + 1)
        g1 = (1 - r) * g1 + r * g
        g2 = (1 - r) * g2 + r * g * g
        x = g1 * g1 / (g2 + eps)
        theta = theta - g * min(lr, x) / (math.sqrt(g2) + eps)
        mem = 1 + mem * (1 - x)
    return theta


def eve_feedback(losses, beta3, k, K):
    """The coefficients d_1, d_2, ... of Eve for a loss sequence."""
    ds, d, f_hat = [], 1.0, None
    for f in losses:
        if f_hat is None:
            f_hat, d = f, 1.0
        else:
            low, high = (k + 1, K + 1) if f >= f_hat else (1 / (K + 1), 1 / (k + 1))
            c = min(max(low, f / f_hat), high)
            new_hat = c * f_hat
            r = abs(new_hat - f_hat) / min(new_hat, f_hat)
            d = beta3 * d + (1 - beta3) * r
            f_hat = new_hat
        ds.append(d)
    return ds


def ref_eve(theta, grads, lr, beta1, beta2, beta3, k, K, eps, losses=None):
    ds = eve_feedback(losses, beta3, k, K) if losses is not None else [1.0] * len(grads)
    m = v = 0.0
    for t, (g, d) in enumerate(zip(grads, ds), start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        theta = theta - lr * m_hat / (d * math.sqrt(v_hat) + eps)
    return theta


def ref_santa_e(theta, grads, u0, zetas, lr, N, sigma, eps, anneal_a, anneal_b, anneal_c, burnin,
                C):
    # Algorithm 1 with f_t = N x (mean-loss gradient), noise sqrt(2 eta^(3/2)/beta_t g_{t-1}) and
    # no eta/beta_t (1 - g_{t-1}/g_t)/u_{t-1} term (see nnengine.optimizers._Santa)
    eta = lr
    u, alpha, v, g_prev = math.sqrt(eta) * u0, math.sqrt(eta) * C, 0.0, None
    zetas = iter(zetas)
    for t, grad in enumerate(grads, start=1):
        f = N * grad
        v = sigma * v + (1 - sigma) / N**2 * f * f
        g = 1 / math.sqrt(eps + math.sqrt(v))
        g_prev = g if g_prev is None else g_prev
        beta = anneal_a * (t + anneal_b) ** anneal_c
        if t < burnin:
            alpha = alpha + (u * u - eta / beta)
            u_new = math.sqrt(2 * eta**1.5 / beta * g_prev) * next(zetas)
        else:
            u_new = 0.0
        u_new = u_new + (1 - alpha) * u - eta * g * f
        theta = theta + g * u_new
        u, g_prev = u_new, g
    return theta


def ref_santa_sss(theta, grads, u0, zetas, lr, N, sigma, eps, anneal_a, anneal_b, anneal_c, burnin,
                  C):
    eta = lr
    u, alpha, v, g_prev = math.sqrt(eta) * u0, math.sqrt(eta) * C, 0.0, None
    zetas = iter(zetas)
    for t, grad in enumerate(grads, start=1):
        f = N * grad
        v = sigma * v + (1 - sigma) / N**2 * f * f
        g = 1 / math.sqrt(eps + math.sqrt(v))
        g_prev = g if g_prev is None else g_prev
        beta = anneal_a * (t + anneal_b) ** anneal_c
        theta = theta + g * u / 2
        if t < burnin:
            alpha = alpha + (u * u - eta / beta) / 2
            u_new = math.exp(-alpha / 2) * u
            u_new = u_new - g * f * eta + math.sqrt(2 * g_prev * eta**1.5 / beta) * next(zetas)
            u_new = math.exp(-alpha / 2) * u_new
            alpha = alpha + (u_new * u_new - eta / beta) / 2
        else:
            u_new = math.exp(-alpha / 2) * u
            u_new = u_new - g * f * eta
            u_new = math.exp(-alpha / 2) * u_new
        theta = theta + g * u_new / 2
        u, g_prev = u_new, g
    return theta


REFERENCES = {name: globals()[f"ref_{name}"] for name in NAMES}

# hyperparameters for the hand checks: the defaults, plus a second set that moves every knob
# (AdaBound/AMSBound clipped at the upper/lower bound, AMSGrad's max keeping an older v)
CASES = [(name, {}) for name in NAMES if name not in SANTA] + [
    ("sgd", {"lr": 0.3}),
    ("momentum", {"lr": 0.05, "momentum": 0.5}),
    ("nesterov", {"lr": 0.05, "momentum": 0.5}),
    ("adagrad", {"lr": 0.5, "eps": 1e-3}),
    ("rmsprop", {"lr": 0.1, "decay_rate": 0.5, "eps": 1e-3}),
    ("adam", {"lr": 0.1, "beta1": 0.5, "beta2": 0.75, "eps": 1e-3}),
    ("adadelta", {"lr": 0.5, "rho": 0.5, "eps": 1e-2}),
    ("adamax", {"lr": 0.1, "beta1": 0.5, "beta2": 0.5, "eps": 1e-3}),
    ("nadam", {"lr": 0.1, "beta1": 0.5, "beta2": 0.75, "eps": 1e-3}),
    ("amsgrad", {"lr": 0.1, "beta1": 0.5, "beta2": 0.5, "eps": 1e-3}),
    ("adabound", {"lr": 0.1, "final_lr": 0.001, "gamma": 0.1}),       # upper bound
    ("amsbound", {"lr": 0.001, "beta2": 0.5, "final_lr": 0.5, "gamma": 1.0}),   # lower bound
    ("rmsprop_graves", {"lr": 0.01, "decay_rate": 0.5, "momentum": 0.5, "eps": 1e-2}),
    ("smorms3", {"lr": 0.3, "eps": 1e-3}),
    ("eve", {"lr": 0.1, "beta1": 0.5, "beta2": 0.75, "beta3": 0.5, "k": 0.2, "K": 5.0,
             "eps": 1e-3}),
]

# two keys: a 2-element vector and a 0-d array; gradients for three steps (sign changes and a
# large one, so that maxima and SMORMS3's min switch branches)
THETA0 = {"w": [-7.0, 2.0], "s": 0.5}
GRADS = [
    {"w": [0.5, -5.0], "s": -0.7},
    {"w": [0.3, 2.0], "s": -0.2},
    {"w": [-0.4, 0.1], "s": 1.1},
]
LOSSES = [2.0, 1.5, 100.0]        # Eve: a decrease, then a jump clipped at K + 1


def make_params(dtype=np.float64):
    return {"w": np.array(THETA0["w"], dtype=dtype), "s": np.array(THETA0["s"], dtype=dtype)}


def make_grads(step, dtype=np.float64):
    return {key: np.array(value, dtype=dtype) for key, value in GRADS[step].items()}


def run(optimizer, params, steps, dtype=np.float64, losses=None):
    for i in range(steps):
        optimizer.update(params, make_grads(i, dtype), loss=None if losses is None else losses[i])
    return params


def expected(name, hyperparams, steps, **extra):
    """Reference values of both keys, element by element."""
    hp = {**OPTIMIZERS[name].defaults, **hyperparams}
    ref = REFERENCES[name]
    w = [ref(THETA0["w"][i], [GRADS[s]["w"][i] for s in range(steps)], **hp, **extra)
         for i in range(2)]
    s = ref(THETA0["s"], [GRADS[s]["s"] for s in range(steps)], **hp, **extra)
    return w, s


class ConstantNormal:
    """Stand-in Generator whose normal draws are all ``value`` (makes Santa deterministic)."""

    def __init__(self, value=0.3):
        self.value = value

    def standard_normal(self, size=None, dtype=np.float64, out=None):
        if out is None:
            return np.full(() if size is None else size, self.value, dtype=dtype)
        out[...] = self.value
        return out


def build(name, **hyperparams):
    rng = ConstantNormal() if name in SANTA else None
    return get_optimizer(name, rng=rng, **hyperparams)


# --- equations -------------------------------------------------------------------------------

@pytest.mark.parametrize("name, hyperparams", CASES,
                         ids=[f"{n}-{'defaults' if not hp else 'custom'}" for n, hp in CASES])
@pytest.mark.parametrize("steps", [1, 2, 3])
def test_matches_hand_computed_equations(name, hyperparams, steps):
    optimizer = get_optimizer(name, **hyperparams)
    params = make_params()
    w, s = params["w"], params["s"]
    losses = LOSSES if name == "eve" else None
    run(optimizer, params, steps, losses=losses)
    extra = {"losses": LOSSES[:steps]} if name == "eve" else {}
    want_w, want_s = expected(name, hyperparams, steps, **extra)
    assert params["w"] is w and params["s"] is s
    np.testing.assert_allclose(w, want_w, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(s, want_s, rtol=1e-12, atol=1e-15)


SANTA_HP = {"lr": 0.01, "N": 3.0, "sigma": 0.9, "eps": 1e-6, "anneal_a": 2.0, "anneal_b": 1.0,
            "anneal_c": 0.7, "burnin": 3, "C": 2.0}


@pytest.mark.parametrize("name", SANTA)
@pytest.mark.parametrize("burnin", [0, 2, 3, 10])
def test_santa_matches_hand_computed_equations(name, burnin):
    hp = {**SANTA_HP, "burnin": burnin}
    steps = 3
    optimizer = get_optimizer(name, rng=np.random.default_rng(7), **hp)
    params = make_params()
    w, s = params["w"], params["s"]
    run(optimizer, params, steps)

    # replay the documented draw order: per key in params order, u_0 on its first update,
    # then zeta_t on every exploration step (t < burnin)
    draws = np.random.default_rng(7)
    u0, zetas = {}, {"w": [[], []], "s": [[]]}
    for t in range(1, steps + 1):
        for key, size in (("w", 2), ("s", 1)):
            if t == 1:
                u0[key] = draws.standard_normal(size).tolist()
            if t < burnin:
                for i, z in enumerate(draws.standard_normal(size).tolist()):
                    zetas[key][i].append(z)
    ref = REFERENCES[name]
    want_w = [ref(THETA0["w"][i], [GRADS[t]["w"][i] for t in range(steps)], u0["w"][i],
                  zetas["w"][i], **hp) for i in range(2)]
    want_s = ref(THETA0["s"], [GRADS[t]["s"] for t in range(steps)], u0["s"][0], zetas["s"][0],
                 **hp)
    assert params["w"] is w and params["s"] is s
    np.testing.assert_allclose(w, want_w, rtol=1e-10)
    np.testing.assert_allclose(s, want_s, rtol=1e-10)


# One update worked out by hand: theta_0 = 0.5, gradient 2, hyperparameters chosen for round
# numbers, every normal draw 0.5 (u_0 = sqrt(eta) 0.5, then zeta_1 = 0.5).
#   v_1 = 0.25 * (20 / 10)^2 = 1;  g_1 = g_0 = 1 / sqrt(3 + sqrt(1)) = 0.5;  beta_1 = 0.1
#   u_0 = sqrt(0.01) * 0.5 = 0.05;  alpha_0 = sqrt(0.01) * 3 = 0.3;  eta/beta_1 = 0.1
#   noise = sqrt(2 * 0.01^1.5 / 0.1 * 0.5) * 0.5 = sqrt(0.01) * 0.5 = 0.05
#   eta g_1 f_1 = 0.01 * 0.5 * (10 * 2) = 0.1
HAND_HP = {"lr": 0.01, "N": 10.0, "sigma": 0.75, "eps": 3.0, "anneal_a": 0.1, "anneal_b": 0.0,
           "anneal_c": 0.0, "burnin": 2, "C": 3.0}


def hand_santa_e():
    alpha = 0.3 + (0.05 * 0.05 - 0.1)                   # 0.2025
    u = 0.05 + (1 - alpha) * 0.05 - 0.1                 # -0.010125
    return 0.5 + 0.5 * u                                # 0.4949375


def hand_santa_sss():
    theta = 0.5 + 0.5 * 0.05 / 2                        # 0.5125
    alpha = 0.3 + (0.05 * 0.05 - 0.1) / 2               # 0.25125
    decay = math.exp(-alpha / 2)
    u = decay * (decay * 0.05 - 0.1 + 0.05)
    return theta + 0.5 * u / 2


@pytest.mark.parametrize("name, hand", [("santa_e", hand_santa_e), ("santa_sss", hand_santa_sss)])
def test_santa_first_step_by_hand(name, hand):
    optimizer = get_optimizer(name, rng=ConstantNormal(0.5), **HAND_HP)
    theta = np.array(0.5)
    optimizer.update({"s": theta}, {"s": np.array(2.0)})
    assert float(theta) == pytest.approx(hand(), rel=1e-14)


def softmax_regression_problem(seed=0):
    """200 samples of 20 features (the first 5 always 0, like MNIST's blank border pixels), 3
    classes given by a random linear teacher; returns (x, labels, params)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((200, 20))
    x[:, :5] = 0.0
    labels = np.argmax(x @ rng.standard_normal((20, 3)), axis=1)
    params = {"W": 0.01 * rng.standard_normal((20, 3)), "b": np.zeros(3)}
    return x, labels, params


def softmax_loss_and_grads(params, x, labels):
    """Mean cross-entropy of softmax(x W + b) and its gradients."""
    z = x @ params["W"] + params["b"]
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    n = len(x)
    loss = -np.mean(np.log(p[np.arange(n), labels]))
    dz = p
    dz[np.arange(n), labels] -= 1
    dz /= n
    return loss, {"W": x.T @ dz, "b": dz.sum(axis=0)}


@pytest.mark.parametrize("name", SANTA)
def test_santa_with_its_defaults_trains_a_small_problem(name):
    # the scaled gradient (N), the eta^(3/2) noise and the capped preconditioner (eps) all matter
    # here: without them Santa barely moves, or blows up the weights of the blank features
    x, labels, params = softmax_regression_problem()
    blank_before = params["W"][:5].copy()
    optimizer = get_optimizer(name, rng=np.random.default_rng(1))
    start, _ = softmax_loss_and_grads(params, x, labels)
    order = np.random.default_rng(2)
    for _ in range(30):                                   # 30 epochs of 10 batches of 20
        perm = order.permutation(len(x))
        for i in range(10):
            batch = perm[20 * i:20 * (i + 1)]
            _, grads = softmax_loss_and_grads(params, x[batch], labels[batch])
            optimizer.update(params, grads)
    end, _ = softmax_loss_and_grads(params, x, labels)
    assert math.isfinite(end) and start == pytest.approx(math.log(3), rel=0.05)
    assert end < 0.5 * start                             # Adam (lr 1e-3): 0.58 of start
    accuracy = np.mean(np.argmax(x @ params["W"] + params["b"], axis=1) == labels)
    assert accuracy > 0.9
    assert np.max(np.abs(params["W"][:5] - blank_before)) < 0.05


def test_santa_default_rng_is_seeded():
    a, b = make_params(), make_params()
    run(get_optimizer("santa_e"), a, 3)
    run(get_optimizer("santa_e"), b, 3)
    np.testing.assert_array_equal(a["w"], b["w"])


def test_nesterov_is_the_books_update_with_the_updated_v():
    """lr 0.1, momentum 0.9, gradient 1 from 0: v = -0.1, W = 0.81 * v - 1.9 * 0.1 = -0.271 (the book);
    the form with the previous v (torch's nesterov=True) would give -0.19."""
    params = {"w": np.zeros(1)}
    nesterov = get_optimizer("nesterov", lr=0.1, momentum=0.9)
    nesterov.update(params, {"w": np.ones(1)})
    assert params["w"][0] == pytest.approx(-0.271, abs=1e-15)
    nesterov.update(params, {"w": np.ones(1)})       # v = -0.19: W = -0.271 + 0.81 * -0.19 - 0.19
    assert params["w"][0] == pytest.approx(-0.271 - 0.1539 - 0.19, abs=1e-15)


def test_eve_with_loss_differs_from_adam_after_step_2():
    with_loss, without = make_params(), make_params()
    eve, adam_like = get_optimizer("eve"), get_optimizer("eve")
    for step in range(3):
        eve.update(with_loss, make_grads(step), loss=LOSSES[step])
        adam_like.update(without, make_grads(step))
        if step == 0:
            # d_1 = 1: the first step is Adam's
            np.testing.assert_array_equal(with_loss["w"], without["w"])
        else:
            assert np.all(np.abs(with_loss["w"] - without["w"]) > 1e-9)
    # without a loss Eve is Adam (bias-corrected form, eps outside the root)
    adam = get_optimizer("adam", eps=1e-8)
    book_adam = run(adam, make_params(), 3)
    np.testing.assert_allclose(without["w"], book_adam["w"], rtol=1e-6)


# --- protocol --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_update_is_in_place_and_changes_values(name):
    optimizer = build(name)
    params = make_params()
    arrays = dict(params)
    before = {key: value.copy() for key, value in params.items()}
    grads = make_grads(0)
    grads_before = {key: value.copy() for key, value in grads.items()}
    optimizer.update(params, grads, loss=1.0)
    for key in params:
        assert params[key] is arrays[key]
        assert not np.array_equal(params[key], before[key])
        np.testing.assert_array_equal(grads[key], grads_before[key])   # grads are read only


@pytest.mark.parametrize("name", NAMES)
def test_state_is_per_key(name):
    grads_a = [np.array([0.5, -1.5]), np.array([0.2, 0.4]), np.array([-0.3, 0.1])]
    grads_b = [np.array([[3.0], [-0.01]]), np.array([[-2.0], [0.5]]), np.array([[1.0], [1.0]])]
    losses = [3.0, 2.0, 2.5]

    def start():
        return {"a": np.array([1.0, -2.0]), "b": np.array([[0.5], [3.0]])}

    together = start()
    opt = build(name)
    for i in range(3):
        opt.update(together, {"a": grads_a[i], "b": grads_b[i]}, loss=losses[i])
    assert set(opt.state) == {"a", "b"}

    alone = {}
    for key, grads in (("a", grads_a), ("b", grads_b)):
        params = {key: start()[key]}
        opt = build(name)
        for i in range(3):
            opt.update(params, {key: grads[i]}, loss=losses[i])
        alone[key] = params[key]
    np.testing.assert_array_equal(together["a"], alone["a"])
    np.testing.assert_array_equal(together["b"], alone["b"])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("grad_dtype", [np.float32, np.float64])
def test_float32_stays_float32(name, grad_dtype):
    optimizer = build(name)
    params = make_params(np.float32)
    run(optimizer, params, 3, dtype=grad_dtype, losses=LOSSES)
    for key, value in params.items():
        assert value.dtype == np.float32
        assert np.all(np.isfinite(value))
        for array in optimizer.state[key].values():
            if isinstance(array, np.ndarray):
                assert array.dtype == np.float32
    reference = run(build(name), make_params(), 3, losses=LOSSES)
    np.testing.assert_allclose(params["w"], reference["w"], rtol=1e-4, atol=1e-5)


# --- registry and hyperparameters ------------------------------------------------------------

def test_registry_names():
    assert list(OPTIMIZERS) == NAMES
    assert all(isinstance(cls, type) for cls in OPTIMIZERS.values())


def test_book_and_paper_defaults():
    d = {name: cls.defaults for name, cls in OPTIMIZERS.items()}
    assert d["sgd"] == {"lr": 0.01}
    assert d["momentum"] == {"lr": 0.01, "momentum": 0.9}
    assert d["nesterov"] == {"lr": 0.01, "momentum": 0.9}
    assert d["adagrad"]["lr"] == 0.01
    assert (d["rmsprop"]["lr"], d["rmsprop"]["decay_rate"]) == (0.01, 0.99)
    assert {k: d["adam"][k] for k in ("lr", "beta1", "beta2")} == {"lr": 0.001, "beta1": 0.9,
                                                                   "beta2": 0.999}
    assert d["adadelta"] == {"lr": 1.0, "rho": 0.95, "eps": 1e-6}
    assert d["adamax"]["lr"] == 0.002 and d["nadam"]["lr"] == 0.002
    for name in ("adabound", "amsbound"):
        assert {k: d[name][k] for k in ("lr", "final_lr", "gamma")} == {
            "lr": 0.001, "final_lr": 0.1, "gamma": 1e-3}
    assert d["rmsprop_graves"] == {"lr": 1e-4, "decay_rate": 0.95, "momentum": 0.9, "eps": 1e-4}
    assert d["smorms3"] == {"lr": 0.001, "eps": 1e-16}
    assert {k: d["eve"][k] for k in ("lr", "beta1", "beta2", "beta3", "k", "K")} == {
        "lr": 0.001, "beta1": 0.9, "beta2": 0.999, "beta3": 0.999, "k": 0.1, "K": 10}
    for name in SANTA:
        assert d[name] == {"lr": 1e-8, "N": 1e4, "sigma": 0.999, "eps": 1e-2, "anneal_a": 1.0,
                           "anneal_b": 0.0, "anneal_c": 0.5, "burnin": 100, "C": 1000.0}


@pytest.mark.parametrize("name", NAMES)
def test_defaults_are_exactly_the_constructor_keywords(name):
    cls = OPTIMIZERS[name]
    optimizer = get_optimizer(name, **cls.defaults)
    assert optimizer.hyperparams == cls.defaults
    citation = cls.__doc__.splitlines()[0]
    assert "(" in citation and '"' in citation         # one-line citation: authors (year), "title"
    with pytest.raises(ValueError) as excinfo:
        get_optimizer(name, bogus=1.0)
    message = str(excinfo.value)
    assert "'bogus'" in message
    assert all(key in message for key in cls.defaults)


def test_unknown_name_lists_known_ones():
    with pytest.raises(ValueError) as excinfo:
        get_optimizer("adamw")
    message = str(excinfo.value)
    assert "'adamw'" in message
    assert all(name in message for name in NAMES)


@pytest.mark.parametrize("name, key, value", [
    ("sgd", "lr", 0.0), ("sgd", "lr", -0.1), ("adam", "beta1", 1.0), ("adam", "beta2", -0.1),
    ("eve", "beta3", 1.5), ("momentum", "momentum", 1.0), ("rmsprop", "decay_rate", 2.0),
    ("adadelta", "rho", -1.0), ("adabound", "final_lr", 0.0), ("santa_e", "sigma", 1.0),
    ("santa_sss", "burnin", 2.5), ("adam", "eps", 0.0), ("sgd", "lr", float("nan")),
    ("sgd", "lr", "fast"), ("sgd", "lr", True),
])
def test_invalid_values_name_key_and_value(name, key, value):
    with pytest.raises(ValueError) as excinfo:
        get_optimizer(name, **{key: value})
    assert f"{key}={value!r}" in str(excinfo.value)


def test_rng_is_a_keyword_of_the_stochastic_ones_only():
    rng = np.random.default_rng(3)
    assert get_optimizer("santa_e", rng=rng).rng is rng
    get_optimizer("sgd", rng=rng)                     # ignored, so callers can pass it uniformly
    with pytest.raises(ValueError, match="rng"):
        OPTIMIZERS["sgd"](rng=rng)


@pytest.mark.parametrize("name", NAMES)
def test_each_key_validates_alone_with_float_values(name):
    # the config layer checks one key at a time, values arriving as JSON floats
    for key, value in OPTIMIZERS[name].defaults.items():
        OPTIMIZERS[name](**{key: float(value)})
    assert get_optimizer("santa_e", burnin=7.0).burnin == 7


# --- on the book's function f(x, y) = x^2 / 20 + y^2 ----------------------------------------

def f(x, y):
    return x * x / 20 + y * y


def descend(name, steps, **hyperparams):
    point = np.array([-7.0, 2.0])
    params = {"xy": point}
    optimizer = get_optimizer(name, **hyperparams)
    path = [point.copy()]
    for _ in range(steps):
        x, y = point
        optimizer.update(params, {"xy": np.array([x / 10, 2 * y])}, loss=f(x, y))
        path.append(point.copy())
    return np.array(path)


SUITABLE = {
    "sgd": {"lr": 0.1}, "momentum": {"lr": 0.1}, "nesterov": {"lr": 0.1},
    "adagrad": {"lr": 1.5}, "rmsprop": {"lr": 0.1}, "adam": {"lr": 0.3},
    "adadelta": {"lr": 1.0}, "adamax": {"lr": 0.3}, "nadam": {"lr": 0.3},
    "amsgrad": {"lr": 0.1}, "adabound": {"lr": 0.3}, "amsbound": {"lr": 0.3},
    "rmsprop_graves": {"lr": 0.01}, "smorms3": {"lr": 0.3}, "eve": {"lr": 0.3},
    # the optimizer-paths lab's setting: default eta (momentum 0.9), gradient step eta N = 0.01
    "santa_e": {"N": 1e6, "burnin": 50, "rng": np.random.default_rng(0)},
    "santa_sss": {"N": 1e6, "burnin": 50, "rng": np.random.default_rng(0)},
}


@pytest.mark.parametrize("name", NAMES)
def test_minimises_the_books_function(name):
    hyperparams = dict(SUITABLE[name])
    if "rng" in hyperparams:
        hyperparams["rng"] = np.random.default_rng(0)    # fresh, so the test is order-free
    path = descend(name, 100, **hyperparams)
    assert np.all(np.isfinite(path))
    assert f(*path[-1]) < f(*path[0])


@pytest.mark.parametrize("name, lr", [("sgd", 0.95), ("momentum", 0.1), ("adagrad", 1.5),
                                      ("adam", 0.3)])
def test_book_optimizer_paths(name, lr):
    path = descend(name, 30, lr=lr)
    assert path.shape == (31, 2)
    assert np.all(np.isfinite(path))
    assert np.hypot(*path[-1]) < np.hypot(*path[0])
