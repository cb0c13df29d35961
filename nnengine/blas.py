"""How many threads NumPy's BLAS uses for one matrix product, read and set through the library's C API.

NumPy reads ``OPENBLAS_NUM_THREADS`` only when it is imported, and a process (a server, a training
child) often has to change the count later, so the count is set through the BLAS library's own
call, found with ctypes among the libraries the process has loaded (OpenBLAS in its SciPy and plain
builds, MKL, BLIS).  Without such a library (another BLAS, another OS) nothing can be read or set:
``available`` is False, ``limit`` does nothing and ``set`` only sets the environment.

- ``blas_threads.limit(n)``: at most n threads inside a ``with`` block, for the engine's runs (the
  same numbers whatever the caller set; see ``nnengine.evaluation``);
- ``limit_blas_threads(n)``: n threads from now on in this process and the processes it starts (a
  server, a training child);
- ``single_threaded_env()``: processes spawned inside start with one thread (the search's workers).
"""
from __future__ import annotations

import ctypes
import glob
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

ENV_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

# (getter, setter) symbol pairs, in the order they are tried in each library.  BLIS has no getter
# of the same kind: it can be set, not limited.
_SYMBOLS = (
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
    ("MKL_Get_Max_Threads", "MKL_Set_Num_Threads"),
    (None, "bli_thread_set_num_threads"),
)


@dataclass(frozen=True)
class _Library:
    name: str                                # "<file> (<setter>)", for logs
    get: Callable[[], int] | None
    set: Callable[[int], None]


def _candidate_paths() -> list[str]:
    """Shared libraries that may be NumPy's BLAS: the loaded ones first, then NumPy's bundled ones."""
    paths: list[str] = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.rsplit(None, 1)[-1] if "/" in line else ""
                name = os.path.basename(path).lower()
                if ("blas" in name or "mkl" in name or "blis" in name) and path not in paths:
                    paths.append(path)
    except OSError:
        pass  # not Linux
    try:
        import numpy as np
        site = os.path.dirname(os.path.dirname(np.__file__))
        for pattern in ("numpy.libs/*", "numpy/.dylibs/*"):
            paths += [p for p in sorted(glob.glob(os.path.join(site, pattern))) if p not in paths]
    except ImportError:
        pass
    return paths


def _find_library() -> _Library | None:
    for path in _candidate_paths():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get_name, set_name in _SYMBOLS:
            put = getattr(lib, set_name, None)
            get = getattr(lib, get_name, None) if get_name else None
            if put is None or (get_name and get is None):
                continue
            put.restype, put.argtypes = None, [ctypes.c_int]
            if get is not None:
                get.restype, get.argtypes = ctypes.c_int, []
            return _Library(f"{os.path.basename(path)} ({set_name})", get, put)
    return None


class BlasThreads:
    """The thread count of the BLAS that NumPy uses.

    ``limit(n)`` caps it while any caller is inside (reference-counted, so concurrent runs in one
    process nest safely) and restores the previous count when the last one leaves.
    """

    def __init__(self, find: Callable[[], _Library | None] = _find_library):
        self._find = find
        self._lock = threading.Lock()
        self._users = 0
        self._saved: int | None = None
        self._limit: int | None = None
        self._library: _Library | None = None
        self._loaded = False

    def _load(self) -> _Library | None:
        with self._lock:
            if not self._loaded:
                self._library = self._find()
                self._loaded = True
        return self._library

    @property
    def available(self) -> bool:
        """Whether the count can be read (and so limited), not only set."""
        library = self._load()
        return library is not None and library.get is not None

    @property
    def library(self) -> str | None:
        """Which library and call set the count, or None if none was found."""
        library = self._load()
        return library.name if library else None

    def get(self) -> int | None:
        """Threads per product now, or None if the library cannot be asked."""
        return self._library.get() if self.available else None

    def set(self, n: int) -> str | None:
        """Use ``n`` threads per product from now on (inside a ``limit`` block: once the last caller
        leaves it).  Returns ``library``."""
        library = self._load()
        if library is None:
            return None
        with self._lock:
            if self._users:
                self._saved = n
                n = min(n, self._limit)
            library.set(n)
        return library.name

    def cores(self) -> int:
        """Cores this process may use, capped by BLAS's own thread count (which honours
        OPENBLAS_NUM_THREADS / OMP_NUM_THREADS)."""
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        available = self.available
        with self._lock:
            blas = self._saved if self._users else (self._library.get() if available else None)
        return max(1, min(cores, blas or 1))

    @contextmanager
    def limit(self, n: int) -> Iterator[None]:
        """At most ``n`` BLAS threads inside (every caller asks for the same n)."""
        if not self.available:
            yield
            return
        library = self._library
        with self._lock:
            if self._users == 0:
                self._saved, self._limit = library.get(), n
                if self._saved > n:
                    library.set(n)
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0 and self._saved is not None and library.get() != self._saved:
                    library.set(self._saved)


# The count belongs to the process's one BLAS library, so there is one controller per process.
blas_threads = BlasThreads()


def limit_blas_threads(threads: int) -> str | None:
    """Make NumPy's BLAS use ``threads`` threads per product from now on, in this process and the
    processes it starts (through the environment).

    Returns the library and function used, or None if none was found (then only the environment, for
    processes started later, is set).
    """
    for var in ENV_VARS:
        os.environ[var] = str(threads)
    return blas_threads.set(threads)


@contextmanager
def single_threaded_env() -> Iterator[None]:
    """Processes spawned inside load NumPy with one BLAS thread (the environment is restored after)."""
    saved = {name: os.environ.get(name) for name in ENV_VARS}
    os.environ.update({name: "1" for name in ENV_VARS})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
