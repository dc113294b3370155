"""Detect and fix the defects that make a pixel cell unusable, on the periodic torus.

* isolated pixels: a solid pixel with no solid edge-neighbour, or a void pixel with no void one;
* checkerboards: a 2 x 2 window with solid only on one diagonal (the two solids touch at a corner,
  a hinge that bilinear elements render artificially stiff);
* disconnected solid: every solid part must belong to the one component that connects the cell to
  its neighbours in both directions when tiled.  Parts that do not (floating islands, parts that
  only wrap one way) are removed; a cell without such a component is rejected.

Every fix is covariant under the cell's mirror symmetries, so symmetric cells stay symmetric.
Connectivity is through edges (4-neighbours), matching how Q4 elements transmit load.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from pipeline_lib.periodic import load_bearing
from pipeline_lib.progress import track

COUNTERS = ("isolated_solid", "isolated_void", "checkerboard", "floating_parts", "rejected")


def _neighbours(solid: np.ndarray) -> np.ndarray:
    """Number of solid edge-neighbours of each pixel, periodic; solid: (..., H, W) bool."""
    s = solid.astype(np.int8)
    return (np.roll(s, 1, -1) + np.roll(s, -1, -1) + np.roll(s, 1, -2) + np.roll(s, -1, -2))


def isolated(solid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks of isolated solid pixels and isolated void pixels."""
    n = _neighbours(solid)
    return solid & (n == 0), ~solid & (n == 4)


def checkerboards(solid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Window masks (anchored at the window's top-left pixel, periodic) of the two diagonal patterns."""
    a = solid
    b = np.roll(solid, -1, -1)  # right
    c = np.roll(solid, -1, -2)  # below
    d = np.roll(b, -1, -2)  # below right
    return a & d & ~b & ~c, b & c & ~a & ~d


def fix_defects(cells: np.ndarray, max_rounds: int = 8) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Fix defects of (N, H, W) cells.

    Returns the fixed cells (uint8), a mask of the cells kept (a cell is rejected when no solid
    component connects it in both directions, or when fixing does not converge), and counts of
    what was fixed: isolated pixels and checkerboard windows (fixed by flipping the pixel / filling
    the two void pixels of the window) and floating parts removed.
    """
    solid = np.asarray(cells).astype(bool).copy()
    counts: Counter = Counter()
    keep = np.ones(len(solid), dtype=bool)
    for k in track(range(len(solid)), "defect fixing", unit="cells"):
        s = solid[k]
        for _ in range(max_rounds):
            changed = False
            iso_s, iso_v = isolated(s)
            if iso_s.any() or iso_v.any():
                counts["isolated_solid"] += int(iso_s.sum())
                counts["isolated_void"] += int(iso_v.sum())
                s = (s & ~iso_s) | iso_v
                changed = True
            p1, p2 = checkerboards(s)
            if p1.any() or p2.any():
                counts["checkerboard"] += int(p1.sum() + p2.sum())
                # fill the void diagonal of each window: b, c for pattern 1; a, d for pattern 2
                fill = (np.roll(p1, 1, -1) | np.roll(p1, 1, -2) | p2 | np.roll(np.roll(p2, 1, -1), 1, -2))
                s = s | fill
                changed = True
            bearing, floating = load_bearing(s)
            if floating:
                counts["floating_parts"] += floating
                s = bearing
                changed = True
            if not changed:
                break
        else:
            keep[k] = False
        if not s.any():
            keep[k] = False
        solid[k] = s
    counts["rejected"] += int((~keep).sum())
    return solid.astype(np.uint8), keep, {k: int(counts.get(k, 0)) for k in COUNTERS}
