"""Connectivity of periodic binary media (pixel cells, voxel units), shared by the chains.

A solid phase on a periodic cell is labelled on the torus: the face-connected patches of the
unwrapped cell are joined across the seams, and for each resulting component the translations of
the tiling it connects a point to (its windings) are collected.  A component whose windings span
all d directions carries load in every direction when the cell is tiled; one of lower rank is a
floating island (rank 0) or a set of parallel fibres or sheets.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage


def component_windings(solid: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Face-connected patches of a d-dimensional periodic cell and the winding rank of each.

    Returns ``labels`` (patches of the unwrapped cell, 0 = void) and ``ranks`` with
    ``ranks[label - 1]`` the rank (0..d) of the torus component that patch belongs to."""
    solid = np.asarray(solid, dtype=bool)
    d = solid.ndim
    lab, n = ndimage.label(solid, structure=ndimage.generate_binary_structure(d, 1))
    adj: dict[int, set[tuple]] = {k: set() for k in range(1, n + 1)}
    for axis in range(d):
        last = np.take(lab, -1, axis=axis)
        first = np.take(lab, 0, axis=axis)
        both = (last > 0) & (first > 0)
        step = tuple(1 if a == axis else 0 for a in range(d))
        back = tuple(-s for s in step)
        for a, b in set(zip(last[both].tolist(), first[both].tolist())):
            adj[a].add((b, step))
            adj[b].add((a, back))
    lift: dict[int, tuple] = {}
    ranks = [0] * n
    zero = (0,) * d
    for start in range(1, n + 1):
        if start in lift:
            continue
        lift[start] = zero
        members, windings, stack = [start], [], [start]
        while stack:
            a = stack.pop()
            la = lift[a]
            for b, step in adj[a]:
                want = tuple(x + s for x, s in zip(la, step))
                if b not in lift:
                    lift[b] = want
                    members.append(b)
                    stack.append(b)
                elif lift[b] != want:
                    windings.append(tuple(w - l for w, l in zip(want, lift[b])))
        rank = int(np.linalg.matrix_rank(np.array(windings))) if windings else 0
        for m in members:
            ranks[m - 1] = rank
    return lab, ranks


def load_bearing(solid: np.ndarray) -> tuple[np.ndarray, int]:
    """Mask of the solid in components that wrap in every direction, and the number of patches
    (face-connected pieces of the unwrapped cell) outside them."""
    lab, ranks = component_windings(solid)
    full = np.asarray(solid).ndim
    keep = np.array([False] + [r == full for r in ranks])
    return keep[lab], sum(r < full for r in ranks)


def torus_components(solid: np.ndarray) -> int:
    """Number of solid components on the torus (face connectivity)."""
    lab, n = ndimage.label(np.asarray(solid, dtype=bool),
                           structure=ndimage.generate_binary_structure(np.asarray(solid).ndim, 1))
    parent = list(range(n + 1))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for axis in range(lab.ndim):
        last, first = np.take(lab, -1, axis=axis), np.take(lab, 0, axis=axis)
        both = (last > 0) & (first > 0)
        for a, b in set(zip(last[both].tolist(), first[both].tolist())):
            parent[find(a)] = find(b)
    return len({find(k) for k in range(1, n + 1)})
