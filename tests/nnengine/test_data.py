"""Tests for nnengine.data: the bundled pool, split, the IDX parser and fetch_full_mnist (offline)."""

import gzip
import hashlib
import http.server
import io
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from nnengine import data
from nnengine.data import ChecksumError, Splits, fetch_full_mnist, load_mnist_idx, load_pool, split

POOL_PATH = Path(data.__file__).parent / "data" / "mnist_5k.npz"
# Recorded in nnengine/data/README.md.
POOL_FILE_SHA256 = "1251a1ebfccdbfa8ebbbc6e865d9ca0e82151d56421d2fed818ec81d3dab1f04"
POOL_CONTENT_SHA256 = "809ec085d551285cf9efad12c42a6aead98c62f96eb9936cc5b778870773e50d"


# ---------------------------------------------------------------------------------------------- pool


@pytest.fixture(scope="module")
def pool():
    return load_pool()


def test_pool_shape_dtype_and_labels(pool):
    x, t = pool
    assert x.dtype == np.uint8 and x.shape == (5000, 784)
    assert t.dtype == np.uint8 and t.shape == (5000,)
    assert set(np.unique(t).tolist()) == set(range(10))
    assert np.bincount(t, minlength=10).tolist() == [500] * 10


def test_pool_is_the_recorded_file(pool):
    x, t = pool
    assert POOL_PATH.stat().st_size < 1_000_000
    assert hashlib.sha256(POOL_PATH.read_bytes()).hexdigest() == POOL_FILE_SHA256
    assert hashlib.sha256(x.tobytes() + t.tobytes()).hexdigest() == POOL_CONTENT_SHA256


def test_pool_pixels_look_like_mnist(pool):
    x, t = pool
    assert x.min() == 0 and x.max() == 255
    mean = (x / 255.0).mean()
    assert 0.10 < mean < 0.15  # full MNIST: 0.1307
    nonzero = (x > 0).mean()
    assert 0.17 < nonzero < 0.21  # full MNIST: about 19 %
    images = x.reshape(-1, 28, 28)
    border = np.concatenate([images[:, :2, :].reshape(5000, -1), images[:, -2:, :].reshape(5000, -1),
                             images[:, :, :2].reshape(5000, -1), images[:, :, -2:].reshape(5000, -1)], axis=1)
    assert (border > 0).mean() < 0.01
    center = images[:, 8:20, 8:20]
    assert (center > 0).mean() > 0.4  # the ink is in the middle
    # every image has some ink, and the classes differ (a "1" has much less ink than a "0")
    ink = (x > 0).sum(axis=1)
    assert ink.min() > 20
    ink_per_class = np.array([ink[t == k].mean() for k in range(10)])
    assert ink_per_class.argmin() == 1 and ink_per_class[0] > 1.5 * ink_per_class[1]


def test_load_pool_returns_fresh_arrays():
    x1, t1 = load_pool()
    x1[:] = 0
    t1[:] = 0
    x2, t2 = load_pool()
    assert x2.max() == 255 and t2.max() == 9


# --------------------------------------------------------------------------------------------- split


def indexed_pool(n=1000, d=3):
    """x[i] encodes i in its first two bytes so every row is unique and identifiable."""
    idx = np.arange(n)
    x = np.zeros((n, d), dtype=np.uint8)
    x[:, 0] = idx // 256
    x[:, 1] = idx % 256
    t = (idx % 10).astype(np.uint8)
    return x, t


def row_ids(x_float):
    x = np.rint(x_float * 255).astype(np.int64)
    return x[:, 0] * 256 + x[:, 1]


