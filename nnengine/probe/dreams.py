"""Network dreams: for each class, the input that gradient ascent finds to maximise its score
(activation maximisation, Erhan et al. 2009; Simonyan et al. 2014, eq. 1), with an L2 penalty that keeps
the picture dark where nothing helps and a smoothness penalty that keeps it free of pixel noise:

    J_c(x) = s_c(x) - l2 / 2 * ||x||^2 - smoothness / 2 * sum over neighbour pixels (x_p - x_q)^2,

    x <- clip(x + step_size * (g_c(x) - l2 * x - smoothness * L x), 0, 1),

where g_c is the gradient of s_c scaled to a root-mean-square of 1 per picture (so the penalties weigh
the same against a network with large scores as against one with small scores) and L x is the discrete
Laplacian's gradient of the smoothness term (4 x_p minus its neighbours, fewer at the border).  All ten
classes ascend together, one row each, in evaluation mode.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from ..blas import blas_threads
from .settings import SettingsReader
from .subjects import Subject

SIDE = 28


@dataclass(frozen=True)
class DreamSettings:
    """How the dreams are made.

    steps : ascent steps; step_size : multiplies the (normalised) gradient; l2, smoothness : the
    penalties' weights; start : "grey" (every pixel ``grey``) or "noise" (uniform in [0, 2 grey],
    drawn with ``seed``); objective : "score" (the class's score s_c) or "log_probability" (log p_c,
    which also pushes the other classes' scores down); frames : pictures kept along the way (``frame_steps``).
    """

    steps: int = 200
    step_size: float = 0.02
    l2: float = 1.0
    smoothness: float = 0.5
    start: str = "grey"
    grey: float = 0.2
    seed: int = 0
    objective: str = "score"
    frames: int = 10

    LIMITS = {"steps": (1, 2000), "step_size": (1e-4, 1.0), "l2": (0.0, 100.0), "smoothness": (0.0, 100.0),
              "grey": (0.0, 1.0), "seed": (0, 2**32 - 1), "frames": (0, 50)}
    CHOICES = {"start": ("grey", "noise"), "objective": ("score", "log_probability")}

    @classmethod
    def read(cls, settings: dict) -> DreamSettings:
        """From a JSON object (missing keys take the defaults); a bad value raises ``SettingsError``
        naming it."""
        return SettingsReader(cls).read(settings)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Dreams:
    """images : (10, 784) in [0, 1]; probabilities : (10, 10), row c the network's answer to dream c;
    frames : [(step, images (10, 784))] along the ascent, the last one the result; settings : as used."""

    images: np.ndarray
    probabilities: np.ndarray
    steps: int
    settings: DreamSettings
    frames: list[tuple[int, np.ndarray]] = field(default_factory=list)
    own_probability: list[list[float]] = field(default_factory=list)   # per frame: p_c of dream c

    def to_dict(self, frames: bool = False) -> dict:
        """JSON: ``images`` 10 x 28x28 in [0, 1], ``probabilities`` 10 x [10], ``steps``, ``settings``,
        ``own_probability`` (per frame, each dream's probability of its own class) and, with ``frames``,
        ``frames``: [{"step", "images": 10 x 784 grey levels 0..255}] (compact: only to be drawn)."""
        doc = {"images": pictures(self.images), "probabilities": np.round(self.probabilities, 6).tolist(),
               "steps": self.steps, "settings": self.settings.to_dict(),
               "frame_steps": [step for step, _ in self.frames], "own_probability": self.own_probability}
        if frames:
            doc["frames"] = [{"step": step, "images": np.rint(images * 255).astype(int).tolist()}
                             for step, images in self.frames]
        return doc


def pictures(x: np.ndarray, decimals: int = 4) -> list:
    """Rows (n, 784) as n nested 28x28 lists, rounded."""
    return np.round(np.asarray(x, dtype=np.float64).reshape(-1, SIDE, SIDE), decimals).tolist()


def smoothness_gradient(x: np.ndarray) -> np.ndarray:
    """d/dx of 1/2 sum over horizontally and vertically neighbouring pixels (x_p - x_q)^2.

    x : ndarray of shape (n, 28, 28) -> ndarray of the same shape: for each pixel, its difference from
    each of its neighbours, summed (4 x_p - sum of the 4 neighbours inside the picture)."""
    g = np.zeros_like(x)
    dh = x[:, :, 1:] - x[:, :, :-1]       # x_q - x_p along rows
    dv = x[:, 1:, :] - x[:, :-1, :]
    g[:, :, 1:] += dh
    g[:, :, :-1] -= dh
    g[:, 1:, :] += dv
    g[:, :-1, :] -= dv
    return g


def starting_pictures(settings: DreamSettings, n: int, dtype) -> np.ndarray:
    """(n, 784): every pixel ``grey``, or uniform noise around it."""
    if settings.start == "noise":
        rng = np.random.default_rng(settings.seed)
        return rng.uniform(0.0, 2.0 * settings.grey, (n, SIDE * SIDE)).clip(0.0, 1.0).astype(dtype)
    return np.full((n, SIDE * SIDE), settings.grey, dtype=dtype)


def frame_steps(steps: int, frames: int) -> set[int]:
    """The steps whose pictures are kept: ``frames`` of them spaced evenly in log scale from the first
    step to the last (a dream changes most in its first steps), fewer where they would coincide; the
    last step always."""
    if frames <= 1:
        return {steps}
    return set(np.unique(np.rint(np.geomspace(1, steps, frames)).astype(int)).tolist()) | {steps}


def dream(subject: Subject, settings: DreamSettings | None = None, classes=range(10),
          on_frame: Callable[[int, np.ndarray], None] | None = None) -> Dreams:
    """Gradient ascent on J_c for each class c of ``classes`` (module docstring).

    Returns ``Dreams``; ``on_frame(step, images (len(classes), 784))`` is called for every frame kept
    (at the steps ``frame_steps`` gives, the last at the final step).
    """
    settings = settings or DreamSettings()
    classes = np.asarray(list(classes), dtype=np.int64)
    x = starting_pictures(settings, len(classes), subject.dtype)
    keep = frame_steps(settings.steps, settings.frames)
    frames, own = [], []
    of = "score" if settings.objective == "score" else "loss"
    sign = 1.0 if of == "score" else -1.0        # log p_c = -loss: ascend it by descending the loss
    with blas_threads.limit(1):      # ten rows: a second thread only waits for the first
        for step in range(1, settings.steps + 1):
            _ascend(subject, x, classes, settings, of, sign)
            if step in keep:
                frames.append((step, x.copy()))
                p = subject.probabilities(x)
                own.append([round(float(v), 6) for v in p[np.arange(len(classes)), classes]])
                if on_frame is not None:
                    on_frame(step, frames[-1][1])
        probabilities = subject.probabilities(x)
    return Dreams(x, probabilities, settings.steps, settings, frames, own)


def _ascend(subject: Subject, x: np.ndarray, classes: np.ndarray, settings: DreamSettings, of: str,
            sign: float) -> None:
    """One step of the ascent on x (n, 784), in place."""
    g = sign * subject.network.input_gradient(x, classes, of=of)
    rms = np.sqrt(np.mean(g * g, axis=1, keepdims=True))
    g /= np.where(rms > 0, rms, 1.0)
    if settings.l2:
        g -= settings.l2 * x
    if settings.smoothness:
        g -= settings.smoothness * smoothness_gradient(x.reshape(-1, SIDE, SIDE)).reshape(x.shape)
    x += settings.step_size * g
    np.clip(x, 0.0, 1.0, out=x)
