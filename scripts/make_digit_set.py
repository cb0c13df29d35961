"""Make a seeded, reproducible set of NON-MNIST digit pictures to measure the predict pipeline on.

Styles (one folder each under --out, plus manifest.json listing file, style, label, source):

- paper       dark ink on white paper (PNG), any size / position, slight rotation
- canvas      black ink on a transparent background (PNG with alpha: what a canvas export looks like)
- inverse     light digit on a dark background (PNG)
- jpeg        dark on light paper, saved as JPEG with quality 30..70 (blocking, ringing)
- photo       coloured pen on grey paper, uneven light (gradient + vignette), blur, noise, JPEG
- drawn       strokes drawn with the mouse on a <canvas> in headless Chromium (Playwright), from polyline
              templates per digit with jitter, exported with canvas.toDataURL (needs /usr/bin/chromium)

The font styles use every TrueType/OpenType font under /usr/share/fonts that has the ten digits (sorted
by path, so the same machine gives the same set). Digit heights range from about 10% to 95% of the
picture, placed anywhere in it. Nothing here is used for training: the default model is trained on the
MNIST pool only (scripts/train_default_model.py).

    python scripts/make_digit_set.py --out build/digit_set [--per-font 1] [--drawn 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import base64
import glob
import io
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

STYLES = ("paper", "canvas", "inverse", "jpeg", "photo", "drawn")
FONT_STYLES = STYLES[:-1]
CHROMIUM = "/usr/bin/chromium"


def find_fonts() -> list[str]:
    paths = sorted(set(glob.glob("/usr/share/fonts/**/*.ttf", recursive=True)
                       + glob.glob("/usr/share/fonts/**/*.otf", recursive=True)))
    good = []
    for p in paths:
        try:
            f = ImageFont.truetype(p, 40)
            # digits must be real, distinct glyphs (skip symbol/dingbat fonts)
            masks = [np.asarray(f.getmask(str(d))) for d in range(10)]
            if all(m.size and m.max() > 0 for m in masks) and len({m.tobytes() for m in masks}) == 10:
                good.append(p)
        except OSError:
            continue
    return good


def glyph_mask(font_path: str, digit: int, height: int, angle: float) -> Image.Image:
    """Coverage mask (mode L) of ``digit`` whose ink is about ``height`` px tall, rotated by ``angle``."""
    f = ImageFont.truetype(font_path, 200)
    l, t, r, b = f.getbbox(str(digit))
    size = max(8, int(round(200 * height / max(1, b - t))))
    f = ImageFont.truetype(font_path, size)
    l, t, r, b = f.getbbox(str(digit))
    pad = size // 2
    m = Image.new("L", (r - l + 2 * pad, b - t + 2 * pad), 0)
    ImageDraw.Draw(m).text((pad - l, pad - t), str(digit), font=f, fill=255)
    if angle:
        m = m.rotate(angle, resample=Image.BICUBIC, expand=True)
    bbox = m.getbbox()
    return m.crop(bbox) if bbox else m


def place(mask: Image.Image, w: int, h: int, rng) -> Image.Image:
    """Put ``mask`` somewhere inside a w x h field (keeping a small margin when it fits)."""
    canvas = Image.new("L", (w, h), 0)
    mw, mh = mask.size
    x = int(rng.integers(0, max(1, w - mw + 1)))
    y = int(rng.integers(0, max(1, h - mh + 1)))
    canvas.paste(mask, (x, y))
    return canvas


def composite(cov: np.ndarray, fg, bg) -> np.ndarray:
    """cov (H, W) in [0,1]; fg, bg colours (3,) or (H, W, 3) in [0,1] -> RGB float."""
    c = cov[..., None]
    return bg * (1 - c) + np.asarray(fg, np.float32) * c


def to_u8(a: np.ndarray) -> np.ndarray:
    return (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)


def render_font_sample(style: str, font: str, digit: int, rng) -> tuple[bytes, str]:
    w = int(rng.integers(64, 420))
    h = int(np.clip(w * rng.uniform(0.7, 1.4), 48, 600))
    frac = rng.uniform(0.12, 0.92) if style != "photo" else rng.uniform(0.3, 0.8)
    dh = max(9, int(round(min(w, h) * frac)))
    angle = float(rng.uniform(-8, 8))
    cov = np.asarray(place(glyph_mask(font, digit, dh, angle), w, h, rng), np.float32) / 255
    if style == "paper":
        ink = rng.uniform(0.0, 0.25, 3)
        paper = np.full(3, rng.uniform(0.85, 1.0))
        return _png(composite(cov, ink, paper)), "png"
    if style == "canvas":
        a = np.zeros((h, w, 4), np.uint8)
        a[..., 3] = to_u8(cov)
        buf = io.BytesIO()
        Image.fromarray(a, "RGBA").save(buf, "PNG")
        return buf.getvalue(), "png"
    if style == "inverse":
        ink = np.full(3, rng.uniform(0.75, 1.0))
        bg = rng.uniform(0.0, 0.2, 3)
        return _png(composite(cov, ink, bg)), "png"
    if style == "jpeg":
        ink = rng.uniform(0.0, 0.3, 3)
        paper = np.full(3, rng.uniform(0.8, 1.0))
        return _jpeg(composite(cov, ink, paper), int(rng.integers(30, 71))), "jpg"
    if style == "photo":
        pens = [(0.1, 0.2, 0.65), (0.7, 0.1, 0.1), (0.1, 0.45, 0.2), (0.15, 0.15, 0.18), (0.4, 0.1, 0.5)]
        pen = np.asarray(pens[int(rng.integers(len(pens)))]) + rng.uniform(-0.05, 0.05, 3)
        paper = rng.uniform(0.6, 0.85) + rng.uniform(-0.04, 0.04, 3)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        theta = rng.uniform(0, 2 * np.pi)
        grad = ((xx / w - 0.5) * np.cos(theta) + (yy / h - 0.5) * np.sin(theta))
        cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
        vign = ((xx - cx) ** 2 + (yy - cy) ** 2) / (w * w + h * h)
        light = 1.0 + rng.uniform(0.2, 0.5) * grad - rng.uniform(0.2, 0.6) * vign
        cov = cov * rng.uniform(0.75, 1.0)          # a pen is not fully opaque
        rgb = composite(cov, pen, paper) * light[..., None]
        im = Image.fromarray(to_u8(rgb)).filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
        rgb = np.asarray(im, np.float32) / 255 + rng.normal(0, rng.uniform(0.01, 0.04), (h, w, 3))
        return _jpeg(rgb, int(rng.integers(60, 90))), "jpg"
    raise ValueError(style)


def _png(rgb) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(to_u8(rgb)).save(buf, "PNG")
    return buf.getvalue()


def _jpeg(rgb, q: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(to_u8(rgb)).save(buf, "JPEG", quality=q)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------
# drawn: polyline templates in a unit box (x right, y down); each digit is a list of strokes

def _arc(cx, cy, rx, ry, a0, a1, n=14):
    return [(cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
            for a in np.linspace(a0, a1, n)]


TEMPLATES: dict[int, list[list[list[tuple[float, float]]]]] = {
    0: [[_arc(0.5, 0.5, 0.3, 0.45, -90, 270, 24)], [_arc(0.5, 0.5, 0.25, 0.45, -100, 265, 24)]],
    1: [[[(0.5, 0.05), (0.5, 0.95)]], [[(0.35, 0.2), (0.55, 0.05), (0.55, 0.95)]],
        [[(0.42, 0.18), (0.55, 0.05), (0.52, 0.95)]]],
    2: [[_arc(0.5, 0.3, 0.28, 0.25, 200, 370, 12) + [(0.22, 0.95), (0.82, 0.95)]],
        [_arc(0.48, 0.3, 0.3, 0.25, 190, 380, 12) + [(0.2, 0.92), (0.5, 0.88), (0.85, 0.92)]]],
    3: [[_arc(0.48, 0.28, 0.28, 0.23, 200, 450, 12) + _arc(0.48, 0.72, 0.3, 0.25, -90, 160, 12)],
        [[(0.2, 0.08), (0.78, 0.08), (0.45, 0.45)] + _arc(0.48, 0.7, 0.3, 0.27, -90, 160, 12)]],
    4: [[[(0.6, 0.05), (0.18, 0.65), (0.85, 0.65)], [(0.62, 0.3), (0.62, 0.95)]],
        [[(0.25, 0.05), (0.2, 0.55), (0.8, 0.55)], [(0.7, 0.08), (0.68, 0.95)]]],
    5: [[[(0.78, 0.07), (0.28, 0.07), (0.24, 0.45)] + _arc(0.48, 0.67, 0.3, 0.28, -120, 160, 12)],
        [[(0.3, 0.05), (0.25, 0.45)] + _arc(0.5, 0.67, 0.3, 0.28, -120, 160, 12), [(0.3, 0.06), (0.8, 0.06)]]],
    6: [[[(0.7, 0.05), (0.4, 0.3), (0.23, 0.6)] + _arc(0.5, 0.7, 0.27, 0.25, 180, 540, 18)]],
    7: [[[(0.15, 0.07), (0.85, 0.07), (0.4, 0.95)]],
        [[(0.18, 0.1), (0.82, 0.07), (0.5, 0.55), (0.45, 0.95)], [(0.35, 0.5), (0.7, 0.5)]]],
    8: [[_arc(0.5, 0.27, 0.22, 0.21, 90, 450, 16) + _arc(0.5, 0.71, 0.28, 0.24, -90, 270, 18)],
        [_arc(0.5, 0.27, 0.22, 0.22, 0, 360, 16)[::-1] + _arc(0.5, 0.72, 0.28, 0.24, -90, 270, 18)]],
    9: [[_arc(0.5, 0.3, 0.27, 0.25, 0, 360, 18) + [(0.77, 0.3), (0.72, 0.95)]],
        [_arc(0.48, 0.3, 0.27, 0.25, -10, 350, 18) + [(0.75, 0.35), (0.6, 0.95)]]],
}


def jittered_strokes(digit: int, rng, size: int = 280):
    """Template strokes -> pixel strokes with a random affine (scale, slant, rotation, placement)
    and smooth per-point wobble."""
    tpl = TEMPLATES[digit][int(rng.integers(len(TEMPLATES[digit])))]
    h = rng.uniform(0.45, 0.8) * size
    w = h * rng.uniform(0.55, 0.8)
    shear = rng.uniform(-0.25, 0.15)
    rot = math.radians(rng.uniform(-10, 10))
    cx = rng.uniform(0.35, 0.65) * size
    cy = rng.uniform(0.35, 0.65) * size
    out = []
    for stroke in tpl:
        pts = np.asarray(stroke, np.float64)
        pts = pts + rng.normal(0, 0.015, pts.shape)
        x = (pts[:, 0] - 0.5) * w + shear * (pts[:, 1] - 0.5) * h
        y = (pts[:, 1] - 0.5) * h
        xr = x * math.cos(rot) - y * math.sin(rot) + cx
        yr = x * math.sin(rot) + y * math.cos(rot) + cy
        out.append(list(zip(np.clip(xr, 2, size - 2).tolist(), np.clip(yr, 2, size - 2).tolist())))
    return out


DRAW_PAGE = """<!doctype html><html><body style="margin:0">
<canvas id="c" width="280" height="280" style="width:280px;height:280px;touch-action:none"></canvas>
<script>
const c = document.getElementById('c'), g = c.getContext('2d');
let down = false, last = null;
function pt(e) { const r = c.getBoundingClientRect(); return [(e.clientX - r.left) * c.width / r.width,
                                                              (e.clientY - r.top) * c.height / r.height]; }
