"""Seconds and peak memory per 48^3 voxel unit: a lattice unit and a unit with a spherical void.

    python benchmarks/homogenize_voxel3d.py [--n 48] [--general]

Each case runs in a fresh process so its peak resident memory is its own.  The first unit of a
process also builds the sparsity pattern (cached for every later unit of that size); both figures
are printed.  ``--general`` adds the full-cell path used for units without mirror symmetry.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time

import numpy as np


def unit(kind: str, n: int) -> np.ndarray:
    from pipeline_lib.voxel3d.symmetry import grid

    P = grid(n, eighth_only=False)
    if kind == "spherical void":
        return np.linalg.norm(P - 0.5, axis=-1) > 0.45
    # octet lattice: struts between face centres and cube corners, and between face centres
    pts = {"corner": [(0, 0, 0)], "face": [(0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)]}
    segs = []
    for f in [(.5, .5, 0), (.5, 0, .5), (0, .5, .5), (.5, .5, 1), (.5, 1, .5), (1, .5, .5)]:
        for c in [(x, y, z) for x in (0, 1) for y in (0, 1) for z in (0, 1)]:
            if np.isclose(np.linalg.norm(np.subtract(f, c)), np.sqrt(0.5)):
                segs.append((f, c))
    d = np.full(P.shape[:-1], np.inf)
    for a, b in segs:
        a, b = np.array(a, float), np.array(b, float)
        t = np.clip(((P - a) @ (b - a)) / ((b - a) @ (b - a)), 0, 1)
        d = np.minimum(d, np.linalg.norm(P - a - t[..., None] * (b - a), axis=-1))
    del pts
    return d < 0.06


def run(args):
    kind, n, method, backend = args
    import os

    os.environ["METAGEN_VOXEL_SOLVER"] = backend
    import torch

    torch.set_num_threads(2)
    from pipeline_lib.voxel3d.homogenization import homogenize_cells

    c = unit(kind, n)
    t = time.perf_counter()
    C = homogenize_cells(c, E=70e3, nu=0.33, method=method)
    first = time.perf_counter() - t
    t = time.perf_counter()
    homogenize_cells(c, E=70e3, nu=0.33, method=method)
    steady = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return kind, method, backend, float(c.mean()), first, steady, peak, C[0, 0], C[0, 1], C[3, 3]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--general", action="store_true", help="also time the full-cell path")
    args = ap.parse_args()
    cases = [(k, args.n, "auto", b) for k in ("lattice", "spherical void") for b in ("pyamg", "torch")]
    if args.general:
        cases += [(k, args.n, "periodic", "pyamg") for k in ("lattice", "spherical void")]
    print(f"{args.n}^3 units, E = 70 GPa, nu = 0.33, 2 CPU cores")
    print(f"{'unit':<15} {'path':<9} {'solver':<7} {'vf':>5} {'first s':>8} {'next s':>7} {'peak MB':>8}"
          f" {'C11 MPa':>9} {'C12 MPa':>9} {'C44 MPa':>9}")
    ctx = mp.get_context("spawn")
    for case in cases:
        with ctx.Pool(1) as pool:
            k, m, b, vf, first, steady, peak, c11, c12, c44 = pool.apply(run, (case,))
        path = "octant" if m == "auto" else "full"
        print(f"{k:<15} {path:<9} {b:<7} {vf:5.3f} {first:8.2f} {steady:7.2f} {peak:8.0f} {c11:9.1f} {c12:9.1f} {c44:9.1f}")


if __name__ == "__main__":
    main()
