"""Straightforward reference homogenization written independently of pipeline_lib.

Follows Xia & Breitkopf (2015) literally: a periodic node numbering, the closed-form Q4 element
matrix of the 88-line code (plane strain through the usual E', nu' substitution), a globally
assembled sparse K, one sparse LU per cell for the three unit-strain load cases, and C from the
element strain energies of (u0 - chi).  It loops nothing clever and shares no code with the fast
path, so agreement between the two is evidence, not tautology.
"""
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


def reference_homogenize(cell, E=1.0, nu=0.3, plane="stress", void=1e-9):
    cell = np.asarray(cell).astype(bool)
    H, W = cell.shape
    KE = q4_stiffness(E, nu, plane)
    edof = np.zeros((H * W, 8), dtype=int)
    emod = np.zeros(H * W)
    e = 0
    for r in range(H):
        for c in range(W):
            # periodic node id of node row i, column j
            def nid(i, j):
                return (i % H) * W + (j % W)
            nodes = [nid(r + 1, c), nid(r + 1, c + 1), nid(r, c + 1), nid(r, c)]
            edof[e] = [d for n in nodes for d in (2 * n, 2 * n + 1)]
            emod[e] = 1.0 if cell[r, c] else void
            e += 1
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
    F = np.zeros((ndof, 3))
    fe = KE @ ue0
    for e in range(H * W):
        F[edof[e]] += emod[e] * fe
    free = np.arange(2, ndof)  # node 0 fixed
    lu = spla.splu(K[free][:, free].tocsc())
    chi = np.zeros((ndof, 3))
    chi[free] = lu.solve(F[free])
    C = np.zeros((3, 3))
    for e in range(H * W):
        u = ue0 - chi[edof[e]]
        C += emod[e] * u.T @ KE @ u
    return C / (H * W)
