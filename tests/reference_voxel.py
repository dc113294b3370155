"""Plain reference homogenization of periodic 3D voxel units with 8-node hexahedra (hex8).

Written independently of ``pipeline_lib`` (it imports nothing from it) so that agreement with the
fast voxel solver is evidence, not tautology.  Everything is done the textbook way, in the spirit
of Dong, Tang, Zhao & Gu, "149 line homogenization code for 3D cellular materials written in
MATLAB" (2019), except that void voxels have exactly zero stiffness and the degrees of freedom
touched only by void are removed (Dong et al. use a small Emin instead).

Conventions
-----------
* ``cells`` is an (n, n, n) array, truthy = solid; ``cells[i, j, k]`` is the unit-cube voxel
  occupying [i, i+1] x [j, j+1] x [k, k+1].  The unit cell has side n and is periodic.
* Voigt order (11, 22, 33, 23, 31, 12) with ENGINEERING shear strains
  (gamma_23 = 2 eps_23, ...); stresses are plain.  C is returned in units of E (i.e. with E
  multiplied in).
* Material: isotropic, lambda = E nu / ((1 + nu)(1 - 2 nu)), mu = E / (2 (1 + nu));
  D = [[lambda + 2 mu, lambda, lambda], ...] on the normal block, mu on the shear diagonal.

Element
-------
Trilinear hex8 on the unit cube [0, 1]^3 (the Jacobian is the identity).  Local node
``a = ax + 2 ay + 4 az`` sits at the corner (ax, ay, az) in {0, 1}^3 (x fastest, then y, then z):

    node 0 (0,0,0)  1 (1,0,0)  2 (0,1,0)  3 (1,1,0)
    node 4 (0,0,1)  5 (1,0,1)  6 (0,1,1)  7 (1,1,1)

with shape function N_a = prod_d (x_d if a_d == 1 else 1 - x_d).  Element DOF ``3 a + c`` is
the displacement component c (0 = x, 1 = y, 2 = z) of local node a.  K_e = sum_g w_g B^T D B over
the 2 x 2 x 2 Gauss points 1/2 +- 1/(2 sqrt 3) (weights 1/8), which integrates it exactly.

Periodic mesh
-------------
Global node (i, j, k), i, j, k in 0..n-1 (index n identified with 0), has number
``(i n + j) n + k`` and DOFs ``3 * node + c``.  Element (i, j, k) uses the global nodes
(i + ax, j + ay, k + az) mod n.

Homogenization
--------------
For each unit macro strain eps^m (m = 0..5) the affine displacement of an element's nodes is
u0^m = eps^m . x with x the node coordinates RELATIVE TO THE ELEMENT (its corner offsets), the
same 24 x 6 matrix for every element.  The load is F^m = sum_e K_e u0^m assembled; the periodic
fluctuation chi^m solves K chi^m = F^m with K assembled from the solid elements only (with
``E_void > 0``: from all elements, void ones scaled by E_void).  Then

    C_ij = (1 / n^3) sum_e (u0^i - chi^i_e)^T K_e (u0^j - chi^j_e),

symmetrized as (C + C^T) / 2 to remove round-off asymmetry.

Singularity and DOF removal (``E_void == 0``)
--------------------------------------------
Nodes touched by no solid voxel are removed.  The three translations of one solid node (local
node 0 of the first solid voxel in C order) are fixed.  The remaining K is nonsingular iff

1. the solid is ONE face-connected component of the periodic (torus) grid -- voxels touching
   only along an edge or at a vertex are hinged, not rigidly joined, so such contacts count as
   disconnected; and
2. that component locks rotations: a rigid rotation w x x is a periodic zero mode unless
   w x L = 0 for the lattice vectors L along which the component closes onto itself (found from
   nodes reached from the same component at unwrapped positions differing by L).  At least two
   independent such L are needed (a single fibre along x, for instance, can twist about x).

Both are checked up front and a ``ValueError`` is raised otherwise (a failing LU factorization is
also reported as ``ValueError``).  With ``E_void > 0`` every voxel is stiff, all nodes are kept,
and fixing one node suffices.

The linear system is solved with ``scipy.sparse.linalg.splu`` (direct SuperLU), one factorization
for the six right-hand sides.  Since the reduced K is symmetric positive definite, SuperLU is run
in symmetric mode (minimum-degree ordering on A^T + A, diagonal pivots: Gaussian elimination
without row exchanges, which is stable for SPD matrices); with the default COLAMD ordering and partial
pivoting it is 3-5x slower at n = 16 and gives the same C to round-off.
"""
from collections import deque
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

# corner offsets of the local nodes, row a = (ax, ay, az), a = ax + 2 ay + 4 az
HEX8_CORNERS = np.array([[a & 1, (a >> 1) & 1, (a >> 2) & 1] for a in range(8)], dtype=np.int64)


