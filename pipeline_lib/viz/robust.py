"""Figures of uncertainty quantification and robust design (paper 004, Figs. 9-11, B1), drawn from
the artifacts' arrays; unit renders come from the chain's ``render``."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from pipeline_lib.viz.plots import plt, save_atomic

_UNITS = {"E": "MPa", "nu": "", "G": "MPa", "K": "MPa"}


def calibration(truth, mean, alea, alea_c, epi, split, spread_fe, spread_pred, spread_cal, names: Sequence[str],
                cov: dict, out: str | os.PathLike) -> Path:
    """Top: test residuals |FE - predicted mean| against the predicted total std, before (grey) and
    after (blue) calibration, with the 1-std line; the title gives the coverage.  Bottom: the FE
    spread of independent material draws against the predicted aleatoric std."""
    test = split == 2
    fig, axes = plt.subplots(2, len(names), figsize=(3.6 * len(names), 7))
    for k, n in enumerate(names):
        ax = axes[0, k]
        r = np.abs(truth[test, k] - mean[test, k])
        for a, c, lab in ((alea, "0.6", "before"), (alea_c, "C0", "after")):
            t = np.sqrt(a[test, k] ** 2 + epi[test, k] ** 2)
            ax.scatter(t, r, s=8, color=c, alpha=0.7, label=f"{lab}: {cov[lab]['within_1_std'][n]:.0%} within 1 std")
        hi = np.nanmax(np.r_[r, np.sqrt(alea_c[test, k] ** 2 + epi[test, k] ** 2), 1e-12])
        ax.plot([0, hi], [0, hi], "k--", lw=0.8)
        ax.set_xlabel(f"predicted total std {n} {_UNITS[n]}")
        ax.set_ylabel(f"|FE - mean| {n}")
        ax.legend(fontsize=7)
        ax = axes[1, k]
        x = np.arange(len(spread_fe))
        ax.bar(x - 0.25, spread_fe[:, k], 0.25, label="FE, material draws", color="k")
        ax.bar(x, spread_pred[:, k], 0.25, label="predicted aleatoric", color="0.6")
        ax.bar(x + 0.25, spread_cal[:, k], 0.25, label="calibrated", color="C0")
        if np.all(np.r_[spread_fe[:, k], spread_pred[:, k], spread_cal[:, k]] > 0):
            ax.set_yscale("log")  # the FE spread and a poor prediction of it can differ by decades
        ax.set_xticks(x)
        ax.set_xlabel("unit of aleatoric.h5")
        ax.set_ylabel(f"std {n} {_UNITS[n]}")
        ax.legend(fontsize=7)
    fig.suptitle("calibration of the predicted uncertainty on test units (top) and against repeated FE (bottom)")
    fig.tight_layout()
    return save_atomic(fig, out)


def convergence(Ms: np.ndarray, total: np.ndarray, names: Sequence[str], out: str | os.PathLike,
                rows: np.ndarray) -> Path:
    """Appendix B, Fig. B1: the total std of each unit against M (median and range over repeats)."""
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3.2))
    for k, n in enumerate(names):
        ax = axes[k]
        for u in range(total.shape[0]):
            t = total[u, :, :, k]
            ax.plot(Ms, np.median(t, 1), "o-", label=f"unit #{int(rows[u])}")
            ax.fill_between(Ms, t.min(1), t.max(1), alpha=0.2)
        ax.set_xscale("log")
        ax.set_xlabel("latent draws M")
        ax.set_ylabel(f"total std {n} {_UNITS[n]}")
    axes[0].legend(fontsize=7)
    fig.suptitle("convergence of the total uncertainty in the number of latent samples (repeats: range)")
    fig.tight_layout()
    return save_atomic(fig, out)


def _nothing(out, text: str) -> Path:
    fig, ax = plt.subplots(figsize=(5, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center")
    return save_atomic(fig, out)


def bulk_units(ch, arrays: dict, rep: dict, out: str | os.PathLike) -> Path:
    """Fig. 9: the optimum of every lambda and the two lookup baselines, titled with FE K and K/K_HS."""
    cells = list(arrays["cells"]) + list(arrays["baseline_cells"])
    titles = [f"lam={lam:g}: K={k:.0f} ({k / hs:.2f} HS)\npred {m:.0f} +- {np.hypot(a, e):.0f}"
              + ("" if v else " invalid") for lam, k, hs, m, a, e, v in
              zip(arrays["lam"], arrays["K_fe"], arrays["K_hs"], arrays["K_pred_mean"], arrays["K_pred_aleatoric"],
                  arrays["K_pred_epistemic"], arrays["valid"])]
    titles += [f"{'database' if kind == 0 else 'decoded'} #{row}\nK={k:.0f} ({k / hs:.2f} HS)"
               for kind, row, k, hs in zip(arrays["baseline_kind"], arrays["baseline_row"], arrays["baseline_K_fe"],
                                           arrays["baseline_K_hs"])]
    if not cells:
        return _nothing(out, "no designs")
    return ch.render({"cells": np.asarray(cells)}, out, titles=titles, ncol=4)


def bulk_lambda(arrays: dict, rep: dict, out: str | os.PathLike) -> Path:
    """Table 4 as a picture: predicted K (mean, total band) and FE K (nominal; range over material
    draws) against lambda, with the lookup baselines and the Hashin-Shtrikman bound."""
    lam = np.arange(len(arrays["lam"]))  # evenly spaced, labelled by lambda (a log axis fails on none)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    tot = np.hypot(arrays["K_pred_aleatoric"], arrays["K_pred_epistemic"])
    ax.errorbar(lam, arrays["K_pred_mean"], yerr=tot, fmt="o", color="C0", capsize=3, label="predicted mean +- total std")
    ax.plot(lam, arrays["K_fe"], "s", color="k", label="FE, nominal material")
    s = arrays["K_fe_sampled"]
    if np.isfinite(s).any():
        ax.vlines(lam, np.nanmin(s, 1), np.nanmax(s, 1), color="k", lw=3, alpha=0.3, label="FE, material draws")
    kinds = {0: ("database best in band", "C2"), 1: ("best decoded reconstruction", "C1")}
    for kind, k in zip(arrays["baseline_kind"], arrays["baseline_K_fe"]):
        ax.axhline(k, color=kinds[int(kind)][1], ls="--", lw=1, label=kinds[int(kind)][0])
    ax.axhline(float(np.nanmean(arrays["K_hs"])), color="r", ls=":", lw=1, label="Hashin-Shtrikman bound")
    ax.set_xticks(lam, [f"{v:g}" for v in arrays["lam"]])
    ax.set_xlabel("lambda")
    ax.set_ylabel("bulk modulus K [MPa]")
    ax.set_title(f"case 1: robust bulk modulus at volume fraction {rep['band'][0]}-{rep['band'][1]}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_atomic(fig, out)


def design_units(ch, a: dict, what: str, out: str | os.PathLike) -> Path:
    """Fig. 10a/b: the verified designs, titled with predicted / FE E and nu."""
    if len(a["cells"]) == 0:
        return _nothing(out, f"{what}: no designs")
    titles = [f"E {p[0]:.0f} / {f[0]:.0f}\nnu {p[1]:.3f} / {f[1]:.3f}" + ("" if v else " invalid")
              for i, (p, f, v) in enumerate(zip(a["predicted"], a["fe"], a["valid"]))]
    return ch.render({"cells": a["cells"]}, out, titles=titles, ncol=5)


def hypervolume(histories: dict, out: str | os.PathLike) -> Path:
    """Hypervolume of the feasible front, and the feasible fraction, per generation."""
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.3))
    for name, h in histories.items():
        g = [r["generation"] for r in h]
        ax[0].plot(g, [r["hypervolume"] for r in h], "o-", ms=3, label=name)
        ax[1].plot(g, [r["feasible"] for r in h], "o-", ms=3, label=name)
    ax[0].set_xlabel("generation")
    ax[0].set_ylabel("hypervolume (E x nu, predicted)")
    ax[1].set_xlabel("generation")
    ax[1].set_ylabel("feasible fraction of the population")
    ax[0].legend(fontsize=7)
    fig.tight_layout()
    return save_atomic(fig, out)


def fronts(robust, deterministic, out: str | os.PathLike) -> Path:
    """Fig. 10c: E against nu of the case-2 designs, predicted (open) and FE (filled), robust and
    deterministic."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for a, c, name in ((robust, "C0", "robust"), (deterministic, "C3", "deterministic")):
        sel = a["case"] == 2
        ax.scatter(a["predicted"][sel, 1], a["predicted"][sel, 0], facecolors="none", edgecolors=c,
                   label=f"{name}, predicted")
        ok = sel & a["valid"]
        ax.scatter(a["fe"][ok, 1], a["fe"][ok, 0], color=c, label=f"{name}, FE")
        for x0, y0, x1, y1 in zip(a["predicted"][ok, 1], a["predicted"][ok, 0], a["fe"][ok, 1], a["fe"][ok, 0]):
            ax.plot([x0, x1], [y0, y1], color=c, lw=0.5, alpha=0.5)
    ax.set_xlabel("Poisson's ratio nu")
    ax.set_ylabel("Young's modulus E [MPa]")
    ax.set_title("case 2: Pareto designs, predicted and FE-verified")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_atomic(fig, out)


