"""Adversarial digits: the smallest L-infinity perturbation that changes a network's answer, found by
iterative FGSM (the basic iterative method of Kurakin, Goodfellow & Bengio 2016, eq. 2; FGSM is
Goodfellow, Shlens & Szegedy 2015):

    x_0 = x,    x_{k+1} = clip_{x, eps}( x_k + alpha * sign( grad_x L(x_k, y) ) ),

untargeted with y the network's answer for x (its loss goes up), or toward a chosen digit t with
x_{k+1} = clip_{x, eps}(x_k - alpha * sign(grad_x L(x_k, t))) (the loss of t goes down).  clip_{x, eps}
keeps every pixel within eps of x and inside [0, 1].

Pictures are 8-bit: x is put on the grid of 1/255 steps first, and eps and alpha are whole numbers of
those steps, so every image the attack makes is exactly a PNG a browser can draw and send back
(``POST /api/predict`` with ``preprocess=none`` sees the same numbers) and eps is exactly the largest
change of any pixel.  Every candidate eps is attacked at once, one row each (evaluation mode keeps rows
independent): a coarse ladder of eps first, then every level between the largest that failed and the
smallest that worked.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..blas import blas_threads
from .settings import SettingsError, SettingsReader
from .subjects import Subject

LEVELS = 255                  # grey levels of an 8-bit picture
COARSE = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 255)


@dataclass(frozen=True)
class AttackSettings:
    """max_epsilon : the largest L-infinity change tried (of 1 = black to white); iterations : steps of
    the iterative FGSM at each eps; its step alpha is max(1, round(2.5 eps / iterations)) grey levels,
    so the steps can cross the whole eps-box (Madry et al. 2018)."""

    max_epsilon: float = 0.5
    iterations: int = 20

    LIMITS = {"max_epsilon": (1 / LEVELS, 1.0), "iterations": (1, 200)}

    @classmethod
    def read(cls, settings: dict) -> AttackSettings:
        return SettingsReader(cls).read(settings)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Attack:
    """original : (784,) the picture on the 8-bit grid; original_probabilities : (10,);
    epsilon : the largest pixel change of ``perturbed`` (a multiple of 1/255), the smallest found that
    changes the answer (or max_epsilon when none does: ``flipped`` False); perturbed : (784,);
    probabilities : (10,) for it; curve : [{epsilon, probabilities, prediction}] one per eps tried,
    increasing."""

    original: np.ndarray
    original_prediction: int
    original_probabilities: np.ndarray
    epsilon: float
    perturbed: np.ndarray
    prediction: int
    probabilities: np.ndarray
    flipped: bool
    target: int | None
    settings: AttackSettings
    curve: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON: ``original`` {input 28x28, prediction, probabilities}, ``epsilon``, ``perturbed`` 28x28,
        ``prediction``, ``probabilities``, ``flipped``, ``target``, ``curve``, ``settings``.  Pictures are
        on the 8-bit grid (k / 255, rounded to 6 decimals, so ``round(v * 255)`` gives k back)."""
        def grid(x):
            return np.round(np.asarray(x).reshape(28, 28), 6).tolist()

        def probs(p):
            return np.round(np.asarray(p, dtype=np.float64), 6).tolist()

        return {"original": {"input": grid(self.original), "prediction": self.original_prediction,
                             "probabilities": probs(self.original_probabilities)},
                "epsilon": round(self.epsilon, 6), "epsilon_levels": int(round(self.epsilon * LEVELS)),
                "perturbed": grid(self.perturbed), "prediction": self.prediction,
                "probabilities": probs(self.probabilities), "flipped": self.flipped, "target": self.target,
                "curve": [{"epsilon": round(c["epsilon"], 6), "prediction": c["prediction"],
                           "probabilities": probs(c["probabilities"])} for c in self.curve],
                "settings": self.settings.to_dict()}


def on_grid(x: np.ndarray) -> np.ndarray:
    """Pixels in [0, 1] as whole grey levels 0..255 (float64 holding integers)."""
    return np.rint(np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0) * LEVELS)


