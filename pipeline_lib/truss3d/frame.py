"""From a lattice (adjacency, offsets) to the beam frame the FE model solves, and lattice checks.

A lattice lives in the octant [0, 1]^3; the unit cell is the octant mirrored across x = 0, y = 0,
z = 0 (cell [-1, 1]^3, periodic with period 2).  The frame keeps only the octant: its nodes are
the active candidate nodes plus the points where beams cross (beams are split there, as the paper
describes), and each beam carries the weight 1 / 2^k, k the number of symmetry planes it lies in
(x, y or z equal to 0 or 1): a beam in one mirror plane or cell face is shared by two octants, one
along an octant edge by four, so summing weighted octant beams counts every beam of the periodic
cell exactly once -- for stiffness and for volume alike.
"""
from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from pipeline_lib.truss3d.octant import check_offsets, positions

PLANE_TOL = 1e-9
SPLIT_TOL = 1e-9


@dataclass
class Frame:
    nodes: np.ndarray  # (n, 3) octant coordinates
    beams: np.ndarray  # (m, 2) node indices, i < j
    weights: np.ndarray  # (m,) share of each beam that belongs to this octant
    candidate: np.ndarray  # (n,) index of the candidate node, -1 for split points

    @property
    def lengths(self) -> np.ndarray:
        return np.linalg.norm(self.nodes[self.beams[:, 1]] - self.nodes[self.beams[:, 0]], axis=1)

    def strut_volume(self, r: float) -> float:
        """Sum of pi r^2 L over the beams of the periodic cell, per octant (= relative density)."""
        return float(np.pi * r * r * (self.weights * self.lengths).sum())


def on_planes(points: np.ndarray) -> np.ndarray:
    """(n, 3, 2) bool: point lies on the plane coordinate a == 0 / == 1."""
    return np.stack([np.abs(points) < PLANE_TOL, np.abs(points - 1.0) < PLANE_TOL], axis=-1)


def beam_weights(nodes: np.ndarray, beams: np.ndarray) -> np.ndarray:
    p = on_planes(nodes)
    shared = (p[beams[:, 0]] & p[beams[:, 1]]).sum(axis=(1, 2))
    return 0.5 ** shared


def _canonical(beams):
    beams = np.sort(beams, axis=1)
    beams = beams[beams[:, 0] != beams[:, 1]]
    return np.unique(beams, axis=0)


def _crossings(nodes, beams):
    """Pairs of beams that cross at a point interior to both, and the crossing points."""
    a, b = nodes[beams[:, 0]], nodes[beams[:, 1]]
    d = b - a
    m = len(beams)
    iu, ju = np.triu_indices(m, 1)
    share = (beams[iu][:, :, None] == beams[ju][:, None, :]).any(axis=(1, 2))
    iu, ju = iu[~share], ju[~share]
    d1, d2 = d[iu], d[ju]
    r = a[iu] - a[ju]
    A = (d1 * d1).sum(1)
    Bq = (d1 * d2).sum(1)
    Cq = (d2 * d2).sum(1)
    D = (d1 * r).sum(1)
    Eq = (d2 * r).sum(1)
    den = A * Cq - Bq * Bq
    ok = den > 1e-14 * A * Cq  # parallel beams cannot cross at a single interior point
    s = np.where(ok, (Bq * Eq - Cq * D) / np.where(ok, den, 1), -1)
    t = np.where(ok, (A * Eq - Bq * D) / np.where(ok, den, 1), -1)
    p1 = a[iu] + s[:, None] * d1
    p2 = a[ju] + t[:, None] * d2
    gap = np.linalg.norm(p1 - p2, axis=1)
    inside = (s > SPLIT_TOL) & (s < 1 - SPLIT_TOL) & (t > SPLIT_TOL) & (t < 1 - SPLIT_TOL)
    hit = ok & inside & (gap < SPLIT_TOL)
    return iu[hit], ju[hit], 0.5 * (p1[hit] + p2[hit])


