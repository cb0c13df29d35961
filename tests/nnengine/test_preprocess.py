"""Unit tests of the MNIST-style preprocessing in nnengine/images/ (decode.py, preprocess.py)."""
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from nnengine.images.decode import MAX_PIXELS, MAX_PIXELS_16BIT, MAX_PIXELS_FULL_DECODE, MAX_SIDE, check_size
from nnengine.images.preprocess import (CENTER, MAX_BYTES, PreprocessError, load_image, normalize_ink,
                                        preprocess_bytes, preprocess_image, sniff_format)
from tests.support.images import rle8_bmp

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def font(size):
    try:
        return ImageFont.truetype(FONT, size)
    except OSError:
        return ImageFont.load_default(size)


def glyph(digit, height, w=200, h=200, at=None, ink=(0, 0, 0, 255), bg=(255, 255, 255, 255)):
    """A w x h RGBA picture with ``digit`` about ``height`` px tall centred at ``at``."""
    im = Image.new("RGBA", (w, h), bg)
    ImageDraw.Draw(im).text(at or (w / 2, h / 2), str(digit), font=font(int(height * 1.35)), fill=ink,
                            anchor="mm")
    return im


def png(im, fmt="PNG", **kw):
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def com(a):
    total = a.sum()
    return (a.sum(1) * np.arange(28)).sum() / total, (a.sum(0) * np.arange(28)).sum() / total


def ink_box(a, level=0.3):
    ys, xs = np.nonzero(a > level)
    return ys.max() - ys.min() + 1, xs.max() - xs.min() + 1


def corr(a, b):
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_output_is_mnist_like():
    x = preprocess_image(glyph(5, 120))
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() <= 1 and x.max() > 0.9
    assert x[0].max() == 0 and x[-1].max() == 0 and x[:, 0].max() == 0   # a clear margin
    assert max(ink_box(x, 0.05)) in (20, 21)                              # longer side fits 20 px


def test_polarity_white_on_black_equals_black_on_white():
    a = preprocess_image(glyph(3, 120))
    b = preprocess_image(glyph(3, 120, ink=(255, 255, 255, 255), bg=(0, 0, 0, 255)))
    assert np.abs(a - b).mean() < 0.01 and np.abs(a - b).max() < 0.1


def test_transparent_canvas_export():
    """Black ink on a transparent background (what canvas.toDataURL gives) equals ink on white."""
    a = preprocess_image(glyph(7, 150))
    b = preprocess_bytes(png(glyph(7, 150, bg=(0, 0, 0, 0))))
    # and white "ink" with alpha is still ink: only alpha carries the drawing
    c = preprocess_bytes(png(glyph(7, 150, ink=(0, 0, 0, 255), bg=(255, 255, 255, 0))))
    assert np.abs(a - b).max() < 0.05
    assert np.abs(a - c).max() < 0.05


@pytest.mark.parametrize("at", [(30, 30), (170, 40), (100, 170), (40, 160)])
def test_centre_of_mass_is_centred_for_off_centre_digits(at):
    x = preprocess_image(glyph(2, 40, at=at))
    cy, cx = com(x)
    assert abs(cy - CENTER) < 0.5 and abs(cx - CENTER) < 0.5


def test_tall_one_stays_tall_and_narrow():
    im = Image.new("RGB", (200, 200), "white")
    ImageDraw.Draw(im).line([(100, 20), (104, 180)], fill="black", width=14)
    x = preprocess_image(im)
    h, w = ink_box(x)
    assert 19 <= h <= 21
    assert w <= 6


def test_tiny_and_huge_digits_look_alike():
    ref = preprocess_image(glyph(4, 150))
    tiny = preprocess_bytes(png(glyph(4, 12, w=400, h=300, at=(60, 250))))
    huge = preprocess_bytes(png(glyph(4, 2000, w=2800, h=2800), compress_level=1))   # 7.8 MP PNG
    photo = preprocess_bytes(png(glyph(4, 2600, w=4000, h=3000).convert("RGB"), "JPEG", quality=90))  # 12 MP
    assert corr(ref, tiny) > 0.8
    assert corr(ref, huge) > 0.95
    assert corr(ref, photo) > 0.95
    for x in (tiny, huge, photo):
        assert max(ink_box(x, 0.05)) in (19, 20, 21)


