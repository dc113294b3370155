"""Periodic homogenization of mirror-symmetric beam lattices on one octant, batched.

The unit cell is the octant mirrored three times, so under each unit macro strain the periodic
fluctuation is symmetric or antisymmetric about every mirror plane (x, y, z = 0 and, by
periodicity, the cell faces x, y, z = 1): the octant alone carries the solve, with these conditions
on nodes in a plane normal to axis a --

* load even under that reflection (normal strains; the shear not involving a): u_a prescribed,
  theta_b = theta_c = 0, the rest free;
* load odd under it (the two shears involving a): u_b, u_c prescribed, theta_a = 0, the rest free;

where "prescribed" means equal to the affine displacement eps . x (the fluctuation vanishes there).
Normal strains share one set of conditions (three load cases, one factorization); each shear has
its own.  Normal-shear couplings vanish by symmetry, so C is orthotropic with the nine components
of the paper.  Beams are rigid-jointed 3D frames (pipeline_lib.fem.beam3d), each weighted by the
share of it the octant owns (pipeline_lib.truss3d.frame), and C = d^2 W_octant / d eps^2 since the
octant is 1/8 of the cell in both energy and volume.  Dense batched Cholesky in torch (CPU or CUDA),
lattices grouped by node count.
"""
from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import torch

from pipeline_lib.device import default_device, torch_threads
from pipeline_lib.elasticity import unit_strain
from pipeline_lib.fem.beam3d import THEORIES, global_stiffness
from pipeline_lib.progress import Progress
from pipeline_lib.truss3d.frame import Frame, build_frame, lattice_problems, on_planes

# (Voigt columns, axes whose mirror reflection flips the sign of the load)
LOAD_GROUPS = (((0, 1, 2), ()), ((3,), (1, 2)), ((4,), (0, 2)), ((5,), (0, 1)))
DENSITY_MODES = ("struts", "solid")


def _constraints(nodes: np.ndarray, valid: np.ndarray, odd: tuple[int, ...]) -> np.ndarray:
    """(B, n, 6) DOFs fixed under one load group."""
    plane = on_planes(nodes).any(-1)  # (B, n, 3)
    fixed = np.zeros(nodes.shape[:2] + (6,), dtype=bool)
    for a in range(3):
        others = [b for b in range(3) if b != a]
        on = plane[..., a]
        if a in odd:
            for b in others:
                fixed[..., b] |= on
            fixed[..., 3 + a] |= on
        else:
            fixed[..., a] |= on
            for b in others:
                fixed[..., 3 + b] |= on
    fixed[~valid] = True
    return fixed


