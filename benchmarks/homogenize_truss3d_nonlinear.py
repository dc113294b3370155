"""Nonlinear truss homogenization: throughput and the critical-strain table.

    python benchmarks/homogenize_truss3d_nonlinear.py [--lattices 128] [--db data/truss3d/database.h5]

1. lattices/s of ``pipeline_lib.truss3d.nonlinear.compress`` (0 -> 25 % uniaxial compressive
   strain, 13 output points) on perturbed superposed lattices of the database at rho = 0.15, on one
   thread and on two processes (the issue asks >= 4 lattices/s on 2 cores), and on one thread for
   a random subset of the whole database (what the stress-strain stage computes);
2. critical strains of slender lattices (rho = 0.01, Euler-Bernoulli): the nonlinear path's
   bifurcation, the linear buckling eigenvalue analysis of tests/reference_buckling.py (each strut
   in 4 elements) and the clamped-column estimate pi^2 (r / L)^2 (a quarter of it for the 2x2x2
   simple-cubic cell in its own strut length).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from pipeline_lib.truss3d.frame import build_frame  # noqa: E402
from pipeline_lib.truss3d.generation import ELEMENTARY  # noqa: E402
from pipeline_lib.truss3d.homogenization import checked_frames, strut_radii  # noqa: E402
from pipeline_lib.truss3d.nonlinear import (BATCH, NonlinearParams, compress, compress_frames,  # noqa: E402
                                            lattice_path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lattices", type=int, default=128)
    ap.add_argument("--db", type=Path, default=ROOT / "data/truss3d/database.h5")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.db.exists():
        import h5py

        with h5py.File(a.db) as h5:
            rows = np.flatnonzero(h5["iteration"][()] == -1)[: a.lattices]
            A, X = h5["adjacency"][np.sort(rows)], h5["offsets"][np.sort(rows)]
        t = time.perf_counter()
        s = compress(A, X, relative_density=0.15)
        dt = time.perf_counter() - t
        print(f"{len(A)} superposed lattices, 0 -> 25 %: {dt:.1f} s, {len(A) / dt:.3f} lattices/s on one thread "
              f"({BATCH} followed in lockstep)")
        frames = checked_frames(A, X)
        t = time.perf_counter()
        out = compress_frames(frames, strut_radii(frames, 0.15), workers=2)
        dt2 = time.perf_counter() - t
        busy = max(out["seconds"][k::2].sum() for k in range(2))  # compress_frames deals lattice k to process k % 2
        print(f"the same on 2 processes (compress_frames): {dt2:.1f} s, {len(A) / dt2:.3f} lattices/s with the "
              f"processes' start-up ({dt2 - busy:.1f} s: forked, they inherit the imports and compiled kernels); "
              f"{len(A) / busy:.3f} lattices/s once started (the stage's shards: one long-lived process per core); "
              f"the same curves: {np.allclose(out['curve'], s, rtol=0, atol=1e-12)}")
        print("sigma33 / E_s at 24.5 %:", np.round(s[:, -1], 5))
        with h5py.File(a.db) as h5:  # the stress-strain stage's mix: a random subset of the whole database
            rows = np.sort(np.random.default_rng(0).choice(len(h5["adjacency"]), a.lattices, replace=False))
            A, X = h5["adjacency"][rows], h5["offsets"][rows]
        t = time.perf_counter()
        compress(A, X, relative_density=0.15)
        dt = time.perf_counter() - t
        print(f"{len(A)} random database lattices (the stage's mix): {dt:.1f} s, {len(A) / dt:.3f} lattices/s on one thread")
    else:
        print(f"{a.db} not found: throughput skipped")
    from reference_buckling import critical_strain

    Z = np.zeros((27, 3))
    print(f"\n{'lattice':9} {'path':>10} {'eigenvalue':>10} {'Euler':>10} {'path/eig':>9}")
    for name, column in (("sc", 2.0), ("sc_half", 1.0), ("octet", None), ("bcc", None)):
        A = ELEMENTARY[name].astype(bool)
        f = build_frame(A, Z)
        r = strut_radii([f], 0.01)[0]
        eig = critical_strain(A, Z, r, s=4)
        path = lattice_path(f, r, beam="euler-bernoulli", strain=2.5 * eig, outputs=np.array([2.5 * eig]),
                            params=NonlinearParams(steps=10, bisections=12))
        euler = np.pi ** 2 * (r / column) ** 2 / (1 if column == 2.0 else 4) if column else np.nan
        print(f"{name:9} {path.critical_strain:10.5g} {eig:10.5g} {euler:10.5g} {path.critical_strain / eig:9.4f}")


if __name__ == "__main__":
    main()
