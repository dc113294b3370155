"""Periodic homogenization of voxel units with hex8 elements: octant solves for symmetric units.

Every voxel is a unit-cube hex8 element; void voxels have exactly zero stiffness and DOFs touched
only by void voxels are removed.  C follows from the six unit macro strains (Voigt 11, 22, 33, 23,
31, 12, engineering shear), energy-based.

Units mirror-symmetric about the three mid-planes (every database unit) are solved on one eighth:
the periodic fluctuation under a unit strain is symmetric or antisymmetric about each mirror plane
(the mid-planes and, by periodicity, the cell faces), so on the nodes of a plane normal to axis a
u_a is prescribed (load even under that reflection) or u_b, u_c are (load odd), at the affine
value eps . x.  The three normal strains share one constraint set, each shear has its own; for
cubic units the normal strain 11 and the shear 23 give C11, C12 = C13 and C44, and the rest follows
by symmetry.  Mixed entries come from the Hill-Mandel identity C_ij V = a_i^T K u_j (a_i the affine
field of strain i, u_j the solution for strain j), diagonal ones from the energy u_j^T K u_j, whose
error is quadratic in the solver's.

Other units take the general full-cell path: periodic node numbering, six load cases.  Both use
precomputed index arrays (a COO -> CSR map summed with bincount) and CG preconditioned by
smoothed-aggregation algebraic multigrid: pyamg builds the hierarchy (translations as near-null
space), and the V-cycle runs as torch sparse products, on the GPU when one is present.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from pipeline_lib import mirror
from pipeline_lib.config import derive_seed
from pipeline_lib.elasticity import engineering_constants, reuss_moduli, unit_strain
from pipeline_lib.fem.hex8 import CORNERS, element_stiffness
from pipeline_lib.progress import track
from pipeline_lib.voxel3d.symmetry import is_cubic

# (Voigt columns, axes whose mirror reflection flips the sign of the load)
_NORMAL = ((0, 1, 2), ())
_SHEARS = (((3,), (1, 2)), ((4,), (0, 2)), ((5,), (0, 1)))
METHODS = ("auto", "octant", "periodic")


@dataclass(frozen=True)
class _Pattern:
    edof: np.ndarray  # (nel, 24) global DOFs of each element
    indptr: np.ndarray
    indices: np.ndarray
    slot: np.ndarray  # (nel * 576,) position in K.data of each element-matrix entry
    ndof: int


def _pattern(node_ids: np.ndarray, nnodes: int) -> _Pattern:
    """Sparsity pattern of a hex grid whose element e has nodes node_ids[e] (in hex8 order)."""
    edof = (node_ids[:, :, None] * 3 + np.arange(3)).reshape(len(node_ids), 24)
    rows = np.repeat(edof, 24, axis=1).ravel()
    cols = np.tile(edof, (1, 24)).ravel()
    ndof = 3 * nnodes
    key = rows.astype(np.int64) * ndof + cols
    uniq, slot = np.unique(key, return_inverse=True)
    r, c = np.divmod(uniq, ndof)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(r, minlength=ndof))])
    return _Pattern(edof, indptr, c.astype(np.int32), slot.astype(np.int64), ndof)


@lru_cache(maxsize=4)
def box_pattern(nx: int, ny: int, nz: int) -> _Pattern:
    """Non-periodic box of nx * ny * nz voxels, (nx+1)(ny+1)(nz+1) nodes, node id i + (nx+1)(j + (ny+1) k)."""
    i, j, k = np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nz), indexing="ij")
    base = np.stack([i.ravel(), j.ravel(), k.ravel()], 1)  # element order: voxel index (i, j, k) C-order
    corner = CORNERS.astype(int)
    p = base[:, None, :] + corner[None]
    ids = p[..., 0] + (nx + 1) * (p[..., 1] + (ny + 1) * p[..., 2])
    return _pattern(ids, (nx + 1) * (ny + 1) * (nz + 1))


@lru_cache(maxsize=4)
def periodic_pattern(n: int) -> _Pattern:
    """Periodic n^3 cell: node (i, j, k) for i, j, k < n, node n identified with node 0."""
    i, j, k = np.meshgrid(np.arange(n), np.arange(n), np.arange(n), indexing="ij")
    base = np.stack([i.ravel(), j.ravel(), k.ravel()], 1)
    p = (base[:, None, :] + CORNERS.astype(int)[None]) % n
    return _pattern(p[..., 0] + n * (p[..., 1] + n * p[..., 2]), n ** 3)


def _assemble(pat: _Pattern, emod: np.ndarray, Ke: np.ndarray) -> sp.csr_matrix:
    data = np.bincount(pat.slot, weights=(emod[:, None] * Ke.ravel()[None, :]).ravel(), minlength=len(pat.indices))
    return sp.csr_matrix((data, pat.indices, pat.indptr), shape=(pat.ndof, pat.ndof))


def _hierarchy(A: sp.csr_matrix, component: np.ndarray):
    import pyamg

    A = A.tocsr()
    A.eliminate_zeros()
    B = np.eye(3)[component]  # translations; rigid rotations clash with periodicity / mirror planes
    # pyamg estimates the spectral radius for the Jacobi prolongation smoother from a random start
    # vector of numpy's global generator: seeded here (and the caller's state restored), the
    # hierarchy -- and so every C -- is the same on every run, not just equal to the solver tolerance
    state = np.random.get_state()
    np.random.seed(0)
    try:
        return pyamg.smoothed_aggregation_solver(A, B=B, strength=("symmetric", {"theta": 0.0}),
                                                 smooth=("jacobi", {"omega": 4.0 / 3.0}), max_coarse=500)
    finally:
        np.random.set_state(state)


def solver_backend() -> str:
    """How the AMG-preconditioned CG iterates: 'torch' (default; the V-cycle as torch sparse
    products on the default device, CUDA when present) or 'pyamg' (its own C++ cycle with
    Gauss-Seidel smoothing).  Measured on 48^3 units on one CPU thread the torch cycle was faster
    (0.21 vs 0.33 s for a lattice, 1.0 vs 2.1 s for a spherical void).  METAGEN_VOXEL_SOLVER picks."""
    import os

    forced = os.environ.get("METAGEN_VOXEL_SOLVER", "torch").strip() or "torch"
    if forced not in ("pyamg", "torch"):
        raise ValueError(f"METAGEN_VOXEL_SOLVER must be 'pyamg' or 'torch', got {forced!r}")
    return forced


def _solve(A: sp.csr_matrix, b: np.ndarray, rtol: float, component: np.ndarray) -> np.ndarray:
    """CG preconditioned by smoothed-aggregation AMG for each column of b (one shared hierarchy).

    ``component`` (0, 1, 2) of each unknown gives the near-null space (translations)."""
    ml = _hierarchy(A, component)
    if solver_backend() == "torch":
        return _torch_pcg(ml, b, rtol)
    out = np.zeros_like(b)
    for k in range(b.shape[1]):
        if np.abs(b[:, k]).max() == 0:
            continue
        residuals: list[float] = []
        out[:, k] = ml.solve(b[:, k], tol=rtol, accel="cg", maxiter=500, residuals=residuals)
        if residuals[-1] > 10 * rtol * residuals[0]:
            raise RuntimeError(f"AMG-CG did not converge (relative residual {residuals[-1] / residuals[0]:.1e})")
    return out


def _torch_pcg(ml, b: np.ndarray, rtol: float, maxiter: int = 1000) -> np.ndarray:
    """The same AMG hierarchy as a torch V-cycle (damped Jacobi smoothing, dense coarse solve)
    preconditioning block CG over all load cases at once; runs on the default device."""
    import warnings

    import torch

    from pipeline_lib.device import default_device

    warnings.filterwarnings("ignore", message="Sparse (CSR tensor support|invariant checks)")
    dev = default_device()
    dt = torch.float64

    def csr(M):
        M = M.tocsr()
        return torch.sparse_csr_tensor(torch.as_tensor(M.indptr, dtype=torch.int64), torch.as_tensor(M.indices, dtype=torch.int64),
                                       torch.as_tensor(M.data, dtype=dt), size=M.shape).to(dev)

    levels = []
    for lv in ml.levels[:-1]:
        Dinv = 1.0 / lv.A.diagonal()
        # damped Jacobi with omega = 4 / (3 lambda_max(D^-1 A)), lambda_max by power iteration
        v = np.random.default_rng(0).standard_normal(lv.A.shape[0])
        for _ in range(15):
            v = Dinv * (lv.A @ v)
            lam = np.linalg.norm(v)
            v /= lam
        levels.append((csr(lv.A), csr(lv.P), csr(lv.P.T),
                       torch.as_tensor((4.0 / (3.0 * lam)) * Dinv, dtype=dt, device=dev)[:, None]))
    coarse = torch.linalg.cholesky(torch.as_tensor(ml.levels[-1].A.toarray(), dtype=dt, device=dev))

    def vcycle(r, k=0):  # symmetric: as many Jacobi sweeps after the coarse correction as before
        if k == len(levels):
            return torch.cholesky_solve(r, coarse)
        A, P, R, wDinv = levels[k]
        x = wDinv * r
        x = x + wDinv * (r - A @ x)
        x = x + P @ vcycle(R @ (r - A @ x), k + 1)
        for _ in range(2):
            x = x + wDinv * (r - A @ x)
        return x

    A = levels[0][0] if levels else csr(ml.levels[0].A)
    B = torch.as_tensor(b, dtype=dt, device=dev)
    X = torch.zeros_like(B)
    Rr = B.clone()
    norm0 = Rr.norm(dim=0).clamp_min(1e-300)
    Z = vcycle(Rr)
    Pd = Z.clone()
    rz = (Rr * Z).sum(0)
    for _ in range(maxiter):
        if ((Rr.norm(dim=0) / norm0) <= rtol).all():
            break
        AP = A @ Pd
        alpha = rz / (Pd * AP).sum(0).clamp_min(1e-300)
        X += alpha * Pd
        Rr -= alpha * AP
        Z = vcycle(Rr)
        rz_new = (Rr * Z).sum(0)
        Pd = Z + (rz_new / rz.clamp_min(1e-300)) * Pd
        rz = rz_new
    else:
        raise RuntimeError("torch AMG-CG did not converge")
    return X.cpu().numpy()


def _check(cell: np.ndarray, index: int) -> np.ndarray:
    c = np.asarray(cell)
    if c.ndim != 3 or len(set(c.shape)) != 1:
        raise ValueError(f"unit {index}: shape {c.shape}, expected (n, n, n)")
    if c.shape[0] < 2:
        raise ValueError(f"unit {index}: at least 2 voxels per side are needed, got {c.shape[0]}")
    if c.dtype.kind not in "biuf" or not np.isin(c, (0, 1)).all():
        raise ValueError(f"unit {index}: voxels must be binary (0/1 or bool)")
    if not c.any():
        raise ValueError(f"unit {index}: has no solid voxel")
    return c.astype(bool)


def homogenize_octant(cell: np.ndarray, E: float = 1.0, nu: float = 0.3, *, cubic: bool | None = None,
                      rtol: float = 1e-10) -> np.ndarray:
    """C of a unit mirror-symmetric about its three mid-planes, solved on the corner eighth."""
    n = cell.shape[0]
    h = n // 2
    solid = np.asarray(cell[:h, :h, :h], dtype=bool)
    if cubic is None:
        cubic = bool(is_cubic(cell))
    pat = box_pattern(h, h, h)
    Ke = element_stiffness(E, nu)
    K = _assemble(pat, solid.ravel().astype(float), Ke)
    m = h + 1
    g = np.stack(np.meshgrid(np.arange(m), np.arange(m), np.arange(m), indexing="ij"), -1)
    X = g.transpose(2, 1, 0, 3).reshape(-1, 3).astype(float)  # node id i + m (j + m k) -> coordinates
    active = np.zeros(pat.ndof, dtype=bool)
    active[pat.edof[solid.ravel()].ravel()] = True
    on_plane = (X == 0) | (X == h)  # (nodes, 3)
    affine = {col: (X @ unit_strain(col).T).ravel() for col in range(6)}
    C = np.zeros((6, 6))
    groups = [((0,), ()), ((3,), (1, 2))] if cubic else [_NORMAL, *_SHEARS]
    for cols, odd in groups:
        fixed = np.zeros((len(X), 3), dtype=bool)
        for a in range(3):
            if a in odd:
                fixed[:, [b for b in range(3) if b != a]] |= on_plane[:, [a]]
            else:
                fixed[:, a] |= on_plane[:, a]
        fixed = fixed.ravel()
        free = np.flatnonzero(active & ~fixed)
        U = np.zeros((pat.ndof, len(cols)))
        for k, col in enumerate(cols):
            U[fixed, k] = affine[col][fixed]
        rhs = -(K @ U)[free]
        U[free] = _solve(K[free][:, free], rhs, rtol, free % 3)
        KU = K @ U
        for k, col in enumerate(cols):
            for row in (range(6) if cubic or col < 3 else [col]):
                if (row < 3) != (col < 3) or (col >= 3 and row != col):
                    continue  # normal-shear and shear-shear couplings vanish by symmetry
                C[row, col] = U[:, k] @ KU[:, k] if row == col else affine[row] @ KU[:, k]
    C /= float(h ** 3)
    if cubic:
        c11, c12, c44 = C[0, 0], C[1, 0], C[3, 3]
        C[:3, :3] = c12
        C[np.arange(3), np.arange(3)] = c11
        C[np.arange(3, 6), np.arange(3, 6)] = c44
        return C
    return 0.5 * (C + C.T)


def homogenize_periodic(cell: np.ndarray, E: float = 1.0, nu: float = 0.3, *, rtol: float = 1e-10) -> np.ndarray:
    """C of any unit on the full periodic cell (six load cases)."""
    n = cell.shape[0]
    solid = np.asarray(cell, dtype=bool).ravel()
    pat = periodic_pattern(n)
    Ke = element_stiffness(E, nu)
    K = _assemble(pat, solid.astype(float), Ke)
    # element-level affine displacements of the unit strains (the global affine field jumps at the seam)
    u0 = np.stack([(CORNERS @ unit_strain(col).T).ravel() for col in range(6)], 1)  # (24, 6)
    f = np.zeros((pat.ndof, 6))
    np.add.at(f, pat.edof[solid], -(Ke @ u0)[None].repeat(solid.sum(), 0))
    active = np.zeros(pat.ndof, dtype=bool)
    active[pat.edof[solid].ravel()] = True
    first = np.flatnonzero(active)[:3]  # the translations of one solid node are fixed
    active[first] = False
    free = np.flatnonzero(active)
    chi = np.zeros((pat.ndof, 6))
    chi[free] = _solve(K[free][:, free], f[free], rtol, free % 3)
    ue = u0[None] + chi[pat.edof[solid]]  # (nsolid, 24, 6)
    C = np.einsum("eai,ab,ebj->ij", ue, Ke, ue) / float(n ** 3)
    return 0.5 * (C + C.T)


def homogenize_cells(cells, *, E=1.0, nu=0.3, method: str = "auto", rtol: float = 1e-10) -> np.ndarray:
    """:func:`homogenize` with control over the path (auto: octant for mirror-symmetric units)."""
    arr = np.asarray(cells)
    single = arr.ndim == 3
    if single:
        arr = arr[None]
    if arr.ndim != 4:
        raise ValueError(f"cells must have shape (n, n, n) or (N, n, n, n), got {np.asarray(cells).shape}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    out = np.empty((len(arr), 6, 6))
    for i, c in enumerate(arr):
        c = _check(c, i)
        sym = bool(mirror.is_mirror_symmetric(c, 3)) and c.shape[0] >= 4
        if method == "octant" and not sym:
            raise ValueError(f"unit {i}: method='octant' needs a unit mirror-symmetric about its mid-planes")
        if method == "octant" or (method == "auto" and sym):
            out[i] = homogenize_octant(c, E, nu, rtol=rtol)
        else:
            out[i] = homogenize_periodic(c, E, nu, rtol=rtol)
    return out[0] if single else out


def homogenize(cells, *, E=1.0, nu=0.3) -> np.ndarray:
    """Effective stiffness of periodic voxel units (hex8 elements, void with zero stiffness).

    cells: (n, n, n) or (N, n, n, n), truthy = solid, ``cells[i, j, k]`` the voxel at x = i,
    y = j, z = k; any n.  Returns (6, 6) or (N, 6, 6) in Voigt order (11, 22, 33, 23, 31, 12) with
    engineering shear strains, in the units of E.  Units mirror-symmetric about their mid-planes
    are solved on one eighth (two load cases when cubic), others on the full cell.  A unit of the
    wrong shape, with non-binary values or without solid raises ValueError naming it."""
    return homogenize_cells(cells, E=E, nu=nu)


# ------------------------------------------------------------------------ material uncertainty
PROPERTIES = ("E", "nu", "G")  # the property columns of the chain: the model's targets, in this order


def property_columns(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """(N, 3) E, nu, G of a database's (or :func:`effective_properties`') arrays."""
    return np.stack([np.asarray(arrays[k], np.float64) for k in PROPERTIES], axis=1)


@dataclass(frozen=True)
class Material:
    """The base material as Gaussians over E [MPa] and nu (schema: voxel3d.material): every
    simulation of the database draws its own pair -- the aleatoric uncertainty of paper 004."""

    E_mean: float = 70000.0
    E_std: float = 700.0
    nu_mean: float = 0.33
    nu_std: float = 0.0033


def material_draw(seed: int, tag: tuple, material: Material) -> tuple[float, float]:
    """E_s, nu_s of one simulation, seeded by ``tag`` (the unit's digest: the draw belongs to the
    unit, not to the shard it lands in).  An inadmissible draw is an error, not a silent clip."""
    rng = np.random.default_rng(derive_seed(seed, "voxel3d", "material", *tag))
    E = rng.normal(material.E_mean, material.E_std)
    nu = rng.normal(material.nu_mean, material.nu_std)
    if not (E > 0 and -1 < nu < 0.5):
        raise ValueError(f"material draw E={E:g}, nu={nu:g} is not admissible; narrow the distribution")
    return float(E), float(nu)


def effective_properties(C: np.ndarray) -> dict[str, np.ndarray]:
    """The database's scalar properties of (N, 6, 6) stiffnesses: E = 1 / S11, G = 1 / S44,
    nu = -S12 / S11 (cubic units: the same along every axis) and the Reuss bulk modulus K."""
    eng = engineering_constants(C)
    return {"E": eng["E1"], "G": eng["G23"], "nu": eng["nu12"], "K": reuss_moduli(C)[0]}


def simulate(cells: np.ndarray, draws: Sequence[tuple[float, float]]) -> dict[str, np.ndarray]:
    """C of each unit with its own material draw (E_s, nu_s), and the derived properties."""
    C = np.array([homogenize_cells(c, E=E, nu=nu) for c, (E, nu) in
                  track(zip(cells, draws), "homogenization", len(cells), unit="cells")]).reshape(len(cells), 6, 6)
    out = {"C": C, "E_s": np.array([d[0] for d in draws], float), "nu_s": np.array([d[1] for d in draws], float)}
    out.update(effective_properties(C) if len(C) else {k: np.zeros(0) for k in ("E", "G", "nu", "K")})
    return out
