"""Decode + preprocess time of the most expensive pictures POST /api/predict still accepts.

For each format, a picture right at its pixel limit (nnengine/images/decode.py) with the features that make
decoding dearest: alpha, interlacing (Adam7), 16 bits per sample, a palette with transparency,
progressive JPEG, CMYK JPEG, lossless WebP. Each holds a dark digit on light paper, so every step of
nnengine/images/preprocess.py runs. Prints the median and worst of ``--n`` runs of ``preprocess_bytes`` (bytes ->
28x28), and of ``load_image`` alone, in milliseconds of CPU time (``time.process_time``: on a shared
machine wall time mostly measures the other processes; both steps run on one thread).

    python bench/predict_worst.py [--n 7] [--repo DIR]

``--repo`` measures another checkout's preprocessing (for a before/after comparison; older checkouts kept it
in server/preprocess.py); pictures
over that checkout's limits are reported as refused.
"""

from __future__ import annotations

import argparse
import importlib
import io
import struct
import sys
import time
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from predict_latency import _font  # noqa: E402 - the sibling script (bench/ is on sys.path when run)

ROOT = Path(__file__).resolve().parents[1]


def digit(w: int, h: int) -> Image.Image:
    """A dark-blue 7 filling most of a w x h sheet of off-white paper."""
    im = Image.new("RGB", (w, h), (235, 232, 225))
    ImageDraw.Draw(im).text((w // 2, h // 2), "7", font=_font(int(h * 0.6)), fill=(20, 20, 60), anchor="mm")
    return im


def encode(im: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _adam7(a: np.ndarray) -> list[np.ndarray]:
    """The seven Adam7 passes of an (h, w, ...) array, in order."""
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    return [a[y0::dy, x0::dx] for x0, y0, dx, dy in passes if a[y0::dy, x0::dx].size]


def png16(im: Image.Image, interlace: bool = True) -> bytes:
    """RGBA at 16 bits per sample (Pillow cannot write it), optionally interlaced."""
    a = np.asarray(im.convert("RGBA"), dtype=np.uint16) * 257
    raw = b"".join(b"".join(b"\0" + row.astype(">u2").tobytes() for row in part)
                   for part in (_adam7(a) if interlace else [a]))
    h, w = a.shape[:2]
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 6, 0, 0, int(interlace)))
            + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b""))


def worst_pictures() -> dict[str, bytes]:
    """name -> bytes of the dearest pictures at each format's limit (13 MP JPEG, 8.3 MP full-decode
    formats, 4.15 MP 16-bit PNG)."""
    jpeg = digit(4160, 3120)                          # 12.98 MP: a 13 MP phone camera
    rng = np.random.default_rng(0)
    noisy = np.clip(np.asarray(jpeg, np.float32) + rng.normal(0, 4, (3120, 4160, 3)), 0, 255).astype(np.uint8)
    noisy = Image.fromarray(noisy)                    # sensor noise: more for the entropy decoder
    full = digit(3840, 2160)                          # 8.29 MP: a 4K screenshot
    rgba = full.convert("RGBA")
    palette = full.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return {
        "JPEG 4160x3120 noisy q85": encode(noisy, "JPEG", quality=85),
        "JPEG 4160x3120 progressive": encode(noisy, "JPEG", quality=85, progressive=True),
        "JPEG 4160x3120 CMYK": encode(jpeg.convert("CMYK"), "JPEG", quality=90),
        "PNG 3840x2160 RGBA Adam7": png8_interlaced(rgba),
        "PNG 3840x2160 palette+tRNS": encode(palette, "PNG", transparency=0),
        "PNG 2560x1620 16-bit RGBA Adam7": png16(digit(2560, 1620)),
        "WebP 3840x2160 lossless RGBA": encode(rgba, "WEBP", lossless=True),
        "WebP 3840x2160 lossy": encode(full, "WEBP", quality=80),
        "GIF 3840x2160": encode(palette, "GIF"),
        "BMP 3840x2160 1-bit": encode(full.convert("1"), "BMP"),
    }


def png8_interlaced(im: Image.Image) -> bytes:
    """RGBA at 8 bits per sample, Adam7-interlaced (Pillow writes no interlaced PNG)."""
    a = np.asarray(im.convert("RGBA"), dtype=np.uint8)
    raw = b"".join(b"".join(b"\0" + row.tobytes() for row in part) for part in _adam7(a))
    h, w = a.shape[:2]
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 1))
            + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b""))


def _preprocess_module(repo: Path):
    """The preprocessing module of ``repo`` (imported fresh, so two checkouts can be compared)."""
    sys.path.insert(0, str(repo))
    for name in [m for m in sys.modules if m.split(".")[0] in ("server", "nnengine")]:
        del sys.modules[name]
    home = "nnengine.images.preprocess" if (repo / "nnengine" / "images").is_dir() else "server.preprocess"
    return importlib.import_module(home)


def measure(module, data: bytes, n: int) -> str:
    total, load = [], []
    for _ in range(n):
        began = time.process_time()
        try:
            module.preprocess_bytes(data)
        except module.PreprocessError as exc:
            return f"refused ({exc.status}): {exc.message}"
        total.append(time.process_time() - began)
        began = time.process_time()
        module.load_image(data)
        load.append(time.process_time() - began)
    ms = np.array(total) * 1000
    return (f"{np.median(ms):6.1f} {ms.max():6.1f}   load_image {np.median(np.array(load) * 1000):6.1f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=7, help="runs per picture")
    ap.add_argument("--repo", type=Path, default=ROOT, help="checkout whose preprocessing to time")
    args = ap.parse_args(argv)
    module = _preprocess_module(args.repo.resolve())
    pictures = worst_pictures()
    print(f"bytes -> 28x28 with {args.repo}, {args.n} runs each (CPU ms: median, worst; load_image median)")
    for name, data in pictures.items():
        print(f"{name:<34} {len(data) / 1e6:5.2f} MB  {measure(module, data, args.n)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
