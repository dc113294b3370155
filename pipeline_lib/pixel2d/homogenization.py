"""Energy-based periodic homogenization of pixel cells (Xia & Breitkopf 2015), batched.

Each pixel is a unit-square Q4 element; the cell is an H x W periodic unit cell.  For a macro
strain eps the total displacement is u = eps . x + chi with chi periodic, and the effective
stiffness follows from the minimum strain energy, W(eps) = |Y|/2 eps^T C eps (|Y| = H W).  That
is exactly the energy-based formula C_ij = 1/|Y| sum_e (u^i_e)^T K_e u^j_e of Xia & Breitkopf,
computed without forming the global system: the grid is condensed to its outer boundary by
:mod:`pipeline_lib.fem.condense` and the boundary problem is closed with

* ``periodic``: u(right) = u(left) + eps.(W, 0), u(top) = u(bottom) + eps.(0, H); any cell.
* ``quarter``: for cells mirror-symmetric about both mid-axes, the fluctuation under a normal
  strain is odd/even about the mirror lines and under shear even/odd, so one quarter of the cell
  with a roller condition on each mirror line carries the solve (four times less area and no
  periodic wrap-around).  Normal strains and shear are two separate small closures; C13 = C23 = 0.

Coordinates: row 0 of a cell is its top, y points up, x runs along columns.  Voigt order
(xx, yy, xy) with engineering shear strain.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from pipeline_lib import mirror
from pipeline_lib.device import default_device
from pipeline_lib.fem import condense as cd
from pipeline_lib.fem.quad4 import (
    elasticity_matrix,
    element_stiffness,
    strain_displacement,
)
from pipeline_lib.progress import Progress

METHODS = ("auto", "periodic", "quarter")


def _affine(nodes: np.ndarray, ny: int) -> np.ndarray:
    """Displacements (2 n, 3) of the three unit strains at nodes (i, j); y = ny - i."""
    x = nodes[:, 1].astype(float)
    y = (ny - nodes[:, 0]).astype(float)
    G = np.zeros((len(nodes), 2, 3))
    G[:, 0, 0] = x  # eps_xx
    G[:, 1, 1] = y  # eps_yy
    G[:, 0, 2] = y / 2  # gamma_xy = 1
    G[:, 1, 2] = x / 2
    return G.reshape(-1, 3)


@lru_cache(maxsize=16)
def _periodic_closure(H: int, W: int):
    nodes = np.array(cd.boundary_nodes(H, W))
    # Independent node of each boundary node under the periodic identification; node (0, 0) is
    # held fixed to remove the rigid translation.
    rep_node = (nodes[:, 0] % H) * W + (nodes[:, 1] % W)
    uniq, rep = np.unique(rep_node, return_inverse=True)
    assert uniq[0] == 0
    rep_dof = (rep[:, None] * 2 + np.arange(2)).ravel()
    return torch.as_tensor(rep_dof), 2 * len(uniq), torch.as_tensor(_affine(nodes, H))


@lru_cache(maxsize=16)
def _quarter_closure(h: int, w: int):
    nodes = np.array(cd.boundary_nodes(h, w))
    vertical = (nodes[:, 1] == 0) | (nodes[:, 1] == w)
    horizontal = (nodes[:, 0] == 0) | (nodes[:, 0] == h)
    fixed_normal = np.stack([vertical, horizontal], axis=1).ravel()  # u_x on |, u_y on -
    fixed_shear = np.stack([horizontal, vertical], axis=1).ravel()  # u_x on -, u_y on |
    G = _affine(nodes, h)
    out = []
    for fixed, cols in ((fixed_normal, [0, 1]), (fixed_shear, [2])):
        c = np.flatnonzero(fixed)
        f = np.flatnonzero(~fixed)
        out.append((torch.as_tensor(c), torch.as_tensor(f), torch.as_tensor(G[c][:, cols]), cols))
    return out


def _solve_closure(S: torch.Tensor, c, f, Gc):
    """Minimise 1/2 u^T S u with u_c = Gc eps prescribed: returns the energy form and u."""
    Sff = S[:, f[:, None], f[None, :]]
    Sfc = S[:, f[:, None], c[None, :]]
    Scc = S[:, c[:, None], c[None, :]]
    Gc = Gc.to(S)
    L = torch.linalg.cholesky(Sff)
    uf = -torch.cholesky_solve(Sfc @ Gc, L)
    Q = Gc.mT @ (Scc @ Gc + Sfc.mT @ uf)
    return Q, uf


def _periodic_solve(scale: torch.Tensor, Ke: torch.Tensor, displacements: bool = False):
    """Full periodic solve of cells with element matrices ``scale[b, r, c] * Ke``: C (B, 3, 3)
    and, with ``displacements``, the element DOFs ue (B, H * W, 8, 3) of the three unit load cases
    (elements row-major, element DOF order of :mod:`pipeline_lib.fem.quad4`).  ue is the TOTAL
    field eps . x + chi: the boundary values are the periodic fluctuation plus the affine part G,
    and :func:`pipeline_lib.fem.condense.expand` recovers the interior from them."""
    B, H, W = scale.shape
    area = float(H * W)
    p = cd.plan(H, W)
    S, fac = cd.condense(_on(p, scale.device), Ke, scale, keep_factors=displacements)
    rep_dof, n_ind, G = _periodic_closure(H, W)
    rep_dof, G = rep_dof.to(scale.device), G.to(scale)
    nb = S.shape[1]
    PS = S.new_zeros((B, n_ind, nb)).index_add_(1, rep_dof, S)
    A = S.new_zeros((B, n_ind, n_ind)).index_add_(2, rep_dof, PS)[:, 2:, 2:]
    PSG = (PS @ G)[:, 2:]
    L = torch.linalg.cholesky(A)
    ubar = -torch.cholesky_solve(PSG, L)
    C = (G.mT @ S @ G + PSG.mT @ ubar) / area
    if not displacements:
        return C, None
    ubar = torch.cat([ubar.new_zeros((B, 2, 3)), ubar], dim=1)
    u_b = ubar[:, rep_dof] + G
    ue = cd.expand(_on(p, scale.device), fac, u_b)
    return C, ue


def element_matrix(E: float, nu: float, plane: str) -> np.ndarray:
    return element_stiffness(elasticity_matrix(E, nu, plane))


def homogenize_scaled(scale: torch.Tensor, Ke: torch.Tensor, method: str = "periodic",
                      energies: bool = False):
    """Effective C of cells whose element matrices are ``scale[b, r, c] * Ke``.

    Returns C (B, 3, 3) and, with ``energies``, the element mutual energies
    Q (B, h, w, 3, 3) = u^i_e^T Ke u^j_e of the unit load cases, so that
    dC_ij / d scale_e = Q_e_ij / |Y| for ``periodic`` (over all H x W elements) and
    4 Q_e_ij / |Y| for ``quarter`` (over the h x w = H/2 x W/2 elements of the top-left quarter,
    each standing for its four mirror images).
    """
    B, H, W = scale.shape
    area = float(H * W)
    if method == "periodic":
        C, ue = _periodic_solve(scale, Ke, displacements=energies)
        if not energies:
            return C, None
        Q = torch.einsum("beik,ij,bejl->bekl", ue, Ke, ue).reshape(B, H, W, 3, 3)
        return C, Q
    if method == "quarter":
        if H % 2 or W % 2:
            raise ValueError(f"the quarter-cell solve needs even cell sides, got {H} x {W}")
        h, w = H // 2, W // 2
        sq = scale[:, :h, :w]
        p = cd.plan(h, w)
        S, fac = cd.condense(_on(p, scale.device), Ke, sq, keep_factors=energies)
        C = S.new_zeros((B, 3, 3))
        Q = S.new_zeros((B, h, w, 3, 3)) if energies else None
        for c, f, Gc, cols in _quarter_closure(h, w):
            c, f = c.to(scale.device), f.to(scale.device)
            Qc, uf = _solve_closure(S, c, f, Gc)
            C[:, cols[0]:cols[-1] + 1, cols[0]:cols[-1] + 1] = 4.0 * Qc / area
            if energies:
                u_b = S.new_empty((B, S.shape[1], len(cols)))
                u_b[:, c] = Gc.to(S)
                u_b[:, f] = uf
                ue = cd.expand(_on(p, scale.device), fac, u_b)
                Qe = torch.einsum("beik,ij,bejl->bekl", ue, Ke, ue).reshape(B, h, w, len(cols), len(cols))
                Q[..., cols[0]:cols[-1] + 1, cols[0]:cols[-1] + 1] = Qe
        return C, Q
    raise ValueError(f"method must be 'periodic' or 'quarter', got {method!r}")


_plans_on: dict = {}


def _on(p: cd.CondensationPlan, device: torch.device) -> cd.CondensationPlan:
    if device.type == "cpu":
        return p
    key = (p.nely, p.nelx, p.ndof, str(device))
    if key not in _plans_on:
        _plans_on[key] = p.to(device)
    return _plans_on[key]


def _check_cells(cells) -> np.ndarray:
    arr = np.asarray(cells)
    if arr.ndim not in (2, 3):
        raise ValueError(f"cells must have shape (H, W) or (N, H, W), got {arr.shape}")
    if arr.shape[-1] < 2 or arr.shape[-2] < 2:
        raise ValueError(f"cells must be at least 2 x 2 pixels, got {arr.shape[-2:]}")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"cells must be numeric or boolean, got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError("cells contain NaN or infinite values")
    return arr


def _prepare(cells, void: float, device):
    """Checked cells as a (N, H, W) bool array, whether one cell was given, and the device."""
    arr = _check_cells(cells)
    if not 0 < void < 1:
        raise ValueError(f"void must be a modulus ratio in (0, 1), got {void}")
    solid = arr.astype(bool)
    single = arr.ndim == 2
    dev = torch.device(device) if device is not None else default_device()
    return (solid[None] if single else solid), single, dev


def homogenize(cells, *, E=1.0, nu=0.3, plane="stress", void=1e-9) -> np.ndarray:
    """Effective stiffness of binary pixel cells under periodic boundary conditions.

    cells: (H, W) or (N, H, W); truthy = solid (modulus E), falsy = void (modulus void * E).
    Row 0 is the top of the cell (y up, x along columns).  Returns C as (3, 3) or (N, 3, 3) in
    Voigt order (xx, yy, xy) with engineering shear strain, in the units of E.  Cells that are
    mirror-symmetric about both mid-axes are solved on a quarter cell, others on the full cell.
    """
    return homogenize_cells(cells, E=E, nu=nu, plane=plane, void=void)


def homogenize_cells(cells, *, E=1.0, nu=0.3, plane="stress", void=1e-9, method="auto",
                     batch_size: int | None = None, device: str | torch.device | None = None) -> np.ndarray:
    """:func:`homogenize` with control over the solve path, batch size and device."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    solid, single, dev = _prepare(cells, void, device)
    N, H, W = solid.shape
    Ke = torch.as_tensor(element_matrix(E, nu, plane), dtype=torch.float64, device=dev)
    if method == "auto":  # a quarter needs two elements at least (the tree merges pairs)
        quarter_ok = mirror.is_mirror_symmetric(solid, 2) & ((H // 2) * (W // 2) >= 2)
        route = np.where(quarter_ok, "quarter", "periodic")
    else:
        if method == "quarter" and not mirror.is_mirror_symmetric(solid, 2).all():
            raise ValueError("method='quarter' needs cells mirror-symmetric about both mid-axes")
        route = np.full(N, method)
    out = np.empty((N, 3, 3))
    progress = Progress("homogenization", N, unit="cells")
    for m in ("quarter", "periodic"):
        idx = np.flatnonzero(route == m)
        size = batch_size or _default_batch(*((H // 2, W // 2) if m == "quarter" else (H, W)), dev)
        for start in range(0, len(idx), size):
            sel = idx[start:start + size]
            s = np.where(solid[sel], 1.0, void)
            scale = torch.as_tensor(s, dtype=torch.float64, device=dev)
            C, _ = homogenize_scaled(scale, Ke, m)
            out[sel] = C.cpu().numpy()
            progress.update(len(sel), note=f"{m} solves")
    progress.close()
    # Exact symmetry: the closures are symmetric up to rounding.
    out = 0.5 * (out + out.transpose(0, 2, 1))
    return out[0] if single else out


def _default_batch(h: int, w: int, device: torch.device) -> int:
    # The root front of an h x w patch is a dense matrix over its 2(h + w) boundary nodes and the
    # interface across it.  On CPU the fronts of a batch should stay in the last-level cache
    # (measured: 4-8 full 50 x 50 cells, 8-16 quarters per batch beat larger batches by 1.5-2x);
    # a GPU wants large batches to fill the device.
    front = 2 * (2 * (h + w) + min(h, w))
    per_cell = front * front * 8
    budget = 8e6 if device.type == "cpu" else 2e9
    return int(max(1, min(8192, budget // per_cell)))


SIDES = ("left", "right", "top", "bottom")
TRACTION_POINTS = ("nodes", "elements")

# Element node order BL, BR, TR, TL (pipeline_lib.fem.quad4).
_BL, _BR, _TR, _TL = range(4)


def boundary_tractions(cells, *, E=1.0, nu=0.3, plane="stress", void=1e-9, at="nodes",
                       batch_size: int | None = None,
                       device: str | torch.device | None = None) -> np.ndarray:
    """Tractions on the four sides of square pixel cells under the three unit macro strains.

    cells: (n, n) or (N, n, n), truthy = solid (as :func:`homogenize`).  Each cell is solved with
    the full periodic closure (also when it is mirror-symmetric) for eps_xx = 1, eps_yy = 1 and
    gamma_xy = 1; the displacement used is the TOTAL field eps . x + chi.

    Returns t of shape (N, 4, n, 3, 2) (or (4, n, 3, 2) for one cell) indexed
    [cell, side, position, load case, component]:

    * side in :data:`SIDES` = (left, right, top, bottom);
    * position along the side: top to bottom on left / right, left to right on top / bottom;
    * load case (eps_xx, eps_yy, gamma_xy), component (x, y);
    * t = sigma . e with the FIXED axis e = e_x on left / right and e_y (up) on top / bottom,
      not the outward normal, so the right side of one cell and the left side of its right
      neighbour (or the bottom side of one cell and the top side of the one below) compare
      directly.

    ``at="nodes"`` (default): the consistent nodal traction, i.e. the internal force
    scale_e Ke u_e of the cell's elements gathered at the side's nodes, signed by the outward
    normal (t = -f on left / bottom, +f on right / top), a force per node = a traction times
    the node's one-pixel share of the side.  The side has n + 1 nodes whose two end nodes
    are the same node of the periodic tiling; position 0 holds their sum (the force carried
    across the cut at the corner), positions 1 .. n-1 the other nodes, so position k is node
    k counted from the top (left).  The periodic equilibrium makes these exact: right side ==
    left side and top side == bottom side up to solver rounding, identical cells are fully
    compatible, and the n values of a side sum to n times (C_hom eps) . e.

    ``at="elements"``: sigma = scale_e D B u_e at the centre of each of the n boundary elements
    along the side (= the element's average stress).  Not periodic: the elements of the first
    and last column (row) differ, so a cell does not match its own periodic copy.

    Both give D[:, k] . e everywhere on an all-solid cell.
    """
    if at not in TRACTION_POINTS:
        raise ValueError(f"at must be one of {TRACTION_POINTS}, got {at!r}")
    solid, single, dev = _prepare(cells, void, device)
    N, H, W = solid.shape
    if H != W:
        raise ValueError(f"boundary_tractions needs square cells, got {H} x {W}")
    D = torch.as_tensor(elasticity_matrix(E, nu, plane), dtype=torch.float64, device=dev)
    Ke = torch.as_tensor(element_stiffness(elasticity_matrix(E, nu, plane)), dtype=torch.float64, device=dev)
    out = np.empty((N, 4, H, 3, 2))
    size = batch_size or _default_batch(H, W, dev)
    for start in range(0, N, size):
        s = np.where(solid[start:start + size], 1.0, void)
        scale = torch.as_tensor(s, dtype=torch.float64, device=dev)
        _, ue = _periodic_solve(scale, Ke, displacements=True)
        if at == "nodes":
            t = _nodal_tractions(scale, Ke, ue)
        else:
            t = _element_tractions(_element_stresses(scale, D, ue))
        out[start:start + size] = t.cpu().numpy()
    return out[0] if single else out


def _nodal_tractions(scale: torch.Tensor, Ke: torch.Tensor, ue: torch.Tensor) -> torch.Tensor:
    """(B, 4, n, 3, 2) consistent nodal tractions from the element DOFs ue (B, H*W, 8, 3)."""
    B, H, W = scale.shape
    fe = torch.einsum("ij,bejk->beik", Ke, ue) * scale.reshape(B, H * W, 1, 1)
    fe = fe.reshape(B, H, W, 4, 2, 3).transpose(-1, -2)  # [b, row, col, node, load, comp]
    # Node k of a side: element k's node at it plus element k-1's (cyclically: the corner node
    # 0 collects both ends of the side, which the periodic tiling identifies).
    left = fe[:, :, 0, _TL] + fe[:, :, 0, _BL].roll(1, dims=1)
    right = fe[:, :, -1, _TR] + fe[:, :, -1, _BR].roll(1, dims=1)
    top = fe[:, 0, :, _TL] + fe[:, 0, :, _TR].roll(1, dims=1)
    bottom = fe[:, -1, :, _BL] + fe[:, -1, :, _BR].roll(1, dims=1)
    # f = K u is the external force holding the cell: sigma . n_out.  Turn to the fixed axes.
    return torch.stack([-left, right, top, -bottom], dim=1)


def _element_stresses(scale: torch.Tensor, D: torch.Tensor, ue: torch.Tensor) -> torch.Tensor:
    """Element-centre stresses (B, H, W, 3, 3) [Voigt component, load case] of ue (B, H*W, 8, 3)."""
    B, H, W = scale.shape
    DB = D @ torch.as_tensor(strain_displacement(0.0, 0.0), dtype=D.dtype, device=D.device)
    sigma = torch.einsum("ij,bejk->beik", DB, ue) * scale.reshape(B, H * W, 1, 1)
    return sigma.reshape(B, H, W, 3, 3)


def _element_tractions(sigma: torch.Tensor) -> torch.Tensor:
    """(B, 4, n, 3, 2) sigma . e of the boundary elements from element stresses (B, H, W, 3, 3)."""
    ex, ey = [0, 2], [2, 1]  # Voigt rows of sigma . e_x = (s_xx, s_xy) and sigma . e_y = (s_xy, s_yy)
    sides = [sigma[:, :, 0][..., ex, :], sigma[:, :, -1][..., ex, :],
             sigma[:, 0, :][..., ey, :], sigma[:, -1, :][..., ey, :]]
    return torch.stack(sides, dim=1).transpose(-1, -2)