def _solve_batch(frames: list[Frame], r: np.ndarray, E: float, nu: float, beam: str,
                 device: torch.device) -> np.ndarray:
    B = len(frames)
    n = max(len(f.nodes) for f in frames)
    m = max(len(f.beams) for f in frames)
    nodes = np.zeros((B, n, 3))
    valid = np.zeros((B, n), dtype=bool)
    beams = np.zeros((B, m, 2), dtype=np.int64)
    weights = np.zeros((B, m))
    for b, f in enumerate(frames):
        nodes[b, : len(f.nodes)] = f.nodes
        valid[b, : len(f.nodes)] = True
        beams[b, : len(f.beams)] = f.beams
        weights[b, : len(f.beams)] = f.weights
        beams[b, len(f.beams):] = [0, 1] if len(f.nodes) > 1 else [0, 0]
    dt = torch.float64
    X = torch.as_tensor(nodes, dtype=dt, device=device)
    bt = torch.as_tensor(beams, device=device)
    d = torch.gather(X, 1, bt[..., 1:2].expand(-1, -1, 3)) - torch.gather(X, 1, bt[..., :1].expand(-1, -1, 3))
    w = torch.as_tensor(weights, dtype=dt, device=device)
    d = torch.where(w[..., None] > 0, d, torch.ones_like(d))  # padding beams: any non-degenerate vector
    rr = torch.as_tensor(r, dtype=dt, device=device)[:, None].expand(-1, m)
    Ke = global_stiffness(d, rr, E, nu, beam) * w[..., None, None]  # (B, m, 12, 12)
    N6 = 6 * n
    dofs = (bt[..., :, None] * 6 + torch.arange(6, device=device)).reshape(B, m, 12)
    flat = (torch.arange(B, device=device)[:, None, None, None] * N6 * N6
            + dofs[..., :, None] * N6 + dofs[..., None, :])
    K = torch.zeros(B * N6 * N6, dtype=dt, device=device)
    K.index_add_(0, flat.reshape(-1), Ke.reshape(-1))
    K = K.view(B, N6, N6)
    C = np.zeros((B, 6, 6))
    bidx = torch.arange(B, device=device)[:, None]
    for cols, odd in LOAD_GROUPS:
        fixed = _constraints(nodes, valid, odd).reshape(B, N6)
        Uc = np.zeros((B, n, 6, len(cols)))
        for k, col in enumerate(cols):
            Uc[..., :3, k] = nodes @ unit_strain(col).T
        Uc = np.where(fixed.reshape(B, n, 6)[..., None], Uc, 0.0).reshape(B, N6, len(cols))
        Uc_t = torch.as_tensor(Uc, dtype=dt, device=device)
        # Gather each lattice's free DOFs into a compact system, padded to the batch's largest;
        # padding points at index N6 (outside K) and gets an identity diagonal.
        nfree = (~fixed).sum(1)
        nf = int(nfree.max())
        idx = np.full((B, nf), N6, dtype=np.int64)
        rows, dof = np.nonzero(~fixed)  # row-major: each lattice's free DOFs in order
        idx[rows, np.arange(len(rows)) - (np.cumsum(nfree) - nfree)[rows]] = dof
        it = torch.as_tensor(idx, device=device)
        pad = it == N6
        itc = it.clamp(max=N6 - 1)
        Kff = K[bidx[..., None], itc[:, :, None], itc[:, None, :]]
        Kff = Kff.masked_fill(pad[:, :, None] | pad[:, None, :], 0.0) + torch.diag_embed(pad.to(dt))
        KUc = K @ Uc_t
        rhs = -torch.gather(KUc, 1, itc[..., None].expand(-1, -1, len(cols))).masked_fill(pad[..., None], 0.0)
        Lc, info = torch.linalg.cholesky_ex(Kff)
        if (info > 0).any():
            bad = int(torch.nonzero(info > 0)[0, 0])
            raise ValueError(f"lattice {bad}: singular stiffness under load {cols} (a mechanism)")
        uf = torch.cholesky_solve(rhs, Lc)
        U = torch.zeros((B, N6 + 1, len(cols)), dtype=dt, device=device)
        U.scatter_(1, it[..., None].expand(-1, -1, len(cols)), uf)
        U = U[:, :N6] + Uc_t
        Q = (U.mT @ (K @ U)).cpu().numpy()
        C[:, cols[0]:cols[-1] + 1, cols[0]:cols[-1] + 1] = Q
    return 0.5 * (C + C.transpose(0, 2, 1))


def solid_fraction_radius(frame: Frame, rho: float, resolution: int = 64) -> float:
    """Strut radius at which the union of the struts (cylinders; overlaps at nodes counted once)
    fills the fraction rho of the cell, from the distance of a grid of points in the octant to
    the nearest strut (the octant holds 1/8 of the cell, shared struts included in part)."""
    g = (np.arange(resolution) + 0.5) / resolution
    P = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    a, b = frame.nodes[frame.beams[:, 0]], frame.nodes[frame.beams[:, 1]]
    dmin = np.full(len(P), np.inf)
    for ai, bi in zip(a, b):
        d = bi - ai
        t = (P - ai) @ d / (d @ d)
        dist = np.linalg.norm(P - ai - np.clip(t, 0, 1)[:, None] * d, axis=1)
        dmin = np.minimum(dmin, np.where((t >= 0) & (t <= 1), dist, np.inf))
    return float(np.quantile(dmin, rho))


def strut_radii(frames: list[Frame], relative_density: np.ndarray | float, density: str = "struts") -> np.ndarray:
    """Strut radius (octant units: half the cell side = 1) of each frame at a relative density:
    summed strut volumes (``density="struts"``, shared struts once) or the solid volume fraction
    of their union (``"solid"``, node overlaps once, on a grid)."""
    if density not in DENSITY_MODES:
        raise ValueError(f"density must be one of {DENSITY_MODES}, got {density!r}")
    rho = np.broadcast_to(np.asarray(relative_density, dtype=float), (len(frames),))
    if density == "struts":
        wl = np.array([(f.weights * f.lengths).sum() for f in frames])
        return np.sqrt(rho / (np.pi * wl))
    return np.array([solid_fraction_radius(f, p) for f, p in zip(frames, rho)])


