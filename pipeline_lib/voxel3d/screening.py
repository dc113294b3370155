"""Which generated units enter the database: cubic, volume fraction in the window, one solid that
connects the tiling in all three directions, no floating voxels (face connectivity, which is how
hex8 elements transmit load: solids touching only along an edge or at a corner form hinges)."""
from __future__ import annotations

import numpy as np

from pipeline_lib.periodic import component_windings, torus_components
from pipeline_lib.voxel3d.symmetry import is_cubic

REASONS = ("volume_fraction", "not_cubic", "disconnected", "floating_voxels")


def rejection(cell: np.ndarray, window: tuple[float, float]) -> str | None:
    """Why a unit is rejected (one of REASONS), or None when it is accepted."""
    vf = float(np.mean(cell))
    if not window[0] <= vf <= window[1]:
        return "volume_fraction"
    if not is_cubic(cell):
        return "not_cubic"
    _, ranks = component_windings(cell)
    if 3 not in ranks:  # no load path through the tiling
        return "disconnected"
    if min(ranks) < 3:  # pieces that do not carry load in every direction
        return "floating_voxels"
    if torus_components(cell) > 1:  # interwoven but separate load-bearing solids
        return "disconnected"
    return None


def screen(cells: np.ndarray, window: tuple[float, float]) -> tuple[np.ndarray, dict[str, int]]:
    """Keep-mask over (N, n, n, n) units and the count of each rejection reason."""
    keep = np.zeros(len(cells), dtype=bool)
    counts = dict.fromkeys(REASONS, 0)
    for i, c in enumerate(cells):
        why = rejection(np.asarray(c, dtype=bool), window)
        if why is None:
            keep[i] = True
        else:
            counts[why] += 1
    return keep, counts