def test_split_sizes_types_and_values(pool):
    x, t = pool
    s = split(x, t, np.random.default_rng(0), 300, 100, 200)
    assert isinstance(s, Splits)
    assert (s.n_train, s.n_val, s.n_test) == (300, 100, 200)
    assert s.n_features == 784
    for xs, ts, n in ((s.x_train, s.t_train, 300), (s.x_val, s.t_val, 100), (s.x_test, s.t_test, 200)):
        assert xs.dtype == np.float32 and xs.shape == (n, 784)
        assert ts.dtype == np.int64 and ts.shape == (n,)
        assert xs.min() >= 0.0 and xs.max() <= 1.0
    order = np.random.default_rng(0).permutation(5000)
    np.testing.assert_array_equal(s.x_train, x[order[:300]].astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(s.t_train, t[order[:300]])
    np.testing.assert_array_equal(s.t_val, t[order[300:400]])
    np.testing.assert_array_equal(s.t_test, t[order[400:600]])


def test_split_uses_one_permutation_call():
    x, t = indexed_pool()
    rng = np.random.default_rng(7)
    s = split(x, t, rng, 50, 20, 30)
    ref = np.random.default_rng(7)
    order = ref.permutation(len(x))
    np.testing.assert_array_equal(row_ids(s.x_train), order[:50])
    np.testing.assert_array_equal(row_ids(s.x_val), order[50:70])
    np.testing.assert_array_equal(row_ids(s.x_test), order[70:100])
    assert rng.bit_generator.state == ref.bit_generator.state


def test_split_disjoint_and_rest():
    x, t = indexed_pool()
    s = split(x, t, np.random.default_rng(1), 300, 200)
    assert (s.n_train, s.n_val, s.n_test) == (300, 200, 500)
    ids = np.concatenate([row_ids(s.x_train), row_ids(s.x_val), row_ids(s.x_test)])
    assert len(ids) == len(np.unique(ids)) == 1000  # disjoint, and test_size=None takes all the rest
    np.testing.assert_array_equal(s.t_train, row_ids(s.x_train) % 10)


def test_split_explicit_test_size_leaves_rest_unused():
    x, t = indexed_pool()
    s = split(x, t, np.random.default_rng(1), 100, 0, 50)
    assert (s.n_train, s.n_val, s.n_test) == (100, 0, 50)
    assert len(np.intersect1d(row_ids(s.x_train), row_ids(s.x_test))) == 0


def test_split_empty_validation_and_test(pool):
    x, t = pool
    s = split(x, t, np.random.default_rng(0), 5000)
    assert s.n_val == 0 and s.n_test == 0
    assert s.x_val.shape == (0, 784) and s.x_val.dtype == np.float32 and s.t_val.dtype == np.int64
    assert s.x_test.shape == (0, 784) and s.t_test.shape == (0,)
    assert np.bincount(s.t_train).tolist() == [500] * 10


def test_split_deterministic_per_seed(pool):
    x, t = pool
    a = split(x, t, np.random.default_rng(42), 300, 50)
    b = split(x, t, np.random.default_rng(42), 300, 50)
    c = split(x, t, np.random.default_rng(43), 300, 50)
    for field in ("x_train", "t_train", "x_val", "t_val", "x_test", "t_test"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.t_train, c.t_train)
    assert not np.array_equal(a.x_train, c.x_train)


@pytest.mark.parametrize("sizes, match", [
    ((5001,), "exceeds the pool of 5000"),
    ((4000, 1001), "exceeds the pool of 5000"),
    ((4000, 500, 501), "exceeds the pool of 5000"),
    ((0,), "train_size must be at least 1"),
    ((100, -1), "validation_size must be at least 0"),
    ((100, 0, -5), "test_size must be at least 0"),
    ((100.0,), "train_size must be an integer"),
    ((True,), "train_size must be an integer"),
])
def test_split_rejects_bad_sizes(pool, sizes, match):
    x, t = pool
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    with pytest.raises(ValueError, match=match):
        split(x, t, rng, *sizes)
    assert rng.bit_generator.state == before  # nothing drawn


def test_split_rejects_bad_inputs(pool):
    x, t = pool
    with pytest.raises(ValueError, match="Generator"):
        split(x, t, np.random.RandomState(0), 10)
    with pytest.raises(ValueError, match="uint8"):
        split(x / 255.0, t, np.random.default_rng(0), 10)
    with pytest.raises(ValueError, match="shape"):
        split(x, t[:10], np.random.default_rng(0), 10)


# ----------------------------------------------------------------------------------------------- IDX


def idx_bytes(array, code=0x08):
    array = np.asarray(array)
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path, payload):
    path = Path(path)
    path.write_bytes(gzip.compress(payload) if path.name.endswith(".gz") else payload)
    return path