def cv_bars(robust, deterministic, out: str | os.PathLike) -> Path:
    """Fig. 11: the FE coefficient of variation under material scatter of E and nu, the
    predictor-vs-FE error and the predicted coefficient of variation (total std over mean, by the
    uncertainty-aware model for both), per case-2 design, robust against deterministic."""
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.4))
    for a, c, name, off in ((robust, "C0", "robust", -0.2), (deterministic, "C3", "deterministic", 0.2)):
        sel = (a["case"] == 2) & a["valid"]
        s = a["fe_sampled"][sel]
        with np.errstate(invalid="ignore", divide="ignore"):
            cv = 100 * np.nanstd(s, axis=1, ddof=1) / np.abs(np.nanmean(s, axis=1))
            err = 100 * np.abs(a["predicted"][sel] - a["fe"][sel]) / np.abs(a["fe"][sel])
        x = np.arange(int(sel.sum()))
        axes[0].bar(x + off, cv[:, 0], 0.4, color=c, label=name)
        axes[1].bar(x + off, cv[:, 1], 0.4, color=c, label=name)
        axes[2].bar(x + off, err[:, 0], 0.4, color=c, label=f"{name} E")
        with np.errstate(invalid="ignore", divide="ignore"):
            pcv = 100 * np.hypot(a["predicted_aleatoric"][sel, 0], a["predicted_epistemic"][sel, 0]) / np.abs(
                a["uq_mean"][sel, 0])
        axes[3].bar(x + off, pcv, 0.4, color=c, label=name)
    axes[0].set_ylabel("CV of FE E under material draws [%]")
    axes[1].set_ylabel("CV of FE nu under material draws [%]")
    axes[2].set_ylabel("|predicted - FE| / FE of E [%]")
    axes[3].set_ylabel("predicted CV of E, uncertainty-aware model [%]")
    for ax in axes:
        ax.set_xlabel("design on the front")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save_atomic(fig, out)

