"""BLAS threads: how many threads each of NumPy's matrix products uses in this process.

Every run trains at the same time as others and as the request threads; a
multithreaded BLAS (OpenBLAS spins on every core) in each of them made training
about ten times slower on a 2-core machine and predictions take seconds
(bench/LOAD.md). NumPy is imported before a server can set OPENBLAS_NUM_THREADS,
so the limit is set through the library's own call.
"""

import ctypes
import glob
import os

import numpy as np

_BLAS_SETTERS = (
    "scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_", "openblas_set_num_threads",
    "MKL_Set_Num_Threads", "bli_thread_set_num_threads",
)
_BLAS_GETTERS = (
    "scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
    "openblas_get_num_threads64_", "openblas_get_num_threads", "MKL_Get_Max_Threads",
)


def _blas_libraries():
    """Paths of shared libraries that may be NumPy's BLAS (loaded ones first)."""
    paths = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.rsplit(None, 1)[-1] if "/" in line else ""
                name = os.path.basename(path).lower()
                if ("blas" in name or "mkl" in name or "blis" in name) and path not in paths:
                    paths.append(path)
    except OSError:
        pass  # not Linux
    site = os.path.dirname(os.path.dirname(np.__file__))
    for pattern in ("numpy.libs/*", "numpy/.dylibs/*"):
        paths += [p for p in glob.glob(os.path.join(site, pattern)) if p not in paths]
    return paths


def _blas_call(names, *args):
    for path in _blas_libraries():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name in names:
            function = getattr(library, name, None)
            if function is not None:
                function.restype = ctypes.c_int
                return f"{os.path.basename(path)} ({name})", function(*args)
    return None, None


def limit_blas_threads(threads):
    """Make NumPy's BLAS use `threads` threads per product from now on.

    Returns the library and function used, or None if none was found (then only
    the environment, for processes started later, is set).
    """
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    library, _ = _blas_call(_BLAS_SETTERS, ctypes.c_int(threads))
    return library


def blas_threads():
    """Threads per product NumPy's BLAS uses now, or None if it cannot be asked."""
    return _blas_call(_BLAS_GETTERS)[1]
