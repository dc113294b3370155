"""The spine every chain shares between generation and the database: shard slicing, first-occurrence
deduplication by digest, and concatenation of parts.

A shard is a contiguous slice of rows, so shard k of n holds the same rows however the others are
computed; dedupe keeps the first occurrence of each digest (file order, then row order), so the
result does not depend on which job finished first.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


def rows(n: int, shard: int, shards: int) -> slice:
    """The contiguous slice of ``n`` rows that shard ``shard`` of ``shards`` owns."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is outside 0..{shards - 1}")
    return slice(n * shard // shards, n * (shard + 1) // shards)


def first_occurrence(digest: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
    """For each row, the row of the first occurrence of its digest (itself if it is the first),
    or -1 where the digest is already in ``known``."""
    digest = np.asarray(digest)
    if len(digest) == 0:
        return np.zeros(0, dtype=np.int64)
    _, first, inverse = np.unique(digest, return_index=True, return_inverse=True)
    out = first[inverse.ravel()].astype(np.int64)
    if known is not None and len(known):
        out[np.isin(digest, np.asarray(known, dtype=digest.dtype))] = -1
    return out


def fresh(digest: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
    """Mask of the rows to keep: first of their digest and not in ``known``."""
    return first_occurrence(digest, known) == np.arange(len(digest))


def concat(parts: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Parts with the same datasets joined along the row axis, in order."""
    if not parts:
        return {}
    names = list(parts[0])
    for k, p in enumerate(parts[1:], start=1):
        if set(p) != set(names):
            raise ValueError(f"part {k} has datasets {sorted(p)}, part 0 has {sorted(names)}")
    return {name: np.concatenate([p[name] for p in parts]) for name in names}


def take(arrays: Mapping[str, np.ndarray], keep) -> dict[str, np.ndarray]:
    """The rows ``keep`` (mask or indices) of every array."""
    return {name: a[keep] for name, a in arrays.items()}
