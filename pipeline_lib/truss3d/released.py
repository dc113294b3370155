"""Reader and writer for the authors' released dataset (Zheng et al. 2023, ETH Research Collection
doi:10.3929/ethz-b-000618078), so users who hold it can bring it in or export to it.

Layout, one folder: ``adjacency-matrix.npz`` (scipy sparse, (27 N) x 27: a 27-row block per cell),
``node-offset.npz`` ((27 N) x 3 offsets), ``node-position.npz`` ((27 N) x 3 positions) and
``stiffness-vec.csv`` (N rows: C11, C12, C13, C22, C23, C33, C44, C55, C66).  The authors' code
symmetrizes each block and ignores its diagonal; we read it the same way and set the diagonal.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from pipeline_lib import atomic
from pipeline_lib.truss3d.octant import check_offsets, positions

FILES = ("adjacency-matrix.npz", "node-offset.npz", "node-position.npz", "stiffness-vec.csv")


def read_released(folder: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """adjacency (N, 27, 27) bool, offsets (N, 27, 3), stiffness (N, 9) or None if absent."""
    folder = Path(folder)
    adj_path = folder / FILES[0]
    if not adj_path.exists():
        raise FileNotFoundError(f"{adj_path}: not found (expected the authors' {FILES[0]})")
    blocks = sp.load_npz(adj_path).toarray()
    if blocks.ndim != 2 or blocks.shape[1] != 27 or blocks.shape[0] % 27:
        raise ValueError(f"{adj_path}: shape {blocks.shape}, expected (27 N, 27)")
    n = blocks.shape[0] // 27
    A = blocks.reshape(n, 27, 27) != 0
    A = A | A.transpose(0, 2, 1)
    A[:, np.arange(27), np.arange(27)] = True
    off = sp.load_npz(folder / FILES[1]).toarray()
    if off.shape != (27 * n, 3):
        raise ValueError(f"{folder / FILES[1]}: shape {off.shape}, expected {(27 * n, 3)}")
    off = off.reshape(n, 27, 3)
    for i, x in enumerate(off):
        problem = check_offsets(x)
        if problem:
            raise ValueError(f"{folder / FILES[1]}: cell {i}: {problem}")
    C = None
    cpath = folder / FILES[3]
    if cpath.exists():
        C = np.loadtxt(cpath, delimiter=",", ndmin=2)
        if C.shape != (n, 9):
            raise ValueError(f"{cpath}: shape {C.shape}, expected {(n, 9)}")
    return A, off, C


def write_released(folder: str | os.PathLike, adjacency: np.ndarray, offsets: np.ndarray,
                   stiffness9: np.ndarray | None = None) -> Path:
    """Write the four files (stiffness only if given), each atomically."""
    folder = Path(folder)
    A = np.asarray(adjacency, dtype=bool)
    n = len(A)
    blocks = np.triu(A, 1).reshape(27 * n, 27).astype(np.float64)  # upper triangle, as released
    off = np.asarray(offsets, dtype=float)

    def write(name, writer):
        with atomic.output(folder / name) as tmp:  # the temporary keeps the suffix: no second .npz
            writer(tmp)

    def npz(matrix):
        return lambda tmp: sp.save_npz(tmp, sp.csr_matrix(matrix))

    write(FILES[0], npz(blocks))
    write(FILES[1], npz(off.reshape(27 * n, 3)))
    write(FILES[2], npz(positions(off).reshape(27 * n, 3)))
    if stiffness9 is not None:
        write(FILES[3], lambda tmp: np.savetxt(tmp, np.asarray(stiffness9).reshape(n, 9), delimiter=","))
    return folder
