"""Fine-scale Q4 solve of an assembled pixel structure (the verification step of the multiscale design).

Conventions (a contract):

* ``structure`` is a (ny, nx) array of 0/1 (or bool), 1 = solid, row 0 at the TOP.
* Pixels are squares of side ``h`` (default 1/50, so a 50-pixel cell has side 1).
* Node (i, j), i = 0..ny from the top, j = 0..nx from the left, sits at x = j h, y = (ny - i) h.
* DOF ``2 (i (nx + 1) + j) + c``, c = 0 for u_x, 1 for u_y (:func:`dof`).
* Element e = r nx + s is pixel (r, s), row-major; its corners in the Q4 order of
  :mod:`pipeline_lib.fem.quad4` are BL (r+1, s), BR (r+1, s+1), TR (r, s+1), TL (r, s).
* Solid pixels have modulus E, void pixels ``void * E``.  The Q4 stiffness of a square does not
  depend on its side in 2-D, so the unit-square Ke serves every h; only coordinates (and so the
  prescribed displacements) carry the length unit.

Solvers (``solve(..., solver=)``), both on the same system (void pixels kept at ``void * E``):

* ``"direct"``: SuperLU on the free DOFs in a geometric nested-dissection order of the grid
  (3x faster than SuperLU's own COLAMD / MMD orderings here), symmetric mode, no pivoting (K_ff is
  SPD).  Peak memory grows like n log n: 1.7 GiB at 0.6 M DOFs, 8.9 GiB at 3 M.
* ``"amg"``: CG preconditioned by pyamg smoothed aggregation (2 x 2 node blocks, rigid modes as
  near-null space, strength threshold 0.01 so that solid and void never share an aggregate), with
  the soft modes of solid parts that only void or single hinge nodes hold deflated exactly (see
  :func:`solve`).  Peak memory linear in n: 0.6 GiB at 0.6 M DOFs, 3.1 GiB at 3 M.
* ``"auto"``: direct up to :data:`AUTO_DIRECT_MAX_DOFS` free DOFs, amg above.
"""
from __future__ import annotations

import logging
import time

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy import ndimage

from pipeline_lib.fem.quad4 import elasticity_matrix, element_stiffness
from pipeline_lib.progress import Progress

log = logging.getLogger(__name__)

SOLVERS = ("auto", "direct", "amg")
# Measured (benchmarks/structure_solve.py, 2 cores): direct is faster at both sizes but its
# memory grows faster -- 0.6 M DOFs: direct 7.5 s / 1.7 GiB, amg 10.7 s / 0.6 GiB; 3 M DOFs:
# direct 73 s / 8.9 GiB, amg 113 s / 3.1 GiB.  Direct up to 1.5 M free DOFs (~4.5 GiB), where
# it is still ~1.3x faster; above, amg's third of the memory is worth its 1.5x time.
AUTO_DIRECT_MAX_DOFS = 1_500_000
_AMG_THETA = 0.01  # solid-void couplings have strength sqrt(void) << 0.01: kept apart
_AMG_MAX_COARSE = 30_000
_CG_MAXITER = 2000


def dof(i, j, c, nx: int):
    """Global DOF number(s) of component c (0 = u_x, 1 = u_y) at node(s) (i, j); broadcasts."""
    return 2 * (np.asarray(i) * (nx + 1) + np.asarray(j)) + np.asarray(c)


def node_coordinates(ny: int, nx: int, h: float = 1 / 50) -> np.ndarray:
    """((ny + 1) (nx + 1), 2) node (x, y) in node order: x = j h, y = (ny - i) h."""
    i, j = np.divmod(np.arange((ny + 1) * (nx + 1)), nx + 1)
    return np.stack([j * h, (ny - i) * h], axis=1).astype(float)


