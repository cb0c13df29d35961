"""The network being probed and the test images it is judged on.

A ``Subject`` is a trained network with the images it never trained on: a stored run's own test split
(drawn with the run's seed, as the trainer drew it), or the default model's held-out images.  Every probe
(dreams, adversarial digits, surgery, morphing, robustness) takes one.
"""
from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import Config, parse_config
from ..conv import Conv2D
from ..data import load_pool
from ..models import DEFAULT_MODEL, load_model, network_for_run, read_description
from ..network import Network
from ..trainer import load_splits

# Test images a subject keeps: enough for accuracies to 0.1 %, few enough that an ablation or a
# robustness level is one quick pass.
MAX_TEST_IMAGES = 5000


@dataclass
class Subject:
    """A trained network and its test images.

    network : a ``Network`` of this subject alone (probes run its forward and backward passes, which
    keep state on the layers: ``lock`` is for callers that share a subject between threads);
    x_test : ndarray of shape (n, 784), float in [0, 1]; t_test : int ndarray of shape (n,);
    name : "default" or the run's id; about : what it is, in words (for pages and the command line).
    """

    network: Network
    x_test: np.ndarray
    t_test: np.ndarray
    name: str = "default"
    about: str = ""
    config: dict | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def dtype(self) -> np.dtype:
        return network_dtype(self.network)

    @property
    def chunk(self) -> int:
        """Rows per evaluation pass: a conv network unfolds every row into many numbers."""
        return chunk_rows(self.network)

    def rows(self, x: np.ndarray) -> np.ndarray:
        """x (n, 784) or (n, 28, 28) or one (28, 28) image as rows (n, 784) in the network's dtype."""
        x = np.asarray(x)
        return x.reshape(-1, 784).astype(self.dtype, copy=False)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities (n, 10) in float64 (``as_probabilities`` of the network's outputs)."""
        return as_probabilities(self.network.predict(self.rows(x)))

    def predictions(self, x: np.ndarray) -> np.ndarray:
        """The class with the highest score, per row (n,)."""
        x = self.rows(x)
        return np.concatenate([self.network.infer(x[i:i + self.chunk]).argmax(axis=1)
                               for i in range(0, len(x), self.chunk)] or [np.zeros(0, np.int64)])

    def examples(self, digit: int, count: int = 8) -> np.ndarray:
        """Row indices of up to ``count`` test images labelled ``digit``, in the test set's order."""
        return np.flatnonzero(self.t_test == digit)[:count]

    def accuracy(self, x: np.ndarray | None = None, t: np.ndarray | None = None) -> float:
        """Share of rows whose prediction is their label (default: the test images)."""
        x = self.x_test if x is None else x
        t = self.t_test if t is None else t
        if len(t) == 0:
            return float("nan")
        return float(np.mean(self.predictions(x) == t))


def as_probabilities(p: np.ndarray) -> np.ndarray:
    """A network's outputs (n, k) as probabilities, each row summing to 1: the softmax of a
    cross-entropy network as it is; the outputs of a squared-error or per-class sigmoid network as
    shares of their total (negative outputs count as 0)."""
    p = np.nan_to_num(np.asarray(p, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    total = p.sum(axis=1, keepdims=True)
    if np.allclose(total, 1.0, atol=1e-3):
        return p
    p = np.clip(p, 0.0, None)
    total = p.sum(axis=1, keepdims=True)
    return np.where(total > 0, p / np.where(total > 0, total, 1.0), 1.0 / p.shape[1])


def _at_most(x: np.ndarray, t: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``limit`` rows (the splits are drawn at random already)."""
    return x[:limit], t[:limit]


def run_subject(config: Config | dict, weights: bytes, name: str = "run",
                max_test: int = MAX_TEST_IMAGES) -> Subject:
    """A stored run: its network with the saved weights, and its own test split (its validation split
    when it has no test images).  Raises ``ConfigError`` for a config that no longer validates and
    ValueError for weights of another network."""
    config = config if isinstance(config, Config) else parse_config(config)
    network = network_for_run(config, weights)
    splits = load_splits(config, np.random.default_rng(config.seed))
    x, t = (splits.x_test, splits.t_test) if splits.n_test else (splits.x_val, splits.t_val)
    x, t = _at_most(x, t, max_test)
    about = f"run {name}: trained on {splits.n_train} images, tested on {len(t)}"
    return Subject(network, x.astype(network_dtype(network), copy=False), t, name, about, config.to_dict())


def network_dtype(network: Network) -> np.dtype:
    """The dtype of the network's parameters (float32 unless a run chose float64)."""
    first = next(iter(network.params.values()), None)
    return first.dtype if first is not None else np.dtype(np.float32)


def chunk_rows(network: Network) -> int:
    """Rows per evaluation pass: the network's own limit, else 256 for a conv network (whose layers
    unfold each row into thousands of numbers), else 8192."""
    if network.chunk_rows:
        return network.chunk_rows
    return 256 if any(isinstance(layer, Conv2D) for layer in network.layers) else 8192


def heldout_indices(t: np.ndarray, seed: int, per_digit: int) -> np.ndarray:
    """The pool rows a model trained by scripts/train_default_model.py never saw: ``per_digit`` of each
    digit, drawn with the training seed in the same order as that script draws them (its first use of
    the generator)."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.permutation(np.flatnonzero(t == d))[:per_digit] for d in range(10)])


def model_subject(base: str | Path = DEFAULT_MODEL, name: str = "default") -> Subject:
    """A model saved as ``base``.npz + ``base``.json (default: the default digit model), with the pool
    images its description says were held out from its training (``accuracy.heldout_size`` of them,
    an equal share per digit, drawn with ``training.seed``).  A model that lists no held-out images is
    judged on the whole pool."""
    network = load_model(base)
    meta = read_description(base)
    x, t = load_pool()
    held = int((meta.get("accuracy") or {}).get("heldout_size") or 0)
    if held:
        rows = heldout_indices(t, int((meta.get("training") or {}).get("seed", 0)), held // 10)
        x, t = x[rows], t[rows]
    x = x.astype(network_dtype(network)) / 255
    about = meta.get("description") or f"model {name}"
    return Subject(network, x, t.astype(np.int64), name, f"{about}; tested on {len(t)} held-out images")


def own_copy(subject: Subject) -> Subject:
    """The same subject with a network of its own (deep copy) and a lock of its own."""
    return Subject(copy.deepcopy(subject.network), subject.x_test, subject.t_test, subject.name, subject.about,
                   subject.config)
