"""Refuse or decode an uploaded picture, cheaply: the first step of ``nnengine.images.preprocess``.

What it guards against is cost, not only memory: a 2 MB upload can hold a 4000x4000 PNG of flat colour
that takes a second to inflate. So:

- the format is sniffed from the magic bytes (SVG, HTML, PDF, TIFF, ... are refused whatever their name);
- the width and height are read from the header *before* anything is decoded, and checked against limits
  that depend on how the format decodes (every refusal names the picture's size and the limit it broke);
- JPEGs are decoded at 1/2, 1/4 or 1/8 scale by the DCT itself (``draft``), so a 13-megapixel phone photo
  costs about what a 1-megapixel one does; the formats that must be inflated in full (PNG, GIF, BMP, WebP)
  get a lower pixel limit, since a real photo in those formats never fits in 2 MB anyway, only flat
  synthetic pictures do;
- right after decoding the picture is box-reduced by an integer factor to at most about twice the
  working size, so the EXIF rotation, the colour conversion and the alpha flattening never touch the
  full-size pixels.

What the worst accepted pictures cost is measured by ``bench/predict_worst.py`` (bench/MEASUREMENTS.md).
"""

from __future__ import annotations

import io
import math
import struct

import numpy as np
from PIL import BmpImagePlugin, GifImagePlugin, Image, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

__all__ = [
    "PreprocessError", "MAX_BYTES", "MAX_SIDE", "MAX_PIXELS", "MAX_PIXELS_FULL_DECODE", "MAX_PIXELS_16BIT",
    "WORK_MAX_SIDE", "sniff_format", "pixel_limit", "check_size", "load_image",
]

MAX_BYTES = 2 * 1024 * 1024          # upload size cap (also Flask's MAX_CONTENT_LENGTH)
MAX_SIDE = 8192                      # largest accepted width or height: refuses absurd strips
# JPEG: every 12-13 MP phone camera passes (4000x3000, 4032x3024 = 12.2 MP, 4080x3072 = 12.5 MP,
# 4160x3120 = 12.98 MP); they decode at reduced scale, so this costs little.
MAX_PIXELS = 13_000_000
# PNG, GIF, BMP, WebP are inflated in full (their cost per megapixel: bench/MEASUREMENTS.md): a 4K
# screenshot (3840x2160 = 8.29 MP) passes.
MAX_PIXELS_FULL_DECODE = 8_300_000
# 16-bit PNGs carry twice the bytes per pixel, and inflating costs per byte.
MAX_PIXELS_16BIT = MAX_PIXELS_FULL_DECODE // 2
WORK_MAX_SIDE = 512                  # the pixel work of preprocess.py happens at (at most) this size

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
)
# The plugin classes themselves, not Image.open: Image.open refuses pictures above Pillow's own
# decompression-bomb limit with a message that does not give the size; ours are far lower and say it.
_OPENERS = {
    "PNG": PngImagePlugin.PngImageFile,
    "JPEG": JpegImagePlugin.JpegImageFile,
    "GIF": GifImagePlugin.GifImageFile,
    "BMP": BmpImagePlugin.BmpImageFile,
    "WEBP": WebPImagePlugin.WebPImageFile,
}
_BMP_RLE = (1, 2)                    # BMP compression values of RLE8 and RLE4
_REDUCIBLE = ("L", "LA", "RGB", "RGBA")   # modes Image.reduce averages correctly (RGBA premultiplied)
# EXIF orientation -> the transpose that puts the picture upright (as ImageOps.exif_transpose)
_ORIENTATION = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,), 3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,), 5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,), 7: (Image.Transpose.TRANSVERSE,), 8: (Image.Transpose.ROTATE_90,),
}


class PreprocessError(ValueError):
    """A picture that cannot be used; ``status`` is the HTTP status the API answers with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


def sniff_format(data: bytes) -> str | None:
    """Pillow format name from the first bytes (PNG, JPEG, GIF, BMP, WEBP), or None."""
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    for magic, fmt in _SIGNATURES:
        if data.startswith(magic):
            return fmt
    return None


def _png_bit_depth(data: bytes) -> int:
    """Bits per sample from a PNG's IHDR (the first chunk, by the standard), 8 if it cannot be read."""
    if len(data) >= 25 and data[12:16] == b"IHDR":
        return struct.unpack(">B", data[24:25])[0]
    return 8


def pixel_limit(fmt: str, data: bytes = b"") -> tuple[int, str]:
    """The most pixels (width x height) a picture of this format may have, and how a refusal names
    that kind of picture ("a JPEG", "a 16-bit PNG", ...)."""
    if fmt == "JPEG":
        return MAX_PIXELS, "a JPEG"
    if fmt == "PNG" and _png_bit_depth(data) == 16:
        return MAX_PIXELS_16BIT, "a 16-bit PNG"
    return MAX_PIXELS_FULL_DECODE, f"a {'WebP' if fmt == 'WEBP' else fmt}"


