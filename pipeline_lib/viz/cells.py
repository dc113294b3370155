"""Renders of single samples for ``python -m pipeline_lib show``."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pipeline_lib.viz.plots import plt, save_atomic


def render_pixel_cell(cell: np.ndarray, out: str | os.PathLike, *, C: np.ndarray | None = None,
                      title: str = "") -> Path:
    """The cell (1 = black = solid) beside a 3 x 3 tiling of it, with C in the caption."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 4.4))
    for ax, img, t in ((axes[0], cell, "unit cell"), (axes[1], np.tile(cell, (3, 3)), "3 x 3 tiling")):
        ax.imshow(img, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(t)
        ax.set_xticks([])
        ax.set_yticks([])
    caption = f"solid fraction {np.mean(cell):.3f}"
    if C is not None:
        caption += ("\nC [E] = [[{:.4f} {:.4f} {:.4f}] [{:.4f} {:.4f} {:.4f}] [{:.4f} {:.4f} {:.4f}]]"
                    .format(*np.asarray(C).ravel()))
    fig.text(0.5, 0.02, caption, ha="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=9)
    return save_atomic(fig, out)