def homogenize_frames(frames: list[Frame], *, radius: np.ndarray | float | None = None,
                      relative_density: np.ndarray | float | None = None, E: float = 1.0, nu: float = 0.3,
                      beam: str = "timoshenko", density: str = "struts", batch_size: int = 64,
                      device: torch.device | str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """C (N, 6, 6) and the strut radius used (N,), octant units (half the cell side = 1).

    ``radius`` is the strut radius as a fraction of the full cell side; ``relative_density`` sets it
    per lattice so that, with ``density="struts"``, the summed strut volumes (pi r^2 L, shared
    struts counted once) fill that fraction of the cell, or with ``density="solid"`` so that their
    union does (node overlaps counted once, computed on a grid)."""
    if (radius is None) == (relative_density is None):
        raise ValueError("give exactly one of radius and relative_density")
    if beam not in THEORIES:
        raise ValueError(f"beam must be one of {THEORIES}, got {beam!r}")
    if density not in DENSITY_MODES:
        raise ValueError(f"density must be one of {DENSITY_MODES}, got {density!r}")
    N = len(frames)
    if radius is not None:
        r = 2.0 * np.broadcast_to(np.asarray(radius, dtype=float), (N,)).copy()
    else:
        r = strut_radii(frames, relative_density, density)
    if not (np.isfinite(r) & (r > 0)).all():
        raise ValueError("strut radius must be positive and finite")
    dev = torch.device(device) if device is not None else default_device()
    C = np.empty((N, 6, 6))
    order = np.argsort([len(f.nodes) for f in frames], kind="stable")  # similar sizes pad little
    # The systems are small (tens to ~200 DOFs): on CPU a second OpenMP thread costs more than it
    # saves (measured 705 vs 4400 lattices/s at batch 64), so solve single-threaded and get
    # parallelism from running shards side by side.
    with torch_threads(1) if dev.type == "cpu" else nullcontext():
        _solve_all(frames, r, E, nu, beam, dev, order, batch_size, C)
    return C, r


def _solve_all(frames, r, E, nu, beam, dev, order, batch_size, C) -> None:
    N = len(frames)
    progress = Progress("homogenization", N, unit="lattices")
    for s in range(0, N, batch_size):
        idx = order[s:s + batch_size]
        try:
            C[idx] = _solve_batch([frames[i] for i in idx], r[idx], E, nu, beam, dev)
        except ValueError as exc:
            msg = str(exc)
            if msg.startswith("lattice "):
                k = int(msg.split()[1].rstrip(":"))
                raise ValueError(f"lattice {idx[k]}:" + msg.split(":", 1)[1]) from None
            raise
        progress.update(len(idx))
    progress.close()


def checked_frames(adjacency: np.ndarray, offsets: np.ndarray, first: int = 0) -> list[Frame]:
    """The frames of (N, 27, 27) lattices, or a ValueError naming the first lattice with a problem
    (``first`` numbers the rows, for a slice of a larger file)."""
    frames = []
    for i, (a, x) in enumerate(zip(np.asarray(adjacency).astype(bool), offsets)):
        f = build_frame(a | a.T, x) if (a == a.T).all() else None
        problems = lattice_problems(a, x, f)
        if problems:
            raise ValueError(f"lattice {first + i}: " + "; ".join(problems))
        frames.append(f)
    return frames


def homogenize(adjacency, offsets, *, radius=None, relative_density=None, E=1.0, nu=0.3,
               beam="timoshenko") -> np.ndarray:
    """Effective stiffness of octant-defined beam lattices under periodic boundary conditions.

    adjacency: (27, 27) or (N, 27, 27) bool, symmetric; offsets: (27, 3) or (N, 27, 3) natural
    coordinates (see pipeline_lib.truss3d.octant).  Exactly one of ``radius`` (strut radius as a
    fraction of the full cell side) and ``relative_density`` (summed strut volume over cell volume,
    shared struts counted once).  Rigid-jointed Timoshenko beams (circular section, shear
    coefficient 6(1+nu)/(7+6nu)) or ``beam="euler-bernoulli"``.  Returns (6, 6) or (N, 6, 6) in Voigt
    order (11, 22, 33, 23, 31, 12) with engineering shear strains, in units of E.  Crossing beams
    are split at their intersection.  A lattice with a physical problem (asymmetric adjacency,
    offsets out of range or along fixed directions, coincident nodes, disconnected, not touching all
    six octant faces: ``frame.lattice_problems``) or a mechanism (singular stiffness) raises
    ValueError naming it.  Beam length is no rule: lattices of the authors' data, whose moved nodes
    make beams longer than sqrt(3)/2, are homogenized like any other.
    """
    A = np.asarray(adjacency)
    X = np.asarray(offsets, dtype=float)
    single = A.ndim == 2
    if single:
        A, X = A[None], X[None]
    if A.ndim != 3 or A.shape[1:] != (27, 27):
        raise ValueError(f"adjacency must have shape (27, 27) or (N, 27, 27), got {np.asarray(adjacency).shape}")
    if X.shape != (A.shape[0], 27, 3):
        raise ValueError(f"offsets must have shape {(A.shape[0], 27, 3)[1 if single else 0:]}, got "
                         f"{np.asarray(offsets).shape}")
    frames = checked_frames(A, X)
    C, _ = homogenize_frames(frames, radius=radius, relative_density=relative_density, E=E, nu=nu, beam=beam)
    return C[0] if single else C