def test_photo_of_paper_uneven_light_noise_coloured_ink():
    rng = np.random.default_rng(0)
    cov = np.asarray(glyph(6, 200, w=320, h=300, ink=(255,) * 4, bg=(0, 0, 0, 255)).convert("L"),
                     np.float32)[..., None] / 255
    yy, xx = np.mgrid[0:300, 0:320] / 320.0
    light = (1.0 - 0.45 * xx - 0.3 * ((yy - 0.2) ** 2 + (xx - 0.8) ** 2))[..., None]
    paper, pen = np.array([0.78, 0.76, 0.72]), np.array([0.15, 0.2, 0.6])
    rgb = (paper * (1 - cov) + pen * cov) * light + rng.normal(0, 0.03, cov.shape[:2] + (3,))
    im = Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1))
    x = preprocess_bytes(png(im, "JPEG", quality=70))
    assert corr(x, preprocess_image(glyph(6, 200, w=320, h=300))) > 0.9


def test_jpeg_artefacts():
    im = glyph(8, 60, w=120, h=100).convert("RGB")
    x = preprocess_bytes(png(im, "JPEG", quality=30))
    assert corr(x, preprocess_image(im)) > 0.93


@pytest.mark.parametrize("picture", [
    Image.new("RGB", (300, 200), "white"),
    Image.new("RGBA", (280, 280), (0, 0, 0, 0)),            # an empty canvas export
    Image.new("L", (64, 64), 30),
])
def test_blank_picture_has_no_digit(picture):
    with pytest.raises(PreprocessError, match="no digit found in the image") as err:
        preprocess_bytes(png(picture))
    assert 400 <= err.value.status < 500


def test_blank_noisy_paper_photo_has_no_digit():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:240, 0:320] / 320.0
    g = (0.75 - 0.3 * xx)[..., None] + rng.normal(0, 0.02, (240, 320, 3))
    im = Image.fromarray((np.clip(g, 0, 1) * 255).astype(np.uint8))
    with pytest.raises(PreprocessError, match="no digit"):
        preprocess_bytes(png(im, "JPEG", quality=60))


def test_small_specks_are_ignored():
    im = glyph(1, 100, w=300, h=300).convert("RGB")
    d = ImageDraw.Draw(im)
    for p in [(10, 10), (280, 20), (20, 270), (270, 280)]:
        d.ellipse([p[0], p[1], p[0] + 3, p[1] + 3], fill="black")
    x = preprocess_image(im)
    assert np.abs(x - preprocess_image(glyph(1, 100, w=300, h=300))).max() < 0.1


# ------------------------------------------------------------------------------------------------
# refusals