def iterative_fgsm(subject: Subject, levels0: np.ndarray, label: int, eps: np.ndarray, iterations: int,
                   toward: bool) -> np.ndarray:
    """The basic iterative method, one row per eps.

    levels0 : (784,) grey levels of the picture; eps : (m,) whole grey levels; label : the class whose
    loss goes up (``toward`` False) or down (``toward`` True).  Returns (m, 784) grey levels: per row,
    the last iterate that met the goal (its prediction is not ``label`` / is ``label``), else the last.
    """
    m = len(eps)
    box = eps[:, None]
    lo, hi = np.maximum(levels0 - box, 0), np.minimum(levels0 + box, LEVELS)
    alpha = np.maximum(1, np.rint(2.5 * eps / iterations))[:, None]
    x = np.repeat(levels0[None, :], m, axis=0)
    best = x.copy()
    met = np.zeros(m, dtype=bool)
    sign = -1.0 if toward else 1.0
    for _ in range(iterations):
        g = subject.network.input_gradient(subject.rows(x / LEVELS), label, of="loss")
        x = np.clip(x + sign * alpha * np.sign(g), lo, hi)
        hit = _meets(subject, x, label, toward)
        best[hit] = x[hit]
        met |= hit
    best[~met] = x[~met]
    return best


def _meets(subject: Subject, levels: np.ndarray, label: int, toward: bool) -> np.ndarray:
    predicted = subject.predictions(levels / LEVELS)
    return predicted == label if toward else predicted != label


def smallest_flip(subject: Subject, x: np.ndarray, target: int | None = None,
                  settings: AttackSettings | None = None) -> Attack:
    """The smallest eps (in grey levels) at which iterative FGSM changes the network's answer for x
    (to ``target`` when given), with the perturbed picture and the network's answers along the way.

    x : (784,) or (28, 28) in [0, 1], ink bright on black.  Raises ``SettingsError`` for a target that
    is not a class, or that is already the answer.
    """
    settings = settings or AttackSettings()
    with blas_threads.limit(1):      # a few dozen rows: a second thread only waits for the first
        levels0 = on_grid(np.asarray(x).reshape(-1))
        p0 = subject.probabilities(levels0 / LEVELS)[0]
        answer = int(np.argmax(p0))
        n_classes = len(p0)
        if target is not None:
            if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or not 0 <= target < n_classes:
                raise SettingsError([{"field": "target", "message": f"must be a digit 0 to {n_classes - 1}, "
                                                                     f"got {target!r}"}])
            if target == answer:
                raise SettingsError([{"field": "target", "message": f"the network already answers {answer}; "
                                                                     "choose another digit"}])
        label, toward = (int(target), True) if target is not None else (answer, False)
        top = max(1, int(round(settings.max_epsilon * LEVELS)))
        tried: dict[int, np.ndarray] = {}

        def attack(eps_levels):
            eps_levels = [e for e in eps_levels if e not in tried]
            if eps_levels:
                rows = iterative_fgsm(subject, levels0, label, np.asarray(eps_levels, dtype=np.float64),
                                      settings.iterations, toward)
                tried.update(zip(eps_levels, rows))

        attack(sorted({e for e in COARSE if e < top} | {top}))
        met = {e for e, row in tried.items() if _meets(subject, row[None], label, toward)[0]}
        if met:
            first = min(met)
            below = max((e for e in tried if e < first), default=0)
            attack(range(below + 1, first))
            met |= {e for e in range(below + 1, first) if _meets(subject, tried[e][None], label, toward)[0]}
        ladder = sorted(tried)
        probabilities = subject.probabilities(np.stack([tried[e] for e in ladder]) / LEVELS)
    chosen = min(met) if met else top
    row = ladder.index(chosen)
    perturbed = tried[chosen]
    curve = [{"epsilon": e / LEVELS, "probabilities": p, "prediction": int(np.argmax(p))}
             for e, p in zip(ladder, probabilities)]
    return Attack(levels0 / LEVELS, answer, p0, float(np.max(np.abs(perturbed - levels0))) / LEVELS,
                  perturbed / LEVELS, int(np.argmax(probabilities[row])), probabilities[row], bool(met),
                  None if target is None else int(target), settings, curve)
