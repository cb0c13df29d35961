"""What a probe costs, in multiply-adds, before it runs: a server bounds each request by it.

``forward_cost(network)`` is the multiply-adds of one picture's evaluation-mode forward pass (each
affine or maxout weight once, each conv weight once per output position, every other layer one
operation per output number); a backward pass to the input costs about twice a forward pass.
"""
from __future__ import annotations

import numpy as np

from ..conv import Conv2D
from ..layers import Affine
from ..maxout import Maxout
from .adversarial import COARSE, LEVELS, AttackSettings
from .dreams import DreamSettings
from .morph import BISECTIONS, MorphSettings
from .robustness import RobustnessSettings

GRADIENT = 3          # a forward pass and a backward pass to the input, in forward passes


def forward_cost(network, start: int = 0) -> int:
    """Multiply-adds of ``network.layers[start:]`` for one 784-pixel row (shapes from one forward pass)."""
    first = next(iter(network.params.values()), None)
    x = np.zeros((1, 784), dtype=first.dtype if first is not None else np.float32)
    total = 0
    for i, layer in enumerate(network.layers):
        y, _ = layer.infer(x, False)
        if i >= start:
            if isinstance(layer, (Affine, Maxout)):
                total += layer.params["W"].size
            elif isinstance(layer, Conv2D):
                total += layer.params["W"].size * int(np.prod(y.shape[2:]))
            else:
                total += int(np.prod(y.shape[1:]))
        x = y
    return total


def dreams_cost(per_picture: int, settings: DreamSettings, classes: int = 10) -> float:
    return float(per_picture) * classes * (GRADIENT * settings.steps + settings.frames + 1)


def attack_rows(settings: AttackSettings) -> int:
    """The most pictures one attack runs at once: the coarse ladder, then the widest gap in it."""
    top = max(1, int(round(settings.max_epsilon * LEVELS)))
    ladder = sorted({e for e in COARSE if e < top} | {top})
    widest = max(b - a - 1 for a, b in zip([0] + ladder, ladder))
    return len(ladder) + widest


def attack_cost(per_picture: int, settings: AttackSettings) -> float:
    # each iteration: a gradient, then the predictions that say whether it worked
    return float(per_picture) * attack_rows(settings) * settings.iterations * (GRADIENT + 1)


def robustness_cost(per_picture: int, settings: RobustnessSettings, images: int) -> float:
    return float(per_picture) * 2 * settings.levels * min(settings.images, images)


def morph_cost(per_picture: int, settings: MorphSettings) -> float:
    # the path, then a bisection at every change of answer (at most one between two points)
    return float(per_picture) * (settings.points + BISECTIONS * (settings.points - 1))
