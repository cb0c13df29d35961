"""How many bytes of weights a run will store, and the limit on them (RUN_WEIGHTS_MAX_MB).

The compute budget (nnengine.config) bounds what a run costs to train, not what it stores: ten
dense layers of 2048 units trained on one sample cost almost nothing, and store 150 MB in float32
or 315 MB in float64. A finished run stores its network's state (server/runs/outcome.py: every
parameter and batch-norm running statistic, as an .npz), so that size is known from the config
before the run starts: run:start refuses a run whose weights would not fit under the limit,
with both figures in the message.
"""

from nnengine.config import Config
from nnengine.cost import layer_costs

DEFAULT_MAX_MB = 64.0
# What np.savez adds to each array's bytes: its .npy header (128 bytes) and its zip entry (a local
# header and a central directory record with the name, about 110 bytes): measured, 240 to 250.
NPZ_BYTES_PER_ARRAY = 256


def _norm_width(layer):
    """Units (dense) or maps (conv) a hidden layer's batch norm normalises; 0 without one."""
    if not getattr(layer, "batch_norm", False):
        return 0
    return getattr(layer, "units", None) or getattr(layer, "filters", 0)


def stored_weights_bytes(config: Config) -> int:
    """Bytes of the .npz of a trained network of `config`: its parameters and the running mean and
    variance of each batch norm, in the run's dtype, plus each array's header."""
    costs = layer_costs(config.model.hidden_layers)  # the hidden layers, then the output layer
    widths = [_norm_width(layer) for layer in config.model.hidden_layers]
    numbers = sum(cost.params for cost in costs) + 2 * sum(widths)
    # W and b of each layer with weights (not a pool), and each batch norm's four
    arrays = 2 * sum(1 for cost in costs if cost.params) + 4 * sum(1 for width in widths if width)
    itemsize = 8 if config.training.dtype == "float64" else 4
    return numbers * itemsize + arrays * NPZ_BYTES_PER_ARRAY


def _mb(size):
    value = size / 2**20
    return f"{value:.0f} MB" if value >= 10 else f"{value:.2g} MB"


def weights_limit_errors(config: Config, max_mb):
    """[] if the run's weights fit in `max_mb` megabytes; else one {field, message} error (the shape of
    ConfigError.errors) naming the size and the limit."""
    size = stored_weights_bytes(config)
    limit = int(float(max_mb) * 2**20)
    if size <= limit:
        return []
    smaller = " or float32" if config.training.dtype == "float64" else ""
    where = "model.hidden_layers" if config.model.hidden_layers else "model"
    return [{"field": where,
             "message": f"the trained weights of this network would take {_mb(size)} "
                        f"({config.training.dtype}), over the limit of {_mb(limit)} a run may store; "
                        f"use fewer or smaller layers{smaller}"}]