def isotropic_C(E=1.0, nu=0.3):
    """6 x 6 isotropic elasticity matrix, Voigt (11, 22, 33, 23, 31, 12), engineering shear."""
    lam = E * nu / ((1 + nu) * (1 - 2 * nu))
    mu = E / (2 * (1 + nu))
    D = np.zeros((6, 6))
    D[:3, :3] = lam
    D[[0, 1, 2], [0, 1, 2]] += 2 * mu
    D[[3, 4, 5], [3, 4, 5]] = mu
    return D


def _shape_gradients(p):
    """dN_a/dx_d (8 x 3) of the trilinear unit-cube shape functions at point p in [0, 1]^3."""
    G = np.empty((8, 3))
    for a, corner in enumerate(HEX8_CORNERS):
        f = [p[d] if corner[d] else 1.0 - p[d] for d in range(3)]
        df = [1.0 if corner[d] else -1.0 for d in range(3)]
        G[a, 0] = df[0] * f[1] * f[2]
        G[a, 1] = f[0] * df[1] * f[2]
        G[a, 2] = f[0] * f[1] * df[2]
    return G


def hex8_B(p):
    """6 x 24 strain-displacement matrix at p (Voigt 11, 22, 33, 23, 31, 12; engineering shear)."""
    G = _shape_gradients(p)
    B = np.zeros((6, 24))
    for a in range(8):
        gx, gy, gz = G[a]
        c = 3 * a
        B[0, c] = gx
        B[1, c + 1] = gy
        B[2, c + 2] = gz
        B[3, c + 1], B[3, c + 2] = gz, gy   # gamma_23 = du_y/dz + du_z/dy
        B[4, c], B[4, c + 2] = gz, gx       # gamma_31 = du_z/dx + du_x/dz
        B[5, c], B[5, c + 1] = gy, gx       # gamma_12 = du_x/dy + du_y/dx
    return B


@lru_cache(maxsize=16)
def _hex8_stiffness_cached(E, nu):
    D = isotropic_C(E, nu)
    g = (0.5 - 0.5 / np.sqrt(3.0), 0.5 + 0.5 / np.sqrt(3.0))
    K = np.zeros((24, 24))
    for x in g:
        for y in g:
            for z in g:
                B = hex8_B((x, y, z))
                K += 0.125 * B.T @ D @ B
    K = 0.5 * (K + K.T)
    K.setflags(write=False)
    return K


def hex8_stiffness(E=1.0, nu=0.3):
    """24 x 24 stiffness of the unit-cube hex8 (2x2x2 Gauss), node ordering as in the docstring."""
    return _hex8_stiffness_cached(float(E), float(nu)).copy()


def unit_strain_displacements():
    """24 x 6 matrix: column m = nodal displacements eps^m . x at the element's corner offsets."""
    U0 = np.zeros((24, 6))
    for m in range(6):
        v = np.zeros(6)
        v[m] = 1.0
        eps = np.array([[v[0], v[5] / 2, v[4] / 2],
                        [v[5] / 2, v[1], v[3] / 2],
                        [v[4] / 2, v[3] / 2, v[2]]])
        U0[:, m] = (HEX8_CORNERS @ eps.T).ravel()   # row a: eps @ x_a
    return U0


_FACE_STEPS = ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1))


def _periodic_bfs(solid):
    """Face-connected components on the torus.

    Returns (labels, unwrapped): labels (n,n,n) int, 0 = void, components numbered 1, 2, ... in
    order of their first voxel (C order); unwrapped (n,n,n,3) int, the voxel's position as reached
    by the BFS without wrapping (meaningful for solid voxels only).
    """
    n0, n1, n2 = solid.shape
    labels = np.zeros(solid.shape, dtype=np.int64)
    unwrapped = np.zeros(solid.shape + (3,), dtype=np.int64)
    current = 0
    for start in zip(*np.nonzero(solid)):
        if labels[start]:
            continue
        current += 1
        labels[start] = current
        unwrapped[start] = start
        queue = deque([start])
        while queue:
            v = queue.popleft()
            uv = unwrapped[v]
            for d in _FACE_STEPS:
                w = ((v[0] + d[0]) % n0, (v[1] + d[1]) % n1, (v[2] + d[2]) % n2)
                if solid[w] and not labels[w]:
                    labels[w] = current
                    unwrapped[w] = (uv[0] + d[0], uv[1] + d[1], uv[2] + d[2])
                    queue.append(w)
    return labels, unwrapped


def solid_components(cells):
    """Labels (n,n,n) of the periodic face-connected solid components (0 = void, 1.. = parts)."""
    return _periodic_bfs(np.asarray(cells).astype(bool))[0]


