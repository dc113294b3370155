"""Cubic symmetry of voxel units (the 48 operations of the full octahedral group m-3m).

A unit is an (n, n, n) array, ``cells[i, j, k]`` the voxel at x = i, y = j, z = k, with voxel
centres at ((i + 0.5) / n, ...) in a cell of side 1.  Every database unit is one eighth
(n/2)^3 mirrored across the three mid-planes (so the cell faces are mirror planes too, by
periodicity) and invariant under permutations of the axes: together, all 48 operations.  The
mirror part alone (corner <-> full unit) is :mod:`pipeline_lib.mirror`, shared with pixel2d.
"""
from __future__ import annotations

from itertools import permutations, product

import numpy as np

OPERATIONS = tuple((perm, flips) for perm in permutations(range(3)) for flips in product((False, True), repeat=3))


def apply(cells: np.ndarray, op) -> np.ndarray:
    """Apply one operation (axis permutation, then reflections about the mid-planes) to (..., n, n, n)."""
    perm, flips = op
    lead = cells.ndim - 3
    out = np.transpose(cells, tuple(range(lead)) + tuple(lead + p for p in perm))
    for axis, flip in enumerate(flips):
        if flip:
            out = np.flip(out, axis=lead + axis)
    return out


def is_cubic(cells: np.ndarray) -> np.ndarray:
    """Per unit: invariant under all 48 operations."""
    cells = np.asarray(cells)
    ok = np.ones(cells.shape[:-3], dtype=bool)
    for op in OPERATIONS[1:]:
        ok &= (apply(cells, op) == cells).all(axis=(-3, -2, -1))
    return ok


def symmetrize_permutations(field: np.ndarray, reduce=np.maximum) -> np.ndarray:
    """Combine a (..., h, h, h) field over the six axis permutations (default: pointwise max, i.e.
    the union of the solids where field > 0), making it invariant under them."""
    out = field
    for perm in list(permutations(range(3)))[1:]:
        lead = field.ndim - 3
        out = reduce(out, np.transpose(field, tuple(range(lead)) + tuple(lead + p for p in perm)))
    return out


def grid(n: int, eighth_only: bool = True) -> np.ndarray:
    """Voxel-centre coordinates (m, m, m, 3) in a cell of side 1; the eighth [0, 1/2)^3 by default."""
    m = n // 2 if eighth_only else n
    c = (np.arange(m) + 0.5) / n
    return np.stack(np.meshgrid(c, c, c, indexing="ij"), axis=-1)
