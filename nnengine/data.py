"""MNIST data: the bundled 5,000-image pool, train/validation/test splits, and a full-MNIST IDX loader.

- ``load_pool()`` reads ``nnengine/data/mnist_5k.npz`` (real MNIST, 500 images per digit; provenance and
  licence in ``nnengine/data/README.md``).
- ``split(x, t, rng, train_size, validation_size, test_size)`` draws disjoint subsets with a single
  ``rng.permutation`` and scales pixels to float32 in [0, 1].
- ``load_mnist_idx(path)`` parses an IDX file (``.gz`` or plain); ``fetch_full_mnist()`` downloads the four
  standard MNIST files once, verifies their checksums and returns the 60,000 + 10,000 images.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

__all__ = [
    "POOL_SIZE", "Splits", "load_pool", "split", "load_mnist_idx", "fetch_full_mnist",
    "MNIST_FILES", "DEFAULT_MNIST_URL", "ChecksumError",
]

log = logging.getLogger(__name__)

POOL_RESOURCE = "data/mnist_5k.npz"
POOL_SIZE = 5000
N_PIXELS = 784


# --------------------------------------------------------------------------------------------------
# The bundled pool


def load_pool() -> tuple[np.ndarray, np.ndarray]:
    """Load the bundled MNIST pool.

    Returns
    -------
    x : ndarray of shape (5000, 784), uint8
        Pixel intensities 0..255; each row is a 28x28 image in row-major order.
    t : ndarray of shape (5000,), uint8
        Digit labels 0..9 (500 of each, rows sorted by label).

    Nothing is cached: every call reads the file (bench/MEASUREMENTS.md) and returns fresh arrays.
    """
    resource = resources.files(__package__).joinpath(POOL_RESOURCE)
    try:
        with resource.open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
            x, t = npz["x"], npz["t"]
    except FileNotFoundError:
        raise FileNotFoundError(
            f"the bundled MNIST pool {POOL_RESOURCE} is missing from the nnengine package; "
            "regenerate it with scripts/build_mnist_pool.py") from None
    except (ValueError, KeyError, OSError) as exc:  # e.g. a Git LFS pointer or a damaged file
        raise ValueError(f"the bundled MNIST pool {POOL_RESOURCE} cannot be read ({exc}); "
                         "regenerate it with scripts/build_mnist_pool.py") from exc
    if x.dtype != np.uint8 or x.shape != (POOL_SIZE, N_PIXELS) or t.dtype != np.uint8 or t.shape != (POOL_SIZE,):
        raise ValueError(f"the bundled MNIST pool has x {x.dtype}{x.shape}, t {t.dtype}{t.shape}; "
                         f"expected x uint8({POOL_SIZE}, {N_PIXELS}), t uint8({POOL_SIZE},)")
    return x, t


# --------------------------------------------------------------------------------------------------
# Splits


@dataclass(frozen=True)
class Splits:
    """Train / validation / test sets.

    x_* : ndarray of shape (n_*, 784), float32 in [0, 1]
    t_* : ndarray of shape (n_*,), int64 labels
    The validation and test sets may have 0 rows.
    """

    x_train: np.ndarray
    t_train: np.ndarray
    x_val: np.ndarray
    t_val: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray

    @property
    def n_train(self) -> int:
        return len(self.t_train)

    @property
    def n_val(self) -> int:
        return len(self.t_val)

    @property
    def n_test(self) -> int:
        return len(self.t_test)

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]


def _check_size(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def split(x: np.ndarray, t: np.ndarray, rng: np.random.Generator, train_size: int,
          validation_size: int = 0, test_size: int | None = None) -> Splits:
    """Draw disjoint train / validation / test sets from a pool.

    Parameters
    ----------
    x : ndarray of shape (n, d), uint8 pixel values 0..255
    t : ndarray of shape (n,), integer labels
    rng : numpy.random.Generator
        Used exactly once: ``order = rng.permutation(n)``. The first ``train_size`` indices of ``order``
        form the training set, the next ``validation_size`` the validation set, the next ``test_size``
        the test set (``None``: all the remaining samples).
    train_size : int >= 1
    validation_size : int >= 0
    test_size : int >= 0 or None

    Returns
    -------
    Splits with x as float32 ``x / 255`` (computed in float32) and labels as int64.

    Raises ValueError (before drawing from ``rng``) if the sizes are invalid or exceed the pool.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    x = np.asarray(x)
    t = np.asarray(t)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (n, d), got {x.shape}")
    if x.dtype != np.uint8:
        raise ValueError(f"x must hold uint8 pixel values 0..255, got dtype {x.dtype}")
    if t.shape != (len(x),):
        raise ValueError(f"t must have shape ({len(x)},) to match x, got {t.shape}")
    if not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"t must hold integer labels, got dtype {t.dtype}")
    n = len(x)
    train_size = _check_size("train_size", train_size, 1)
    validation_size = _check_size("validation_size", validation_size, 0)
    used = train_size + validation_size
    if used > n:
        raise ValueError(f"train_size ({train_size}) + validation_size ({validation_size}) = {used} "
                         f"exceeds the pool of {n} samples")
    if test_size is None:
        test_size = n - used
    else:
        test_size = _check_size("test_size", test_size, 0)
        if used + test_size > n:
            raise ValueError(f"train_size ({train_size}) + validation_size ({validation_size}) + test_size "
                             f"({test_size}) = {used + test_size} exceeds the pool of {n} samples")

    order = rng.permutation(n)
    parts = np.split(order[:used + test_size], [train_size, used])

    def take(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x[idx].astype(np.float32) / np.float32(255), t[idx].astype(np.int64)

    (x_train, t_train), (x_val, t_val), (x_test, t_test) = (take(idx) for idx in parts)
    return Splits(x_train, t_train, x_val, t_val, x_test, t_test)


# --------------------------------------------------------------------------------------------------
# IDX files (the format of the original MNIST distribution)

# IDX type code -> big-endian numpy dtype
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _parse_idx(data: bytes, name: str) -> np.ndarray:
    if len(data) < 4:
        raise ValueError(f"{name}: not an IDX file (only {len(data)} bytes, need a 4-byte magic number)")
    if data[0] != 0 or data[1] != 0:
        hint = " (it looks gzip-compressed; give it a .gz name)" if data[:2] == b"\x1f\x8b" else ""
        raise ValueError(f"{name}: bad magic number 0x{data[:4].hex()}; an IDX file starts with two "
                         f"zero bytes{hint}")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
        raise ValueError(f"{name}: unknown IDX data type code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise ValueError(f"{name}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{name}: truncated IDX header ({len(data)} bytes, need {header} for {ndim} dims)")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise ValueError(f"{name}: IDX file {what}: shape {shape} of {dtype.name} needs {expected} bytes, "
                         f"file has {len(data)}")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # native byte order, writable copy


def load_mnist_idx(path: str | os.PathLike) -> np.ndarray:
    """Parse an IDX file (gzip-compressed if its name ends with ``.gz``).

    Returns an ndarray with the file's shape (e.g. (60000, 28, 28) for MNIST images, (60000,) for labels)
    and dtype (uint8 for type code 0x08; int8, int16, int32, float32, float64 for 0x09, 0x0B-0x0E), in
    native byte order. Raises ValueError on a bad magic number, an unknown type code, or a truncated file.
    """
    path = Path(path)
    name = str(path)
    if path.name.endswith(".gz"):
        try:
            with gzip.open(path, "rb") as fh:
                data = fh.read()
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise ValueError(f"{name}: corrupt or truncated gzip data ({exc})") from exc
    else:
        data = path.read_bytes()
    return _parse_idx(data, name)


# --------------------------------------------------------------------------------------------------
# Full MNIST download

DEFAULT_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"

# The four files of the original MNIST distribution: byte size, SHA-256, and the MD5 that torchvision
# publishes for the same files. fetch_full_mnist verifies every hash listed for a file (and the size).
MNIST_FILES: dict[str, dict[str, object]] = {
    "train-images-idx3-ubyte.gz": {
        "size": 9912422,
        "sha256": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "md5": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    },
    "train-labels-idx1-ubyte.gz": {
        "size": 28881,
        "sha256": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "md5": "d53e105ee54ea40749a09fcbcd1e9432",
    },
    "t10k-images-idx3-ubyte.gz": {
        "size": 1648877,
        "sha256": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "md5": "9fb629c4189551a2d022fa330f9573f3",
    },
    "t10k-labels-idx1-ubyte.gz": {
        "size": 4542,
        "sha256": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        "md5": "ec29112dd5afa0611ce80d1b7f02629c",
    },
}
_MNIST_ROLES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
_CHUNK = 1 << 16


class ChecksumError(ValueError):
    """A downloaded or cached file does not have the expected size or checksum."""


def default_cache_dir() -> Path:
    """``~/.cache/nnengine/mnist``."""
    return Path.home() / ".cache" / "nnengine" / "mnist"


def _digests(path: Path) -> dict[str, object]:
    sha256, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            sha256.update(chunk)
            md5.update(chunk)
            size += len(chunk)
    return {"size": size, "sha256": sha256.hexdigest(), "md5": md5.hexdigest()}


def _mismatches(path: Path, expected: Mapping[str, object]) -> list[str]:
    actual = _digests(path)
    return [f"{key} {actual[key]} (expected {expected[key]})"
            for key in ("size", "sha256", "md5") if key in expected and actual[key] != expected[key]]


def _download(url: str, dest: Path, expected: Mapping[str, object], opener: Callable, timeout: float) -> None:
    """Download ``url`` to ``dest`` through a temporary file; only a verified file gets the final name."""
    limit = expected.get("size")
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = opener(url, timeout=timeout)
            except (OSError, ValueError) as exc:
                raise ConnectionError(f"could not download {url}: {exc}") from exc
            with response:
                written = 0
                while True:
                    try:
                        chunk = response.read(_CHUNK)
                    except (OSError, ValueError) as exc:
                        raise ConnectionError(f"could not download {url}: {exc}") from exc
                    if not chunk:
                        break
                    written += len(chunk)
                    if limit is not None and written > limit:
                        raise ChecksumError(f"{url}: download is larger than the expected {limit} bytes; "
                                            "the file was not kept")
                    out.write(chunk)
        bad = _mismatches(tmp, expected)
        if bad:
            raise ChecksumError(f"{url}: checksum mismatch: " + "; ".join(bad)
                                + " - the file was not kept; check the base URL or try again")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def fetch_full_mnist(cache_dir: str | os.PathLike | None = None, *, base_url: str | None = None,
                     opener: Callable | None = None, files: Mapping[str, Mapping[str, object]] | None = None,
                     timeout: float = 60.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Download (once) and load the full MNIST training and test sets.

    Parameters
    ----------
    cache_dir : directory for the four ``.gz`` files (default ``~/.cache/nnengine/mnist``).
    base_url : where the files are fetched from (``base_url + file name``); default ``$NNENGINE_MNIST_URL``
        or ``DEFAULT_MNIST_URL`` (the ossci-datasets S3 mirror that torchvision uses).
    opener : ``opener(url, timeout=...)`` -> a context manager with ``read(n)``; default
        ``urllib.request.urlopen``.
    files : file name -> expected ``{"size", "sha256", "md5"}`` (any subset); default ``MNIST_FILES``
        (sizes, SHA-256 and torchvision's MD5 of the original files; all listed hashes are checked).

    A cached file is verified before use and downloaded again if it does not match. A download that
    does not match raises ``ChecksumError`` and leaves nothing in the cache.

    Returns
    -------
    x_train : ndarray of shape (60000, 784), uint8
    t_train : ndarray of shape (60000,), uint8
    x_test : ndarray of shape (10000, 784), uint8
    t_test : ndarray of shape (10000,), uint8
    """
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    base = base_url or os.environ.get("NNENGINE_MNIST_URL") or DEFAULT_MNIST_URL
    if not base.endswith("/"):
        base += "/"
    opener = opener or urllib.request.urlopen
    table = MNIST_FILES if files is None else files
    missing = [name for name in _MNIST_ROLES if name not in table]
    if missing:
        raise ValueError(f"files has no checksums for {', '.join(missing)}")
    cache.mkdir(parents=True, exist_ok=True)

    arrays = []
    for name in _MNIST_ROLES:
        expected = table[name]
        if not any(key in expected for key in ("sha256", "md5")):
            raise ValueError(f"files[{name!r}] lists no sha256 or md5 checksum")
        path = cache / name
        if path.exists():
            bad = _mismatches(path, expected)
            if not bad:
                log.debug("using cached %s", path)
            else:
                log.warning("cached %s does not match (%s); downloading it again", path, "; ".join(bad))
                path.unlink()
        if not path.exists():
            log.info("downloading %s%s to %s", base, name, cache)
            _download(base + name, path, expected, opener, timeout)
        arrays.append(load_mnist_idx(path))

    x_train, t_train, x_test, t_test = arrays
    for images, labels, which in ((x_train, t_train, "train"), (x_test, t_test, "t10k")):
        if images.dtype != np.uint8 or images.ndim != 3 or labels.dtype != np.uint8 or labels.ndim != 1:
            raise ValueError(f"{which} files: expected uint8 images (n, rows, cols) and uint8 labels (n,), "
                             f"got {images.dtype}{images.shape} and {labels.dtype}{labels.shape}")
        if len(images) != len(labels):
            raise ValueError(f"{which} files: {len(images)} images but {len(labels)} labels")
    return (x_train.reshape(len(x_train), -1), t_train, x_test.reshape(len(x_test), -1), t_test)
