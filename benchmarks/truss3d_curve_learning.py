"""The curve predictor's learning curve: test NRMSE against the number of training curves, and the
power law through it extrapolated to the paper's 383,729 lattices.

    python benchmarks/truss3d_curve_learning.py [--data data/truss3d] [--fractions 0.25 0.5 1]

On the stress-strain database and curve predictor of a finished ``truss3d_nonlinear`` run: the
stored predictor's own split and settings; the training split subsampled to each fraction (seeded,
nested), both predictors (frozen head, fine-tuned) refitted on it, every fit scored on the same
test curves.  Then a least-squares line through log(test NRMSE) against log(training curves) of
each predictor, and where it puts the paper's data (70 % of 383,729 curves to train on) and the
issue's 6 %.  Three fits take about 4 minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline_lib import chain as chains  # noqa: E402
from pipeline_lib.config import build, derive_seed  # noqa: E402
from pipeline_lib.truss3d import curves as CV  # noqa: E402
from pipeline_lib.truss3d import learning as L  # noqa: E402
from pipeline_lib.truss3d.stages import _stress_strain  # noqa: E402

PAPER_CURVES = 383_729
ISSUE_NRMSE = 0.06


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT / "data/truss3d")
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    nl, lattices = _stress_strain(a.data / "database.h5", a.data / "nonlinear/database.h5")
    _, part = CV.load(a.data / "nonlinear/predictor.h5")
    curves = np.nan_to_num(nl["curve"])
    split = part["split"]
    rows = {s: np.flatnonzero(split == k) for k, s in enumerate(("train", "validation", "test"))}
    pc = part.config["nonlinear"]["predictor"]
    pp = build(CV.PredictorParams, pc, ignore=("examples",), where="truss3d.nonlinear.predictor")
    seed = derive_seed(int(part.attrs["seed"]), "truss3d", "nonlinear", "predictor")
    ch = chains.from_artifact(a.data / "database.h5").load_model(a.data / "model/model.h5")
    ta, tx = L.tensors(ch.model, lattices["adjacency"], lattices["offsets"])
    order = np.random.default_rng(0).permutation(rows["train"])  # nested subsets: each holds the smaller

    print(f"{len(rows['train'])} training, {len(rows['validation'])} validation, {len(rows['test'])} test curves; "
          f"stored predictor: {part.attrs['mode']}")
    print(f"{'training curves':>16} | {'frozen test mean / median':>26} | {'fine-tuned test mean / median':>30}")
    sizes, means = [], {"frozen": [], "finetune": []}
    for frac in sorted(a.fractions):
        tr = np.sort(order[: max(2, round(frac * len(order)))])
        _, m, _ = CV.fit(ch.model, ta, tx, curves, dict(rows, train=tr), pp, seed)
        t = {k: m["nrmse"][k]["test"] for k in means}
        sizes.append(len(tr))
        for k in means:
            means[k].append(t[k]["mean"])
        print(f"{len(tr):>16} | {100 * t['frozen']['mean']:>11.1f} % / {100 * t['frozen']['median']:>5.1f} %"
              f"{'':>5} | {100 * t['finetune']['mean']:>13.1f} % / {100 * t['finetune']['median']:>5.1f} %", flush=True)
    if len(sizes) < 2:
        return
    paper_train = int(0.7 * PAPER_CURVES)
    for k, v in means.items():
        slope, icpt = np.polyfit(np.log(sizes), np.log(v), 1)
        at = np.exp(icpt + slope * np.log([2 * sizes[-1], 10 * sizes[-1], paper_train]))
        need = np.exp((np.log(ISSUE_NRMSE) - icpt) / slope) if slope < 0 else np.inf
        print(f"{k}: NRMSE ~ N^{slope:.3f}; at 2x the data {100 * at[0]:.1f} %, at 10x {100 * at[1]:.1f} %, "
              f"at the paper's {paper_train} training curves {100 * at[2]:.1f} %; "
              f"{100 * ISSUE_NRMSE:.0f} % needs about {need:.3g} training curves")


if __name__ == "__main__":
    main()
