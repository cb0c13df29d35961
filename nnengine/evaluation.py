"""Loss and accuracy in evaluation mode, fast: one pass of large matrix products over many rows, on
work arrays that are kept, optionally on replicas of the network in background threads.

- ``score_rows`` / ``evaluate_rows``: per-row losses and hits of a network, chunk by chunk;
- ``StackedEvaluation``: several sets (train, test, validation) stacked once and evaluated every
  epoch, in fixed row blocks so that the numbers never depend on the number of threads.
"""
from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable

import numpy as np

from .activations import ACTIVATIONS
from .blas import blas_threads
from .conv import Conv2D, Flatten, MaxPool2D, Reshape, SpatialBatchNorm
from .layers import Affine, BatchNorm, Dropout
from .maxout import Maxout
from .scratch import Scratch

if TYPE_CHECKING:
    from .network import Network

# Numbers a conv network's evaluation may unfold (im2col) at once: bounds the rows of its chunks.
EVAL_UNFOLD = 4_000_000


def rows_per_chunk(unfolded_per_row: int) -> int:
    """The most rows one evaluation chunk may hold when each row unfolds into that many numbers."""
    return max(1, EVAL_UNFOLD // max(1, unfolded_per_row))


def loss_dtype(network: Network, x: np.ndarray) -> np.dtype:
    """The dtype per-row losses are computed in: that of x and the parameters (float64 if any is not
    a float)."""
    dtypes = [x.dtype] + [v.dtype for v in network.params.values()]
    return np.result_type(*dtypes) if all(d.kind == "f" for d in dtypes) else np.dtype(np.float64)


def score_rows(network: Network, x: np.ndarray, t: np.ndarray, losses: np.ndarray, correct: np.ndarray,
               scratch: Scratch | None = None, columns: np.ndarray | None = None) -> None:
    """Evaluation mode, per row: the data loss into ``losses`` (n,) and whether the class with the
    highest score (the first one on a tie) is ``t`` into ``correct`` (n,) bool.

    x : ndarray of shape (n, d) (only the features ``columns`` when given, see ``Network.infer``);
    t : integer labels of shape (n,).
    """
    scores = network.infer(x, scratch, columns)
    losses[...] = network.loss_fn.per_sample(scores, t)
    np.equal(scores.argmax(axis=1), t, out=correct)


def evaluate_rows(network: Network, x: np.ndarray, t: np.ndarray, segments: list[tuple[int, int]],
                  chunk: int = 8192, scratch: Scratch | None = None) -> list[tuple[float, float]]:
    """Mean data loss and accuracy of each row range ``(start, stop)`` of x, from one evaluation-mode
    pass over all the rows (in chunks of ``chunk`` rows, at most the network's ``chunk_rows``).

    x : ndarray of shape (n, d); t : integer labels of shape (n,); the segments must be non-empty.
    Keeps no state in the layers or the loss (a pending ``backward`` is not disturbed); ``scratch``
    holds the work arrays, so repeated calls allocate nothing large.
    """
    scratch = scratch if scratch is not None else Scratch()
    chunk = min(chunk, network.chunk_rows or chunk)
    n = len(x)
    losses, correct = np.empty(n, dtype=loss_dtype(network, x)), np.empty(n, dtype=bool)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        score_rows(network, x[start:stop], t[start:stop], losses[start:stop], correct[start:stop], scratch)
    return segment_means(losses, correct, segments)


def segment_means(losses: np.ndarray, correct: np.ndarray, segments) -> list[tuple[float, float]]:
    """(mean loss, accuracy) of each row range of the per-row results."""
    return [(float(losses[a:b].sum()) / (b - a), int(np.count_nonzero(correct[a:b])) / (b - a))
            for a, b in segments]


class StackedEvaluation:
    """Loss and accuracy of several (x, t) sets in evaluation mode, over their rows stacked once.

    sets : list of (x (n_i, d), t (n_i,)); empty sets are allowed (their results are NaN).

    Each evaluation is one pass of large matrix products over all the rows instead of one pass per set,
    and allocates nothing large (work arrays are kept).  Input features that are zero in every stacked
    row add nothing to the first affine map; when the first layer is an ``Affine`` they are left out of
    its product (``Network.infer(columns=...)``).

    The stacked rows are cut into ``blocks`` blocks of a multiple of 128 rows (at most ``chunk``, or
    the network's ``chunk_rows``), one product per layer each: ``self.chunk`` rows, the last one
    shorter.  A row's numbers depend on the product it is part of: OpenBLAS works through a product
    in tiles of rows and does not add up every row of a tile, nor the rows of a short last tile, in the
    same order, so a row in another product, or at another offset in it, can come out different in its
    last bits.  The blocks depend only on the row count and the network, never on ``workers``, so the
    numbers are the same for any number of workers, on every call.  Every product runs with one BLAS
    thread (see ``blas_threads``): ``__call__`` limits it, and a caller of ``start()`` holds
    ``blas_threads.limit(1)`` (the trainer does).

    With ``workers`` > 1 (default: the cores BLAS may use; at least ``min_rows_per_worker`` rows each)
    the blocks are shared out in that many contiguous runs, each evaluated by its own thread on its own
    replica of the network (NumPy releases the GIL in its loops and matrix products): the element-wise
    steps run in parallel too and each block's activations stay in one core's cache.  ``start()``
    copies the network's state into the replicas and returns at once, so the caller may go on changing
    the network (training the next epoch) while the evaluation runs.  Replicas need layers whose
    evaluation reads only their params and batch-norm statistics (``REPLICABLE``); with any other layer
    there is one worker.

    ``views(i)`` gives set i's (x, t) in ``dtype`` with all of its features, for training.
    Call ``close()`` (or use it as a context manager) to stop the worker threads.
    """

    min_rows_per_worker = 1000   # below that a second thread costs more than it saves
    # Few blocks, as each product is one more call into NumPy for every worker thread (bench/MEASUREMENTS.md),
    # enough to share out evenly between two workers (5,000 rows: 2,560 / 2,440).  Changing it changes
    # the last bits of the records.
    blocks = 4

    def __init__(self, network: Network, sets: list[tuple[np.ndarray, np.ndarray]], dtype=None,
                 chunk: int = 8192, workers: int | None = None):
        self.network = network
        dtype = np.dtype(dtype) if dtype is not None else np.result_type(*(x.dtype for x, _ in sets))
        self.sets = [(np.asarray(x, dtype=dtype), np.asarray(t)) for x, t in sets]
        self.t = np.concatenate([t for _, t in self.sets], axis=0)
        stops = np.cumsum([len(x) for x, _ in sets]).tolist()
        self.bounds = list(zip([0] + stops[:-1], stops))
        self.segments = [(a, b) for a, b in self.bounds if b > a]
        self.columns = self._active_columns(network)
        self.x = self._stack(dtype)

        n = len(self.x)
        share = -(-n // self.blocks)
        self.chunk = max(1, min(chunk, network.chunk_rows or chunk, -(-share // 128) * 128))
        self.losses = np.empty(n, dtype=loss_dtype(network, self.x))
        self.correct = np.empty(n, dtype=bool)
        workers = blas_threads.cores() if workers is None else workers
        workers = max(1, min(workers, n // self.min_rows_per_worker))
        if not blas_threads.available or not REPLICABLE.issuperset(map(type, network.layers)):
            workers = 1
        cuts = self._cuts(n, workers)
        workers = len(cuts) - 1
        self.pool = None
        if workers > 1:
            self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nnengine-eval")
            replicas = [copy.deepcopy(network) for _ in range(workers)]
        else:
            replicas = [network]
        self.parts = [(a, b, Scratch(), replica) for a, b, replica in zip(cuts[:-1], cuts[1:], replicas)]

    def _cuts(self, n: int, workers: int) -> list[int]:
        """Where the workers' runs of blocks start and end: block boundaries, nearest to an even
        share of the rows (at most ``workers`` runs, none empty; [0, n] for one)."""
        blocks = -(-n // self.chunk)
        if workers <= 1 or blocks <= 1:
            return [0, n]
        inner = {min(n, self.chunk * round(n * k / workers / self.chunk)) for k in range(1, workers)}
        return [0, *sorted(inner - {0, n}), n]

    def _active_columns(self, network: Network) -> np.ndarray | None:
        """Indices of the features that are non-zero in some row, if the first layer is an ``Affine``
        and some feature is zero in every row; else None."""
        parts = [x for x, _ in self.sets if len(x)]
        if not parts or not network.layers or not isinstance(network.layers[0], Affine):
            return None
        used = np.zeros(parts[0].shape[1], dtype=bool)
        for x in parts:
            used |= x.any(axis=0)
        active = np.flatnonzero(used)
        return active if len(active) < len(used) else None

    def _stack(self, dtype) -> np.ndarray:
        """The rows of every set, one after another, with only ``self.columns`` when given: written
        once into one new array (a training process builds it before its first epoch, and every
        fresh megabyte costs page faults there)."""
        parts = [x for x, _ in self.sets]
        if self.columns is None:
            return np.concatenate(parts, axis=0)
        stacked = np.empty((sum(len(x) for x in parts), len(self.columns)), dtype=dtype)
        start = 0
        for x in parts:
            np.take(x, self.columns, axis=1, out=stacked[start:start + len(x)])
            start += len(x)
        return stacked

    def views(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.sets[i]

    @property
    def workers(self) -> int:
        return len(self.parts)

    @property
    def background(self) -> bool:
        """Whether ``start()`` returns before the evaluation is done (it evaluates replicas)."""
        return self.pool is not None

    def _run_part(self, part, errors: dict) -> None:
        a, b, scratch, network = part
        with np.errstate(**errors):                    # the caller's settings (threads start with defaults)
            for start in range(a, b, self.chunk):
                stop = min(start + self.chunk, b)
                score_rows(network, self.x[start:stop], self.t[start:stop], self.losses[start:stop],
                           self.correct[start:stop], scratch, self.columns)

    def start(self) -> Callable[[], list[tuple[float, float]]]:
        """Start evaluating the network as it is now; returns ``wait()``, which blocks until the
        evaluation is done and gives what ``__call__`` gives (``wait.done()`` says whether it is).
        Only one evaluation may be under way at a time."""
        errors = np.geterr()
        if self.pool is None or not self.segments:
            for part in self.parts if self.segments else []:
                self._run_part(part, errors)
            results = self._results()
            wait = lambda: results  # noqa: E731
            wait.done = lambda: True
            return wait
        for part in self.parts:
            copy_state(self.network, part[3])
        futures = [self.pool.submit(self._run_part, part, errors) for part in self.parts]

        def wait() -> list[tuple[float, float]]:
            for future in futures:
                future.result()
            return self._results()
        wait.done = lambda: all(future.done() for future in futures)
        return wait

    def restore(self) -> None:
        """Put the state of the last evaluation started back into the network."""
        if self.pool is not None:
            copy_state(self.parts[0][3], self.network)

    def __call__(self) -> list[tuple[float, float]]:
        """[(mean loss, accuracy)] per set, in the order given (NaN, NaN for an empty set)."""
        with blas_threads.limit(1):
            return self.start()()

    def _results(self) -> list[tuple[float, float]]:
        results = iter(segment_means(self.losses, self.correct, self.segments))
        nan = (float("nan"), float("nan"))
        return [next(results) if b > a else nan for a, b in self.bounds]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def copy_state(source: Network, target: Network) -> None:
    """Copy the parameters and batch-norm running statistics of ``source`` into the arrays of ``target``
    (a network of the same structure, e.g. a ``copy.deepcopy`` of it): everything evaluation reads."""
    for src, dst in zip(source.layers, target.layers):
        for key, value in src.params.items():
            np.copyto(dst.params[key], value)
        if isinstance(src, BatchNorm):
            np.copyto(dst.running_mean, src.running_mean)
            np.copyto(dst.running_var, src.running_var)


# Layers whose evaluation reads only their params and batch-norm statistics (what copy_state copies),
# besides constants fixed when they are built (batch norm's eps, dropout's test-time scale), which
# the replicas' deepcopy carries.
REPLICABLE = frozenset([Affine, BatchNorm, Dropout, Conv2D, MaxPool2D, SpatialBatchNorm, Reshape, Flatten,
                        Maxout, *ACTIVATIONS.values()])
