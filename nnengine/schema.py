"""What the UI needs to build its forms: names, defaults, limits and presets."""
from __future__ import annotations

import copy

from .activations import ACTIVATIONS
from .config import DEFAULT_BATCH_NORM_EPS, DEFAULT_DROPOUT_STYLE, LAYER_TYPES, LIMITS, parse_config
from .initializers import INITIALIZERS
from .layer_kinds import INPUT_SHAPE
from .layers import DROPOUT_STYLES
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
        "dropout_styles": list(DROPOUT_STYLES),
        "limits": {key: list(value) if isinstance(value, tuple) else value for key, value in LIMITS.items()},
        "layer_types": list(LAYER_TYPES),
        "input_shape": list(INPUT_SHAPE),
        "presets": copy.deepcopy(PRESETS),
        "default_config": parse_config({}).to_dict(),
        # What a key missing from a config means (stored runs and links from before the key existed),
        # whatever the builder starts from: the UI fills these in, never its own starting values.
        "absent_means": {"model.dropout_style": DEFAULT_DROPOUT_STYLE, "model.batch_norm_eps": DEFAULT_BATCH_NORM_EPS},
    }