def element_nodes(ny: int, nx: int) -> np.ndarray:
    """(ny nx, 4) int64 node numbers of each pixel, row-major, in the order BL, BR, TR, TL."""
    r, s = np.divmod(np.arange(ny * nx, dtype=np.int64), nx)
    tl = r * (nx + 1) + s
    return np.stack([tl + nx + 1, tl + nx + 2, tl + 1, tl], axis=1)


def element_dofs(ny: int, nx: int) -> np.ndarray:
    """(ny nx, 8) int64 DOFs of each pixel, row-major, nodes BL, BR, TR, TL, (u_x, u_y) interleaved."""
    return (2 * element_nodes(ny, nx)[:, :, None] + np.arange(2)).reshape(-1, 8)


def _check_structure(structure) -> np.ndarray:
    arr = np.asarray(structure)
    if arr.ndim != 2:
        raise ValueError(f"structure must be a 2-D (ny, nx) array, got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"structure must be at least 1 x 1 pixels, got {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"structure must be boolean or real numeric, got dtype {arr.dtype}")
    # Binary, not merely truthy: a density field passed by mistake must not turn all solid.
    if arr.dtype.kind != "b" and not np.isin(arr, (0, 1)).all():
        raise ValueError("structure must be binary: every value 0 (void) or 1 (solid)")
    return arr.astype(bool)


def _element_scale(solid: np.ndarray, void: float) -> np.ndarray:
    if not 0 < void < 1:
        raise ValueError(f"void must be a modulus ratio in (0, 1), got {void}")
    return np.where(solid.ravel(), 1.0, void)


def _element_matrix(E: float, nu: float, plane: str) -> np.ndarray:
    return element_stiffness(elasticity_matrix(E, nu, plane))


def stiffness(structure, *, E: float = 1.0, nu: float = 0.3, plane: str = "stress",
              void: float = 1e-9) -> sp.csr_matrix:
    """Global stiffness (CSR, symmetric) of the whole grid, void pixels included."""
    solid = _check_structure(structure)
    ny, nx = solid.shape
    return _assemble(ny, nx, _element_scale(solid, void), _element_matrix(E, nu, plane))


def _assemble(ny: int, nx: int, scale: np.ndarray, Ke: np.ndarray) -> sp.csr_matrix:
    """Global K in CSR straight from a per-node stencil, without COO triplets.

    On a pixel grid every node couples to its 3 x 3 node neighbourhood, so K is a 18-entry
    stencil per DOF row.  Each of the 16 (corner a, corner b) blocks of Ke is added to all pixels
    at once through strided views, V[node of a, c, offset b - a, c'] += scale * Ke[a c, b c'];
    the CSR arrays are then the stencil with the off-grid neighbours masked out (sorted,
    duplicate-free).  No (n_el, 8, 8) triplets and no duplicate summation: measured at 3 M DOFs,
    4.5 s and a peak of 2.2x the final matrix (1.3 GiB for 0.6 GiB).
    """
    W = nx + 1
    nnode = (ny + 1) * W
    s = scale.reshape(ny, nx, 1, 1)
    V = np.zeros((ny + 1, W, 2, 3, 3, 2))  # (node i, node j, c, di + 1, dj + 1, c')
    corners = ((1, 0), (1, 1), (0, 1), (0, 0))  # BL, BR, TR, TL relative to the pixel's TL node
    for a, (ai, aj) in enumerate(corners):
        for b, (bi, bj) in enumerate(corners):
            block = Ke[2 * a:2 * a + 2, 2 * b:2 * b + 2]
            V[ai:ai + ny, aj:aj + nx, :, bi - ai + 1, bj - aj + 1, :] += s * block
    idx = np.int32 if 2 * nnode < 2**31 else np.int64
    i, j = np.divmod(np.arange(nnode, dtype=idx), W)
    di, dj, c2 = (g.ravel() for g in np.meshgrid([-1, 0, 1], [-1, 0, 1], [0, 1], indexing="ij"))
    ii, jj = i[:, None] + di, j[:, None] + dj
    valid = (ii >= 0) & (ii <= ny) & (jj >= 0) & (jj <= nx)
    del ii, jj
    cols = 2 * (np.arange(nnode, dtype=idx)[:, None] + (di * W + dj).astype(idx)) + c2.astype(idx)
    valid = np.repeat(valid, 2, axis=0)  # both rows (c = 0, 1) of a node share its neighbours
    cols = np.repeat(cols, 2, axis=0)
    indptr = np.zeros(2 * nnode + 1, dtype=idx)
    np.cumsum(valid.sum(axis=1), out=indptr[1:])
    return sp.csr_matrix((V.reshape(2 * nnode, 18)[valid], cols[valid], indptr), shape=(2 * nnode, 2 * nnode))


def _check_bcs(ny: int, nx: int, fixed_dofs, fixed_values, forces) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ndof = 2 * (ny + 1) * (nx + 1)
    fd = np.asarray(fixed_dofs)
    if fd.ndim != 1 or fd.size == 0:
        raise ValueError("fixed_dofs must be a non-empty 1-D array of DOF numbers")
    if fd.dtype.kind not in "iu":
        raise ValueError(f"fixed_dofs must be integers, got dtype {fd.dtype}")
    if fd.min() < 0 or fd.max() >= ndof:
        raise ValueError(f"fixed_dofs must lie in [0, {ndof}), got range [{fd.min()}, {fd.max()}]")
    if np.unique(fd).size != fd.size:
        raise ValueError("fixed_dofs contains duplicates")
    # The grid is one connected body (void included): the fixed DOFs must stop its two
    # translations and its rotation, else K_ff is singular and the solvers return garbage.
    i, j = np.divmod(fd // 2, nx + 1)
    c = fd % 2
    R = np.zeros((fd.size, 3))
    R[c == 0, 0] = R[c == 1, 1] = 1.0
    L = max(ny, nx)  # pixel units scaled to the grid size: rotation comparable to translations
    R[:, 2] = np.where(c == 0, -(ny / 2 - i) / L, (j - nx / 2) / L)
    w = np.linalg.eigvalsh(R.T @ R)
    if w[0] <= 1e-12 * w[-1]:
        raise ValueError("fixed_dofs must stop the rigid motions of the structure "
                         "(both translations and the rotation)")
    fv = np.asarray(fixed_values, dtype=float)
    if fv.ndim == 0:
        fv = np.full(fd.size, float(fv))
    if fv.shape != fd.shape:
        raise ValueError(f"fixed_values must have the length of fixed_dofs ({fd.size}), got shape {fv.shape}")
    if not np.isfinite(fv).all():
        raise ValueError("fixed_values must be finite")
    if forces is None:
        f = np.zeros(ndof)
    else:
        f = np.asarray(forces, dtype=float)
        if f.shape != (ndof,):
            raise ValueError(f"forces must have shape ({ndof},), got {f.shape}")
        if not np.isfinite(f).all():
            raise ValueError("forces must be finite")
    return fd.astype(np.int64), fv, f


def solve(structure, fixed_dofs, fixed_values, *, E: float = 1.0, nu: float = 0.3,
          plane: str = "stress", void: float = 1e-9, forces=None, solver: str = "auto",
          rtol: float = 1e-8, h: float = 1 / 50, info: dict | None = None) -> np.ndarray:
    """Displacements (2 (ny+1) (nx+1),) of the structure under prescribed DOFs and nodal forces.

    ``fixed_dofs`` (unique ints) take ``fixed_values`` (same length, or a scalar) exactly; they are
    eliminated, K_ff u_f = f_f - K_fc u_c.  ``forces`` are nodal (length ndof); entries at fixed
    DOFs are ignored.  The fixed DOFs must stop the three rigid motions of the grid.  ``h`` is the
    pixel side; K does not depend on it, so neither does the solution (it only places the nodes of
    the amg near-null space): prescribed displacements and the result are in the length unit of
    the caller's coordinates x = j h, y = (ny - i) h.  ``info``, if given, is filled with the
    solver used, DOF counts and, for amg, CG iterations, AMG levels and deflated modes.

    Void pixels stay in the system at ``void * E`` on both paths, so floating solid islands and
    parts hinged at one node keep K_ff nonsingular; their motion is then set by the void filler.

    amg and the void contrast.  amg solves the same void = 1e-9 system as direct; no DOF is
    dropped and no stiffer void is used.  Measured on the 200 x 1500 bridge of 50-px cells with
    circular holes (max |u_amg - u_direct| at solid nodes / max |u|): with solid and void kept out
    of common aggregates (strength threshold), AMG-CG converges in ~15 iterations, as without void,
    to ~1e-7 at rtol = 1e-8 -- except on parts held only through void or at a single hinge node,
    whose soft modes (stiffness ~void) the residual cannot see: CG left a hinged pixel off by
    6e-3.  Those modes are the rigid motions of each 4-connected solid component that its own
    fixed DOFs do not stop; they are deflated (balancing preconditioner, exact coarse solve on
    them), after which they match direct to ~1e-7 too.  On structures of database-like cells the
    difference at rtol = 1e-8 is 1.1e-6 (200 x 1500, 29 iterations) and 3e-5 (750 x 2000, 38
    iterations; 3e-8 on the load-bearing part and 3e-6 on floating parts at rtol = 1e-10): the
    error is the CG tolerance times the conditioning of a long structure, not the void.  The
    rejected alternatives: a stiffer void (1e-4) for amg moves solid displacements by 3e-4;
    solving solid-touching DOFs first and void-only DOFs after (dropping the O(void) coupling) is
    off by ~1e-5, amplified by the same conditioning.  CG stops on the Jacobi-scaled residual,
    |D^-1 r| <= rtol |D^-1 b|, which weighs the error at void nodes like that at solid ones (in
    |r| it is scaled down by void).
    """
    solid = _check_structure(structure)
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if not rtol > 0:
        raise ValueError(f"rtol must be positive, got {rtol}")
    if not h > 0:
        raise ValueError(f"h must be positive, got {h}")
    ny, nx = solid.shape
    ndof = 2 * (ny + 1) * (nx + 1)
    fd, fv, f = _check_bcs(ny, nx, fixed_dofs, fixed_values, forces)
    scale = _element_scale(solid, void)
    Ke = _element_matrix(E, nu, plane)

    u = np.zeros(ndof)
    u[fd] = fv
    b = f - _element_forces(ny, nx, scale, Ke, u)  # on the free rows: f_f - K_fc u_c
    free = np.ones(ndof, dtype=bool)
    free[fd] = False
    nfree = int(free.sum())
    if solver == "auto":
        solver = "direct" if nfree <= AUTO_DIRECT_MAX_DOFS else "amg"
    out: dict = {"solver": solver, "ndof": ndof, "nfree": nfree}
    if nfree:
        # The solvers own (and consume) the assembled K, so that it is freed as soon as possible.
        if solver == "direct":  # one factorization: its start and end are the progress there is
            log.info("structure solve: direct, %s free DOFs", f"{nfree:,}")
            t = time.perf_counter()
            u[free] = _direct(_assemble(ny, nx, scale, Ke), free, b, ny, nx)
            log.info("structure solve: direct done in %.1f s", time.perf_counter() - t)
        else:
            u[free] = _amg(_assemble(ny, nx, scale, Ke), free, b, solid, ny, nx, h, rtol, out)[free]
    if info is not None:
        info.update(out)
    return u


def _nested_dissection(ny: int, nx: int, leaf: int = 64) -> np.ndarray:
    """Node elimination order (old node numbers) of the (ny+1) x (nx+1) node grid.

    Recursive bisection across the longer side with the separator line eliminated last: the
    classical O(n log n)-fill order of a 2-D grid, which SuperLU's general orderings miss.
    """
    boxes = []
    stack = [(0, ny + 1, 0, nx + 1, False)]  # half-open node ranges; True = a separator
    while stack:  # post-order: both halves, then their separator
        i0, i1, j0, j1, sep = stack.pop()
        if sep or (i1 - i0) * (j1 - j0) <= leaf or min(i1 - i0, j1 - j0) < 3:
            boxes.append((i0, i1, j0, j1))
        elif i1 - i0 >= j1 - j0:
            m = (i0 + i1) // 2
            stack += [(m, m + 1, j0, j1, True), (m + 1, i1, j0, j1, False), (i0, m, j0, j1, False)]
        else:
            m = (j0 + j1) // 2
            stack += [(i0, i1, m, m + 1, True), (i0, i1, m + 1, j1, False), (i0, i1, j0, m, False)]
    W = nx + 1
    return np.concatenate([(np.arange(a, b)[:, None] * W + np.arange(c, d)).ravel() for a, b, c, d in boxes])


def _direct(K: sp.csr_matrix, free: np.ndarray, b: np.ndarray, ny: int, nx: int) -> np.ndarray:
    nodes = _nested_dissection(ny, nx)
    perm = (2 * nodes[:, None] + np.arange(2)).ravel()
    perm = perm[free[perm]]  # free DOFs in elimination order
    A = K[perm]
    del K
    A = A[:, perm]
    # P K P^T is symmetric, so its CSR arrays are also its CSC arrays: no conversion copy.
    A = sp.csc_matrix((A.data, A.indices, A.indptr), shape=A.shape)
    # SPD: no pivoting needed, and our order is kept (NATURAL on the permuted matrix).
    lu = spla.splu(A, permc_spec="NATURAL", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    x = np.empty(len(free))
    x[perm] = lu.solve(b[perm])
    return x[free]


def _soft_modes(solid: np.ndarray, fixed: np.ndarray, xy: np.ndarray) -> sp.csr_matrix:
    """Columns: rigid motions of each 4-connected solid component allowed by its own fixed DOFs.

    Such a part is held only through void or through hinge nodes shared with other parts, so
    these motions cost ~void energy.  Returned as a sparse (ndof, m) basis, zero at fixed DOFs.
    """
    ny, nx = solid.shape
    lab, ncomp = ndimage.label(solid)  # default structure: edge (4-) connectivity
    if ncomp == 0:
        return sp.csr_matrix((len(fixed), 0))
    el = np.flatnonzero(solid.ravel())
    # Unique (node, component) pairs: a hinge node belongs to both parts it joins.
    pairs = np.unique(element_nodes(ny, nx)[el] * ncomp + (lab.ravel()[el] - 1)[:, None])
    node, comp = np.divmod(pairs, ncomp)
    cnt = np.bincount(comp, minlength=ncomp)
    centre = np.stack([np.bincount(comp, xy[node, k], ncomp) for k in (0, 1)], 1) / cnt[:, None]
    d = xy[node] - centre[comp]
    # Lengths in units of each part's RMS radius keep the rotation column comparable to the
    # translations, so the rank test below does not depend on h or on the part's size.
    radius = np.sqrt(np.bincount(comp, (d * d).sum(1), ncomp) / cnt)
    d /= np.maximum(radius, 1e-300)[comp, None]
    # Rigid modes per pair and DOF: R[p, c, k] (c = u_x / u_y; k = t_x, t_y, rotation).
    R = np.zeros((len(node), 2, 3))
    R[:, 0, 0] = R[:, 1, 1] = 1.0
    R[:, 0, 2], R[:, 1, 2] = -d[:, 1], d[:, 0]
    fx = fixed.reshape(-1, 2)[node].astype(float)  # (pairs, 2)
    # Gram of the modes over each part's fixed DOFs; its null space = the motions they allow.
    g = np.einsum("pc,pck,pcl->pkl", fx, R, R).reshape(-1, 9)
    G = np.stack([np.bincount(comp, g[:, k], ncomp) for k in range(9)], 1).reshape(ncomp, 3, 3)
    w, V = np.linalg.eigh(G)
    keep = w <= 1e-10 * w[:, -1:]  # all three when the part has no fixed DOF (G = 0)
    if not keep.any():
        return sp.csr_matrix((len(fixed), 0))
    colid = np.cumsum(keep.ravel()).reshape(ncomp, 3) - 1
    vals = np.einsum("pck,pkm->pcm", R, V[comp])  # (pairs, 2, 3 candidate columns)
    vals *= (1.0 - fx)[:, :, None]  # exactly zero on fixed DOFs
    rows = np.broadcast_to((2 * node[:, None] + np.arange(2))[:, :, None], vals.shape)
    cols = np.broadcast_to(colid[comp][:, None, :], vals.shape)
    m = np.broadcast_to(keep[comp][:, None, :], vals.shape)
    return sp.csr_matrix((vals[m], (rows[m], cols[m])), shape=(len(fixed), int(keep.sum())))


def _amg(K: sp.csr_matrix, free: np.ndarray, b: np.ndarray, solid: np.ndarray, ny: int, nx: int,
         h: float, rtol: float, out: dict) -> np.ndarray:
    import pyamg

    fixed = ~free
    # Fixed DOFs become decoupled identity rows (x = 0 there) rather than being cut out, so the
    # operator keeps its 2 x 2 node blocks for aggregation.  Done in place on K (ours).
    A = K
    del K
    row = np.repeat(np.arange(A.shape[0], dtype=A.indices.dtype), np.diff(A.indptr))
    cut = fixed[row] | fixed[A.indices]
    diag_value = float(np.median(A.diagonal()))
    A.data[cut] = 0.0
    A.data[cut & (row == A.indices)] = diag_value
    del row, cut
    A.eliminate_zeros()
    rhs = np.where(fixed, 0.0, b)

    # Aggregation fits B per aggregate by QR, so the length unit of xy does not matter.
    xy = node_coordinates(ny, nx, h)
    d = xy - xy.mean(axis=0)
    B = np.zeros((A.shape[0], 3))  # rigid modes: translations, rotation about the centre
    B[0::2, 0] = B[1::2, 1] = 1.0
    B[0::2, 2], B[1::2, 2] = -d[:, 1], d[:, 0]
    B[fixed] = 0.0
    ml = pyamg.smoothed_aggregation_solver(
        A.tobsr(blocksize=(2, 2)), B=B, symmetry="hermitian",
        strength=("symmetric", {"theta": _AMG_THETA}),
        # 'local' weighting skips the spectral-radius estimate (a third of the setup time) and
        # candidate improvement did not pay for itself (measured).
        smooth=("jacobi", {"omega": 4.0 / 3.0, "weighting": "local"}), improve_candidates=None,
        max_coarse=_AMG_MAX_COARSE, coarse_solver="splu")
    # Aggregation needs the 2 x 2 node blocks, but scipy's BSR products with 2 x 2 blocks are
    # slow: cycle on CSR with point Gauss-Seidel (measured 2x faster per iteration than BSR
    # block Gauss-Seidel, same iteration count).
    for lv in ml.levels:
        lv.A = A if lv is ml.levels[0] else lv.A.tocsr()
        if hasattr(lv, "P"):
            lv.P, lv.R = lv.P.tocsr(), lv.R.tocsr()
    gs = ("gauss_seidel", {"sweep": "symmetric"})
    pyamg.relaxation.smoothing.change_smoothers(ml, gs, gs)
    M0 = ml.aspreconditioner()

    Z = _soft_modes(solid, fixed, xy)
    if Z.shape[1]:
        # Balancing (deflation) preconditioner: exact coarse solve on span Z, AMG on the rest.
        AZ = (A @ Z).tocsc()
        Ef = spla.splu((Z.T @ AZ).tocsc())
        ZT, AZT = Z.T.tocsr(), AZ.T.tocsr()

        # M r = Q r + (I - Q A) M0 (I - A Q) r with Q = Z E^-1 Z^T, E = Z^T A Z.
        def precond(r: np.ndarray) -> np.ndarray:
            e = Ef.solve(ZT @ r)
            y = M0 @ (r - AZ @ e)
            return y - Z @ Ef.solve(AZT @ y) + Z @ e
    else:
        def precond(r: np.ndarray) -> np.ndarray:
            return M0 @ r

    x, its = _pcg(A, rhs, precond, rtol, 1.0 / A.diagonal())
    out.update(cg_iterations=its, deflated_modes=int(Z.shape[1]), amg_levels=len(ml.levels))
    return x


def _pcg(A, b: np.ndarray, M, rtol: float, dinv: np.ndarray) -> tuple[np.ndarray, int]:
    """Preconditioned CG stopping on the Jacobi-scaled residual |D^-1 r| <= rtol |D^-1 b|."""
    x = np.zeros_like(b)
    ref = np.linalg.norm(dinv * b)
    if ref == 0.0:
        return x, 0
    r = b.copy()
    z = M(r)
    p = z.copy()
    rz = r @ z
    # no count to go by: the residual's progress toward rtol, in decades, is what the line shows
    progress = Progress(f"structure solve, amg-CG ({len(b):,} DOFs)", unit="it")
    for k in range(1, _CG_MAXITER + 1):
        Ap = A @ p
        alpha = rz / (p @ Ap)
        x += alpha * p
        r -= alpha * Ap
        res = np.linalg.norm(dinv * r) / ref
        progress.update(note=f"relative residual {res:.2e} (stops at {rtol:.0e})")
        if res <= rtol:
            progress.close(f"relative residual {res:.2e}")
            return x, k
        z = M(r)
        rz, rz_old = r @ z, rz
        p = z + (rz / rz_old) * p
    raise RuntimeError(f"amg-CG did not reach rtol={rtol} in {_CG_MAXITER} iterations; "
                       "check the fixed DOFs remove the rigid modes, or use solver='direct'")


def _element_forces(ny: int, nx: int, scale: np.ndarray, Ke: np.ndarray, u: np.ndarray) -> np.ndarray:
    """K u assembled element by element (no global matrix)."""
    ed = element_dofs(ny, nx)
    fe = scale[:, None] * (u[ed] @ Ke)  # Ke symmetric
    return np.bincount(ed.ravel(), fe.ravel(), minlength=len(u))


def _check_u(u, ny: int, nx: int) -> np.ndarray:
    u = np.asarray(u, dtype=float)
    if u.shape != (2 * (ny + 1) * (nx + 1),):
        raise ValueError(f"u must have shape ({2 * (ny + 1) * (nx + 1)},), got {u.shape}")
    return u


def strain_energy(structure, u, *, E: float = 1.0, nu: float = 0.3, plane: str = "stress",
                  void: float = 1e-9) -> float:
    """0.5 u^T K u, element by element (no global matrix)."""
    solid = _check_structure(structure)
    ny, nx = solid.shape
    ue = _check_u(u, ny, nx)[element_dofs(ny, nx)]
    Ke = _element_matrix(E, nu, plane)
    return float(0.5 * np.einsum("e,ei,ei->", _element_scale(solid, void), ue @ Ke, ue))


def reaction_forces(structure, u, *, E: float = 1.0, nu: float = 0.3, plane: str = "stress",
                    void: float = 1e-9) -> np.ndarray:
    """Nodal forces K u (length ndof): the reactions at fixed DOFs, the applied loads elsewhere."""
    solid = _check_structure(structure)
    ny, nx = solid.shape
    u = _check_u(u, ny, nx)
    return _element_forces(ny, nx, _element_scale(solid, void), _element_matrix(E, nu, plane), u)
