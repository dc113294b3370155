"""Mirror symmetry about both mid-axes, the symmetry of every cell in the pixel2d database.

With even sides the mirror lines fall on grid lines, so a cell is its top-left quarter reflected
twice, and the cell edges are mirror lines too (by periodicity).
"""
from __future__ import annotations

import numpy as np


def mirror_quarter(q: np.ndarray) -> np.ndarray:
    """Full (..., 2h, 2w) cell from its top-left (..., h, w) quarter."""
    top = np.concatenate([q, q[..., :, ::-1]], axis=-1)
    return np.concatenate([top, top[..., ::-1, :]], axis=-2)


def quarter(cells: np.ndarray) -> np.ndarray:
    """Top-left quarter of (..., H, W) cells."""
    H, W = cells.shape[-2:]
    return cells[..., : H // 2, : W // 2]


def is_mirror_symmetric(cells: np.ndarray) -> np.ndarray:
    """Per cell: symmetric about both mid-axes, with even sides (so the quarter solve applies)."""
    cells = np.asarray(cells)
    H, W = cells.shape[-2:]
    if H % 2 or W % 2:
        return np.zeros(cells.shape[:-2], dtype=bool)
    return ((cells == cells[..., ::-1, :]).all(axis=(-2, -1))
            & (cells == cells[..., :, ::-1]).all(axis=(-2, -1)))


def symmetrize(field: np.ndarray) -> np.ndarray:
    """Average of a (..., H, W) field over the four mirror images."""
    f = field + field[..., ::-1, :]
    return 0.25 * (f + f[..., :, ::-1])