@pytest.fixture
def images_and_labels():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=7, dtype=np.uint8)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_ubyte_images_and_labels(tmp_path, images_and_labels, suffix):
    images, labels = images_and_labels
    got_x = load_mnist_idx(write(tmp_path / f"imgs-idx3-ubyte{suffix}", idx_bytes(images)))
    got_t = load_mnist_idx(str(write(tmp_path / f"lbls-idx1-ubyte{suffix}", idx_bytes(labels))))
    assert got_x.dtype == np.uint8 and got_x.shape == (7, 28, 28)
    assert got_t.dtype == np.uint8 and got_t.shape == (7,)
    np.testing.assert_array_equal(got_x, images)
    np.testing.assert_array_equal(got_t, labels)
    got_x[0, 0, 0] = 1  # writable


@pytest.mark.parametrize("code, dtype", [(0x09, np.int8), (0x0B, np.int16), (0x0C, np.int32),
                                         (0x0D, np.float32), (0x0E, np.float64)])
def test_idx_other_types_big_endian(tmp_path, code, dtype):
    values = (np.arange(24).reshape(2, 3, 4) * 5 - 50).astype(dtype)
    got = load_mnist_idx(write(tmp_path / "v.idx", idx_bytes(values, code)))
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, values)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_truncated_data(tmp_path, images_and_labels, suffix):
    images, _ = images_and_labels
    path = write(tmp_path / f"imgs{suffix}", idx_bytes(images)[:-100])
    with pytest.raises(ValueError, match="truncated"):
        load_mnist_idx(path)


def test_idx_truncated_header_and_trailing_bytes(tmp_path, images_and_labels):
    images, _ = images_and_labels
    with pytest.raises(ValueError, match="truncated IDX header"):
        load_mnist_idx(write(tmp_path / "a", idx_bytes(images)[:9]))
    with pytest.raises(ValueError, match="magic number"):
        load_mnist_idx(write(tmp_path / "b", b"\x00\x00"))
    with pytest.raises(ValueError, match="trailing bytes"):
        load_mnist_idx(write(tmp_path / "c", idx_bytes(images) + b"\x00"))


def test_idx_truncated_gzip_stream(tmp_path, images_and_labels):
    images, _ = images_and_labels
    path = tmp_path / "imgs.gz"
    path.write_bytes(gzip.compress(idx_bytes(images))[:-30])
    with pytest.raises(ValueError, match="gzip"):
        load_mnist_idx(path)
    path.write_bytes(b"this is not gzip at all")
    with pytest.raises(ValueError, match="gzip"):
        load_mnist_idx(path)


def test_idx_bad_magic_and_type(tmp_path, images_and_labels):
    images, _ = images_and_labels
    good = idx_bytes(images)
    with pytest.raises(ValueError, match="bad magic number 0x01000803"):
        load_mnist_idx(write(tmp_path / "m", b"\x01" + good[1:]))
    with pytest.raises(ValueError, match="unknown IDX data type code 0x07"):
        load_mnist_idx(write(tmp_path / "c", good[:2] + b"\x07" + good[3:]))
    with pytest.raises(ValueError, match="0 dimensions"):
        load_mnist_idx(write(tmp_path / "z", b"\x00\x00\x08\x00"))
    # a gzip file without a .gz name: bad magic, with a hint
    (tmp_path / "g").write_bytes(gzip.compress(good))
    with pytest.raises(ValueError, match="gzip"):
        load_mnist_idx(tmp_path / "g")


