"""Helpers shared by the three voxel3d sources: family sizes, volume-fraction targets of a sweep,
exact permutation symmetry of a field, and assembling units from their eighths."""
from __future__ import annotations

import numpy as np

from pipeline_lib.voxel3d.symmetry import mirror_eighth, symmetrize_permutations

def family_sizes(rng: np.random.Generator, count: int, size_range: tuple[int, int]) -> list[int]:
    """Sizes drawn in size_range summing to count (the last family is cut short)."""
    lo, hi = size_range
    if not 1 <= lo <= hi:
        raise ValueError(f"bad family size range {size_range}")
    sizes: list[int] = []
    while sum(sizes) < count:
        sizes.append(int(rng.integers(lo, hi + 1)))
    if sizes:
        sizes[-1] -= sum(sizes) - count
    return sizes


def vf_targets(rng: np.random.Generator, lo: float, hi: float, min_span: float) -> tuple[float, float] | None:
    """Two volume fractions lo <= v0 < v1 <= hi at least min_span apart; None if they cannot be."""
    if hi - lo < min_span:
        return None
    v0 = rng.uniform(lo, hi - min_span)
    return v0, rng.uniform(v0 + min_span, hi)


def check_n(n: int) -> int:
    if n < 4 or n % 2:
        raise ValueError(f"n must be even and >= 4, got {n}")
    return n // 2


def assemble(eighths: list[np.ndarray], n: int) -> np.ndarray:
    """(count, n, n, n) uint8 units from their boolean eighths."""
    if not eighths:
        return np.zeros((0, n, n, n), dtype=np.uint8)
    return mirror_eighth(np.stack(eighths).astype(np.uint8))


def sym_min(field: np.ndarray) -> np.ndarray:
    """Pointwise minimum over the six axis permutations: exactly permutation-invariant, so
    rounding differences between x+y+z and y+x+z cannot break the symmetry of a threshold."""
    return -symmetrize_permutations(-field)
