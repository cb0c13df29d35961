"""Latency of POST /api/predict: in-process (Flask test client) and over HTTP on loopback (real server).

Pictures: a 280x280 canvas export (black on transparent PNG), a 640x480 JPEG photo-like picture and a
2000x1500 PNG. Prints median and p99 per case, and for the in-process path the median CPU time of the
process too (on a shared machine wall time mostly measures the other processes).

    python bench/predict_latency.py [--n 200] [--no-http] [--repo DIR]

``--repo`` times another checkout's server (a before/after comparison on the same pictures). The most
expensive pictures the endpoint accepts are timed by ``bench/predict_worst.py``.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _font(size):
    try:
        return ImageFont.truetype(FONT, size)
    except OSError:
        return ImageFont.load_default(size)


def pictures() -> dict[str, bytes]:
    out = {}
    im = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(im).line([(80, 50), (200, 50), (120, 240)], fill=(0, 0, 0, 255), width=20)
    out["canvas 280x280 PNG"] = im
    rng = np.random.default_rng(0)
    im = Image.new("RGB", (640, 480), (190, 185, 175))
    ImageDraw.Draw(im).text((320, 240), "5", font=_font(300), fill=(30, 40, 140), anchor="mm")
    a = np.asarray(im, np.float32) * np.linspace(1.0, 0.7, 640)[None, :, None] + rng.normal(0, 6, (480, 640, 3))
    out["photo 640x480 JPEG"] = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    im = Image.new("RGB", (2000, 1500), "white")
    ImageDraw.Draw(im).text((1000, 750), "8", font=_font(1100), fill="black", anchor="mm")
    out["big 2000x1500 PNG"] = im
    data = {}
    for name, im in out.items():
        buf = io.BytesIO()
        im.save(buf, "JPEG" if "JPEG" in name else "PNG", **({"quality": 80} if "JPEG" in name else {}))
        data[name] = buf.getvalue()
    return data


def stats(times):
    t = np.array(times) * 1000
    return float(np.median(t)), float(np.percentile(t, 99))


def bench_inprocess(data, n):
    from server import create_app

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"TESTING": True, "DATABASE": str(Path(tmp) / "bench.sqlite")})
        client = app.test_client()
        rows = []
        for name, blob in data.items():
            times, cpu = [], []
            for i in range(n + 3):
                t0, c0 = time.perf_counter(), time.process_time()
                r = client.post("/api/predict", data={"image": (io.BytesIO(blob), "d.png")},
                                content_type="multipart/form-data")
                dt, dc = time.perf_counter() - t0, time.process_time() - c0
                assert r.status_code == 200, r.get_json()
                if i >= 3:                              # the first calls load the model
                    times.append(dt)
                    cpu.append(dc)
            rows.append(("in-process", name, len(blob)) + stats(times) + (float(np.median(cpu)) * 1000,))
        app.extensions["runs"].shutdown(wait=False) if hasattr(app.extensions["runs"], "shutdown") else None
        return rows


def bench_http(data, n):
    import requests

    try:
        from tests.support.browser import running_server
    except ImportError:  # a --repo checkout from before the tests mirrored the tree
        from tests.browser_helpers import running_server

    rows = []
    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp) / "bench.sqlite") as base:
        s = requests.Session()
        for name, blob in data.items():
            times = []
            for i in range(n + 3):
                t0 = time.perf_counter()
                r = s.post(base + "/api/predict", files={"image": ("d.png", blob)})
                dt = time.perf_counter() - t0
                assert r.status_code == 200, r.text
                if i >= 3:
                    times.append(dt)
            rows.append(("HTTP loopback", name, len(blob)) + stats(times) + (None,))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200, help="requests per case")
    ap.add_argument("--no-http", action="store_true")
    ap.add_argument("--repo", type=Path, default=ROOT, help="checkout whose server to time")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(args.repo.resolve()))
    data = pictures()
    rows = bench_inprocess(data, args.n)
    if not args.no_http:
        rows += bench_http(data, args.n)
    print(f"POST /api/predict latency with {args.repo}, {args.n} requests per case (after 3 warm-up requests)")
    print(f"{'path':<14} {'picture':<20} {'bytes':>8} {'median ms':>10} {'p99 ms':>8} {'CPU median ms':>14}")
    for path, name, size, med, p99, cpu in rows:
        print(f"{path:<14} {name:<20} {size:>8} {med:>10.1f} {p99:>8.1f} {'' if cpu is None else f'{cpu:.1f}':>14}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
