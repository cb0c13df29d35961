"""Turn an uploaded or drawn picture of a digit into a 28x28 MNIST-style input.

The steps follow how MNIST itself was made (LeCun et al.: digits size-normalised to a 20x20 box keeping
their aspect ratio, anti-aliased, then centred by centre of mass in a 28x28 field), preceded by what a
photo or a canvas export needs before that:

1. ``load_image`` (``decode.py``): refuse what is not a small, well-formed raster image (size cap,
   magic-byte sniffing, dimensions read from the header *before* decoding, truncated files), decode at
   reduced scale (JPEG DCT scaling, then an integer box reduction), apply the EXIF orientation.
2. ``ink_map``: flatten transparency onto white, decide the polarity from the border (dark ink on a light
   background, or light on dark), estimate the local background per colour channel (block percentiles,
   grey-level closing, smoothing: uneven light on paper), take the per-pixel "ink" as the largest
   departure from that background over the three channels (coloured pens count as ink), lightly blur,
   set the threshold from a robust noise estimate and stretch the contrast so stroke cores reach 1.
3. ``clean_mask``: connected components of the thresholded ink; specks far smaller than the digit go.
4. ``normalize_ink``: crop to the ink's bounding box, scale the longer side to 20 px (Pillow LANCZOS on
   float pixels; aspect kept), place in 28x28 with the centre of mass at (CENTER, CENTER) by a
   sub-pixel shift. Output float32 in [0, 1], ink high.

Everything is NumPy + Pillow; no global state. ``PreprocessError`` carries the HTTP status for the API.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from .decode import (MAX_BYTES, MAX_PIXELS, MAX_SIDE, WORK_MAX_SIDE, PreprocessError, load_image,
                     sniff_format)

__all__ = [
    "PreprocessError", "MAX_BYTES", "MAX_SIDE", "MAX_PIXELS", "CENTER", "sniff_format", "load_image",
    "ink_map", "clean_mask", "normalize_ink", "preprocess_image", "preprocess_bytes",
]

WORK_MIN_SIDE = 128                  # tiny images are enlarged to this
BOX = 20                             # MNIST: the digit's longer side fits a 20x20 box
SIZE = 28                            # in a 28x28 field
CENTER = 14.0                        # centre of mass (row, col) in pixel-index coordinates
MID = 80                             # stroke width is measured and fixed at this size
MIN_WIDTH = 0.095                    # relative stroke width (2 area / perimeter / longer side) below
TARGET_WIDTH = 0.115                 # which strokes are grown to this (MNIST: median 0.136, 5% 0.09)
MIN_CONTRAST = 0.08                  # ink must differ from the background by at least this (0..1 scale)


# ------------------------------------------------------------------------------------------------
# small NumPy image helpers (no SciPy at run time)


def _blur(a: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur over the first two axes (reflect padding)."""
    if sigma <= 0:
        return a
    r = max(1, int(math.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k = (k / k.sum()).astype(np.float32)
    for axis in (0, 1):
        pad = [(0, 0)] * a.ndim
        pad[axis] = (r, r)
        p = np.pad(a, pad, mode="reflect" if a.shape[axis] > r else "edge")
        out = np.zeros_like(a, dtype=np.float32)
        n = a.shape[axis]
        for i, w in enumerate(k):
            out += w * np.take(p, np.arange(i, i + n), axis=axis)
        a = out
    return a


def _rank_filter(a: np.ndarray, size: int, op) -> np.ndarray:
    """Max or min filter (``op`` = np.maximum / np.minimum) with a size x size window, edge padding."""
    r = size // 2
    pad = [(r, r), (r, r)] + [(0, 0)] * (a.ndim - 2)
    p = np.pad(a, pad, mode="edge")
    h, w = a.shape[:2]
    out = p[r:r + h, r:r + w].copy()
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            out = op(out, p[r + dy:r + dy + h, r + dx:r + dx + w])
    return out


def _resize_float(a: np.ndarray, w: int, h: int, resample=Image.BILINEAR) -> np.ndarray:
    return np.asarray(Image.fromarray(np.ascontiguousarray(a, dtype=np.float32), "F").resize(
        (w, h), resample), dtype=np.float32)


def _background(c: np.ndarray) -> np.ndarray:
    """Smooth estimate of the (bright) background of ``c`` (H, W, 3), ink being darker.

    The picture is cut into about 16 blocks along its longer side; each block's 70th percentile is its
    paper level unless ink covers most of it. A quadratic surface in (x, y) per channel is fitted to those
    levels robustly (blocks much darker than the fit are ink and are left out, then refitted): light
    falling unevenly across a sheet of paper (gradient, vignette) is smooth, a digit is not. If the
    surface does not fit (a background that is not smooth), a grey-level closing of the block grid is
    used instead.
    """
    h, w = c.shape[:2]
    b = max(4, int(math.ceil(max(h, w) / 16)))
    hb, wb = -(-h // b), -(-w // b)
    p = np.pad(c, ((0, hb * b - h), (0, wb * b - w), (0, 0)), mode="edge")
    blocks = p.reshape(hb, b, wb, b, 3).transpose(0, 2, 4, 1, 3).reshape(hb, wb, 3, b * b)
    grid = np.percentile(blocks, 70, axis=3).astype(np.float64)            # (hb, wb, 3)
    # block centres in pixel coordinates, normalised to about [-1, 1]
    gy = (np.minimum((np.arange(hb) + 0.5) * b, h) / max(h, 1)) * 2 - 1
    gx = (np.minimum((np.arange(wb) + 0.5) * b, w) / max(w, 1)) * 2 - 1
    yy, xx = np.meshgrid(gy, gx, indexing="ij")

    def design(y, x):
        return np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=-1)

    A = design(yy.ravel(), xx.ravel())
    vals = grid.reshape(-1, 3)
    inl = np.ones(len(A), bool)
    coef = np.zeros((6, 3))
    sigma = 0.0
    for _ in range(5):
        if inl.sum() < 8:
            break
        coef = np.linalg.lstsq(A[inl], vals[inl], rcond=None)[0]
        r = (vals - A @ coef).min(axis=1)           # darkest channel's residual
        sigma = 1.4826 * float(np.median(np.abs(r[inl] - np.median(r[inl]))))
        new = r > -max(3 * sigma, 0.03)
        if np.array_equal(new, inl):
            break
        inl = new
    if inl.sum() >= 8 and sigma < 0.04:
        py = ((np.arange(h, dtype=np.float32) + 0.5) / h * 2 - 1)[:, None]
        px = ((np.arange(w, dtype=np.float32) + 0.5) / w * 2 - 1)[None, :]
        out = np.empty((h, w, 3), np.float32)
        for ch in range(3):                          # the same polynomial as design(), by broadcasting
            c0, c1, c2, c3, c4, c5 = (float(v) for v in coef[:, ch])
            out[:, :, ch] = c0 + c2 * py + c5 * py * py + px * (c1 + c3 * px + c4 * py)
        return out
    grid = _rank_filter(_rank_filter(grid.astype(np.float32), 5, np.maximum), 3, np.minimum)
    grid = _blur(grid, 0.8)
    out = np.empty_like(c)
    for ch in range(3):
        big = _resize_float(grid[:, :, ch], wb * b, hb * b)
        out[:, :, ch] = big[:h, :w]
    return out


def _work_image(im: Image.Image) -> np.ndarray:
    """RGB float32 (H, W, 3) in [0, 1], transparency flattened onto white, at a workable size."""
    if im.mode == "RGBA":
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, im).convert("RGB")
    elif im.mode != "RGB":
        im = im.convert("RGB")
    w, h = im.size
    long_side = max(w, h)
    if long_side > WORK_MAX_SIDE:
        s = WORK_MAX_SIDE / long_side
        im = im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.BOX, reducing_gap=3.0)
    elif long_side < WORK_MIN_SIDE:
        s = WORK_MIN_SIDE / long_side
        im = im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.BICUBIC)
    return np.asarray(im, dtype=np.float32) / 255.0


