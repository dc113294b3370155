"""The three voxel3d sources by name (:func:`generate`) and the helpers they share: family sizes,
volume-fraction targets of a sweep, exact permutation symmetry of a field, and assembling units
from their eighths."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from pipeline_lib import mirror
from pipeline_lib.voxel3d.symmetry import symmetrize_permutations


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
    return mirror.unfold(np.stack(eighths).astype(np.uint8), 3)


def sym_min(field: np.ndarray) -> np.ndarray:
    """Pointwise minimum over the six axis permutations: exactly permutation-invariant, so
    rounding differences between x+y+z and y+x+z cannot break the symmetry of a threshold."""
    return -symmetrize_permutations(-field)


def generate(source: str, rng: np.random.Generator, count: int, n: int,
             params: Mapping[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``count`` units of one source (templates, skeletons, levelsets): cells (count, n, n, n)
    uint8, family ids, descriptions.  ``params`` overrides fields of the source's parameter
    dataclass (config ``voxel3d.sources.<source>.params``); an unknown field is an error."""
    from pipeline_lib.config import build
    from pipeline_lib.voxel3d import levelsets, skeletons, templates

    table = {"templates": (templates.generate, templates.TemplateParams),
             "skeletons": (skeletons.generate, skeletons.SkeletonParams),
             "levelsets": (levelsets.generate, levelsets.LevelSetParams)}
    if source not in table:
        raise ValueError(f"unknown source {source!r}; known: {', '.join(table)}")
    fn, cls = table[source]
    prm = build(cls, params, where=f"voxel3d.sources.{source}.params")
    if count == 0:
        return np.zeros((0, n, n, n), np.uint8), np.zeros(0, np.int64), []
    return fn(rng, count, n=n, params=prm)
