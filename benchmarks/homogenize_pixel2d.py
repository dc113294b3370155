"""Throughput of pixel2d homogenization: fast paths against the per-cell sparse-LU reference.

    python benchmarks/homogenize_pixel2d.py [--cells 512] [--size 50] [--reference 40]

Cells are smooth random level sets, mirror-symmetric about both mid-axes like the database's
(``auto`` routes them to the quarter-cell solve) and, for the general path, the same cells with a
random asymmetric defect.  Prints cells/s for every path, its ratio to the reference, and the
largest difference to the reference on the cells both computed.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from reference_fem import reference_homogenize  # noqa: E402

from pipeline_lib import mirror  # noqa: E402
from pipeline_lib.pixel2d.homogenization import homogenize_cells  # noqa: E402

NU = 0.49


def make_cells(n: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    k2 = (2 * np.pi) ** 2 * (np.fft.fftfreq(size)[:, None] ** 2 + np.fft.fftfreq(size)[None, :] ** 2)
    f = np.fft.ifft2(np.fft.fft2(rng.standard_normal((n, size, size))) * np.exp(-0.5 * k2 * 16.0)).real
    f = mirror.symmetrize(f, 2)
    t = np.quantile(f.reshape(n, -1), rng.uniform(0.3, 0.7, n), axis=1).diagonal()
    sym = (f > t[:, None, None]).astype(np.uint8)
    asym = sym.copy()
    r = rng.integers(0, size, (n, 2))
    asym[np.arange(n), r[:, 0], r[:, 1]] ^= 1
    return sym, asym


def rate(fn, cells, repeat: int = 1) -> tuple[float, np.ndarray]:
    fn(cells[: min(8, len(cells))])  # warm-up (plans, allocator)
    t = time.perf_counter()
    for _ in range(repeat):
        out = fn(cells)
    return repeat * len(cells) / (time.perf_counter() - t), out


def _worker(args):
    cells, method = args
    torch.set_num_threads(1)
    return homogenize_cells(cells, nu=NU, method=method)


def two_processes(cells, method):
    halves = np.array_split(cells, 2)
    with mp.get_context("spawn").Pool(2) as pool:
        pool.map(_worker, [(h[:4], method) for h in halves])  # warm-up both workers
        t = time.perf_counter()
        out = pool.map(_worker, [(h, method) for h in halves])
        dt = time.perf_counter() - t
    return len(cells) / dt, np.concatenate(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, default=512)
    ap.add_argument("--size", type=int, default=50)
    ap.add_argument("--reference", type=int, default=40, help="cells timed with the reference")
    args = ap.parse_args()
    sym, asym = make_cells(args.cells, args.size)
    torch.set_num_threads(os.cpu_count() or 1)
    print(f"{args.cells} cells of {args.size} x {args.size}, nu = {NU}, plane stress; "
          f"{os.cpu_count()} CPU cores, torch {torch.__version__}, "
          f"CUDA: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}")

    nref = min(args.reference, args.cells)
    ref_rate, ref = rate(lambda c: np.array([reference_homogenize(x, nu=NU) for x in c]), asym[:nref])
    ref_sym = np.array([reference_homogenize(x, nu=NU) for x in sym[: min(nref, 10)]])

    rows = [("reference: sparse LU per cell (1 process)", ref_rate, None)]
    cpu = torch.device("cpu")
    r, out = rate(lambda c: homogenize_cells(c, nu=NU, method="periodic", device=cpu), asym)
    rows.append((f"general periodic, 1 process x {torch.get_num_threads()} threads", r,
                 np.abs(out[:nref] - ref).max()))
    r, out = two_processes(asym, "periodic")
    rows.append(("general periodic, 2 processes x 1 thread", r, np.abs(out[:nref] - ref).max()))
    r, out = rate(lambda c: homogenize_cells(c, nu=NU, method="auto", device=cpu), sym)
    rows.append((f"symmetric cells (quarter), 1 process x {torch.get_num_threads()} threads", r,
                 np.abs(out[: len(ref_sym)] - ref_sym).max()))
    r, out = two_processes(sym, "auto")
    rows.append(("symmetric cells (quarter), 2 processes x 1 thread", r, np.abs(out[: len(ref_sym)] - ref_sym).max()))
    if torch.cuda.is_available():
        gpu = torch.device("cuda")
        many_a = np.concatenate([asym] * max(1, 8192 // len(asym)))
        many_s = np.concatenate([sym] * max(1, 8192 // len(sym)))
        r, out = rate(lambda c: homogenize_cells(c, nu=NU, method="periodic", device=gpu), many_a)
        rows.append(("GPU general periodic (float64)", r, np.abs(out[:nref] - ref).max()))
        r, out = rate(lambda c: homogenize_cells(c, nu=NU, method="auto", device=gpu), many_s)
        rows.append(("GPU symmetric cells (quarter, float64)", r, np.abs(out[: len(ref_sym)] - ref_sym).max()))

    print(f"\n{'path':<58} {'cells/s':>9} {'x ref':>7} {'max |C - C_ref|':>16}")
    for name, r, err in rows:
        e = "" if err is None else f"{err:.1e}"
        print(f"{name:<58} {r:9.1f} {r / ref_rate:7.1f} {e:>16}")


if __name__ == "__main__":
    main()
