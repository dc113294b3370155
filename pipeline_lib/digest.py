"""Content digests for deduplicating binary cells and units (shared by the chains)."""
from __future__ import annotations

import hashlib

import numpy as np


def binary_digests(cells: np.ndarray) -> np.ndarray:
    """64-bit BLAKE2b digest of each packed binary array along axis 0 (its shape included)."""
    cells = np.asarray(cells, dtype=bool)
    shape = np.array(cells.shape[1:], dtype=np.int64).tobytes()
    packed = np.packbits(cells.reshape(len(cells), -1), axis=1)
    return np.array([int.from_bytes(hashlib.blake2b(shape + row.tobytes(), digest_size=8).digest(), "little")
                     for row in packed], dtype=np.uint64)