def _megapixels(n: int) -> str:
    return f"{n / 1e6:.2f}".rstrip("0").rstrip(".") + " megapixels"


def check_size(w: int, h: int, fmt: str, data: bytes = b"") -> None:
    """Raise a 413 PreprocessError naming the picture's size and the limit it broke, if it breaks one."""
    if w < 1 or h < 1:
        raise PreprocessError(f"the image has no pixels ({w}x{h})", 400)
    over = [f"{side} ({length} px)" for side, length in (("width", w), ("height", h)) if length > MAX_SIDE]
    if over:
        raise PreprocessError(f"image too large: {w}x{h} pixels; its {' and '.join(over)} "
                              f"{'are' if len(over) > 1 else 'is'} over the limit of {MAX_SIDE} px per side", 413)
    limit, kind = pixel_limit(fmt, data)
    if w * h > limit:
        hint = "" if fmt == "JPEG" else f"; a JPEG up to {_megapixels(MAX_PIXELS)}"
        raise PreprocessError(f"image too large: {w}x{h} = {w * h:,} pixels ({_megapixels(w * h)}); "
                              f"{kind} may have at most {limit:,} pixels ({_megapixels(limit)}{hint})", 413)


def _open(data: bytes, fmt: str) -> Image.Image:
    """Parse the header only; 400 if it is broken."""
    try:
        return _OPENERS[fmt](io.BytesIO(data))
    except Exception:  # noqa: BLE001 - any parser failure is the client's broken file
        raise PreprocessError(f"could not read the {fmt} image (corrupt or truncated file)", 400) from None


def _decode_reduced(im: Image.Image, fmt: str) -> Image.Image:
    """Decode ``im`` (header read) into RGB or RGBA, upright, at most about 2 x WORK_MAX_SIDE a side."""
    w, h = im.size
    im.seek(0)                                      # animated GIF/WebP/PNG: the first frame
    if fmt == "JPEG" and max(w, h) > 2 * WORK_MAX_SIDE:
        # the DCT scales by 1/2, 1/4 or 1/8 while decoding; draft keeps the result >= the size asked
        s = WORK_MAX_SIDE / max(w, h)
        im.draft(im.mode, (max(1, math.ceil(w * s)), max(1, math.ceil(h * s))))
    im.load()
    orientation = im.getexif().get(0x0112)         # read before reducing: a new image may not keep it
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    if im.mode in ("I", "I;16", "I;16B", "I;16L"):
        # 16-bit grey: Pillow's convert would clip every value above 255 to white
        im = Image.fromarray((np.asarray(im, dtype=np.uint32) >> 8).astype(np.uint8), "L")
    factor = max(im.size) // WORK_MAX_SIDE          # integer box reduction, the result stays >= 512
    if factor >= 2:
        if im.mode not in _REDUCIBLE:               # palette indices, 1-bit, 16-bit, CMYK: colours first
            im = im.convert("RGBA" if has_alpha else "RGB")
        im = im.reduce(factor)
    for method in _ORIENTATION.get(orientation, ()):
        im = im.transpose(method)
    return im.convert("RGBA" if has_alpha else "RGB")


def load_image(data: bytes) -> Image.Image:
    """Decode ``data`` into an RGB or RGBA image, upright, at most about 1024 px a side.

    Raises PreprocessError: 400 empty / corrupt / truncated, 413 too many bytes or pixels (the message
    names the picture's size and the limit), 415 not one of the accepted image types (SVG, text, PDF, ...
    are refused by their bytes, not by name) or an RLE-compressed BMP.
    """
    if not data:
        raise PreprocessError("the uploaded file is empty", 400)
    if len(data) > MAX_BYTES:
        raise PreprocessError(f"image too large: the file has {len(data):,} bytes "
                              f"({len(data) / 2**20:.1f} MB); at most {MAX_BYTES:,} bytes (2 MB)", 413)
    fmt = sniff_format(data)
    if fmt is None:
        raise PreprocessError("not a supported image: send a PNG, JPEG, GIF, BMP or WebP file", 415)
    im = _open(data, fmt)
    w, h = im.size                                  # from the header: nothing decoded yet
    check_size(w, h, fmt, data)
    if fmt == "BMP" and im.info.get("compression") in _BMP_RLE:
        # Pillow decodes RLE bitmaps in pure Python, slowly (bench/MEASUREMENTS.md)
        raise PreprocessError("RLE-compressed BMP files are not supported: send a PNG or JPEG", 415)
    try:
        return _decode_reduced(im, fmt)
    except Exception:  # noqa: BLE001 - a decoder failure is the client's broken file
        raise PreprocessError(f"could not decode the {fmt} image (corrupt or truncated file)", 400) from None
