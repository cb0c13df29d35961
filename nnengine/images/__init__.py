"""Pictures of digits into network inputs, as the server's predictions and the scripts use them.

- ``decode``: refuse or decode an uploaded picture cheaply (format sniffing, size limits read from the
  header before decoding, reduced decoding);
- ``preprocess``: the decoded picture into a 28x28 MNIST-style input (ink high, size-normalised,
  centred by centre of mass).
"""
from .decode import MAX_BYTES, PreprocessError, load_image
from .preprocess import normalize_ink, preprocess_bytes, preprocess_image

__all__ = ["MAX_BYTES", "PreprocessError", "load_image", "normalize_ink", "preprocess_bytes", "preprocess_image"]
