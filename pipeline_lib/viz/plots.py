"""Plots shared by the chains: pairwise property scatter and image galleries (matplotlib, Agg)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pipeline_lib import atomic  # noqa: E402


def save_atomic(fig, out: str | os.PathLike, dpi: int = 110) -> Path:
    """Save a figure under a temporary name, then rename (no half-written PNG on a kill)."""
    out = Path(out)
    try:
        with atomic.output(out) as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=out.suffix.lstrip(".") or "png")
    finally:
        plt.close(fig)
    return out


def picture(fig, rect: Sequence[float], render, near: str | os.PathLike) -> None:
    """A rendered picture (``render(path) -> path``, e.g. a chain's ``render``) placed on a
    matplotlib figure at ``rect``; the PNG lives in a temporary folder beside ``near``."""
    import tempfile

    with tempfile.TemporaryDirectory(dir=Path(near).parent) as tmp:
        img = render(Path(tmp) / "picture.png")
        ax = fig.add_axes(list(rect))
        ax.imshow(plt.imread(img))
        ax.axis("off")


def pairwise_scatter(P: np.ndarray, labels: Sequence[str], color: np.ndarray, out: str | os.PathLike, *,
                     color_label: str = "", title: str = "", units: str = "") -> Path:
    """All pairs of the columns of P in a grid of panels, points coloured by ``color``.

    Points are drawn in the order of ``color`` so later (higher) values sit on top, as in a
    database that grows outward iteration by iteration."""
    k = P.shape[1]
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    ncol = min(3, len(pairs))
    nrow = -(-len(pairs) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.8 * nrow), squeeze=False)
    order = np.argsort(color, kind="stable")
    size = float(np.clip(2e4 / max(len(P), 1), 0.5, 12))
    for ax, (i, j) in zip(axes.flat, pairs):
        sc = ax.scatter(P[order, i], P[order, j], c=color[order], s=size, cmap="viridis", linewidths=0,
                        rasterized=True)
        ax.set_xlabel(f"{labels[i]}" + (f" [{units}]" if units else ""))
        ax.set_ylabel(f"{labels[j]}" + (f" [{units}]" if units else ""))
    for ax in axes.flat[len(pairs):]:
        ax.axis("off")
    fig.colorbar(sc, ax=axes, label=color_label, shrink=0.8)
    if title:
        fig.suptitle(title)
    return save_atomic(fig, out)


def image_gallery(images: np.ndarray, titles: Sequence[str], out: str | os.PathLike, *, ncol: int = 6,
                  tile: int = 1, title: str = "") -> Path:
    """A grid of binary/gray images (1 = black = solid), each optionally tiled tile x tile."""
    n = len(images)
    ncol = min(ncol, max(n, 1))
    nrow = max(1, -(-n // ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(1.9 * ncol, 2.1 * nrow), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, t in zip(axes.flat, images, titles):
        ax.imshow(np.tile(img, (tile, tile)), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(t, fontsize=7)
    if title:
        fig.suptitle(title)
    return save_atomic(fig, out)


def spread_sample(P: np.ndarray, k: int) -> np.ndarray:
    """k row indices spread over the point cloud P (greedy farthest-point sampling, deterministic)."""
    n = len(P)
    if n == 0:
        return np.zeros(0, dtype=int)
    Z = (P - P.mean(0)) / (P.std(0) + 1e-12)
    chosen = [int(np.argmax(Z[:, 0]))]
    d = np.linalg.norm(Z - Z[chosen[0]], axis=1)
    for _ in range(min(k, n) - 1):
        nxt = int(np.argmax(d))
        chosen.append(nxt)
        d = np.minimum(d, np.linalg.norm(Z - Z[nxt], axis=1))
    return np.array(chosen)


def property_space_3d(panels: Sequence[tuple[np.ndarray, Sequence[str]]], color: np.ndarray, out: str | os.PathLike, *,
                      size: np.ndarray | None = None, color_label: str = "", title: str = "",
                      log: bool = True) -> Path:
    """3D scatter panels of property triples, each with its projections on the three back walls
    (the style of paper 002's Fig. 1d).  ``panels``: (P (N, 3), axis labels) per panel."""
    fig = plt.figure(figsize=(6.2 * len(panels), 5.6))
    s = 4.0 if size is None else 2.0 + 30.0 * (size - size.min()) / (np.ptp(size) + 1e-12)
    for k, (P, labels) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1, projection="3d")
        Q = np.log10(np.maximum(P, 1e-300)) if log else P
        lo = Q.min(0)
        sc = ax.scatter(Q[:, 0], Q[:, 1], Q[:, 2], c=color, s=s, cmap="viridis", depthshade=False, linewidths=0)
        grey = dict(c="0.75", s=1.0, linewidths=0, depthshade=False)
        ax.scatter(Q[:, 0], Q[:, 1], np.full(len(Q), lo[2]), **grey)
        ax.scatter(Q[:, 0], np.full(len(Q), Q[:, 1].max()), Q[:, 2], **grey)
        ax.scatter(np.full(len(Q), lo[0]), Q[:, 1], Q[:, 2], **grey)
        pre = "log10 " if log else ""
        ax.set_xlabel(pre + labels[0])
        ax.set_ylabel(pre + labels[1])
        ax.set_zlabel(pre + labels[2])
    fig.colorbar(sc, ax=fig.axes, label=color_label, shrink=0.6)
    if title:
        fig.suptitle(title)
    return save_atomic(fig, out)


def histograms_by_group(values: dict[str, np.ndarray], group: np.ndarray, names: Sequence[str],
                        out: str | os.PathLike, *, title: str = "", log_first: bool = False, bins: int = 40) -> Path:
    """One panel per quantity, overlaid step histograms per group (e.g. per data source)."""
    fig, axes = plt.subplots(1, len(values), figsize=(5.2 * len(values), 3.8), squeeze=False)
    for k, (ax, (label, v)) in enumerate(zip(axes[0], values.items())):
        v = np.asarray(v, dtype=float)
        use_log = log_first and k == 0 and (v > 0).all() and len(v)
        x = np.log10(v) if use_log else v
        edges = np.histogram_bin_edges(x[np.isfinite(x)], bins=bins) if len(x) else bins
        for g, name in enumerate(names):
            sel = group == g
            if sel.any():
                ax.hist(x[sel], bins=edges, histtype="step", linewidth=1.5, label=f"{name} ({sel.sum()})")
        ax.set_xlabel(("log10 " if use_log else "") + label)
        ax.set_ylabel("count")
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return save_atomic(fig, out)


def latent_size_study(results: Sequence[dict], out: str | os.PathLike, *, epochs: int) -> Path:
    """Validation voxel accuracy and reconstruction loss against latent size (paper 004's Table
    C1); ``results``: one dict per size with latent, val_voxel_accuracy, val_recon, train_recon."""
    fig, ax = plt.subplots(1, 2, figsize=(8, 3.2))
    sizes = [r["latent"] for r in results]
    ax[0].plot(sizes, [r["val_voxel_accuracy"] for r in results], "o-")
    ax[0].set_xlabel("latent size")
    ax[0].set_ylabel("validation voxel accuracy")
    ax[1].plot(sizes, [r["val_recon"] for r in results], "o-", label="validation")
    ax[1].plot(sizes, [r["train_recon"] for r in results], "s--", label="training")
    ax[1].set_xlabel("latent size")
    ax[1].set_ylabel("reconstruction loss")
    ax[1].legend()
    fig.suptitle(f"voxel3d latent-size study ({epochs} epochs, reconstruction only)")
    return save_atomic(fig, out)
