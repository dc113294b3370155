"""How close FE alone gets to a curve target from the database: the curve designs' FE finish run
from many database lattices at once, with no model.

    python benchmarks/truss3d_curve_reach.py [--target stiff] [--starts 12] [--generations 60]
                                             [--children 16] [--data data/truss3d]

On a finished ``truss3d_nonlinear`` run: the target stored in
``data/truss3d/design/nonlinear_<target>.h5``; the ``--starts`` lattices of the stress-strain
database with the closest FE curves, plus the stage's design and its control; each improved by the
stage's (1 + children) evolution strategy (``optim.evolution.evolve`` with
``truss3d.refine.mutants``: a beam toggled with probability ``--toggle``, the offsets of two used
nodes moved by sigma, geometric from ``--sigma`` to ``--sigma-final``), every child's curve by
the nonlinear FE solver with the database's settings.  Prints each lineage's start and end NRMSE,
the best of all beside the stage's design and control, and the FE paths it took.  A target that
this many lineages, this many FE paths, do not reach is beyond local search from the database;
the stage's design is then limited by the design space, not by its search.  The defaults take
about 15 minutes on 2 cores (lineages from
far-off starts cost most: their lattices buckle many times).
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline_lib import chain as chains  # noqa: E402
from pipeline_lib.optim.evolution import evolve  # noqa: E402
from pipeline_lib.truss3d import curve_design as CD  # noqa: E402
from pipeline_lib.truss3d.curves import nrmse  # noqa: E402
from pipeline_lib.truss3d.refine import mutants  # noqa: E402
from pipeline_lib.truss3d.stages import _nonlinear_settings, _stress_strain  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", default="stiff")
    ap.add_argument("--data", type=Path, default=ROOT / "data/truss3d")
    ap.add_argument("--starts", type=int, default=12)
    ap.add_argument("--generations", type=int, default=60)
    ap.add_argument("--children", type=int, default=16)
    ap.add_argument("--sigma", type=float, default=0.1)
    ap.add_argument("--sigma-final", type=float, default=0.005)
    ap.add_argument("--toggle", type=float, default=0.5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("pipeline_lib.truss3d.nonlinear").setLevel(logging.ERROR)  # one warning per path that ends early
    torch.set_num_threads(1)
    ch = chains.from_artifact(a.data / "database.h5").load_model(a.data / "model/model.h5")
    nl, lattices = _stress_strain(a.data / "database.h5", a.data / "nonlinear/database.h5")
    settings = _nonlinear_settings(nl.config)
    curves = nl["curve"]
    with h5py.File(a.data / f"design/nonlinear_{a.target}.h5", "r") as f:
        target = f["target"][:]
        b = int(f.attrs["best"])
        design = (f["adjacency"][b].astype(bool), f["offsets"][b], float(f["nrmse_fe"][b]))
        control = (f["control/adjacency"][:].astype(bool), f["control/offsets"][:], float(f["control/nrmse_fe"][0]))
    ok = np.flatnonzero(np.isfinite(curves).all(1))
    rows = ok[np.argsort(nrmse(np.broadcast_to(target, curves[ok].shape), curves[ok]), kind="stable")[: a.starts]]
    starts = [(lattices["adjacency"][r].astype(bool), np.asarray(lattices["offsets"][r], float)) for r in rows]
    starts += [design[:2], control[:2]]
    names = [f"stress-strain row {r}" for r in rows] + ["the stage's design", "the stage's control"]
    verify = CD.Verifier(ch, settings, workers=a.workers)

    def evaluate(cands):
        res = verify(np.array([c[0] for c in cands]), np.array([c[1] for c in cands]))
        return np.array([float(nrmse(target, r["curve"])) if r["valid"] else np.inf for r in res]), {}

    def mutate(parent, sigma, k, rng):
        return mutants(parent[0], parent[1], sigma, k, rng, toggle=a.toggle, nodes=2)

    t0 = time.perf_counter()
    start_loss, _ = evaluate(starts)
    ev = evolve(starts, start_loss, mutate, evaluate, np.geomspace(a.sigma, a.sigma_final, a.generations), a.children,
                np.random.default_rng(a.seed), label=f"reach of {a.target}")
    seconds = time.perf_counter() - t0
    print(f"target {a.target}: {len(starts)} lineages x {a.generations} generations x {a.children} children, "
          f"{ev.evaluations} children, {verify.solved} distinct FE paths, {seconds / 60:.1f} min")
    print(f"{'lineage':>26} | start NRMSE | end NRMSE")
    for i in np.argsort(ev.loss, kind="stable")[: min(8, len(starts))]:
        print(f"{names[i]:>26} | {100 * start_loss[i]:>9.1f} % | {100 * ev.loss[i]:>7.1f} %")
    print(f"best of all lineages {100 * ev.loss.min():.1f} %; the stage: design {100 * design[2]:.1f} %, "
          f"control {100 * control[2]:.1f} %")


if __name__ == "__main__":
    main()
