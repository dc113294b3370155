"""SIMP inverse homogenization: a pixel cell for each target stiffness (the database seeds).

Targets (C11, C12, C22, C33) are drawn uniformly, at a solid fraction f drawn uniformly, from the
box below the Voigt bound of the base material, keeping those that are positive definite and lie
below the Voigt bound f*D in the matrix (Loewner) order -- the one bound every microstructure of
solid fraction f obeys.  Targets near the bound are unreachable, which is intended: the optimizer
then ends at the nearest stiffness it can reach, spreading the seeds toward the boundary of the
achievable set.

Each cell is mirror-symmetric about both mid-axes (orthotropic), so the design variables are the
densities of the top-left quarter.  Densities are smoothed by a periodic cone filter of radius
``filter_radius`` (applied to the mirrored cell), projected toward 0/1 by a smoothed Heaviside
(threshold 0.5, sharpness beta doubled every ``beta_every`` iterations up to ``beta_max``; target
matching does not penalise gray material the way compliance does, so without it designs settle
on gray laminates that thresholding destroys), interpolated by SIMP (modulus void + x^p (1 -
void)), homogenized on the quarter cell with element energies as sensitivities, and updated by
batched MMA subject to mean density <= f, minimising the squared error to the target in units of
the solid's C11.  The result is thresholded to binary; defects are fixed by the caller.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from scipy import ndimage

from pipeline_lib import mirror
from pipeline_lib.fem.quad4 import elasticity_matrix
from pipeline_lib.optim.mma import init_state, mma_step
from pipeline_lib.pixel2d.homogenization import element_matrix, homogenize_scaled
from pipeline_lib.pixel2d.properties import INDEX, properties
from pipeline_lib.progress import Progress


@dataclass(frozen=True)
class SimpParams:
    penal: float = 3.0
    filter_radius: float = 1.8
    max_iter: int = 120
    move: float = 0.2
    tol: float = 0.005
    threshold: float = 0.5
    beta_max: float = 16.0
    beta_every: int = 20


@dataclass(frozen=True)
class Material:
    E: float = 1.0
    nu: float = 0.49
    plane: str = "stress"
    void: float = 1e-9


def sample_targets(rng: np.random.Generator, n: int, D: np.ndarray, volume_range, c12_ratio,
                   max_tries: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """n targets (C11, C12, C22, C33) and their solid fractions, by rejection sampling."""
    out = np.empty((0, 4))
    vols = np.empty(0)
    for _ in range(max_tries):
        m = 4 * n
        f = rng.uniform(*volume_range, m)
        c11 = rng.uniform(0, 1, m) * f * D[0, 0]
        c22 = rng.uniform(0, 1, m) * f * D[1, 1]
        c33 = rng.uniform(0, 1, m) * f * D[2, 2]
        c12 = rng.uniform(*c12_ratio, m) * f * D[0, 1]
        C = np.zeros((m, 3, 3))
        C[:, 0, 0], C[:, 1, 1], C[:, 2, 2] = c11, c22, c33
        C[:, 0, 1] = C[:, 1, 0] = c12
        ok = (np.linalg.eigvalsh(C)[:, 0] > 1e-6 * D[0, 0]) & \
             (np.linalg.eigvalsh(f[:, None, None] * D - C)[:, 0] >= 0)
        out = np.concatenate([out, np.stack([c11, c12, c22, c33], 1)[ok]])
        vols = np.concatenate([vols, f[ok]])
        if len(out) >= n:
            return out[:n], vols[:n]
    raise RuntimeError("could not sample enough admissible targets; widen the ranges")


def filter_matrix(h: int, w: int, radius: float) -> sp.csr_matrix:
    """Quarter densities -> filtered quarter densities, through the mirrored periodic cell."""
    r = int(np.ceil(radius)) - 1
    dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
    kernel = np.maximum(0.0, radius - np.hypot(dy, dx))
    kernel /= kernel.sum()
    basis = np.eye(h * w).reshape(h * w, h, w)
    full = mirror.unfold(basis, 2)
    filt = ndimage.correlate(full, kernel[None], mode="wrap")[:, :h, :w]
    return sp.csr_matrix(filt.reshape(h * w, h * w).T)


def initial_designs(rng: np.random.Generator, volumes: np.ndarray, h: int, w: int) -> np.ndarray:
    """Uniform density f plus a smooth random symmetric field, so designs break symmetry differently."""
    noise = rng.standard_normal((len(volumes), 2 * h, 2 * w))
    smooth = ndimage.gaussian_filter(noise, sigma=(0, 0.15 * h, 0.15 * w), mode="wrap")
    smooth = mirror.symmetrize(smooth, 2)[:, :h, :w]
    smooth /= smooth.std(axis=(1, 2), keepdims=True) + 1e-12
    x = volumes[:, None, None] + 0.35 * smooth  # weaker starts end on uniform gray more often
    return np.clip(x, 0.01, 1.0).reshape(len(volumes), -1)


def project(x: np.ndarray, beta: float, eta: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed Heaviside projection (Wang, Lazarov & Sigmund 2011) and its derivative."""
    a, b = np.tanh(beta * eta), np.tanh(beta * (1 - eta))
    t = np.tanh(beta * (x - eta))
    return (a + t) / (a + b), beta * (1 - t**2) / (a + b)


