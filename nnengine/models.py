"""Networks from their descriptions, and model files: the one way a network is built.

- ``build_network(model, training, rng)``: the network a config's model describes, freshly initialised;
- ``network_for_run(config, weights)``: a stored run's network, its saved weights loaded;
- ``save_model`` / ``load_model``: a model file, ``NAME.npz`` (``Network.state_dict()``, float32) beside
  ``NAME.json`` (its description: ``layers`` as ``nnengine.layer_kinds`` entries, ``n_in``, ``n_out``,
  ``loss``, ``weight_init``, plus whatever the trainer of the model wants to record);
- ``DEFAULT_MODEL``: the default digit model (scripts/train_default_model.py writes it).

All of them go through ``layer_kinds.build_layers``.
"""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from .cost import unfolded_per_sample
from .evaluation import rows_per_chunk
from .layer_kinds import build_layers, network_layers
from .losses import get_loss
from .network import Network

if TYPE_CHECKING:
    from .config import Config, ModelConfig, TrainingConfig

# Base path (no suffix) of the default digit model's files.
DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "default-v1"
MODEL_FORMAT = 1


class ModelFileError(ValueError):
    """A model file that is missing or does not describe its weights."""


def build_network(model: ModelConfig, training: TrainingConfig, rng: np.random.Generator, n_in: int = 784,
                  n_out: int = 10, dtype=np.float32) -> Network:
    """Build the network a ``ModelConfig`` describes (see ``nnengine.layer_kinds``).

    Each dense hidden layer is Affine -> [BatchNorm] -> activation -> [Dropout]; each conv layer is
    Conv2D -> [SpatialBatchNorm] -> activation -> [Dropout]; a maxout layer is Maxout -> [Dropout].
    With conv or pool layers the rows x (n, 784) are reshaped to images (n, 1, 28, 28) first and the maps
    flattened before the first dense layer (or the output layer), and the network's evaluation works in
    chunks small enough for their unfolded (im2col) numbers.  Weights are drawn from ``rng`` layer by
    layer (fan-in c*k*k for a kernel).  Dropout layers take the model's ``dropout_style`` and batch norms
    its ``batch_norm_eps``.
    """
    chunk_rows = None
    if any(layer.takes_image for layer in model.hidden_layers):
        chunk_rows = rows_per_chunk(unfolded_per_sample(model, n_in, n_out))
    layers = build_layers(network_layers(model.hidden_layers), rng, n_in=n_in, n_out=n_out,
                          weight_init=model.weight_init, weight_init_std=model.weight_init_std, dtype=dtype,
                          dropout_style=model.dropout_style, batch_norm_eps=model.batch_norm_eps)
    return Network(layers, get_loss(model.loss), weight_decay=training.weight_decay, chunk_rows=chunk_rows)


def load_weights(network: Network, npz: bytes | str | Path) -> Network:
    """Copy the arrays of a ``state_dict`` saved as ``.npz`` (its bytes or its path) into ``network``."""
    source = io.BytesIO(npz) if isinstance(npz, (bytes, bytearray, memoryview)) else npz
    with np.load(source, allow_pickle=False) as state:
        network.load_state_dict({key: np.asarray(state[key]) for key in state.files})
    return network


def weights_npz(network: Network) -> bytes:
    """The network's ``state_dict`` as the bytes of an ``.npz`` (what a stored run keeps)."""
    buffer = io.BytesIO()
    np.savez(buffer, **network.state_dict())
    return buffer.getvalue()


def network_for_run(config: Config | Mapping[str, Any], weights: bytes) -> Network:
    """A stored run's network: built from its config (in the run's own dtype), then its saved weights
    (an ``.npz`` of ``state_dict()``) copied in.  A config that no longer validates raises
    ``ConfigError``; weights of another network raise ValueError."""
    from .config import Config, parse_config

    config = config if isinstance(config, Config) else parse_config(config)
    network = build_network(config.model, config.training, np.random.default_rng(config.seed),
                            dtype=np.dtype(config.training.dtype))
    return load_weights(network, weights)


def network_from_meta(meta: Mapping[str, Any], state: Mapping[str, np.ndarray] | None = None) -> Network:
    """The network a model file's description lists, with the weights of ``state`` (a mapping such as
    an open ``.npz``) when given."""
    try:
        layers = build_layers(list(meta["layers"]), np.random.default_rng(0), n_in=int(meta.get("n_in", 784)),
                              n_out=int(meta.get("n_out", 10)), weight_init=meta.get("weight_init", "he"))
    except KeyError:
        raise ModelFileError("the model description has no 'layers'") from None
    network = Network(layers, get_loss(meta.get("loss", "cross_entropy")))
    if state is not None:
        network.load_state_dict({key: np.asarray(state[key]) for key in state.keys()})
    return network


def model_paths(base: str | Path) -> tuple[Path, Path]:
    """(weights ``.npz``, description ``.json``) of the model files named ``base`` (with or without a
    suffix)."""
    base = Path(base)
    if base.suffix in (".npz", ".json"):
        base = base.with_suffix("")
    return base.with_name(base.name + ".npz"), base.with_name(base.name + ".json")


def load_model_files(npz_path: str | Path, json_path: str | Path) -> Network:
    """A model (the default one, or any saved the same way) from its .npz weights and .json description."""
    meta = json.loads(Path(json_path).read_text())
    with np.load(npz_path, allow_pickle=False) as state:
        return network_from_meta(meta, state)


def load_model(base: str | Path = DEFAULT_MODEL) -> Network:
    """The model saved as ``base``.npz + ``base``.json (default: the default digit model)."""
    npz_path, json_path = model_paths(base)
    if not npz_path.exists() or not json_path.exists():
        raise ModelFileError(f"no model files {npz_path.name} and {json_path.name} in {npz_path.parent}")
    return load_model_files(npz_path, json_path)


def read_description(base: str | Path = DEFAULT_MODEL) -> dict:
    """The ``.json`` description of the model saved as ``base``."""
    _, json_path = model_paths(base)
    if not json_path.exists():
        raise ModelFileError(f"no model description {json_path.name} in {json_path.parent}")
    return json.loads(json_path.read_text())


def save_model(base: str | Path, network: Network, meta: Mapping[str, Any]) -> tuple[Path, Path]:
    """Write ``network``'s weights (as float32, compressed) and its description ``meta`` (which must
    list the ``layers`` it was built from) as ``base``.npz + ``base``.json; returns the two paths."""
    if "layers" not in meta:
        raise ModelFileError("the model description must list its 'layers'")
    npz_path, json_path = model_paths(base)
    npz_path.parent.mkdir(parents=True, exist_ok=True)
    state = {key: value.astype(np.float32) for key, value in network.state_dict().items()}
    np.savez_compressed(npz_path, **state)
    description = dict(meta)
    description.setdefault("format", MODEL_FORMAT)
    json_path.write_text(json.dumps(description, indent=2) + "\n")
    return npz_path, json_path
