"""The full periodic unit cell of an octant lattice: what the nonlinear solver needs once buckling
breaks the mirror symmetry the octant solve relies on.

The octant frame (crossings split, ``frame.build_frame``) is mirrored with all eight sign
combinations into the cell [-1, 1]^3; points are identified on a 1e-8 grid and wrapped into
(-1, 1]^3 (period 2), so each periodic node is one node; a beam is (a, b, n) with b's image at
x_b + 2 n, stored once in either orientation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline_lib.truss3d.frame import Frame

_GRID = 10 ** 8  # points per octant unit in the identification grid
_SIGNS = np.array([(sx, sy, sz) for sx in (1, -1) for sy in (1, -1) for sz in (1, -1)], dtype=np.int64)


@dataclass
class PeriodicCell:
    nodes: np.ndarray  # (n, 3) positions in (-1, 1]^3
    a: np.ndarray  # (m,) first node of each beam
    b: np.ndarray  # (m,) second node
    shift: np.ndarray  # (m, 3) int: b's image at nodes[b] + 2 shift
    D0: np.ndarray  # (m, 3) beam vectors x_b + 2 shift - x_a

    @property
    def lengths(self) -> np.ndarray:
        return np.linalg.norm(self.D0, axis=1)

    volume = 8.0  # the cell [-1, 1]^3

    def subdivided(self, k: int) -> "PeriodicCell":
        """Each beam split into ``k`` equal elements (k - 1 new nodes per beam, in the cell or at
        a periodic image: positions are not wrapped, which the beam vectors do not need)."""
        if k <= 1:
            return self
        n, m = len(self.nodes), len(self.a)
        t = np.arange(1, k) / k
        inner = self.nodes[self.a][:, None, :] + t[None, :, None] * self.D0[:, None, :]  # (m, k-1, 3)
        ids = n + np.arange(m * (k - 1)).reshape(m, k - 1)
        chain = np.concatenate([self.a[:, None], ids, self.b[:, None]], 1)  # (m, k+1)
        shift = np.zeros((m, k, 3), dtype=np.int64)
        shift[:, -1] = self.shift  # only the last element reaches b's image
        nodes = np.concatenate([self.nodes, inner.reshape(-1, 3)])
        a, b = chain[:, :-1].ravel(), chain[:, 1:].ravel()
        return PeriodicCell(nodes, a, b, shift.reshape(-1, 3), np.repeat(self.D0 / k, k, axis=0))


def periodic_cell(frame: Frame) -> PeriodicCell:
    """Every distinct beam of the periodic cell of an octant frame."""
    exact = (frame.nodes[frame.beams][None] * _SIGNS[:, None, None, :]).reshape(-1, 2, 3)  # every mirror image
    pts = np.rint(exact * _GRID).astype(np.int64)  # on the grid: for identifying points only
    period = 2 * _GRID
    m = -((_GRID - pts) // period)  # ceil((p - GRID) / period): wraps p into (-GRID, GRID]
    w = pts - period * m
    keys, first, inv = np.unique(w.reshape(-1, 3), axis=0, return_index=True, return_inverse=True)
    nodes = (exact - 2.0 * m).reshape(-1, 3)[first]  # exact coordinates of each periodic node
    ids = inv.reshape(-1, 2)
    a, b = ids[:, 0], ids[:, 1]
    n = m[:, 1] - m[:, 0]
    flip = (a > b) | ((a == b) & (np.sign(n) @ np.array([9, 3, 1]) < 0))  # one orientation per beam
    a, b, n = np.where(flip, b, a), np.where(flip, a, b), np.where(flip[:, None], -n, n)
    keep = ~((a == b) & (n == 0).all(1))  # a mirror image of a beam onto itself through a plane
    rows = np.unique(np.column_stack([a, b, n])[keep], axis=0)
    a, b, n = rows[:, 0], rows[:, 1], rows[:, 2:]
    return PeriodicCell(nodes, a, b, n, nodes[b] + 2.0 * n - nodes[a])
