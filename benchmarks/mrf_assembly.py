"""Grid MRF solvers of the multiscale assembly on random frustrated instances.

    python benchmarks/mrf_assembly.py [--sizes 20 50] [--labels 10] [--couplings 0.3 1.0] [--milp]

Unary costs uniform in [0, 1], per-edge L x L costs uniform in [0, coupling] (per-edge and
non-metric, like boundary mismatches of candidate cells).  Prints, per instance, the energy of dual
decomposition (with its certified lower bound), of loopy BP, of `solve` (both + ICM), the gap and
the wall time; with --milp also the exact optimum from HiGHS (`scipy.optimize.milp`; minutes at 20x20).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from pipeline_lib.optim import mrf


def instance(n: int, L: int, coupling: float, seed: int = 0) -> mrf.GridMRF:
    rng = np.random.default_rng(seed)
    return mrf.GridMRF(rng.random((n, n, L)), coupling * rng.random((n, n - 1, L, L)),
                       coupling * rng.random((n - 1, n, L, L)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 50])
    ap.add_argument("--labels", type=int, default=10)
    ap.add_argument("--couplings", type=float, nargs="+", default=[0.3, 1.0])
    ap.add_argument("--dd-iterations", type=int, default=1000)
    ap.add_argument("--milp", action="store_true", help="also the exact optimum (slow)")
    a = ap.parse_args()
    print(f"{'grid':>7} {'w':>4} {'DD':>10} {'bound':>10} {'LBP':>10} {'solve':>10} {'gap':>7} "
          f"{'DD s':>6} {'LBP s':>6} {'exact':>10}")
    for n in a.sizes:
        for w in a.couplings:
            m = instance(n, a.labels, w)
            t = time.perf_counter()
            dd = mrf.dual_decomposition(m, a.dd_iterations)
            t_dd = time.perf_counter() - t
            t = time.perf_counter()
            bp = mrf.loopy_bp(m)
            t_bp = time.perf_counter() - t
            r = mrf.solve(m, dd_iterations=a.dd_iterations)
            exact = ""
            if a.milp:
                sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
                from test_mrf import exact_milp

                exact = f"{exact_milp(m):10.3f}"
            print(f"{n:>3}x{n:<3} {w:4.1f} {dd.energy:10.3f} {dd.lower_bound:10.3f} {bp.energy:10.3f} "
                  f"{r.energy:10.3f} {r.gap:7.2%} {t_dd:6.1f} {t_bp:6.1f} {exact:>10}")


if __name__ == "__main__":
    main()
