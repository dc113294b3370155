"""Plain reference homogenization of periodic 3D beam lattices (rigid-jointed frames).

Written independently of pipeline_lib (it imports nothing from it) so that tests can check the
fast solver against it.  Everything is done the obvious way:

1. the 27 candidate nodes of the octant [0, 1]^3 are placed from ``offsets``; the octant beams
   are the upper triangle of ``adjacency``;
2. every octant beam is mirrored with all 8 sign combinations into the cell [-1, 1]^3 (side 2,
   volume 8, period 2); each endpoint is mapped to a canonical periodic node (coordinates wrapped
   into (-1, 1], rounded to merge coincident points) and each beam is stored as
   (node a, node b, shift n in Z^3) with b's image at x_b + 2 n; beams are deduplicated in both
   orientations ((a, b, n) == (b, a, -n));
3. a 6-DOF-per-node frame FE (Timoshenko or Euler-Bernoulli beams, circular section) is assembled
   with scipy.sparse;
4. periodic homogenization: u = eps . x + w with w and the rotations periodic; the macro strain
   enters each beam through its vector d = x_b + 2 n - x_a.  The translations of one node per
   connected component are removed, the 6 unit-strain load cases are solved with splu and
   C = (1/8) d^2 W / d eps^2 is read off the energies.

Conventions: Voigt order (11, 22, 33, 23, 31, 12) with engineering shear strains; ``radius`` is
the strut radius as a fraction of the full cell side (r = 2 * radius in octant units).

Limitation: intersecting (crossing) beams are NOT split into connected nodes here; beams only
meet at their end nodes.  The reference is valid for lattices whose beams do not cross.
"""
import itertools

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse.csgraph import connected_components

CELL_VOLUME = 8.0
_LAYER_XY = [(0.0, 0.0), (0.0, 0.5), (0.0, 1.0), (0.5, 1.0), (0.5, 0.5), (0.5, 0.0),
             (1.0, 0.0), (1.0, 0.5), (1.0, 1.0)]
BASE_POSITIONS = np.array([(x, y, z) for z in (0.0, 0.5, 1.0) for (x, y) in _LAYER_XY])
_GRID = 1e-9  # merge tolerance for coincident points (in octant units)


def node_positions(offsets):
    """(27, 3) octant positions of the candidate nodes for the given (27, 3) offsets."""
    offsets = np.asarray(offsets, dtype=float).reshape(27, 3)
    pos = BASE_POSITIONS.copy()
    for k in range(27):
        free = [ax for ax in range(3) if BASE_POSITIONS[k, ax] == 0.5]
        if len(free) == 1:                       # edge node: 0.5 + r along its axis
            pos[k, free[0]] = 0.5 + offsets[k, free[0]]
        elif len(free) >= 2:                     # face / body node: (1 - s) / 2 per free axis
            for ax in free:
                pos[k, ax] = 0.5 * (1.0 - offsets[k, ax])
    return pos


def _octant_beams(adjacency, offsets):
    adj = np.asarray(adjacency, dtype=bool).reshape(27, 27)
    pos = node_positions(offsets)
    i, j = np.nonzero(np.triu(adj, k=1))
    return [(pos[a], pos[b]) for a, b in zip(i, j)]


