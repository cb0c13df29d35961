"""Morphing one digit into another: the straight path x(s) = (1 - s) a + s b between two pictures, the
network's probabilities along it, and the points where its answer changes.

Both ends are pictures the network reads (28x28, ink bright on black, in [0, 1]); every point of the
path is one too.  Where the answer changes between two neighbouring points, bisection on s finds the
crossing to 1/1000 of the path.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..blas import blas_threads
from .settings import SettingsReader
from .subjects import Subject

# bisection steps for a crossing: 2^-10 of the interval between two points
BISECTIONS = 10


@dataclass(frozen=True)
class MorphSettings:
    """points : pictures along the path, both ends included."""

    points: int = 41

    LIMITS = {"points": (2, 201)}

    @classmethod
    def read(cls, settings: dict) -> MorphSettings:
        return SettingsReader(cls).read(settings)

    def to_dict(self) -> dict:
        return asdict(self)


def blend(a: np.ndarray, b: np.ndarray, s: np.ndarray) -> np.ndarray:
    """(1 - s) a + s b for each s: a, b (784,); s (m,) -> (m, 784)."""
    s = np.asarray(s, dtype=np.float64)[:, None]
    return (1.0 - s) * a[None, :] + s * b[None, :]


def morph(subject: Subject, a: np.ndarray, b: np.ndarray, settings: MorphSettings | None = None) -> dict:
    """{"s": [m], "probabilities": [m x [10]], "predictions": [m], "flips": [{"s", "from", "to"}]}:
    the network along the path from ``a`` (s = 0) to ``b`` (s = 1); a flip is where the answer changes,
    its s found by bisection between the two points around it."""
    settings = settings or MorphSettings()
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    s = np.linspace(0.0, 1.0, settings.points)
    with blas_threads.limit(1):
        p = subject.probabilities(blend(a, b, s))
        answers = p.argmax(axis=1)
        flips = []
        for i in np.flatnonzero(answers[1:] != answers[:-1]):
            lo, hi = s[i], s[i + 1]
            before, after = answers[i], answers[i + 1]
            for _ in range(BISECTIONS):
                mid = 0.5 * (lo + hi)
                answer = subject.probabilities(blend(a, b, [mid]))[0].argmax()
                if answer == before:
                    lo = mid
                else:
                    hi, after = mid, answer
            flips.append({"s": round(0.5 * (lo + hi), 4), "from": int(before), "to": int(after)})
    return {"s": np.round(s, 6).tolist(), "probabilities": np.round(p, 6).tolist(),
            "predictions": answers.tolist(), "flips": flips, "settings": settings.to_dict()}
