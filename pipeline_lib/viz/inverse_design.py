"""Figures of a latent-space inverse design (paper 002, Fig. 5), drawn from the design artifact's
arrays: the objective along the best run with lattices decoded along it, and the run in property
space over the database's scatter.  Renders come from the chain's ``render``."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pipeline_lib.viz.plots import picture, plt, save_atomic

STEP_NAMES = ("latent search", "restarts", "FE refinement")


def nothing(out, text: str) -> Path:
    fig, ax = plt.subplots(figsize=(5, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center")
    return save_atomic(fig, out)


def objective_path(ch, obj, arrays: dict, report: dict, out: str | os.PathLike, *, points: int = 4) -> Path:
    """Top: predicted objective against Adam step for every run (grey) and the reported design's
    run (blue), FE values of the decoded results (dots), the later steps' FE values and the
    database extreme.  Bottom: lattices decoded along the reported run and the final design."""
    best = int(report["best_row"])
    if best < 0:
        return nothing(out, f"{obj.name}: no run gave a valid lattice")
    path = arrays["path/objective"]
    steps = np.arange(path.shape[1])
    fig = plt.figure(figsize=(11, 7.5))
    ax = fig.add_axes([0.08, 0.55, 0.88, 0.40])
    for r in range(len(path)):
        ax.plot(steps, path[r], color="0.8", lw=0.6, zorder=1)
    ax.plot(steps, path[best], color="C0", lw=1.8, label="reported run: predicted", zorder=3)
    last = int(arrays["path/steps"][best])
    hist = arrays["step_objective_fe"]
    first = int(arrays["path/best_step"][best])
    ax.plot([first], [hist[best, 0]], "o", color="C3", ms=7, zorder=4, label="decoded lattice: FE")
    x_after = last + np.arange(1, len(STEP_NAMES)) * max(5, last // 10)
    for k in range(1, len(STEP_NAMES)):
        if np.isfinite(hist[best, k]):
            ax.plot([x_after[k - 1]], [hist[best, k]], "s", color=f"C{k + 3}", ms=7, zorder=4,
                    label=f"after {STEP_NAMES[k]}: FE")
    ax.axhline(report["database_extreme"], color="k", ls="--", lw=1, label="database extreme (FE)")
    # other runs' predictions can run far out where the predictor extrapolates: keep the scale of
    # the reported run, the FE values and the database
    shown = np.concatenate([path[best][np.isfinite(path[best])], hist[best][np.isfinite(hist[best])],
                            [report["database_extreme"]]])
    lo, hi = shown.min(), shown.max()
    ax.set_ylim(lo - 0.15 * (hi - lo + 1e-12), hi + 0.15 * (hi - lo + 1e-12))
    ax.set_xlabel("Adam step (then the finishing steps)")
    ax.set_ylabel(obj.quantity)
    gain = report["improvement_percent"]
    gain = "n/a" if gain is None else f"{gain:+.1f} %"
    ax.set_title(f"{obj.name}: database {report['database_extreme']:.4g} -> FE {report['best_fe']:.4g} "
                 f"({gain}), {report['valid_runs']}/{report['starts']} valid")
    ax.legend(fontsize=7, loc="best")
    # lattices along the reported run's path, then the design
    at = np.unique(np.linspace(0, max(first, 1), points).astype(int))
    at = at[at <= last]
    z = arrays["path/z"][best, at].astype(np.float64)
    decoded = ch.decode(z)
    samples = {k: np.concatenate([decoded[k], arrays[k][best:best + 1].astype(decoded[k].dtype)]) for k in decoded}
    titles = [f"step {s}\npredicted {path[best, s]:.3g}" for s in at] + [f"design ({STEP_NAMES[arrays['stage'][best]]})\n"
                                                                         f"FE {report['best_fe']:.3g}"]
    picture(fig, [0.02, 0.02, 0.96, 0.45], lambda f: ch.render(samples, f, titles=titles, ncol=len(titles)), out)
    return save_atomic(fig, out)


def property_space(ch, obj, arrays: dict, db_arrays: dict, report: dict, out: str | os.PathLike) -> Path:
    """The target's plane (``obj.axes``): database lattices coloured by strut radius, the predicted
    path of the reported run, every valid run's FE result, the control and the design."""
    qx, qy = obj.axes
    from pipeline_lib.elasticity import from_orthotropic
    from pipeline_lib.objectives import of_rows

    def q(name, C9):
        return of_rows(name, from_orthotropic(C9))

    fig, ax = plt.subplots(figsize=(7, 5.5))
    sc = ax.scatter(q(qx, db_arrays["C9"]), q(qy, db_arrays["C9"]), c=db_arrays["radius"], s=3, cmap="viridis",
                    alpha=0.6, rasterized=True)
    fig.colorbar(sc, ax=ax, label="strut radius [cell side]")
    best = int(report["best_row"])
    valid = arrays["valid"]
    ax.plot(q(qx, arrays["C9_fe"][valid]), q(qy, arrays["C9_fe"][valid]), "o", mfc="none", color="C1", ms=5,
            label="runs' designs (FE)")
    if best >= 0:
        pred = arrays["path/predicted"][best]
        ax.plot(q(qx, pred), q(qy, pred), "-", color="C0", lw=1.5, label="reported run (predicted)")
        ax.plot(q(qx, arrays["C9_fe"][best:best + 1]), q(qy, arrays["C9_fe"][best:best + 1]), "*", color="C3", ms=16,
                label=f"design (FE) {obj.quantity}={report['best_fe']:.4g}")
    r = report["database_row"]
    ax.plot(q(qx, db_arrays["C9"][r:r + 1]), q(qy, db_arrays["C9"][r:r + 1]), "kD", ms=7, label="database extreme")
    ax.set_xlabel(qx)
    ax.set_ylabel(qy)
    ax.set_title(f"{obj.name} in the ({qx}, {qy}) plane, {len(db_arrays['C9'])} database lattices")
    ax.legend(fontsize=7)
    return save_atomic(fig, out)
