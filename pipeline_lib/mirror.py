"""Mirror symmetry about the mid-planes of a d-dimensional cell (pixel cells: d = 2, voxel units:
d = 3), the symmetry of every database sample of both chains.

With even sides the mirror planes fall on grid planes, so a symmetric cell is its corner (the
top-left quarter in 2D, the origin eighth in 3D) reflected across each axis, and the cell faces are
mirror planes too (by periodicity).  Functions act on the last ``d`` axes and broadcast over the
leading ones.
"""
from __future__ import annotations

import numpy as np


def _axes(d: int) -> range:
    if d < 1:
        raise ValueError(f"dimension must be positive, got {d}")
    return range(-d, 0)


def unfold(corner: np.ndarray, d: int) -> np.ndarray:
    """Full (..., 2h_1, ..., 2h_d) cell from its (..., h_1, ..., h_d) corner."""
    out = corner
    for axis in _axes(d):
        out = np.concatenate([out, np.flip(out, axis=axis)], axis=axis)
    return out


def corner(cells: np.ndarray, d: int) -> np.ndarray:
    """The (..., n_1/2, ..., n_d/2) corner at the origin of (..., n_1, ..., n_d) cells."""
    return cells[(Ellipsis,) + tuple(slice(0, s // 2) for s in np.shape(cells)[-d:])]


def is_mirror_symmetric(cells: np.ndarray, d: int) -> np.ndarray:
    """Per cell: symmetric about every mid-plane, with even sides (so the corner solve applies)."""
    cells = np.asarray(cells)
    lead = cells.shape[:-d]
    if any(s % 2 for s in cells.shape[-d:]):
        return np.zeros(lead, dtype=bool)
    ok = np.ones(lead, dtype=bool)
    inner = tuple(_axes(d))
    for axis in inner:
        ok &= (np.flip(cells, axis=axis) == cells).all(axis=inner)
    return ok


def symmetrize(field: np.ndarray, d: int) -> np.ndarray:
    """Average of a (..., n_1, ..., n_d) field over its 2^d mirror images."""
    f = field
    for axis in _axes(d):
        f = f + np.flip(f, axis=axis)
    return f * 0.5 ** d