def _wrap(p):
    """Canonical periodic node key (ints on the merge grid) and integer shift m: p = x + 2 m."""
    half = int(round(1.0 / _GRID))
    period = 2 * half
    ci = np.rint(np.asarray(p) / _GRID).astype(np.int64)
    m = -((-(ci - half)) // period)              # ceil((ci - half) / period)
    w = ci - period * m                          # in (-half, half]
    return tuple(int(v) for v in w), np.array(m, dtype=np.int64)


def periodic_beams(adjacency, offsets):
    """Distinct beams of the full periodic cell.

    Returns (n_nodes, beams) where beams is a list of (a, b, n, d): node ids a, b, integer shift
    n (b's image at x_b + 2 n) and the beam vector d = x_b + 2 n - x_a (float, length 3).
    """
    node_id = {}
    seen = set()
    beams = []
    for pa, pb in _octant_beams(adjacency, offsets):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            s = np.array(signs)
            qa, qb = s * pa, s * pb
            ka, ma = _wrap(qa)
            kb, mb = _wrap(qb)
            n = mb - ma
            if ka == kb and not n.any():
                continue                         # degenerate (zero-length) beam
            a = node_id.setdefault(ka, len(node_id))
            b = node_id.setdefault(kb, len(node_id))
            key = (a, b, tuple(int(v) for v in n))
            rkey = (b, a, tuple(int(-v) for v in n))
            if key in seen or rkey in seen:
                continue
            seen.add(key)
            beams.append((a, b, n, qb - qa))
    return len(node_id), beams


def reference_relative_density(adjacency, offsets, radius):
    """Sum over the distinct beams of the periodic cell of pi r^2 L, divided by 8 (r = 2 radius)."""
    r = 2.0 * radius
    _, beams = periodic_beams(adjacency, offsets)
    total_length = sum(np.linalg.norm(d) for *_, d in beams)
    return np.pi * r**2 * total_length / CELL_VOLUME


def beam_local_stiffness(L, E, G, A, Iy, Iz, J, phi_y=0.0, phi_z=0.0):
    """12x12 Timoshenko beam stiffness in local axes; DOFs per node (u, v, w, rx, ry, rz).

    phi_z is the shear parameter for bending in the local x-y plane (v, rz), phi_y for the x-z
    plane (w, ry); phi = 0 gives Euler-Bernoulli.
    """
    k = np.zeros((12, 12))
    ea, gj = E * A / L, G * J / L
    k[0, 0] = k[6, 6] = ea
    k[0, 6] = -ea
    k[3, 3] = k[9, 9] = gj
    k[3, 9] = -gj
    # x-y plane: v (1, 7), rz (5, 11)
    c = E * Iz / (L**3 * (1.0 + phi_z))
    k[1, 1] = k[7, 7] = 12 * c
    k[1, 7] = -12 * c
    k[1, 5] = k[1, 11] = 6 * L * c
    k[5, 7] = k[7, 11] = -6 * L * c
    k[5, 5] = k[11, 11] = (4 + phi_z) * L**2 * c
    k[5, 11] = (2 - phi_z) * L**2 * c
    # x-z plane: w (2, 8), ry (4, 10)
    c = E * Iy / (L**3 * (1.0 + phi_y))
    k[2, 2] = k[8, 8] = 12 * c
    k[2, 8] = -12 * c
    k[2, 4] = k[2, 10] = -6 * L * c
    k[4, 8] = k[8, 10] = 6 * L * c
    k[4, 4] = k[10, 10] = (4 + phi_y) * L**2 * c
    k[4, 10] = (2 - phi_y) * L**2 * c
    return np.triu(k) + np.triu(k, 1).T


def _rotation(d):
    """3x3 matrix whose rows are the local axes (e1 along d)."""
    e1 = d / np.linalg.norm(d)
    helper = np.eye(3)[np.argmin(np.abs(e1))]
    e2 = np.cross(e1, helper)
    e2 /= np.linalg.norm(e2)
    e3 = np.cross(e1, e2)
    return np.vstack([e1, e2, e3])


def _strain_map(d):
    """3x6 matrix G with eps . d = G @ e for the engineering strain vector e (Voigt 11..12)."""
    d1, d2, d3 = d
    return np.array([[d1, 0, 0, 0, d3 / 2, d2 / 2],
                     [0, d2, 0, d3 / 2, 0, d1 / 2],
                     [0, 0, d3, d2 / 2, d1 / 2, 0]])


def beam_global_stiffness(d, r, E, nu, beam="timoshenko"):
    """12x12 stiffness in global axes of a circular beam of radius r along vector d."""
    G = E / (2 * (1 + nu))
    L = float(np.linalg.norm(d))
    A = np.pi * r**2
    I = np.pi * r**4 / 4
    J = np.pi * r**4 / 2
    if beam == "timoshenko":
        kappa = 6 * (1 + nu) / (7 + 6 * nu)
        phi = 12 * E * I / (kappa * G * A * L**2)
    elif beam in ("euler-bernoulli", "euler_bernoulli", "eb"):
        phi = 0.0
    else:
        raise ValueError(f"unknown beam theory {beam!r}")
    kl = beam_local_stiffness(L, E, G, A, I, I, J, phi, phi)
    R = _rotation(np.asarray(d, dtype=float))
    T = np.kron(np.eye(4), R)
    return T.T @ kl @ T


def reference_truss_C(adjacency, offsets, radius, E=1.0, nu=0.3, beam="timoshenko"):
    """Homogenized stiffness C (6x6, Voigt 11,22,33,23,31,12, engineering shear) of the frame.

    Intersecting beams are NOT split here: valid only for lattices without crossing beams.
    """
    r = 2.0 * radius
    n_nodes, beams = periodic_beams(adjacency, offsets)
    if not beams:
        return np.zeros((6, 6))
    ndof = 6 * n_nodes
    rows, cols, vals = [], [], []
    F = np.zeros((ndof, 6))
    H = np.zeros((6, 6))
    for a, b, _n, d in beams:
        kg = beam_global_stiffness(d, r, E, nu, beam)
        dofs = np.r_[6 * a:6 * a + 6, 6 * b:6 * b + 6]
        rows.append(np.repeat(dofs, 12))
        cols.append(np.tile(dofs, 12))
        vals.append(kg.ravel())
        B = np.zeros((12, 6))
        B[6:9] = _strain_map(d)                  # affine part: end b moves by eps . d
        kb = kg @ B
        np.add.at(F, dofs, kb)                   # dofs may repeat when a == b
        H += B.T @ kb
    K = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(ndof, ndof)).tocsc()

    # remove the 3 translations of one node per connected component
    adj = sp.coo_matrix((np.ones(len(beams)), ([bm[0] for bm in beams], [bm[1] for bm in beams])),
                        shape=(n_nodes, n_nodes))
    _, labels = connected_components(adj, directed=False)
    fixed_nodes = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)]
    fixed = np.array([6 * k + i for k in fixed_nodes for i in range(3)])
    free = np.setdiff1d(np.arange(ndof), fixed)

    lu = spla.splu(K[free][:, free].tocsc())
    X = np.zeros((ndof, 6))
    X[free] = lu.solve(-F[free])

    # energies: C_ij = (1/V) Z_i^T [[K, F], [F^T, H]] Z_j with Z_i = (X_i, e_i)
    C = X.T @ (K @ X) + X.T @ F + F.T @ X + H
    return C / CELL_VOLUME