c.addEventListener('pointerdown', e => { down = true; last = pt(e); g.beginPath(); g.arc(last[0], last[1], g.lineWidth / 2, 0, 7); g.fill(); });
c.addEventListener('pointermove', e => { if (!down) return; const p = pt(e); g.beginPath(); g.moveTo(last[0], last[1]); g.lineTo(p[0], p[1]); g.stroke(); last = p; });
c.addEventListener('pointerup', () => { down = false; });
g.lineCap = 'round'; g.lineJoin = 'round'; g.strokeStyle = '#000'; g.fillStyle = '#000';
window.setWidth = w => { g.lineWidth = w; };
window.clearCanvas = () => g.clearRect(0, 0, c.width, c.height);
</script></body></html>"""


def draw_in_chromium(jobs, rng):
    """jobs: list of digits; yields PNG bytes per job, drawn with mouse moves on a canvas."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 300, "height": 300})
        page.set_content(DRAW_PAGE)
        for digit in jobs:
            page.evaluate("clearCanvas()")
            strokes = jittered_strokes(digit, rng)
            height = max(y for s in strokes for _, y in s) - min(y for s in strokes for _, y in s)
            page.evaluate(f"setWidth({max(6.0, height * rng.uniform(0.09, 0.14)):.1f})")
            for stroke in strokes:
                page.mouse.move(*stroke[0])
                page.mouse.down()
                for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
                    page.mouse.move(x1, y1, steps=max(1, int(math.hypot(x1 - x0, y1 - y0) / 8)))
                page.mouse.up()
            url = page.evaluate("document.getElementById('c').toDataURL('image/png')")
            yield base64.b64decode(url.split(",", 1)[1])
        browser.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="build/digit_set")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-font", type=int, default=1, help="pictures per font, digit and style")
    ap.add_argument("--drawn", type=int, default=20, help="Chromium drawings per digit (0 = none)")
    ap.add_argument("--styles", default=",".join(STYLES))
    args = ap.parse_args(argv)
    styles = [s for s in args.styles.split(",") if s]
    out = Path(args.out)
    fonts = find_fonts()
    manifest = []
    for si, style in enumerate(STYLES):
        if style not in styles:
            continue
        rng = np.random.default_rng([args.seed, si])
        (out / style).mkdir(parents=True, exist_ok=True)
        if style == "drawn":
            if args.drawn <= 0:
                continue
            if not os.path.exists(CHROMIUM):
                print(f"skipping 'drawn': {CHROMIUM} not found", file=sys.stderr)
                continue
            jobs = [d for _ in range(args.drawn) for d in range(10)]
            for i, (digit, data) in enumerate(zip(jobs, draw_in_chromium(jobs, rng))):
                name = f"{style}/{digit}_{i:04d}.png"
                (out / name).write_bytes(data)
                manifest.append({"file": name, "style": style, "label": digit, "source": "chromium"})
            continue
        i = 0
        for font in fonts:
            for digit in range(10):
                for _ in range(args.per_font):
                    data, ext = render_font_sample(style, font, digit, rng)
                    name = f"{style}/{digit}_{i:04d}.{ext}"
                    (out / name).write_bytes(data)
                    manifest.append({"file": name, "style": style, "label": digit,
                                     "source": os.path.basename(font)})
                    i += 1
    (out / "manifest.json").write_text(json.dumps({"seed": args.seed, "fonts": [os.path.basename(f) for f in fonts],
                                                   "items": manifest}, indent=1))
    counts = {s: sum(1 for m in manifest if m["style"] == s) for s in styles}
    print(f"wrote {len(manifest)} pictures to {out} from {len(fonts)} fonts: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