def png_header(w, h, depth=8):
    """A PNG whose IHDR claims w x h and which has (almost) no pixel data."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("data,status", [
    (b"", 400),
    (b"hello, I am a text file\n", 415),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', 415),
    (b"%PDF-1.4\n", 415),
    (png_header(100000, 100000), 413),
    (png_header(MAX_SIDE + 1, 10), 413),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, 400),
])
def test_refusals(data, status):
    with pytest.raises(PreprocessError) as err:
        preprocess_bytes(data)
    assert err.value.status == status


def test_truncated_png_is_refused():
    data = png(glyph(5, 100).convert("RGB"))
    with pytest.raises(PreprocessError) as err:
        preprocess_bytes(data[: len(data) // 2])
    assert err.value.status == 400


def test_oversize_bytes_refused():
    with pytest.raises(PreprocessError) as err:
        load_image(b"\x89PNG\r\n\x1a\n" + b"\x00" * MAX_BYTES)
    assert err.value.status == 413


def test_sniffing():
    assert sniff_format(png(Image.new("RGB", (4, 4)))) == "PNG"
    assert sniff_format(png(Image.new("RGB", (4, 4)), "JPEG")) == "JPEG"
    assert sniff_format(png(Image.new("RGB", (4, 4)), "GIF")) == "GIF"
    assert sniff_format(png(Image.new("RGB", (4, 4)), "BMP")) == "BMP"
    assert sniff_format(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "WEBP"
    assert sniff_format(b"<?xml version='1.0'?><svg/>") is None


def test_normalize_ink_centre_jitter_and_box():
    ink = np.zeros((60, 30), np.float32)
    ink[5:55, 10:20] = 1
    x = normalize_ink(ink, box=18, center=(13.0, 15.0))
    cy, cx = com(x)
    assert abs(cy - 13.0) < 0.05 and abs(cx - 15.0) < 0.05
    assert ink_box(x, 0.05)[0] in (18, 19, 20)


# size limits: what passes, and refusals that name the picture's size and the limit it broke


@pytest.mark.parametrize("w, h", [(4000, 3000), (4032, 3024), (3024, 4032), (4080, 3072), (4160, 3120)])
def test_phone_photos_pass_the_jpeg_limit(w, h):
    check_size(w, h, "JPEG")                       # 12 and 13 MP cameras, either orientation


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "BMP", "WEBP"])
def test_a_4k_screenshot_passes_the_full_decode_limit(fmt):
    check_size(3840, 2160, fmt)


@pytest.mark.parametrize("w, h, fmt, data, limit, kind", [
    (4096, 4096, "JPEG", b"", MAX_PIXELS, "a JPEG"),
    (4096, 4096, "PNG", b"", MAX_PIXELS_FULL_DECODE, "a PNG"),
    (3000, 3000, "WEBP", b"", MAX_PIXELS_FULL_DECODE, "a WebP"),
    (2100, 2000, "PNG", png_header(2100, 2000, depth=16), MAX_PIXELS_16BIT, "a 16-bit PNG"),
])
def test_a_pixel_refusal_names_the_size_and_the_limit(w, h, fmt, data, limit, kind):
    with pytest.raises(PreprocessError) as err:
        check_size(w, h, fmt, data)
    message = err.value.message
    assert err.value.status == 413
    assert f"{w}x{h} = {w * h:,} pixels" in message
    assert f"{kind} may have at most {limit:,} pixels" in message
    assert "megapixels" in message


def test_the_4096_square_is_refused_without_a_contradiction():
    """The old message said 'at most 4096x4096 and 16 megapixels' to a 4096x4096 picture."""
    with pytest.raises(PreprocessError) as err:
        preprocess_bytes(png_header(4096, 4096))
    assert "4096x4096 = 16,777,216 pixels (16.78 megapixels)" in err.value.message
    assert "at most 8,300,000 pixels (8.3 megapixels" in err.value.message
    assert "4096x4096 and" not in err.value.message


@pytest.mark.parametrize("w, h, over", [
    (MAX_SIDE + 1, 10, f"width ({MAX_SIDE + 1} px) is"),
    (10, 100000, "height (100000 px) is"),
    (9000, 9000, "width (9000 px) and height (9000 px) are"),
])
def test_a_side_refusal_names_the_side_and_the_limit(w, h, over):
    with pytest.raises(PreprocessError) as err:
        preprocess_bytes(png_header(w, h))
    assert err.value.status == 413
    assert err.value.message == f"image too large: {w}x{h} pixels; its {over} over the limit of {MAX_SIDE} px per side"


def test_far_beyond_pillows_bomb_limit_still_names_the_size():
    with pytest.raises(PreprocessError) as err:
        preprocess_bytes(png_header(100000, 100000))
    assert "100000x100000" in err.value.message and str(MAX_SIDE) in err.value.message


def test_a_byte_refusal_names_the_size_and_the_limit():
    with pytest.raises(PreprocessError) as err:
        load_image(b"\x89PNG\r\n\x1a\n" + b"\x00" * MAX_BYTES)
    assert f"{MAX_BYTES + 8:,} bytes" in err.value.message and f"at most {MAX_BYTES:,} bytes" in err.value.message


def test_rle_bmp_is_refused():
    with pytest.raises(PreprocessError) as err:
        load_image(rle8_bmp(100, 100))
    assert err.value.status == 415 and "RLE" in err.value.message


def test_sixteen_bit_grey_keeps_its_greys():
    grey = np.full((40, 40), 0x8000, np.uint16)          # mid grey, not white
    im = load_image(png(Image.fromarray(grey)))
    assert 120 <= np.asarray(im)[0, 0, 0] <= 135


def test_big_pictures_are_decoded_small_and_upright():
    """A 13 MP phone photo lying on its side (EXIF orientation 6) comes back upright and small."""
    stored = glyph(1, 2400, w=4160, h=3120).convert("RGB")          # as the sensor wrote it: landscape
    exif = Image.Exif()
    exif[0x0112] = 6                                    # "rotate 90 degrees clockwise to display"
    im = load_image(png(stored, "JPEG", exif=exif))
    assert max(im.size) <= 1024 and im.size[0] < im.size[1]          # shown upright: portrait


def test_transparent_canvas_reduced_keeps_its_ink():
    """A big RGBA picture (black ink on transparent) is box-reduced with alpha premultiplied."""
    im = Image.new("RGBA", (2800, 2800), (255, 255, 255, 0))
    ImageDraw.Draw(im).line([(1400, 300), (1400, 2500)], fill=(0, 0, 0, 255), width=300)
    x = preprocess_bytes(png(im))
    assert x.max() > 0.9 and ink_box(x)[0] >= 19