def optimize(targets: np.ndarray, volumes: np.ndarray, size: int, material: Material, params: SimpParams,
             rng: np.random.Generator, device: torch.device | None = None) -> dict[str, np.ndarray]:
    """Run SIMP for each (target, volume) pair at once.

    Returns ``density`` (B, size, size) filtered densities, ``cells`` (B, size, size) uint8 after
    thresholding, ``objective`` (B,) final squared error in units of the solid's C11 squared,
    ``iterations`` (B,) MMA iterations used.
    """
    device = device or torch.device("cpu")
    B = len(targets)
    h = w = size // 2
    Ke = torch.as_tensor(element_matrix(material.E, material.nu, material.plane), dtype=torch.float64,
                         device=device)
    D11 = elasticity_matrix(material.E, material.nu, material.plane)[0, 0]
    F = filter_matrix(h, w, params.filter_radius)
    x = initial_designs(rng, volumes, h, w)
    state = init_state(x)
    active = np.ones(B, dtype=bool)
    iters = np.zeros(B, dtype=int)
    J0 = None
    p, void = params.penal, material.void
    beta = 1.0
    progress = Progress(f"SIMP iterations ({B} seeds)", params.max_iter, unit="it")
    for it in range(params.max_iter):
        if it and it % params.beta_every == 0 and beta < params.beta_max:
            beta = min(2 * beta, params.beta_max)
            active[:] = True  # a sharper projection is a new problem: keep going
        xt = (F @ state.x.T).T  # (B, h*w) filtered
        xf, dproj = project(xt, beta)
        xq = xf.reshape(B, h, w)
        scale = mirror.unfold(void + xq**p * (1 - void), 2)
        C, Q = homogenize_scaled(torch.as_tensor(scale, device=device), Ke, "quarter", energies=True)
        C, Q = C.cpu().numpy(), Q.cpu().numpy()
        area = float(size * size)
        err = properties(C) - targets  # (B, 4)
        J = (err**2).sum(1) / D11**2
        if J0 is None:
            J0 = np.maximum(J, 1e-12)
        dC = 4.0 * Q / area * (p * xq ** (p - 1) * (1 - void))[..., None, None]  # (B, h, w, 3, 3)
        dJ = sum(2 * err[:, k, None, None] * dC[..., i, j] for k, (i, j) in enumerate(INDEX)) / D11**2
        df0 = (F.T @ (dJ.reshape(B, -1) * dproj).T).T * (10.0 / J0[:, None])  # f0 starts at 10
        g = xf.mean(1) / volumes - 1.0
        dg = (F.T @ (dproj / (h * w)).T).T / volumes[:, None]
        xold = state.x
        state = mma_step(state, df0, g, dg, 1e-3, 1.0, move=params.move, active=active)
        iters += active
        change = np.abs(state.x - xold).max(1)
        active &= (change > params.tol) | (beta < params.beta_max)
        progress.update(note=f"{active.sum()} seeds still moving, mean objective {J.mean():.3g}")
        if not active.any():
            break
    progress.close()
    xf = project((F @ state.x.T).T, beta)[0].reshape(B, h, w)
    density = mirror.unfold(xf, 2)
    cells = (density > params.threshold).astype(np.uint8)
    return {"density": density, "cells": cells, "objective": J, "iterations": iters}
