"""Robustness curves: test accuracy when the test images are corrupted by Gaussian noise or blur of
growing strength.

- noise of strength sigma: x + sigma * N(0, 1) per pixel, clipped to [0, 1] (drawn with ``seed``);
- blur of strength sigma: each image convolved with a Gaussian of standard deviation sigma pixels
  (separable, truncated at 3 sigma, the image's border continued with black as MNIST's is).

A network that learned the shapes of digits keeps its accuracy longer than one that learned its 300
training images by heart.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..blas import blas_threads
from .settings import SettingsReader
from .subjects import Subject

SIDE = 28


@dataclass(frozen=True)
class RobustnessSettings:
    """noise_max / blur_max : the strongest sigma (pixel value / pixels); levels : strengths per curve,
    from 0 to the strongest, evenly spaced; images : test images used (at most the subject's);
    seed : for the noise."""

    noise_max: float = 0.6
    blur_max: float = 2.5
    levels: int = 7
    images: int = 500
    seed: int = 0

    LIMITS = {"noise_max": (0.0, 2.0), "blur_max": (0.0, 5.0), "levels": (2, 21), "images": (10, 5000),
              "seed": (0, 2**32 - 1)}

    @classmethod
    def read(cls, settings: dict) -> RobustnessSettings:
        return SettingsReader(cls).read(settings)

    def to_dict(self) -> dict:
        return asdict(self)


def gaussian_kernel(sigma: float) -> np.ndarray:
    """Normalised 1-D Gaussian weights over [-ceil(3 sigma), ceil(3 sigma)]; [1] for sigma 0."""
    if sigma <= 0:
        return np.ones(1)
    radius = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    return k / k.sum()


def blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """x : (n, 784) -> (n, 784), each 28x28 image convolved with a Gaussian of std ``sigma`` pixels
    (zero outside the image)."""
    k = gaussian_kernel(sigma)
    if len(k) == 1:
        return x.copy()
    r = len(k) // 2
    images = np.pad(x.reshape(-1, SIDE, SIDE).astype(np.float64), ((0, 0), (r, r), (r, r)))
    rows = sum(w * images[:, :, j:j + SIDE] for j, w in enumerate(k))          # along each row
    both = sum(w * rows[:, j:j + SIDE, :] for j, w in enumerate(k))            # then along each column
    return both.reshape(len(x), -1).astype(x.dtype)


def noisy(x: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """x + sigma * N(0, 1), clipped to [0, 1]."""
    return np.clip(x + sigma * rng.standard_normal(x.shape), 0.0, 1.0).astype(x.dtype)


def robustness_curves(subject: Subject, settings: RobustnessSettings | None = None) -> dict:
    """{"noise": [{"sigma", "accuracy", "example"}], "blur": [...], "images": n, "settings"}: test accuracy
    at each strength, strength 0 being the clean test images; ``example`` is the first test image as it
    was corrupted at that strength (28x28)."""
    settings = settings or RobustnessSettings()
    x, t = subject.x_test[:settings.images], subject.t_test[:settings.images]
    with blas_threads.limit(1):       # the same numbers whoever calls, and no contention between requests
        noise = []
        for sigma in np.linspace(0.0, settings.noise_max, settings.levels):
            # one generator per strength: a curve's point does not depend on how many came before it
            rng = np.random.default_rng([settings.seed, int(round(sigma * 1e6))])
            noise.append(_point(subject, sigma, noisy(x, sigma, rng), t))
        blurred = [_point(subject, sigma, blur(x, sigma), t) for sigma in np.linspace(0.0, settings.blur_max, settings.levels)]
    return {"noise": noise, "blur": blurred, "images": int(len(t)), "settings": settings.to_dict()}


def _point(subject: Subject, sigma: float, corrupted: np.ndarray, t: np.ndarray) -> dict:
    example = np.round(corrupted[0].astype(np.float64).reshape(SIDE, SIDE), 3).tolist() if len(t) else []
    return {"sigma": round(float(sigma), 6), "accuracy": subject.accuracy(corrupted, t), "example": example}
