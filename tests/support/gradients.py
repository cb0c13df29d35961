"""Gradient checks of a whole network, for the engine's tests."""
import numpy as np

from nnengine.gradcheck import eval_numerical_gradient
from nnengine.layers import Dropout


def check_whole_network(net, x, t):
    dropouts = [layer for layer in net.layers if isinstance(layer, Dropout)]

    def loss_of(_):
        for i, layer in enumerate(dropouts):  # the same masks for every evaluation
            layer.rng = np.random.default_rng(100 + i)
        return net.loss(x, t, train=True)

    loss_of(None)
    net.backward()
    analytic = {key: value.copy() for key, value in net.grads.items()}
    worst = {}
    for key, param in net.params.items():
        numeric = eval_numerical_gradient(loss_of, param)
        # Norm-wise: an element whose gradient is ~1e-6 carries ~1e-11 of finite-difference
        # round-off, which an element-wise ratio would magnify past any threshold. The floor keeps
        # a bias feeding batch norm (true gradient exactly 0) from dividing noise by noise: one
        # rounding step of the loss (2.2e-16 / 2h = 1.1e-11) is 1.1e-8 of it, while a wrong gradient
        # of any size above 1e-10 still shows as an error above 1e-7.
        worst[key] = float(np.linalg.norm(numeric - analytic[key])
                           / max(1e-3, np.linalg.norm(numeric) + np.linalg.norm(analytic[key])))
    return worst
