"""Incompatibility of neighbouring cells in an assembled pixel2d structure (paper 000, Eq. 17), the
edge costs of the assembly MRF (:mod:`pipeline_lib.optim.mrf`).

Cells are (50, 50) binary arrays, row 0 at the top, x along columns (the homogenization's
convention).  In a structure, cell (i, j) sits left of (i, j+1) and above (i+1, j); the shared
boundary of a horizontal pair is the last column of the left cell against the first column of the
right one, of a vertical pair the last row of the upper cell against the first row of the lower one.
"""
from __future__ import annotations

import numpy as np


def geometric(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """theta^G of every pair of boundary pixel rows: a (..., La, n), b (..., Lb, n) binary ->
    (..., La, Lb), the pixels solid on one side only over the pixels solid on either side.  A pair
    with no solid pixel on the shared boundary transmits nothing and costs 1, like a disconnected pair."""
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    both = np.einsum("...ln,...mn->...lm", a, b)
    either = a.sum(-1)[..., :, None] + b.sum(-1)[..., None, :] - both
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(either > 0, (either - both) / np.where(either > 0, either, 1), 1.0)


def geometric_edge_costs(candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """theta^G for every edge of a grid of candidate sets: candidates (H, W, L, n, n) binary ->
    horizontal (H, W-1, L, L) and vertical (H-1, W, L, L), indexed [i, j, label of (i, j), label of
    the right or lower neighbour], the shapes :class:`pipeline_lib.optim.mrf.GridMRF` takes."""
    c = np.asarray(candidates)
    if c.ndim != 5 or c.shape[-1] != c.shape[-2]:
        raise ValueError(f"candidates must be (H, W, L, n, n) square cells, got shape {c.shape}")
    horizontal = geometric(c[:, :-1, :, :, -1], c[:, 1:, :, :, 0])
    vertical = geometric(c[:-1, :, :, -1, :], c[1:, :, :, 0, :])
    return horizontal, vertical
