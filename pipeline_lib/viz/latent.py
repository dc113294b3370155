"""Figures of the latent analyses (pipeline_lib.latent.stages): the decoded designs drawn by their
chain's ``render`` with their FE values in the titles, and matplotlib plots of FE against predicted
properties along paths, latent maps and graded families."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from pipeline_lib.chain import take
from pipeline_lib.viz.plots import plt, save_atomic


def _fmt(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.3g}"


def _grid(ch, v, rows: np.ndarray, titles: Sequence[str], ncol: int, out) -> Path:
    """The decoded designs of ``rows`` in a grid; truss3d draws their FE elastic surfaces too."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) == 0:
        fig, ax = plt.subplots(figsize=(4, 1))
        ax.axis("off")
        ax.text(0.5, 0.5, "nothing to show", ha="center", va="center")
        return save_atomic(fig, out)
    props = v.fe[rows] if ch.name == "truss3d" else None
    return ch.render(take(v.samples, rows), out, titles=list(titles), ncol=ncol, properties=props)


def traversal(ch, v, axes: np.ndarray, offsets: np.ndarray, shown: Sequence[int], out: str | os.PathLike) -> Path:
    """Designs decoded along the shown latent axes, one axis per row (paper 000 Fig. 7a, 002 Fig. 3)."""
    rows = np.concatenate([np.flatnonzero(axes == a)[np.argsort(offsets[axes == a])] for a in shown])
    first = ch.properties[0]
    titles = [f"z{axes[r]} {offsets[r]:+.2f}\n{first}={_fmt(v.fe[r, 0])}" if v.valid[r] else
              f"z{axes[r]} {offsets[r]:+.2f}\nnot valid" for r in rows]
    return _grid(ch, v, rows, titles, int((axes == shown[0]).sum()), out)