def ink_map(im: Image.Image) -> np.ndarray:
    """Float32 (H, W) map, 0 = background and 1 = stroke core, at the working resolution.

    Raises PreprocessError(422, "no digit found in the image") when nothing stands out from the
    background.
    """
    rgb = _work_image(im)
    h, w = rgb.shape[:2]
    gray = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    bw = max(1, int(round(0.04 * min(h, w))))
    border = np.concatenate([gray[:bw].ravel(), gray[-bw:].ravel(), gray[:, :bw].ravel(),
                             gray[:, -bw:].ravel()])
    smooth = _blur(gray, 1.0)                       # extremes without single noisy pixels
    lo, hi = float(smooth.min()), float(smooth.max())
    light_background = float(np.median(border)) >= (lo + hi) / 2
    c = rgb if light_background else 1.0 - rgb      # background bright, ink dark from here on
    d_raw = (_background(c) - c).max(axis=2)        # departure from the local paper, any channel
    d = _blur(d_raw, 0.7 + 0.002 * max(h, w))       # denoised copy for the decisions (1-2 px)
    med = float(np.median(d))
    sigma = 1.4826 * float(np.median(np.abs(d - med)))
    thr = max(med + 5.0 * sigma, MIN_CONTRAST)
    mask = d > thr
    if mask.sum() < max(4, 2e-4 * h * w):
        raise PreprocessError("no digit found in the image", 422)
    core = float(np.percentile(d[mask], 85))
    lo_ink = thr * 0.8
    if core - lo_ink < 0.5 * MIN_CONTRAST:
        raise PreprocessError("no digit found in the image", 422)
    ink = np.clip((_blur(d_raw, 0.7) - lo_ink) / (core - lo_ink), 0.0, 1.0)
    keep = clean_mask(mask)
    if keep is None:
        raise PreprocessError("no digit found in the image", 422)
    # keep only the chosen components, grown by a few pixels so their soft edges stay
    keep = _rank_filter(keep.astype(np.float32), 5, np.maximum) > 0
    return np.where(keep, ink, 0.0).astype(np.float32)


