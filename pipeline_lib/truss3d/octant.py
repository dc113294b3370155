"""The 27 candidate nodes of the octant [0, 1]^3 and their natural-coordinate offsets.

Node order (the authors' released data uses it too): layers z = 0, 0.5, 1 of 9 nodes; within a
layer (x, y) visits (0,0), (0,.5), (0,1), (.5,1), (.5,.5), (.5,0), (1,0), (1,.5), (1,1).  So node
0 is (0,0,0) (the centre of the mirrored unit cell [-1, 1]^3), node 13 the body node (.5,.5,.5)
and node 26 the vertex (1,1,1).

Offsets are (27, 3), one column per axis, zero in fixed directions and in [-0.5, 0.5] in free
ones: an edge node sits at 0.5 + r along its edge; a face node at ((1 - s)/2, (1 - t)/2) in its
face (s, t: offsets along the face's two axes, lower axis first); the body node at
((1 - s)/2, (1 - t)/2, (1 - q)/2).  Vertex nodes do not move.
"""
from __future__ import annotations

import numpy as np

N_NODES = 27
_LAYER = ((0, 0), (0, .5), (0, 1), (.5, 1), (.5, .5), (.5, 0), (1, 0), (1, .5), (1, 1))
BASE = np.array([(x, y, z) for z in (0.0, 0.5, 1.0) for x, y in _LAYER], dtype=float)  # (27, 3)
FREE = BASE == 0.5  # (27, 3): directions a node may move in
KIND = np.array(["vertex", "edge", "face", "body"])[FREE.sum(1)]  # by number of free directions
_EDGE = FREE.sum(1) == 1
# The rewiring radius (octant units): generation draws new connections between candidate nodes at
# most this far apart in their reference positions (the longest beam of the elementary lattices;
# paper 002's r_max).  It limits which pairs may be joined, not how long a beam gets once its
# nodes move: in the authors' code and data beams grow longer than this.
R_MAX = np.sqrt(3.0) / 2.0
_D = np.linalg.norm(BASE[:, None] - BASE[None], axis=-1)
REWIRABLE = (_D <= R_MAX + 1e-9) & ~np.eye(N_NODES, dtype=bool)  # (27, 27): pairs a new beam may join


def node_index(x: float, y: float, z: float) -> int:
    """Index of the candidate node at base position (x, y, z)."""
    hit = np.flatnonzero((np.abs(BASE - (x, y, z)) < 1e-12).all(1))
    if len(hit) != 1:
        raise ValueError(f"({x}, {y}, {z}) is not a candidate node position")
    return int(hit[0])


def positions(offsets: np.ndarray) -> np.ndarray:
    """Node positions (..., 27, 3) in the octant from offsets (..., 27, 3)."""
    off = np.asarray(offsets, dtype=float)
    moved = np.where(_EDGE[:, None], 0.5 + off, (1.0 - off) / 2.0)
    return np.where(FREE, moved, BASE)


def offsets_from_positions(pos: np.ndarray) -> np.ndarray:
    """Inverse of :func:`positions` (fixed directions get 0)."""
    pos = np.asarray(pos, dtype=float)
    off = np.where(_EDGE[:, None], pos - 0.5, 1.0 - 2.0 * pos)
    return np.where(FREE, off, 0.0)


def check_offsets(offsets: np.ndarray, tol: float = 1e-9) -> str | None:
    """A problem with one lattice's offsets (27, 3), or None."""
    off = np.asarray(offsets)
    if off.shape != (27, 3):
        return f"offsets have shape {off.shape}, expected (27, 3)"
    if not np.isfinite(off).all():
        return "offsets contain NaN or infinity"
    bad = np.argwhere(~FREE & (np.abs(off) > tol))
    if len(bad):
        k, a = bad[0]
        return f"node {k} ({KIND[k]}) has offset {off[k, a]:g} along fixed axis {'xyz'[a]}"
    bad = np.argwhere(np.abs(off) > 0.5 + tol)
    if len(bad):
        k, a = bad[0]
        return f"node {k} offset {off[k, a]:g} along {'xyz'[a]} is outside [-0.5, 0.5]"
    return None
