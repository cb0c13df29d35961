"""A picture that already is a network input: 28x28, grey, ink bright on black, taken as it is
(``POST /api/predict`` with ``preprocess=none``), so that a dream or an adversarial digit the server
made can be sent back and checked pixel for pixel."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from .decode import PreprocessError, load_image

SIDE = 28


def network_input(data: bytes) -> np.ndarray:
    """The picture's grey levels / 255 as a (28, 28) float32 array in [0, 1].

    Colour is turned into grey by luminance (ITU-R 601, as Pillow's "L"), and a transparent pixel is
    black (the picture is composited onto black: ink bright on black).  Raises ``PreprocessError``: the
    decoding errors of ``load_image``, and 400 for a picture that is not 28x28 pixels.
    """
    im = load_image(data)
    if im.size != (SIDE, SIDE):
        raise PreprocessError(f"preprocess=none takes the network's input as it is, a {SIDE}x{SIDE} picture; "
                              f"this one is {im.size[0]}x{im.size[1]} (leave preprocess out to have a picture "
                              "cropped, fitted and centred)", 400)
    grey = np.asarray(im.convert("L"), dtype=np.float32)
    if im.mode == "RGBA":
        grey = grey * (np.asarray(im.getchannel("A"), dtype=np.float32) / 255)
    return np.clip(grey / 255, 0.0, 1.0)


def png_bytes(x: np.ndarray) -> bytes:
    """A (28, 28) input in [0, 1] as the bytes of an 8-bit grey PNG (each value rounded to k / 255):
    what ``network_input`` reads back."""
    levels = np.rint(np.clip(np.asarray(x, dtype=np.float64).reshape(SIDE, SIDE), 0, 1) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(levels, "L").save(buffer, format="PNG")
    return buffer.getvalue()