def _label(mask: np.ndarray) -> np.ndarray:
    """4-connected component labels (0 = background) by vectorised min-label propagation."""
    h, w = mask.shape
    big = h * w + 1
    lab = np.where(mask, np.arange(1, h * w + 1, dtype=np.int64).reshape(h, w), big)
    while True:
        p = np.pad(lab, 1, constant_values=big)
        nb = np.minimum.reduce([p[1:-1, 1:-1], p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:]])
        nb = np.where(mask, nb, big)
        # pointer jumping: follow labels to their own label a few times (faster convergence)
        flat = np.concatenate([[big], nb.ravel()])
        for _ in range(2):
            idx = np.where(nb < big, nb, 0)
            nb = np.where(mask, np.minimum(nb, flat[idx]), big)
            flat = np.concatenate([[big], nb.ravel()])
        if np.array_equal(nb, lab):
            break
        lab = nb
    return np.where(mask, lab, 0)


def clean_mask(mask: np.ndarray) -> np.ndarray | None:
    """Keep the components that make up the digit, drop specks; None if nothing digit-like remains.

    Works on a copy reduced to at most 160 px (max pooling, so thin strokes stay connected).
    A component is kept if it has at least 6% of the largest one's area.
    """
    h, w = mask.shape
    f = max(1, int(math.ceil(max(h, w) / 160)))
    hp, wp = -(-h // f), -(-w // f)
    m = np.pad(mask, ((0, hp * f - h), (0, wp * f - w))).reshape(hp, f, wp, f).any(axis=(1, 3))
    lab = _label(m)
    ids, counts = np.unique(lab[lab > 0], return_counts=True)
    if len(ids) == 0:
        return None
    largest = counts.max()
    if largest < 3:
        return None
    keep_ids = ids[counts >= 0.06 * largest]
    small = np.isin(lab, keep_ids)
    full = np.repeat(np.repeat(small, f, axis=0), f, axis=1)[:h, :w]
    return full & mask


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a binary drawing in pixels: 2 * area / perimeter (a long stroke of width
    w and length l has area w*l and perimeter about 2*l)."""
    p = np.pad(mask, 1)
    inner = p[1:-1, 1:-1] & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    perimeter = int((mask & ~inner).sum())
    return 2.0 * float(mask.sum()) / max(perimeter, 1)


def _thicken(crop: np.ndarray, min_width: float) -> np.ndarray:
    """Strokes thinner than ``min_width`` x the digit's longer side (hairline fonts, thin pens) are
    grown to about MNIST's width by a grey dilation with a disk; others are left alone.

    Works at a mid-size copy (longer side ``MID`` px); returns either ``crop`` unchanged or the thickened
    mid-size copy (the caller crops and resizes again).
    """
    h, w = crop.shape
    s = MID / max(h, w)
    nh, nw = max(1, int(round(h * s))), max(1, int(round(w * s)))
    mid = np.clip(_resize_float(crop, nw, nh, Image.LANCZOS), 0.0, 1.0)
    mask = mid > 0.5
    if not mask.any():
        return crop
    width = stroke_width(mask)
    if width >= min_width * MID:
        return crop
    radius = (TARGET_WIDTH * MID - width) / 2
    r = int(math.ceil(radius))
    p = np.pad(mid, 2 * r)
    gh, gw = nh + 2 * r, nw + 2 * r                 # the grown strokes reach past the old box
    grown = np.zeros((gh, gw), np.float32)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dy * dy + dx * dx <= radius * radius + 0.25:
                np.maximum(grown, p[r + dy:r + dy + gh, r + dx:r + dx + gw], out=grown)
    return grown


def normalize_ink(ink: np.ndarray, box: float = BOX, size: int = SIZE,
                  center: float | tuple[float, float] = CENTER, min_width: float = MIN_WIDTH) -> np.ndarray:
    """Crop ``ink`` (H, W; ink high) to its bounding box, thicken hairline strokes (``min_width``, 0 =
    never), fit the longer side to ``box`` px keeping the aspect ratio (anti-aliased), and place it in a
    ``size`` x ``size`` field with its centre of mass at ``center`` (row, col; one number for both).
    Returns float32 (size, size) in [0, 1].
    """
    center_y, center_x = (center, center) if np.isscalar(center) else center
    ys, xs = np.nonzero(ink > 0.05)
    if len(ys) == 0:
        raise PreprocessError("no digit found in the image", 422)
    crop = ink[ys.min():ys.max() + 1, xs.min():xs.max() + 1].astype(np.float32)
    if min_width:
        crop = _thicken(crop, min_width)
    ch, cw = crop.shape
    s = box / max(ch, cw)
    nh, nw = max(1, int(round(ch * s))), max(1, int(round(cw * s)))
    if (nh, nw) != (ch, cw):
        crop = _resize_float(crop, nw, nh, Image.LANCZOS)
    crop = np.clip(crop, 0.0, 1.0)
    peak = float(crop.max())
    if 0.0 < peak < 1.0:
        crop /= peak                                # thin strokes fade when reduced: cores back to 1
    total = float(crop.sum())
    if total <= 0:
        raise PreprocessError("no digit found in the image", 422)
    cy = float((crop.sum(axis=1) * np.arange(nh)).sum() / total)
    cx = float((crop.sum(axis=0) * np.arange(nw)).sum() / total)
    return _place(crop, center_y - cy, center_x - cx, size)


def _place(patch: np.ndarray, oy: float, ox: float, size: int) -> np.ndarray:
    """Paste ``patch`` into a size x size field shifted by (oy, ox) pixels, bilinear for the fraction."""
    iy, ix = math.floor(oy), math.floor(ox)
    fy, fx = oy - iy, ox - ix
    ph, pw = patch.shape
    # pad one pixel on the bottom/right so the fractional shift has somewhere to go
    p = np.zeros((ph + 1, pw + 1), np.float32)
    p[:ph, :pw] = patch
    p[1:, :] = (1 - fy) * p[1:, :] + fy * p[:-1, :]
    p[0, :] *= (1 - fy)
    p[:, 1:] = (1 - fx) * p[:, 1:] + fx * p[:, :-1]
    p[:, 0] *= (1 - fx)
    out = np.zeros((size, size), np.float32)
    y0, x0 = max(iy, 0), max(ix, 0)
    y1, x1 = min(iy + ph + 1, size), min(ix + pw + 1, size)
    if y1 > y0 and x1 > x0:
        out[y0:y1, x0:x1] = p[y0 - iy:y1 - iy, x0 - ix:x1 - ix]
    return np.clip(out, 0.0, 1.0)


def preprocess_image(im: Image.Image) -> np.ndarray:
    """A decoded picture -> float32 (28, 28) in [0, 1], ink high, MNIST-style."""
    return normalize_ink(ink_map(im))


def preprocess_bytes(data: bytes) -> np.ndarray:
    """Uploaded bytes -> float32 (28, 28); raises PreprocessError (with an HTTP status) on refusal."""
    return preprocess_image(load_image(data))