def _closure_rank(solid, labels, unwrapped):
    """Rank of the lattice of periods along which component 1 closes onto itself (via shared nodes)."""
    n = solid.shape[0]
    vox = np.argwhere(labels == 1)
    U = unwrapped[tuple(vox.T)]                                   # (m, 3)
    nodes_unw = (U[:, None, :] + HEX8_CORNERS[None, :, :]).reshape(-1, 3)
    nodes = np.mod(nodes_unw, n)
    key = (nodes[:, 0] * n + nodes[:, 1]) * n + nodes[:, 2]
    _, first, inv = np.unique(key, return_index=True, return_inverse=True)
    diffs = nodes_unw - nodes_unw[first[inv.ravel()]]
    diffs = diffs[np.any(diffs != 0, axis=1)] // n
    if len(diffs) == 0:
        return 0
    return int(np.linalg.matrix_rank(np.unique(diffs, axis=0).astype(float)))


def check_solvable(cells):
    """Raise ValueError unless the solid of ``cells`` gives a nonsingular periodic problem."""
    solid = np.asarray(cells).astype(bool)
    if not solid.any():
        raise ValueError("unit has no solid voxel")
    labels, unwrapped = _periodic_bfs(solid)
    ncomp = int(labels.max())
    if ncomp > 1:
        raise ValueError(
            f"solid is not connected in the periodic sense: {ncomp} face-connected parts "
            "(edge/vertex-only contacts are hinges); the stiffness matrix is singular")
    rank = _closure_rank(solid, labels, unwrapped)
    if rank < 2:
        raise ValueError(
            f"solid percolates in only {rank} independent periodic direction(s): it can rotate "
            "rigidly, so the stiffness matrix is singular")


@lru_cache(maxsize=8)
def _element_dofs(n):
    """(n^3, 24) global DOFs of the elements, elements in C order of (i, j, k)."""
    i, j, k = np.meshgrid(np.arange(n), np.arange(n), np.arange(n), indexing="ij")
    base = np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1)            # (ne, 3)
    pos = np.mod(base[:, None, :] + HEX8_CORNERS[None, :, :], n)          # (ne, 8, 3)
    node = (pos[..., 0] * n + pos[..., 1]) * n + pos[..., 2]              # (ne, 8)
    edof = (3 * node[..., None] + np.arange(3)).reshape(-1, 24)
    edof.setflags(write=False)
    return edof


def reference_voxel_C(cells, E=1.0, nu=0.3, E_void=0.0):
    """Effective 6 x 6 stiffness of the periodic voxel unit ``cells`` (see the module docstring).

    ``E_void`` (default 0): void voxels get modulus ``E_void * E`` (same nu) instead of being
    removed; with 0 they have exactly zero stiffness and void-only DOFs are removed.
    """
    cells = np.asarray(cells)
    if cells.ndim != 3 or len(set(cells.shape)) != 1:
        raise ValueError(f"cells must be a cubic (n, n, n) array, got shape {cells.shape}")
    if E_void < 0:
        raise ValueError("E_void must be >= 0")
    n = cells.shape[0]
    solid = cells.astype(bool).ravel()
    if E_void == 0.0:
        check_solvable(cells)
        elems = np.flatnonzero(solid)
        scale = np.ones(len(elems))
    else:
        elems = np.arange(n ** 3)
        scale = np.where(solid, 1.0, float(E_void))
    Ke = hex8_stiffness(E, nu)
    U0 = unit_strain_displacements()
    edof = _element_dofs(n)[elems]                                        # (ne, 24)
    ndof = 3 * n ** 3

    rows = np.repeat(edof, 24, axis=1).ravel()
    cols = np.tile(edof, (1, 24)).ravel()
    vals = (scale[:, None] * Ke.ravel()[None, :]).ravel()
    K = sp.csc_matrix((vals, (rows, cols)), shape=(ndof, ndof))

    fe = Ke @ U0                                                           # (24, 6)
    F = np.zeros((ndof, 6))
    np.add.at(F, edof.ravel(), (scale[:, None, None] * fe[None]).reshape(-1, 6))

    active = np.zeros(ndof, dtype=bool)
    active[edof.ravel()] = True
    active[edof[0, :3]] = False            # fix the translations of local node 0 of element 0
    free = np.flatnonzero(active)

    Kff = K[free][:, free].tocsc()
    try:
        # K is symmetric positive definite here: minimum degree on A^T + A, diagonal pivots
        lu = spla.splu(Kff, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                       options=dict(SymmetricMode=True))
    except RuntimeError as exc:
        raise ValueError(f"singular periodic stiffness matrix: {exc}") from exc
    chi = np.zeros((ndof, 6))
    chi[free] = lu.solve(F[free])

    Ue = U0[None, :, :] - chi[edof]                                        # (ne, 24, 6)
    C = np.einsum("e,eai,ab,ebj->ij", scale, Ue, Ke, Ue, optimize=True) / n ** 3
    return 0.5 * (C + C.T)
