"""Pictures for the prediction tests: rendered digits, legitimate and hostile uploads, and posting
one to /api/predict through a Flask test client."""
import io
import struct
import zlib

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def font(size):
    try:
        return ImageFont.truetype(FONT, size)
    except OSError:
        return ImageFont.load_default(size)


def digit_image(d, fmt="PNG", size=160, ink="black", bg="white", **save):
    im = Image.new("RGB", (size, size), bg)
    ImageDraw.Draw(im).text((size / 2, size / 2), str(d), font=font(int(size * 0.7)), fill=ink, anchor="mm")
    buf = io.BytesIO()
    im.save(buf, fmt, **save)
    return buf.getvalue()


def post(client, data, name="image", filename="digit.png", **form):
    payload = dict(form)
    payload[name] = (io.BytesIO(data), filename)
    return client.post("/api/predict", data=payload, content_type="multipart/form-data")




def png(image, **options):
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **options)
    return buffer.getvalue()


def encoded(image, fmt, **options):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def digit(size=28):
    """A dark '1' on white, size x size."""
    ink = np.zeros((size, size), np.uint8)
    s = size / 28
    ink[int(6 * s):int(22 * s), int(13 * s):int(16 * s)] = 255
    return Image.fromarray(255 - ink)


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header(width, height, idat=b"", depth=8, colour=0):
    """A PNG whose header claims width x height, with whatever pixel data we like."""
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def rle8_bmp(w=200, h=200):
    """A grey BMP of RLE8 runs: Pillow decodes those in pure Python (0.3 s for 2 MB of runs)."""
    rows = b"".join(bytes([w, 0]) + b"\x00\x00" for _ in range(h)) + b"\x00\x01"
    palette = b"".join(bytes([i, i, i, 0]) for i in range(256))
    offset = 14 + 40 + len(palette)
    return (b"BM" + struct.pack("<IHHI", offset + len(rows), 0, 0, offset)
            + struct.pack("<IiiHHIIiiII", 40, w, h, 1, 8, 1, len(rows), 2835, 2835, 256, 0) + palette + rows)


def hostile():
    good = png(digit())
    return {
        "empty": b"",
        "truncated png": good[:len(good) // 2],
        "png signature and header only": good[:16],
        "100000x100000 header in a tiny file": png_header(100000, 100000, zlib.compress(b"")),
        "4096x4096 zip bomb": png_header(4096, 4096, zlib.compress(b"\0" * (4097 * 4096), 9)),
        "4000x4000 header, no pixels": png_header(4000, 4000, zlib.compress(b"\0" * 10)),
        "4000x4000 in 21 kB": png(Image.new("L", (4000, 4000), 255), optimize=True),
        "rle8 bmp": rle8_bmp(),
        "0x0": png_header(0, 0, zlib.compress(b"")),
        "1x100000 strip": png(Image.new("L", (1, 100000), 255)),
        "100000x1 strip": png(Image.new("L", (100000, 1), 0)),
        "svg with script": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "html": b"<!doctype html><script>alert(1)</script>",
        "text": b"seven",
        "pdf": b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n",
        "zip": b"PK\x03\x04" + b"\0" * 100,
        "tiff": encoded(digit(), "TIFF"),
        "gif/js polyglot": b"GIF89a/*" + b"\0" * 20 + b"*/=1;alert(1);",
        "gif claiming 65535x65535": b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\0\0\0;",
        "bmp claiming 50000x50000": (b"BM" + struct.pack("<IHHI", 70, 0, 0, 54)
                                     + struct.pack("<IiiHHIIiiII", 40, 50000, 50000, 1, 24, 0, 0, 0, 0, 0, 0)
                                     + b"\0" * 16),
        "truncated jpeg": encoded(digit(200).convert("RGB"), "JPEG")[:300],
        "png signature then junk": b"\x89PNG\r\n\x1a\n" + b"\xff" * 1000,
        "random bytes": np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        "over 2 MB": b"\x89PNG\r\n\x1a\n" + b"\0" * (2 * 1024 * 1024 + 10),
        "blank white": png(Image.new("L", (28, 28), 255)),
        "one pixel": png(Image.new("L", (1, 1), 0)),
    }