def latent_map(scores: np.ndarray, quantities: Mapping[str, np.ndarray], out: str | os.PathLike, *,
               title: str = "") -> Path:
    """Scatter of the first two principal components, one panel per quantity (paper 000, Fig. 8)."""
    k = len(quantities)
    ncol = min(3, k)
    nrow = -(-k // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.6 * nrow), squeeze=False)
    size = float(np.clip(3e3 / max(len(scores), 1), 0.5, 10))
    for ax, (name, q) in zip(axes.flat, quantities.items()):
        lo, hi = np.nanpercentile(q, [2, 98]) if np.isfinite(q).any() else (0, 1)
        sc = ax.scatter(scores[:, 0], scores[:, 1], c=q, s=size, cmap="viridis", vmin=lo, vmax=hi, linewidths=0,
                        rasterized=True)
        fig.colorbar(sc, ax=ax, shrink=0.85)
        ax.set_title(name)
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
    for ax in axes.flat[k:]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    return save_atomic(fig, out)


def arrows(curves: Mapping[str, tuple], out: str | os.PathLike) -> Path:
    """FE (solid) and predicted (dashed) measured quantity against the step along each arrow, one
    line per start design (paper 000, Fig. 9b-10b as curves)."""
    k = len(curves)
    fig, axes = plt.subplots(1, k, figsize=(4.2 * k, 3.4), squeeze=False)
    for ax, (name, (measured, step, path, fe, pred)) in zip(axes[0], curves.items()):
        for p in np.unique(path):
            sel = path == p
            line = ax.plot(step[sel], fe[sel], "-", lw=1, alpha=0.7)[0]
            ax.plot(step[sel], pred[sel], "--", lw=0.8, alpha=0.5, color=line.get_color())
        ax.set_title(f"{name} arrow")
        ax.set_xlabel("step along the arrow")
        ax.set_ylabel(f"{measured} (FE solid, predicted dashed)")
    return save_atomic(fig, out)


def arrow_paths(ch, v, group: np.ndarray, step: np.ndarray, names: Sequence[str], measured: Sequence[str],
                n_paths: int, out: str | os.PathLike) -> Path:
    """The first path of each arrow, decoded, with its FE measured quantity (paper 000, Fig. 9-10)."""
    rows, titles = [], []
    q = ch.quantities(v.fe)
    for a, (name, m) in enumerate(zip(names, measured)):
        sel = np.flatnonzero(group == a * n_paths)
        sel = sel[np.argsort(step[sel])]
        rows += sel.tolist()
        titles += [f"{name} {int(step[r]):+d}\n{m}={_fmt(q[m][r])}" for r in sel]
    ncol = int((group == 0).sum())
    return _grid(ch, v, np.array(rows), titles, ncol, out)


def candidate_sets(ch, v, group: np.ndarray, sets: np.ndarray, targets: np.ndarray, out: str | os.PathLike,
                   shown: int = 2) -> Path:
    """For the first targets: the clustered (diverse) set above the greedy one (paper 000, Fig. 11)."""
    rows, titles = [], []
    for t in range(min(shown, len(targets))):
        for code, label in ((0, "diverse"), (1, "greedy")):
            sel = np.flatnonzero((group == t) & (sets == code))
            rows += sel.tolist()
            titles += [f"target {t} {label} {i + 1}\nerr {_fmt(np.sqrt(np.nanmean((v.fe[r] - targets[t]) ** 2)))}"
                       for i, r in enumerate(sel)]
    ncol = int(((group == 0) & (sets == 0)).sum())
    return _grid(ch, v, np.array(rows), titles, ncol, out)


def families(ch, v, group: np.ndarray, interpolated: np.ndarray, curve: np.ndarray, out: str | os.PathLike) -> Path:
    """C12, C22 and C33 against C11: the target curve, the families' members (filled) and the
    designs decoded between and beyond them (hollow), by FE (paper 000, Fig. 13)."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, (j, name) in zip(axes, ((1, ch.properties[1]), (2, ch.properties[2]), (3, ch.properties[3]))):
        ax.plot(curve[:, 0], curve[:, j], "k-", lw=1, label="target curve (Eq. 7)")
        for f in np.unique(group):
            m = (group == f) & ~interpolated
            d = (group == f) & interpolated
            line = ax.plot(v.fe[m, 0], v.fe[m, j], "o", ms=3, label=f"family {f}")[0]
            ax.plot(v.fe[d, 0], v.fe[d, j], "o", ms=4, mfc="none", color=line.get_color())
        ax.set_xlabel(f"{ch.properties[0]} (FE)")
        ax.set_ylabel(f"{name} (FE)")
    axes[0].legend(fontsize=7)
    fig.suptitle("graded families: members (filled) and decoded between/beyond them (hollow)")
    return save_atomic(fig, out)


def family_members(ch, v, group: np.ndarray, interpolated: np.ndarray, out: str | os.PathLike, per_row: int = 10) -> Path:
    """Each family's members, evenly thinned to ``per_row``, sorted by C11 (paper 000, Fig. 12b)."""
    rows, titles = [], []
    for f in np.unique(group[~interpolated]):
        m = np.flatnonzero((group == f) & ~interpolated)
        pick = m[np.unique(np.linspace(0, len(m) - 1, min(per_row, len(m))).astype(int))]
        pad = per_row - len(pick)
        rows += pick.tolist() + [pick[-1]] * pad
        titles += [f"family {f}\n{ch.properties[0]}={_fmt(v.fe[r, 0])}" for r in pick] + [""] * pad
    return _grid(ch, v, np.array(rows), titles, per_row, out)


def slerp(ch, v, group: np.ndarray, step: np.ndarray, labels: Sequence[str], out: str | os.PathLike) -> Path:
    """Designs decoded along each path, one path per row (paper 002 Fig. 4, paper 004 Fig. 8)."""
    rows = np.concatenate([np.flatnonzero(group == g)[np.argsort(step[group == g])] for g in range(len(labels))])
    first = ch.properties[0]
    titles = [f"path {group[r]} t={step[r]:.2f}\n{first}={_fmt(v.fe[r, 0])}" if v.valid[r] else
              f"path {group[r]} t={step[r]:.2f}\nnot valid" for r in rows]
    return _grid(ch, v, rows, titles, int((group == 0).sum()), out)


def slerp_properties(ch, v, group: np.ndarray, step: np.ndarray, labels: Sequence[str], names: Sequence[str],
                     out: str | os.PathLike) -> Path:
    """FE value (points) and predicted value (line; with the MDN, its 2-sigma band) of each named
    quantity along each path."""
    qf, qp = ch.quantities(v.fe), ch.quantities(v.predicted)
    fig, axes = plt.subplots(len(labels), len(names), figsize=(4 * len(names), 3.0 * len(labels)), squeeze=False)
    for g, label in enumerate(labels):
        sel = np.flatnonzero(group == g)
        sel = sel[np.argsort(step[sel])]
        for ax, name in zip(axes[g], names):
            ax.plot(step[sel], qp[name][sel], "-", color="C0", label="predicted")
            if v.predicted_std is not None and name in ch.properties:
                k = list(ch.properties).index(name)
                ax.fill_between(step[sel], v.predicted[sel, k] - 2 * v.predicted_std[sel, k],
                                v.predicted[sel, k] + 2 * v.predicted_std[sel, k], color="C0", alpha=0.2,
                                label="predicted 2 sigma")
            ax.plot(step[sel], qf[name][sel], "o", color="C3", label="FE")
            ax.set_title(f"{label}", fontsize=8)
            ax.set_xlabel("t")
            ax.set_ylabel(name)
    axes[0, 0].legend(fontsize=7)
    return save_atomic(fig, out)
