"""Straightforward reference homogenization written independently of pipeline_lib.

Follows Xia & Breitkopf (2015) the way their Matlab code does it: a periodic node numbering, the
closed-form Q4 element matrix of the 88-line code (plane strain through the usual E', nu'
substitution), a globally assembled sparse K (vectorized, as sparse(iK, jK, sK)), one sparse LU
per cell for the three unit-strain load cases, and C from the element strain energies of
(u0 - chi).  It shares no code with the fast path, so agreement between the two is evidence, not
tautology; the benchmark times it as the per-cell baseline.
"""
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla


def q4_stiffness(E, nu, plane="stress"):
    if plane == "strain":
        E, nu = E / (1 - nu**2), nu / (1 - nu)
    k = [1/2 - nu/6, 1/8 + nu/8, -1/4 - nu/12, -1/8 + 3*nu/8,
         -1/4 + nu/12, -1/8 - nu/8, nu/6, 1/8 - 3*nu/8]
    KE = E / (1 - nu**2) * np.array([
        [k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7]],
        [k[1], k[0], k[7], k[6], k[5], k[4], k[3], k[2]],
        [k[2], k[7], k[0], k[5], k[6], k[3], k[4], k[1]],
        [k[3], k[6], k[5], k[0], k[7], k[2], k[1], k[4]],
        [k[4], k[5], k[6], k[7], k[0], k[1], k[2], k[3]],
        [k[5], k[4], k[3], k[2], k[1], k[0], k[7], k[6]],
        [k[6], k[3], k[4], k[1], k[2], k[7], k[0], k[5]],
        [k[7], k[2], k[1], k[4], k[3], k[6], k[5], k[0]]])
    return KE  # nodes: lower-left, lower-right, upper-right, upper-left; y up


@lru_cache(maxsize=8)
def _periodic_edofs(H, W):
    r, c = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    r, c = r.ravel(), c.ravel()

    def nid(i, j):
        return (i % H) * W + (j % W)

    nodes = np.stack([nid(r + 1, c), nid(r + 1, c + 1), nid(r, c + 1), nid(r, c)], axis=1)
    return np.stack([2 * nodes, 2 * nodes + 1], axis=2).reshape(-1, 8)


def reference_homogenize(cell, E=1.0, nu=0.3, plane="stress", void=1e-9):
    cell = np.asarray(cell).astype(bool)
    H, W = cell.shape
    KE = q4_stiffness(E, nu, plane)
    edof = _periodic_edofs(H, W)
    emod = np.where(cell.ravel(), 1.0, void)
    ndof = 2 * H * W
    iK = np.repeat(edof, 8, axis=1).ravel()
    jK = np.tile(edof, (1, 8)).ravel()
    sK = (emod[:, None, None] * KE[None]).ravel()
    K = sp.coo_matrix((sK, (iK, jK)), shape=(ndof, ndof)).tocsc()
    # element displacements of the three unit strains: nodes at (0,0), (1,0), (1,1), (0,1)
    xy = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)
    ue0 = np.zeros((8, 3))
    ue0[0::2, 0] = xy[:, 0]
    ue0[1::2, 1] = xy[:, 1]
    ue0[0::2, 2] = xy[:, 1] / 2
    ue0[1::2, 2] = xy[:, 0] / 2
    fe = emod[:, None, None] * (KE @ ue0)[None]  # (nel, 8, 3)
    F = np.zeros((ndof, 3))
    np.add.at(F, edof.ravel(), fe.reshape(-1, 3))
    free = np.arange(2, ndof)  # node 0 fixed
    lu = spla.splu(K[free][:, free].tocsc())
    chi = np.zeros((ndof, 3))
    chi[free] = lu.solve(F[free])
    u = ue0[None] - chi[edof]  # (nel, 8, 3)
    C = np.einsum("e,eai,ab,ebj->ij", emod, u, KE, u)
    return C / (H * W)