# -------------------------------------------------------------------------------------- fetch_full_mnist


def fake_mnist_files(n_train=12, n_test=5, seed=0):
    """The four MNIST file names -> gzipped IDX bytes of small fake data, plus the arrays."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    blobs = {name: gzip.compress(idx_bytes(a), mtime=0) for name, a in arrays.items()}
    return blobs, arrays


def checksums(blobs, md5=False):
    table = {}
    for name, blob in blobs.items():
        table[name] = {"size": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}
        if md5:
            table[name]["md5"] = hashlib.md5(blob).hexdigest()
    return table


class FakeOpener:
    def __init__(self, blobs, base="https://example.test/mnist/"):
        self.blobs, self.base, self.calls = blobs, base, []

    def __call__(self, url, timeout=None):
        self.calls.append(url)
        assert url.startswith(self.base) and timeout is not None
        name = url[len(self.base):]
        if name not in self.blobs:
            raise OSError(f"HTTP Error 404: {name}")
        return io.BytesIO(self.blobs[name])


def check_result(result, arrays):
    x_train, t_train, x_test, t_test = result
    assert x_train.dtype == np.uint8 and x_train.shape == (12, 784)
    assert x_test.dtype == np.uint8 and x_test.shape == (5, 784)
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte.gz"].reshape(12, 784))
    np.testing.assert_array_equal(t_train, arrays["train-labels-idx1-ubyte.gz"])
    np.testing.assert_array_equal(x_test, arrays["t10k-images-idx3-ubyte.gz"].reshape(5, 784))
    np.testing.assert_array_equal(t_test, arrays["t10k-labels-idx1-ubyte.gz"])


def test_fetch_downloads_once_and_verifies(tmp_path):
    blobs, arrays = fake_mnist_files()
    opener = FakeOpener(blobs)
    kwargs = dict(base_url="https://example.test/mnist", opener=opener, files=checksums(blobs, md5=True))
    check_result(fetch_full_mnist(tmp_path / "cache", **kwargs), arrays)
    assert len(opener.calls) == 4
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(blobs)
    check_result(fetch_full_mnist(tmp_path / "cache", **kwargs), arrays)
    assert len(opener.calls) == 4  # served from the cache


def test_fetch_checksum_mismatch_leaves_nothing(tmp_path):
    blobs, _ = fake_mnist_files()
    table = checksums(blobs)
    tampered = dict(blobs)
    tampered["train-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(np.zeros(12, np.uint8)), mtime=0)
    table["train-labels-idx1-ubyte.gz"]["size"] = len(tampered["train-labels-idx1-ubyte.gz"])
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError, match="train-labels-idx1-ubyte.gz.*checksum mismatch: sha256"):
        fetch_full_mnist(cache, base_url="https://example.test/mnist/", opener=FakeOpener(tampered), files=table)
    names = sorted(p.name for p in cache.iterdir())
    assert names == ["train-images-idx3-ubyte.gz"]  # the verified one stays; no partial or corrupt file


def test_fetch_md5_mismatch(tmp_path):
    blobs, _ = fake_mnist_files()
    table = checksums(blobs, md5=True)
    table["t10k-images-idx3-ubyte.gz"]["md5"] = "0" * 32
    with pytest.raises(ChecksumError, match="md5"):
        fetch_full_mnist(tmp_path, base_url="https://example.test/mnist/", opener=FakeOpener(blobs), files=table)
    assert not (tmp_path / "t10k-images-idx3-ubyte.gz").exists()
    assert not list(tmp_path.glob("*.part"))


def test_fetch_oversized_download_is_aborted(tmp_path):
    blobs, _ = fake_mnist_files()
    table = checksums(blobs)
    table["train-images-idx3-ubyte.gz"]["size"] = 100
    with pytest.raises(ChecksumError, match="larger than the expected 100 bytes"):
        fetch_full_mnist(tmp_path, base_url="https://example.test/mnist/", opener=FakeOpener(blobs), files=table)
    assert list(tmp_path.iterdir()) == []


def test_fetch_replaces_corrupt_cached_file(tmp_path):
    blobs, arrays = fake_mnist_files()
    opener = FakeOpener(blobs)
    kwargs = dict(base_url="https://example.test/mnist/", opener=opener, files=checksums(blobs))
    fetch_full_mnist(tmp_path, **kwargs)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    check_result(fetch_full_mnist(tmp_path, **kwargs), arrays)
    assert opener.calls[4:] == ["https://example.test/mnist/t10k-labels-idx1-ubyte.gz"]


def test_fetch_network_error_is_clear(tmp_path):
    blobs, _ = fake_mnist_files()
    table = checksums(blobs)
    del blobs["t10k-images-idx3-ubyte.gz"]
    with pytest.raises(ConnectionError, match="could not download .*t10k-images-idx3-ubyte.gz"):
        fetch_full_mnist(tmp_path, base_url="https://example.test/mnist/", opener=FakeOpener(blobs), files=table)
    assert not (tmp_path / "t10k-images-idx3-ubyte.gz").exists()
    assert not list(tmp_path.glob("*.part"))


def test_fetch_requires_checksums(tmp_path):
    blobs, _ = fake_mnist_files()
    table = checksums(blobs)
    del table["train-images-idx3-ubyte.gz"]
    with pytest.raises(ValueError, match="no checksums for train-images-idx3-ubyte.gz"):
        fetch_full_mnist(tmp_path, opener=FakeOpener(blobs), files=table)
    table = {name: {"size": entry["size"]} for name, entry in checksums(blobs).items()}
    with pytest.raises(ValueError, match="no sha256 or md5"):
        fetch_full_mnist(tmp_path, opener=FakeOpener(blobs), files=table)


@pytest.fixture
def local_server(tmp_path):
    """Serve a directory over HTTP on 127.0.0.1 (urllib's real opener, no internet)."""
    root = tmp_path / "served"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/mnist/"
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_from_local_http_server(tmp_path, local_server, monkeypatch):
    root, url = local_server
    blobs, arrays = fake_mnist_files()
    (root / "mnist").mkdir()
    for name, blob in blobs.items():
        (root / "mnist" / name).write_bytes(blob)
    monkeypatch.setattr(data, "MNIST_FILES", checksums(blobs))  # the default table, swapped for the fakes
    monkeypatch.setenv("NNENGINE_MNIST_URL", url)
    check_result(fetch_full_mnist(tmp_path / "cache"), arrays)
    # a mismatch against the served file: clear error, nothing left in the cache
    monkeypatch.setitem(data.MNIST_FILES, "t10k-images-idx3-ubyte.gz",
                        {"sha256": hashlib.sha256(b"something else").hexdigest()})
    (tmp_path / "cache" / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(ChecksumError, match="t10k-images-idx3-ubyte.gz.*sha256"):
        fetch_full_mnist(tmp_path / "cache")
    assert not (tmp_path / "cache" / "t10k-images-idx3-ubyte.gz").exists()
    assert not list((tmp_path / "cache").glob("*.part"))


def test_fetch_default_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    blobs, arrays = fake_mnist_files()
    check_result(fetch_full_mnist(base_url="https://example.test/mnist/", opener=FakeOpener(blobs),
                                  files=checksums(blobs)), arrays)
    assert sorted(p.name for p in (tmp_path / ".cache" / "nnengine" / "mnist").iterdir()) == sorted(blobs)


def test_mnist_checksum_table():
    assert data.DEFAULT_MNIST_URL == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert sorted(data.MNIST_FILES) == sorted(["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"])
    for entry in data.MNIST_FILES.values():
        assert len(entry["sha256"]) == 64 and int(entry["sha256"], 16) >= 0
        assert len(entry["md5"]) == 32 and int(entry["md5"], 16) >= 0
        assert entry["size"] > 0
    assert data.MNIST_FILES["train-images-idx3-ubyte.gz"]["md5"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