def _on_beams(nodes: np.ndarray, beams: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(m, n) mask of the nodes lying inside each beam (not at its ends) and their parameter t."""
    a, b = nodes[beams[:, 0]], nodes[beams[:, 1]]
    d = b - a
    L2 = (d * d).sum(1)
    rel = nodes[None, :, :] - a[:, None, :]  # (m, n, 3)
    with np.errstate(invalid="ignore", divide="ignore"):  # a zero-length beam (screened as such elsewhere): NaN, no hit
        t = (rel * d[:, None, :]).sum(-1) / L2[:, None]
    dist = np.linalg.norm(rel - t[..., None] * d[:, None, :], axis=-1)
    hit = (t > SPLIT_TOL) & (t < 1 - SPLIT_TOL) & (dist < SPLIT_TOL * np.maximum(np.sqrt(L2), 1.0)[:, None])
    rows = np.arange(len(beams))
    hit[rows, beams[:, 0]] = hit[rows, beams[:, 1]] = False
    return hit, t


def _merge_points(points: np.ndarray, nodes: np.ndarray, tol: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """Crossing points that are not already nodes, one per location (several beams may cross at
    one point), in order of first appearance; and the node index of every point."""
    index = np.empty(len(points), dtype=np.int64)
    new: list[np.ndarray] = []
    for k, p in enumerate(points):
        d = np.linalg.norm(nodes - p, axis=1) if len(nodes) else np.zeros(0)
        if len(d) and d.min() < tol:
            index[k] = int(np.argmin(d))
            continue
        dn = [np.linalg.norm(q - p) for q in new]
        if dn and min(dn) < tol:
            index[k] = len(nodes) + int(np.argmin(dn))
        else:
            index[k] = len(nodes) + len(new)
            new.append(p)
    return (np.array(new) if new else np.zeros((0, 3))), index


def build_frame(adjacency: np.ndarray, offsets: np.ndarray) -> Frame:
    """The octant frame of one lattice: active nodes, beams split where they cross or pass through
    a node, weights.  One pass: every segment of a split beam lies on the original beam, so every
    crossing of segments is a crossing of original beams; all crossing points are found at once,
    merged where several beams meet, and each beam is cut at every node inside it."""
    A = np.asarray(adjacency, dtype=bool)
    pos = positions(offsets)
    iu, ju = np.triu_indices(27, 1)
    sel = A[iu, ju]
    beams = np.stack([iu[sel], ju[sel]], axis=1)
    active = np.unique(beams)
    remap = -np.ones(27, dtype=int)
    remap[active] = np.arange(len(active))
    nodes = pos[active]
    candidate = active.copy()
    beams = _canonical(remap[beams]) if len(beams) else beams.reshape(0, 2)
    if len(beams) > 1:
        _, _, pts = _crossings(nodes, beams)
        extra, _ = _merge_points(pts, nodes)
        nodes = np.concatenate([nodes, extra])
        candidate = np.concatenate([candidate, np.full(len(extra), -1)])
        hit, t = _on_beams(nodes, beams)
        pieces = []
        for e in range(len(beams)):
            inside = np.flatnonzero(hit[e])
            chain = np.concatenate([[beams[e, 0]], inside[np.argsort(t[e, inside], kind="stable")], [beams[e, 1]]])
            pieces.append(np.stack([chain[:-1], chain[1:]], axis=1))
        beams = _canonical(np.concatenate(pieces))
        used = np.unique(beams)  # a merged crossing point on no beam interior cannot occur, but stay exact
        if len(used) < len(nodes):
            keep = np.zeros(len(nodes), bool)
            keep[used] = True
            renum = np.cumsum(keep) - 1
            nodes, candidate, beams = nodes[keep], candidate[keep], renum[beams]
    return Frame(nodes, beams, beam_weights(nodes, beams), candidate)


def full_degrees(frame: Frame) -> np.ndarray:
    """Degree of each octant node in the periodic unit cell (mirror images of its beams counted).

    A node on k symmetry planes has 2^k images of each incident beam around it, of which the
    2^j images of a beam lying in j of those planes coincide."""
    p = on_planes(frame.nodes).sum(axis=(1, 2))
    deg = np.zeros(len(frame.nodes))
    for end in (0, 1):
        node = frame.beams[:, end]
        np.add.at(deg, node, 2.0 ** p[node] * frame.weights)
    return deg


def lattice_problems(adjacency: np.ndarray, offsets: np.ndarray, frame: Frame | None = None) -> list[str]:
    """The physical problems that make a lattice impossible to homogenize (empty list: none).

    Checks: shapes, symmetric adjacency, offsets within their free directions and range, at least
    one beam, no beam of zero length (coincident nodes), one connected component, and contact with
    all six octant faces (so it tiles into a connected periodic cell).  Beam length is not a rule:
    sqrt(3)/2 is the radius within which generation draws new connections (as in the authors'
    code), and moving nodes afterwards makes beams longer, in the authors' data too.  A mechanism
    shows up in the solver as a singular stiffness, named there."""
    A = np.asarray(adjacency)
    if A.shape != (27, 27):
        return [f"adjacency has shape {A.shape}, expected (27, 27)"]
    problems = []
    if not (A == A.T).all():
        problems.append("adjacency is not symmetric")
    off_problem = check_offsets(offsets)
    if off_problem:
        return problems + [off_problem]
    if frame is None:
        frame = build_frame(A | A.T, offsets)
    if len(frame.beams) == 0:
        return problems + ["lattice has no beams"]
    iu, ju = np.nonzero(np.triu(A | A.T, 1))
    pos = positions(offsets)
    zero = np.linalg.norm(pos[ju] - pos[iu], axis=1) < 1e-9
    if zero.any():
        problems.append(f"{zero.sum()} beam(s) of zero length (coincident nodes)")
    g = nx.Graph()
    g.add_edges_from(frame.beams.tolist())
    parts = nx.number_connected_components(g)
    if parts != 1:
        problems.append(f"lattice is disconnected ({parts} components)")
    touch = on_planes(frame.nodes).any(axis=0)  # (3, 2)
    if not touch.all():
        missing = [f"{'xyz'[a]}={v}" for a in range(3) for v in range(2) if not touch[a, v]]
        problems.append(f"lattice does not touch octant face(s) {', '.join(missing)}, so it does not tile")
    return problems


def database_problems(adjacency: np.ndarray, offsets: np.ndarray, frame: Frame | None = None) -> list[str]:
    """:func:`lattice_problems` and the database's one extra rule: no dangling node (degree >= 2
    in the periodic cell, mirror images counted; paper 002, Methods, constraint (3) -- the
    authors' public code does not check it).  A dangling strut carries no load, so homogenization
    accepts it; the database and screened designs leave it out."""
    A = np.asarray(adjacency)
    problems = lattice_problems(A, offsets, frame)
    if problems:
        return problems
    deg = full_degrees(frame if frame is not None else build_frame(A, offsets))
    if (deg < 2).any():
        return [f"{int((deg < 2).sum())} dangling node(s) (degree < 2 in the unit cell)"]
    return []


def is_valid(adjacency: np.ndarray, offsets: np.ndarray) -> bool:
    """A lattice the database accepts: :func:`database_problems` finds nothing."""
    return not database_problems(adjacency, offsets)


def full_cell(frame: Frame) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (n, 3) in [-1, 1]^3 and beams (m, 2) of the mirrored unit cell, coincident nodes and
    beams merged (for pictures and export; cell-face beams appear on both faces)."""
    signs = np.array([(sx, sy, sz) for sx in (1, -1) for sy in (1, -1) for sz in (1, -1)], dtype=float)
    pts = (frame.nodes[None] * signs[:, None]).reshape(-1, 3)
    key = np.round(pts, 9)
    uniq, inv = np.unique(key, axis=0, return_inverse=True)
    n = len(frame.nodes)
    beams = np.concatenate([inv.reshape(8, n)[s][frame.beams] for s in range(8)])
    return uniq, _canonical(beams)
