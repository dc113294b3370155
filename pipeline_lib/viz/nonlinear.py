"""Figures of truss3d's nonlinear design (paper 002, Fig. 6): predicted against FE curves with the
deformed cells at the largest strain (6a), and a target curve against the best database match and
the FE-verified design (6b).  Lattice pictures come from ``render3d`` and the chain's ``render``."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pipeline_lib.viz.plots import picture, plt, save_atomic


def predictions(examples: list[dict], strain: np.ndarray, errors: dict[str, np.ndarray], kept: str,
                out: str | os.PathLike) -> Path:
    """Fig. 6a: for each example its deformed cell at the end of the path (coloured by |u|), under
    it the FE path (line), the FE label points (circles) and the prediction (dots); last column,
    the test split's NRMSE of both predictors."""
    from pipeline_lib.viz.render3d import render_deformed

    k = len(examples)
    fig = plt.figure(figsize=(3.2 * (k + 1), 6.6))
    eps = 100 * np.asarray(strain)
    if k:
        titles = [f"#{e['row']} at {100 * e['end']:.0f} %" for e in examples]
        picture(fig, [0.0, 0.5, k / (k + 1), 0.48],
                lambda f: render_deformed([e["deformed"] for e in examples], f, titles=titles, ncol=k, window=300), out)
    for i, e in enumerate(examples):
        ax = fig.add_axes([(i + 0.18) / (k + 1), 0.08, 0.75 / (k + 1), 0.36])
        ax.plot(100 * e["path_strain"], e["path_stress"], color="0.3", lw=1.2, label="FE path")
        ax.plot(eps, e["curve"], "o", mfc="none", color="0.3", ms=5, label="FE label")
        ax.plot(eps, e["pred"], ".", color="C3", ms=8, label="predicted")
        ax.set_title(f"NRMSE {100 * e['nrmse']:.1f} %", fontsize=9)
        ax.set_xlabel("compressive strain [%]")
        if i == 0:
            ax.set_ylabel("nominal stress / E_s")
            ax.legend(fontsize=7)
    ax = fig.add_axes([(k + 0.18) / (k + 1), 0.08, 0.75 / (k + 1), 0.86])
    finite = {n: 100 * e[np.isfinite(e)] for n, e in errors.items()}
    hi = max([v.max() for v in finite.values() if len(v)] + [1.0])
    bins = np.linspace(0, hi, 25)
    for n, e in finite.items():
        if len(e):
            ax.hist(e, bins=bins, histtype="step", lw=1.5,
                    label=f"{n}{' (kept)' if n == kept else ''}: mean {e.mean():.1f} %")
    ax.set_xlabel("test NRMSE [%]")
    ax.set_ylabel("curves")
    ax.legend(fontsize=7)
    return save_atomic(fig, out)


def design(ch, arrays: dict, report: dict, out: str | os.PathLike) -> Path:
    """Fig. 6b: the target, the best database match and the FE-verified design (its full path,
    its label points and the predictor's curve), and the control (the match finished by the same FE
    refinement), with their lattices beside."""
    fig = plt.figure(figsize=(12, 4.6))
    ax = fig.add_axes([0.06, 0.12, 0.40, 0.78])
    eps = 100 * arrays["strain"]
    ax.plot(eps, arrays["target"], "k--", marker="s", ms=4, lw=1.2, label="target")
    ax.plot(eps, arrays["match/curve_fe"], color="0.55", marker="o", ms=4, lw=1.2,
            label=f"best database match: FE (NRMSE {100 * report['database_match_nrmse']:.1f} %)")
    best = int(report["best_row"])
    samples = {"adjacency": arrays["match/adjacency"][None].astype(bool), "offsets": arrays["match/offsets"][None]}
    titles = [f"database match\nNRMSE {100 * report['database_match_nrmse']:.1f} %"]
    if best >= 0:
        ok = np.isfinite(arrays["path_strain"][best])
        ax.plot(100 * arrays["path_strain"][best][ok], arrays["path_stress"][best][ok], color="C0", lw=1.5,
                label=f"design: FE (NRMSE {100 * report['best_fe_nrmse']:.1f} %)")
        ax.plot(eps, arrays["curve_fe"][best], "o", color="C0", ms=5)
        ax.plot(eps, arrays["curve_pred"][best], ".", color="C3", ms=9,
                label=f"design: predicted (NRMSE {100 * report['best_predicted_nrmse']:.1f} %)")
        samples = {"adjacency": np.concatenate([samples["adjacency"], arrays["adjacency"][best:best + 1].astype(bool)]),
                   "offsets": np.concatenate([samples["offsets"], arrays["offsets"][best:best + 1]])}
        titles.append(f"design ({report['best_step']})\nNRMSE {100 * report['best_fe_nrmse']:.1f} %")
    if report.get("control_nrmse_fe") is not None:  # the same FE finish from the match, without the model
        c = 100 * report["control_nrmse_fe"]
        ax.plot(eps, arrays["control/curve_fe"], color="C2", marker="^", ms=4, lw=1.0,
                label=f"control: match + the same FE refinement (NRMSE {c:.1f} %)")
        samples = {"adjacency": np.concatenate([samples["adjacency"], arrays["control/adjacency"][None].astype(bool)]),
                   "offsets": np.concatenate([samples["offsets"], arrays["control/offsets"][None]])}
        titles.append(f"control\nNRMSE {c:.1f} %")
    ax.set_xlabel("compressive strain [%]")
    ax.set_ylabel("nominal stress / E_s")
    ax.set_title(report["target"], fontsize=10)
    ax.legend(fontsize=7)
    picture(fig, [0.5, 0.02, 0.5, 0.96], lambda f: ch.render(samples, f, titles=titles, ncol=len(titles)), out)
    return save_atomic(fig, out)
