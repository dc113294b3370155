"""Wall time and peak memory of the fine-scale structure solve, direct against amg.

    python benchmarks/structure_solve.py [--cases a b] [--solvers direct amg] [--large]

Cases (50-pixel cells, h = 1/50 so a cell has side 1):

* a: 200 x 1500 pixels, the bridge (4 x 30 cells);
* b: 750 x 2000 pixels, the graded case (15 x 40 cells);
* c: 2500 x 2500 pixels (50 x 50 cells), amg only, with --large.

Structures tile database-like cells picked at random: smooth random level sets, mirror-symmetric
about both mid-axes, solid fraction 0.4-0.7, defects fixed as in the database.  Neighbouring cells
are not made compatible, so a structure has the floating parts and hinges a raw assembly has.
Loads: left edge clamped (u_x = u_y = 0), right edge u_x = -0.3, u_y = 0 (physical units; the
bridge is 30 long).  Each (case, solver) runs in a fresh process so that its peak RSS
(getrusage ru_maxrss) is its own; at most 2 threads.  Prints DOFs, time, peak RSS, CG iterations
and, where both solvers ran, their largest difference at solid nodes relative to max |u|.
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "2")

import argparse  # noqa: E402
import multiprocessing as mp  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

CASES = {"a": (4, 30), "b": (15, 40), "c": (50, 50)}
CELL = 50


def make_cells(n: int, size: int = CELL, seed: int = 0) -> np.ndarray:
    from pipeline_lib import mirror
    from pipeline_lib.pixel2d.defects import fix_defects

    rng = np.random.default_rng(seed)
    f2 = np.fft.fftfreq(size)[:, None] ** 2 + np.fft.fftfreq(size)[None, :] ** 2
    smooth = np.exp(-0.5 * (2 * np.pi) ** 2 * f2 * 16.0)  # Gaussian filter, 4-pixel correlation length
    f = np.fft.ifft2(np.fft.fft2(rng.standard_normal((n, size, size))) * smooth).real
    f = mirror.symmetrize(f, 2)
    t = np.array([np.quantile(c, q) for c, q in zip(f, rng.uniform(0.3, 0.6, n))])
    cells, keep, _ = fix_defects(f > t[:, None, None])
    return cells[keep]


def make_structure(H: int, W: int, seed: int = 0) -> np.ndarray:
    cells = make_cells(64, seed=seed)
    pick = np.random.default_rng(seed + 1).integers(0, len(cells), (H, W))
    return cells[pick].transpose(0, 2, 1, 3).reshape(H * CELL, W * CELL)


def bridge_bcs(ny: int, nx: int, ux: float = -0.3) -> tuple[np.ndarray, np.ndarray]:
    from pipeline_lib.pixel2d.structure import dof

    i = np.arange(ny + 1)
    fixed = np.concatenate([dof(i, 0, 0, nx), dof(i, 0, 1, nx), dof(i, nx, 0, nx), dof(i, nx, 1, nx)])
    values = np.concatenate([np.zeros(2 * (ny + 1)), np.full(ny + 1, ux), np.zeros(ny + 1)])
    return fixed, values


def _run(args):
    case, solver, seed = args
    from pipeline_lib.pixel2d.structure import solve, strain_energy

    st = make_structure(*CASES[case], seed=seed)
    fixed, values = bridge_bcs(*st.shape)
    info: dict = {}
    t = time.perf_counter()
    u = solve(st, fixed, values, solver=solver, info=info)
    dt = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    return dt, rss, info, u, strain_energy(st, u), st


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", nargs="+", default=["a", "b"], choices=["a", "b"])
    ap.add_argument("--solvers", nargs="+", default=["direct", "amg"], choices=["direct", "amg", "auto"])
    ap.add_argument("--large", action="store_true", help="also case c (2500 x 2500, amg only)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    runs = [(c, s) for c in args.cases for s in args.solvers] + ([("c", "amg")] if args.large else [])
    ctx = mp.get_context("spawn")
    print(f"{'case':<5} {'pixels':>11} {'solid':>6} {'DOFs':>9} {'solver':>7} {'time s':>8} {'peak GiB':>9} "
          f"{'CG its':>7} {'deflated':>9} {'energy':>13} {'max du/|u|':>11}")
    ref: dict = {}
    for case, solver in runs:
        with ctx.Pool(1) as pool:  # a fresh process per run: its own peak RSS
            dt, rss, info, u, energy, st = pool.apply(_run, ((case, solver, args.seed),))
        ny, nx = st.shape
        touch = np.zeros((ny + 1, nx + 1), dtype=bool)
        for a in (0, 1):
            for b in (0, 1):
                touch[a:a + ny, b:b + nx] |= st.astype(bool)
        at_solid = np.repeat(touch.ravel(), 2)
        diff = ""
        if case in ref:
            u0 = ref[case]
            diff = f"{np.abs(u - u0)[at_solid].max() / np.abs(u0[at_solid]).max():.1e}"
        else:
            ref[case] = u
        print(f"{case:<5} {f'{ny}x{nx}':>11} {st.mean():6.2f} {info['ndof']:>9} {info['solver']:>7} {dt:8.1f} "
              f"{rss:9.2f} {info.get('cg_iterations', ''):>7} {info.get('deflated_modes', ''):>9} "
              f"{energy:13.6e} {diff:>11}", flush=True)


if __name__ == "__main__":
    main()
