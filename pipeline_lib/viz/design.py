"""Figures of the pixel2d multiscale design (paper 000, Figs. 15-17): property maps, the MRF's
convergence, the assembled structure, and the deformed structure against its target."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pipeline_lib.pixel2d.properties import PROPERTIES
from pipeline_lib.viz.plots import plt, save_atomic


def property_maps(C: np.ndarray, out: str | os.PathLike, *, title: str, history: dict | None = None) -> Path:
    """C11..C33 over the H x W mesh (Fig. 16d), with the optimizer's history beside them."""
    H, W, _ = C.shape
    n = 5 if history else 4
    fig, axes = plt.subplots(n, 1, figsize=(max(6, 0.25 * W + 2), n * max(1.6, 0.22 * H + 1)), squeeze=False)
    for k, name in enumerate(PROPERTIES):
        ax = axes[k, 0]
        im = ax.imshow(C[..., k], cmap="viridis", extent=(0, W, 0, H))
        ax.set_title(f"{name} (E)", fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.03)
    if history:
        ax = axes[-1, 0]
        ax.semilogy(np.sqrt(history["objective"]), label="RRMSE (macro)")
        if np.any(np.asarray(history["constraint"]) > -1):
            ax.plot(np.maximum(history["constraint"], 1e-8), label="HPI constraint (> 0: violated)")
        ax.set_xlabel("MMA iteration")
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_atomic(fig, out)


def mrf_convergence(history: dict, out: str | os.PathLike, *, title: str) -> Path:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key, label in (("dd_energy", "DD-MRF best energy"), ("dd_lower_bound", "DD-MRF lower bound"),
                       ("bp_energy", "loopy BP best energy")):
        h = np.asarray(history.get(key, []))
        if len(h) and np.isfinite(h).any():
            ax.plot(np.arange(len(h)), h, label=label)
    ax.set_xlabel("iteration")
    ax.set_ylabel("MRF energy")
    if ax.lines:
        ax.legend(fontsize=8)
    else:  # one label per element (a family case): nothing to infer
        ax.text(0.5, 0.5, "no MRF: one candidate per element", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return save_atomic(fig, out)


def structure(structures: dict[str, np.ndarray], out: str | os.PathLike, *, title: str, cell: int) -> Path:
    """Assembled structures, black = solid, with the cell grid."""
    ny, nx = next(iter(structures.values())).shape
    fig, axes = plt.subplots(len(structures), 1, figsize=(min(16, max(6, nx / 60)), len(structures) * min(8, max(2, ny / 60 + 0.8))),
                             squeeze=False)
    for ax, (name, s) in zip(axes[:, 0], structures.items()):
        ax.imshow(1 - s, cmap="gray", interpolation="nearest", extent=(0, nx / cell, 0, ny / cell), vmin=0, vmax=1)
        ax.set_xticks(np.arange(0, nx / cell + 1, max(1, nx // cell // 10)))
        ax.set_title(name, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_atomic(fig, out, dpi=150)


def deformed(structure: np.ndarray, u: np.ndarray, cell: int, points: tuple, curves: dict, out: str | os.PathLike, *,
             title: str, max_pixels: int = 400_000) -> Path:
    """Top: the deformed structure, displacements magnified so the tracked motion shows, with the
    tracked points moved by the target and by the fine-scale result (Fig. 16c).  Bottom: each
    tracked displacement against x: target, macro, fine-scale FE, baseline.  ``points`` = (x, y,
    component) of the tracked DOFs; ``curves``: name -> displacement of each tracked DOF."""
    ny, nx = structure.shape
    x0, y0, comp = points
    target = curves["target"]
    mag = max(1.0, 0.15 * min(ny, nx) / cell / max(np.abs(target).max(), 1e-12))
    stride = int(np.ceil(np.sqrt(ny * nx / max_pixels)))
    ux = u[0::2].reshape(ny + 1, nx + 1)[::stride, ::stride]
    uy = u[1::2].reshape(ny + 1, nx + 1)[::stride, ::stride]
    i, j = np.meshgrid(np.arange(0, ny + 1, stride), np.arange(0, nx + 1, stride), indexing="ij")
    X, Y = j / cell + mag * ux, (ny - i) / cell + mag * uy
    S = structure[::stride, ::stride][: X.shape[0] - 1, : X.shape[1] - 1]
    w = min(16, max(7, nx / 60))
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(w, min(10, max(3, ny / 60 + 1.5)) + 3),
                                 gridspec_kw={"height_ratios": [max(1.0, ny / nx * w / 3), 1]})
    ax.pcolormesh(X, Y, np.ma.masked_equal(S, 0), cmap="Greys", vmin=0, vmax=1.5, shading="flat")
    styles = {"target": dict(color="tab:red", marker="s", ms=3, lw=0, mfc="none"),
              "macro": dict(color="tab:blue", marker="+", ms=5, lw=0),
              "fine": dict(color="k", marker="o", ms=3, lw=0),
              "baseline": dict(color="tab:orange", marker="x", ms=3, lw=0)}
    for name, d in curves.items():
        st = next((v for k, v in styles.items() if name.startswith(k)), {})
        if name == "target" or name.startswith("fine"):
            ax.plot(x0 + mag * np.where(comp == 0, d, 0), y0 + mag * np.where(comp == 1, d, 0), label=name, **st)
        bx.plot(x0, d, label=name, **st)
    ax.set_aspect("equal")
    ax.legend(fontsize=8, loc="best")
    ax.set_title(f"{title} (displacements x{mag:.3g})", fontsize=10)
    bx.set_xlabel("x (cell sides)")
    bx.set_ylabel("tracked displacement")
    bx.legend(fontsize=8, ncol=4)
    fig.tight_layout()
    return save_atomic(fig, out, dpi=150)


def feasibility_slices(field, points: np.ndarray, out: str | os.PathLike) -> Path:
    """phi = 0 contours on the six coordinate planes through the cloud's median, over the points."""
    med = np.median(points, axis=0)
    lo, hi = field.bounds
    pairs = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    fig, axes = plt.subplots(2, 3, figsize=(12, 7.5))
    for ax, (a, b) in zip(axes.ravel(), pairs):
        g = np.linspace(0, 1, 120)
        A, B = np.meshgrid(lo[a] + g * (hi[a] - lo[a]), lo[b] + g * (hi[b] - lo[b]), indexing="ij")
        P = np.tile(med, (A.size, 1))
        P[:, a], P[:, b] = A.ravel(), B.ravel()
        phi = field(P)[0].reshape(A.shape)
        ax.scatter(points[:, a], points[:, b], s=0.3, c="0.6", rasterized=True)
        cs = ax.contourf(A, B, phi, levels=np.linspace(-0.3, 0.3, 13), cmap="RdBu", alpha=0.5, extend="both")
        ax.contour(A, B, phi, levels=[0], colors="k", linewidths=1)
        ax.set_xlabel(PROPERTIES[a])
        ax.set_ylabel(PROPERTIES[b])
    fig.colorbar(cs, ax=axes, fraction=0.02, label="signed distance (fractions of the span), > 0 inside")
    fig.suptitle("feasibility field: slices through the median of the database (others held there)", fontsize=10)
    return save_atomic(fig, out)
