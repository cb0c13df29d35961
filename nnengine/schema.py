"""What the UI needs to build its forms: names, defaults, limits and presets."""
from __future__ import annotations

import copy

from .activations import ACTIVATIONS
from .config import INPUT_SHAPE, LAYER_TYPES, LIMITS, parse_config
from .initializers import INITIALIZERS
from .losses import LOSSES
from .optimizers import OPTIMIZERS
from .presets import PRESETS


def schema() -> dict:
    """A JSON-ready description of every choice a config can make."""
    return {
        "activations": list(ACTIVATIONS),
        "optimizers": {name: dict(cls.defaults) for name, cls in OPTIMIZERS.items()},
        "weight_inits": list(INITIALIZERS),
        "losses": list(LOSSES),
        "limits": {key: list(value) if isinstance(value, tuple) else value for key, value in LIMITS.items()},
        "layer_types": list(LAYER_TYPES),
        "input_shape": list(INPUT_SHAPE),
        "presets": copy.deepcopy(PRESETS),
        "default_config": parse_config({}).to_dict(),
    }
