"""Linear buckling of a periodic beam lattice under uniaxial compressive strain: K phi = lambda K_G phi.

Written apart from pipeline_lib's nonlinear solver (its periodic cell comes from
``reference_frame.periodic_beams``, its elements from ``reference_frame.beam_global_stiffness``),
so that the critical strain of the nonlinear path can be checked against it:

1. every beam of the periodic cell is split into ``s`` elements (the Euler load of a strut needs a
   few cubic elements);
2. the linear periodic problem under eps33 = -1 (lateral strains zero) gives each element's axial
   force N;
3. K_G is the consistent geometric stiffness of an Euler-Bernoulli element under N (cubic lateral
   shape functions, both bending planes), and the smallest lambda > 0 with det(K + lambda K_G) = 0
   over the periodic fluctuations is the critical compressive strain.
"""
import numpy as np
import scipy.linalg as sla

from reference_frame import _rotation, beam_global_stiffness, periodic_beams


def geometric_local(L, N):
    """12x12 consistent geometric stiffness in local axes, DOFs (u, v, w, rx, ry, rz) per end."""
    g = np.zeros((12, 12))
    c = N / (30.0 * L)
    for v, t, s in ((1, 5, 1.0), (2, 4, -1.0)):  # (v, rz) and (w, ry) planes
        idx = [v, t, v + 6, t + 6]
        k = np.array([[36, 3 * L * s, -36, 3 * L * s],
                      [3 * L * s, 4 * L * L, -3 * L * s, -L * L],
                      [-36, -3 * L * s, 36, -3 * L * s],
                      [3 * L * s, -L * L, -3 * L * s, 4 * L * L]])
        g[np.ix_(idx, idx)] += c * k
    return g


def critical_strain(adjacency, offsets, r, E=1.0, nu=0.3, beam="euler-bernoulli", s=4):
    """Smallest compressive strain eps33 at which the periodic frame buckles (r in octant units,
    the cell [-1, 1]^3)."""
    n0, beams = periodic_beams(adjacency, offsets)
    elems = []  # (node a, node b, element vector)
    n = n0
    for a, b, _shift, d in beams:
        chain = [a] + list(range(n, n + s - 1)) + [b]
        n += s - 1
        elems += [(chain[k], chain[k + 1], np.asarray(d, float) / s) for k in range(s)]
    ndof = 6 * n
    K = np.zeros((ndof, ndof))
    F = np.zeros(ndof)  # force of the affine part of eps33 = -1
    ke = []
    for a, b, d in elems:
        k = beam_global_stiffness(d, r, E, nu, beam)
        dofs = np.r_[6 * a:6 * a + 6, 6 * b:6 * b + 6]
        K[np.ix_(dofs, dofs)] += k
        du = np.zeros(12)
        du[8] = -d[2]  # end b moves by H d, H = diag(0, 0, -1)
        F[dofs] += k @ du
        ke.append((dofs, k, du))
    free = np.arange(3, ndof)  # node 0's translations: the rigid translation
    w = np.zeros(ndof)
    w[free] = np.linalg.solve(K[np.ix_(free, free)], -F[free])
    KG = np.zeros((ndof, ndof))
    for (a, b, d), (dofs, k, du) in zip(elems, ke):
        R = _rotation(d)
        T = np.kron(np.eye(4), R)
        L = np.linalg.norm(d)
        u = T @ (w[dofs] + du)
        N = E * np.pi * r * r / L * (u[6] - u[0])  # tension positive
        KG[np.ix_(dofs, dofs)] += T.T @ geometric_local(L, N) @ T
    mu = sla.eigh(KG[np.ix_(free, free)], K[np.ix_(free, free)], eigvals_only=True)
    return float(-1.0 / mu.min())  # K + lambda KG singular at lambda = -1 / mu, mu < 0 in compression
