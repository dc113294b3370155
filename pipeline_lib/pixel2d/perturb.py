"""Iterative stochastic shape perturbation (paper 000 section 3.2, after Wang et al. 2020).

Each iteration scores every cell of the database so far by

* extremeness: distance from its property point to the boundary of the property cloud (the
  convex hull of all points, in standardized (C11, C12, C22, C33) space) -- small is extreme;
* sparsity: mean distance to its k nearest neighbours in the same space -- large is sparse;

turns both into ranks in [0, 1], combines them as ``w * extreme + (1 - w) * sparse`` and draws
parents with probability proportional to ``score ** greed``.  Each parent yields children by one of
two symmetric operators:

* ``levelset``: a smooth periodic Gaussian random field (random amplitude and correlation length,
  averaged over the four mirror images) is added to the parent's periodic signed distance, and
  the child is where the sum is positive -- boundaries move by a few pixels, holes open and close;
* ``blob``: a few discs centred on boundary pixels are added or carved, mirrored four ways.

Defect fixing, deduplication and homogenization are separate steps (see ``stages``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError, cKDTree
from scipy.stats import rankdata

from pipeline_lib import mirror
from pipeline_lib.pixel2d.properties import properties
from pipeline_lib.progress import track

OPERATORS = ("levelset", "blob")


@dataclass(frozen=True)
class LevelsetParams:
    amplitude: tuple[float, float] = (0.5, 2.0)  # range of the random field's standard deviation [px]
    correlation: tuple[float, float] = (2.0, 6.0)  # range of its correlation length [px]


@dataclass(frozen=True)
class BlobParams:
    radius: tuple[float, float] = (1.0, 4.0)  # range of disc radii [px]
    count: tuple[int, int] = (1, 3)  # range of discs per child


@dataclass(frozen=True)
class PerturbParams:
    """The schema's ``pixel2d.perturb`` (less ``iterations``, which is the workflow's)."""

    cells_per_iteration: int = 300
    children_per_parent: int = 4
    extreme_weight: float = 0.5
    greed: float = 4.0
    neighbours: int = 8
    operators: dict[str, float] = field(default_factory=lambda: {"levelset": 0.7, "blob": 0.3})
    levelset: LevelsetParams = LevelsetParams()
    blob: BlobParams = BlobParams()


def features(C: np.ndarray) -> np.ndarray:
    """Standardized (C11, C12, C22, C33) of (N, 3, 3) stiffnesses."""
    P = properties(C)
    return (P - P.mean(0)) / (P.std(0) + 1e-12)


def hull_distance(P: np.ndarray) -> np.ndarray:
    """Distance of each point to the boundary of the convex hull of all points (0 on the hull)."""
    try:
        hull = ConvexHull(P)
    except (QhullError, ValueError):  # too few or degenerate points: no boundary to speak of
        return np.zeros(len(P))
    normals, offsets = hull.equations[:, :-1], hull.equations[:, -1]
    out = np.empty(len(P))
    for s in range(0, len(P), 8192):  # n . x + b <= 0 inside, |n| = 1
        out[s:s + 8192] = -(P[s:s + 8192] @ normals.T + offsets).max(1)
    return np.maximum(out, 0.0)


def knn_distance(P: np.ndarray, k: int) -> np.ndarray:
    """Mean distance to the k nearest other points."""
    k = min(k, len(P) - 1)
    if k < 1:
        return np.zeros(len(P))
    d, _ = cKDTree(P).query(P, k + 1)
    return d[:, 1:].mean(1)


def selection_scores(C: np.ndarray, extreme_weight: float, neighbours: int) -> np.ndarray:
    """Score in [0, 1] per cell; high = extreme and sparse."""
    P = features(C)
    n = len(P)
    extreme = 1.0 - (rankdata(hull_distance(P)) - 1) / max(n - 1, 1)
    sparse = (rankdata(knn_distance(P, neighbours)) - 1) / max(n - 1, 1)
    return extreme_weight * extreme + (1 - extreme_weight) * sparse


def select_parents(rng: np.random.Generator, scores: np.ndarray, count: int, greed: float) -> np.ndarray:
    """Indices of ``count`` parents drawn with probability proportional to score**greed."""
    w = np.power(np.maximum(scores, 1e-12), greed)
    replace = count > np.count_nonzero(w)
    return np.sort(rng.choice(len(scores), size=count, replace=replace, p=w / w.sum()))


def signed_distance(cells: np.ndarray) -> np.ndarray:
    """Periodic signed distance (N, H, W) to the solid boundary, positive inside the solid."""
    out = np.empty(cells.shape)
    H, W = cells.shape[-2:]
    for k, c in enumerate(track(np.asarray(cells, dtype=bool), "signed distances of the parents", unit="cells")):
        big = np.tile(c, (3, 3))
        inside = ndimage.distance_transform_edt(big)[H:2 * H, W:2 * W]
        outside = ndimage.distance_transform_edt(~big)[H:2 * H, W:2 * W]
        out[k] = np.where(c, inside - 0.5, 0.5 - outside)
    return out


def random_fields(rng: np.random.Generator, n: int, H: int, W: int, correlation: np.ndarray) -> np.ndarray:
    """Mirror-symmetric periodic Gaussian fields with unit std and per-field correlation length."""
    noise = np.fft.fft2(rng.standard_normal((n, H, W)))
    ky = np.fft.fftfreq(H)[:, None]
    kx = np.fft.fftfreq(W)[None, :]
    k2 = (2 * np.pi) ** 2 * (ky**2 + kx**2)
    f = np.fft.ifft2(noise * np.exp(-0.5 * k2[None] * correlation[:, None, None] ** 2)).real
    f = mirror.symmetrize(f, 2)
    return f / (f.std(axis=(1, 2), keepdims=True) + 1e-12)


def perturb_levelset(rng: np.random.Generator, cells: np.ndarray, p: PerturbParams) -> np.ndarray:
    n, H, W = cells.shape
    amp = rng.uniform(*p.levelset.amplitude, n)
    corr = rng.uniform(*p.levelset.correlation, n)
    phi = signed_distance(cells) + amp[:, None, None] * random_fields(rng, n, H, W, corr)
    return (phi > 0).astype(np.uint8)


def perturb_blob(rng: np.random.Generator, cells: np.ndarray, p: PerturbParams) -> np.ndarray:
    n, H, W = cells.shape
    out = np.asarray(cells, dtype=bool).copy()
    yy, xx = np.mgrid[:H, :W]
    for k in range(n):
        s = out[k]
        boundary = np.argwhere((s != np.roll(s, 1, 0)) | (s != np.roll(s, 1, 1)))
        if len(boundary) == 0:
            boundary = np.argwhere(np.ones_like(s))
        for _ in range(rng.integers(p.blob.count[0], p.blob.count[1] + 1)):
            cy, cx = boundary[rng.integers(len(boundary))]
            r = rng.uniform(*p.blob.radius)
            dy = (yy - cy + H / 2) % H - H / 2  # periodic offsets
            dx = (xx - cx + W / 2) % W - W / 2
            disc = dy**2 + dx**2 <= r * r
            disc = disc | disc[::-1] | disc[:, ::-1] | disc[::-1, ::-1]
            s = s | disc if rng.random() < 0.5 else s & ~disc
        out[k] = s
    return out.astype(np.uint8)


_APPLY = {"levelset": perturb_levelset, "blob": perturb_blob}


def make_children(rng: np.random.Generator, parents: np.ndarray, p: PerturbParams) -> tuple[np.ndarray, np.ndarray]:
    """Children of (M, H, W) parent cells: ``children_per_parent`` each, operators drawn by weight.

    Returns children (M * c, H, W) uint8 (each child mirror-symmetric) and the operator index of
    each (into :data:`OPERATORS`)."""
    reps = np.repeat(np.asarray(parents, dtype=np.uint8), p.children_per_parent, axis=0)
    names = sorted(p.operators)  # by name: the draw does not depend on how the config was ordered
    unknown = set(names) - set(OPERATORS)
    if unknown:
        raise ValueError(f"unknown perturbation operator(s) {sorted(unknown)}; known: {', '.join(OPERATORS)}")
    weights = np.array([p.operators[name] for name in names], dtype=float)
    if weights.sum() <= 0:
        raise ValueError("perturbation operator weights must not all be zero")
    which = rng.choice(len(names), size=len(reps), p=weights / weights.sum())
    out = reps.copy()
    for i, name in enumerate(names):
        sel = np.flatnonzero(which == i)
        if len(sel):
            out[sel] = _APPLY[name](rng, reps[sel], p)
    # Rounding can break exact symmetry of the level set by one pixel: enforce it from the quarter.
    out = mirror.unfold(mirror.corner(out, 2), 2)
    return out, np.array([OPERATORS.index(names[i]) for i in which], dtype=np.int8)
