"""Throughput of truss3d homogenization on perturbed, superposed lattices (the database's kind).

    python benchmarks/homogenize_truss3d.py [--lattices 2000]

Builds a library of perturbation chains from the elementary lattices, superposes random valid
pairs, and times ``pipeline_lib.truss3d.homogenize`` (validation, frame building with crossing
splits, batched octant solves) in one process and in two processes.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time

import numpy as np
import torch

from pipeline_lib.truss3d import generation as gen
from pipeline_lib.truss3d import homogenize
from pipeline_lib.truss3d.frame import is_valid


def make_lattices(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    rng = np.random.default_rng(seed)
    zero = np.zeros((27, 3))
    lib = [(A, zero) for A in gen.ELEMENTARY.values()]
    for A in gen.ELEMENTARY.values():
        for _ in range(8):
            lib += gen.perturbation_chain(rng, A, zero, gen.PerturbParams())
    out = []
    while len(out) < n:
        i, j = rng.integers(len(lib), size=2)
        lat = gen.superpose(*lib[i], *lib[j])
        if is_valid(*lat):
            out.append(lat)
    splits = sum(gen.split_count(*lat) > 0 for lat in out)
    return np.array([a for a, _ in out]), np.array([x for _, x in out]), splits


def _worker(args):
    A, X = args
    torch.set_num_threads(1)
    return homogenize(A, X, relative_density=0.15)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lattices", type=int, default=2000)
    args = ap.parse_args()
    A, X, splits = make_lattices(args.lattices)
    nodes = np.mean([(a & ~np.eye(27, dtype=bool)).any(1).sum() for a in A])
    print(f"{len(A)} superposed lattices (mean {nodes:.1f} active nodes, {splits} with crossing beams split), "
          f"rho = 0.15, Timoshenko; {os.cpu_count()} CPU cores, torch {torch.__version__}")
    torch.set_num_threads(os.cpu_count() or 1)
    homogenize(A[:20], X[:20], relative_density=0.15)
    t = time.perf_counter()
    C1 = homogenize(A, X, relative_density=0.15)
    one = len(A) / (time.perf_counter() - t)
    halves = [(A[: len(A) // 2], X[: len(A) // 2]), (A[len(A) // 2:], X[len(A) // 2:])]
    with mp.get_context("spawn").Pool(2) as pool:
        pool.map(_worker, [(h[0][:10], h[1][:10]) for h in halves])
        t = time.perf_counter()
        C2 = np.concatenate(pool.map(_worker, halves))
        two = len(A) / (time.perf_counter() - t)
    print(f"\n{'path':<44} {'lattices/s':>10}")
    print(f"{'1 process':<44} {one:10.0f}")
    print(f"{'2 processes x 1 thread':<44} {two:10.0f}")
    print(f"max |C(1 process) - C(2 processes)| / max|C| = {np.abs(C1 - C2).max() / np.abs(C1).max():.1e}")


if __name__ == "__main__":
    main()
