"""Incompatibility of neighbouring cells in an assembled pixel2d structure (paper 000, Eq. 17), the
edge costs of the assembly MRF (:mod:`pipeline_lib.optim.mrf`).

Cells are (50, 50) binary arrays, row 0 at the top, x along columns (the homogenization's
convention).  In a structure, cell (i, j) sits left of (i, j+1) and above (i+1, j); the shared
boundary of a horizontal pair is the last column of the left cell against the first column of the
right one, of a vertical pair the last row of the upper cell against the first row of the lower one.

The edge cost is theta = theta^G + theta^M: :func:`geometric` compares the boundary pixels,
:func:`mechanical` the boundary tractions of the cells' periodic solutions under the unit macro
strains (:func:`pipeline_lib.pixel2d.homogenization.boundary_tractions`).
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


def mechanical(ta: np.ndarray, tb: np.ndarray, *, floor: float = 1e-6,
               chunk_bytes: float = 64e6) -> np.ndarray:
    """theta^M of every pair of facing boundaries: ta (..., La, n, 3, 2), tb (..., Lb, n, 3, 2)
    -> (..., La, Lb); leading axes broadcast.

    ta and tb are the tractions of one side and of the side facing it under the three unit
    macro strains, sigma . e on the same fixed axis e (as :func:`pipeline_lib.pixel2d.
    homogenization.boundary_tractions` gives them: right side of the left cell against the
    left side of the right one, bottom side of the upper cell against the top side of the lower
    one).  Normalization::

        theta^M = sum_{k, c, l} |ta - tb|  /  sum_{k, c, l} (|ta| + |tb|)

    summed over the n boundary positions k, the 3 load cases c and the 2 traction components l
    together (one ratio per pair, not a mean of per-position ratios).  It lies in [0, 1]: 0 for
    equal tractions, 1 when one side carries nothing (a void boundary against a loaded one) or
    the tractions are opposite.  A pair whose denominator is at most ``floor`` (in the units of
    the tractions, E = 1 in the database; void pixels carry ~1e-9) transmits nothing and costs
    1, like a disconnected pair in :func:`geometric`.

    Memory: the pairs are compared in chunks of the leading axes of about ``chunk_bytes``."""
    ta = np.asarray(ta, float)
    tb = np.asarray(tb, float)
    if ta.ndim < 4 or tb.ndim < 4 or ta.shape[-3:] != tb.shape[-3:]:
        raise ValueError(f"tractions must be (..., L, n, 3, 2) with the same n, got {ta.shape} and {tb.shape}")
    lead = np.broadcast_shapes(ta.shape[:-4], tb.shape[:-4])
    La, Lb = ta.shape[-4], tb.shape[-4]
    K = int(np.prod(ta.shape[-3:]))
    a = np.broadcast_to(ta, lead + ta.shape[-4:]).reshape(-1, La, K)
    b = np.broadcast_to(tb, lead + tb.shape[-4:]).reshape(-1, Lb, K)
    P = a.shape[0]
    num = np.empty((P, La, Lb))
    step = max(1, int(chunk_bytes // (8 * La * Lb * K)))
    for s in range(0, P, step):
        num[s:s + step] = np.abs(a[s:s + step, :, None, :] - b[s:s + step, None, :, :]).sum(-1)
    den = np.abs(a).sum(-1)[:, :, None] + np.abs(b).sum(-1)[:, None, :]
    out = np.where(den > floor, num / np.where(den > floor, den, 1.0), 1.0)
    return out.reshape(lead + (La, Lb))


# Side order of boundary_tractions: (left, right, top, bottom).
_LEFT, _RIGHT, _TOP, _BOTTOM = range(4)


def mechanical_edge_costs(tractions: np.ndarray, *, floor: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """theta^M for every edge of a grid of candidate sets: tractions (H, W, L, 4, n, 3, 2) of the
    candidates (sides (left, right, top, bottom), as :func:`pipeline_lib.pixel2d.homogenization.
    boundary_tractions` returns them per cell) -> horizontal (H, W-1, L, L) and vertical
    (H-1, W, L, L), indexed like :func:`geometric_edge_costs`."""
    t = np.asarray(tractions, float)
    if t.ndim != 7 or t.shape[3] != 4 or t.shape[-2:] != (3, 2):
        raise ValueError(f"tractions must be (H, W, L, 4, n, 3, 2), got shape {t.shape}")
    H, W, L = t.shape[:3]
    horizontal = np.empty((H, max(W - 1, 0), L, L))
    vertical = np.empty((max(H - 1, 0), W, L, L))
    for i in range(H):  # one grid row at a time keeps the pairwise differences small
        horizontal[i] = mechanical(t[i, :-1, :, _RIGHT], t[i, 1:, :, _LEFT], floor=floor)
        if i + 1 < H:
            vertical[i] = mechanical(t[i, :, :, _BOTTOM], t[i + 1, :, :, _TOP], floor=floor)
    return horizontal, vertical


def edge_costs(candidates: np.ndarray, tractions: np.ndarray, w_geometric: float = 1.0,
               w_mechanical: float = 1.0, *, floor: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """theta = w_geometric theta^G + w_mechanical theta^M (Eq. 17) of every grid edge:
    candidates (H, W, L, n, n) and their tractions (H, W, L, 4, n, 3, 2) -> horizontal
    (H, W-1, L, L) and vertical (H-1, W, L, L)."""
    gh, gv = geometric_edge_costs(candidates)
    mh, mv = mechanical_edge_costs(tractions, floor=floor)
    if gh.shape != mh.shape or gv.shape != mv.shape:
        raise ValueError(f"candidates {np.shape(candidates)} and tractions {np.shape(tractions)} disagree")
    return w_geometric * gh + w_mechanical * mh, w_geometric * gv + w_mechanical * mv