def split_one_crossing_at_a_time(nodes, beams, tol=1e-9):
    """Segments of beams split where they cross or pass through a node, the slow obvious way: find
    the first crossing or node on a beam, split there, look again (the frame builder finds them all
    in one pass).  Returns the segments as a set of rounded coordinate pairs."""
    nodes = [np.asarray(p, float) for p in nodes]
    todo = [tuple(sorted(b)) for b in np.asarray(beams).tolist()]

    def point_index(p):
        for k, q in enumerate(nodes):
            if np.linalg.norm(q - p) < 1e-8:
                return k
        nodes.append(p)
        return len(nodes) - 1

    changed = True
    while changed:
        changed = False
        segs = sorted(set(todo))
        for e, (i, j) in enumerate(segs):
            a, b = nodes[i], nodes[j]
            d = b - a
            for k, q in enumerate(nodes):  # a node inside the segment
                if k in (i, j):
                    continue
                t = (q - a) @ d / (d @ d)
                if tol < t < 1 - tol and np.linalg.norm(a + t * d - q) < tol * max(np.linalg.norm(d), 1.0):
                    todo = [s for s in segs if s != (i, j)] + [tuple(sorted((i, k))), tuple(sorted((k, j)))]
                    changed = True
                    break
            if changed:
                break
            for (u, v) in segs[e + 1:]:  # a crossing with a later segment
                if {u, v} & {i, j}:
                    continue
                c, f = nodes[u], nodes[v] - nodes[u]
                M = np.array([[d @ d, -d @ f], [d @ f, -f @ f]])
                if abs(np.linalg.det(M)) < 1e-14 * (d @ d) * (f @ f):
                    continue
                s_, t_ = np.linalg.solve(M, [(c - a) @ d, (c - a) @ f])
                p1, p2 = a + s_ * d, c + t_ * f
                if tol < s_ < 1 - tol and tol < t_ < 1 - tol and np.linalg.norm(p1 - p2) < tol:
                    k = point_index((p1 + p2) / 2)
                    todo = [s for s in segs if s not in ((i, j), (u, v))] + [
                        tuple(sorted(x)) for x in ((i, k), (k, j), (u, k), (k, v))]
                    changed = True
                    break
            if changed:
                break
    return {tuple(sorted((tuple(np.round(nodes[i], 9)), tuple(np.round(nodes[j], 9))))) for i, j in set(todo) if i != j}
