"""Work arrays that evaluation passes reuse, so that repeated passes allocate nothing large."""
from __future__ import annotations

import numpy as np


class Scratch:
    """Two flat work arrays per dtype; layer outputs alternate between them (slot 0 and slot 1), so a
    layer never writes over its own input."""

    def __init__(self):
        self.arrays: dict[tuple[int, np.dtype], np.ndarray] = {}

    def get(self, slot: int, shape: tuple[int, int], dtype) -> np.ndarray:
        """A C-contiguous array of ``shape`` and ``dtype`` on work array ``slot`` (0 or 1)."""
        key, size = (slot, np.dtype(dtype)), shape[0] * shape[1]
        flat = self.arrays.get(key)
        if flat is None or flat.size < size:
            flat = self.arrays[key] = np.empty(size, dtype=dtype)
        return flat[:size].reshape(shape)

    def holds(self, x: np.ndarray, slot: int) -> bool:
        """Whether x may share memory with a work array of ``slot``."""
        return any(np.may_share_memory(x, flat) for (s, _), flat in self.arrays.items() if s == slot)
