"""Level-set voxel units from crystallographic structure factors (paper 004, §3, third source).

Paper 004 takes its third source from METASET (Chan et al. 2021, "METASET: exploring shape and
property spaces for data-driven metamaterials design"): isosurface families of periodic
level-set functions built from crystallographic structure factors, solid where phi <= 0 with

    phi = f - t  ("lower": the region below the isovalue),
    phi = t - f  ("upper": the region above it),
    phi = f^2 - t^2  ("shell": a wall of half-width ~t around the surface f = 0),

and the isovalue t varied across a family.  Every f here is a structure-factor sum over
reflections of the primitive cubic lattice,

    f(x) = sum_{(h,k,l)} w_hkl * sum over the distinct permutations and sign combinations of
           (h, k, l) of cos(2 pi (h x + k y + l z)),

which by cos(a + b) + cos(a - b) = 2 cos a cos b equals (up to a factor per reflection)
sum over distinct permutations of cos(2 pi h x) cos(2 pi k y) cos(2 pi l z): even in each
coordinate and of period 1, so x = 0 and x = 1/2 are mirror planes and with the permutations the
unit has full m-3m symmetry.  (The gyroid and Schwarz D lack these mirror planes and are excluded.)

Named surfaces (X = 2 pi x, ...): ``schwarz_p`` cos X + cos Y + cos Z; ``neovius``
3 (cos X + cos Y + cos Z) + 4 cos X cos Y cos Z; ``iwp`` 2 (cos X cos Y + cos Y cos Z +
cos Z cos X) - (cos 2X + cos 2Y + cos 2Z); ``frd`` 4 cos X cos Y cos Z - (cos 2X cos 2Y +
cos 2Y cos 2Z + cos 2Z cos 2X).  Random sums take one dominant reflection, (100) or (110), with
weight uniform in +-[0.6, 1], and 1 to 2 further distinct reflections 0 <= l <= k <= h <= ``hmax``
(2), h >= 1, with weights uniform in +-[0.1, 0.4] (a perturbed low-order surface; equal weights
mostly fall apart into pieces); their modes and volume-fraction floor follow the dominant
reflection (DOMINANT_MIN_VF).  f is scaled to unit maximum modulus on the grid, so t is on a
common scale in [-1, 1].

The isovalue range of a family is not fixed: its ends are the quantiles of f (or -f, |f|) at two
volume fractions drawn in ``vf_range`` (default [0.06, 0.38], inside the paper's window
[0.05, 0.4]; for a named surface, above the fraction at which the phase is in one piece,
NAMED_MIN_VF, and modes with too little room left are skipped), so the volume fraction is
monotone in t and nearly every unit lands in the window.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations

import numpy as np

from pipeline_lib.voxel3d.families import assemble, check_n, family_sizes, vf_targets
from pipeline_lib.voxel3d.symmetry import grid, symmetrize_permutations

Reflection = tuple[int, int, int]

NAMED: dict[str, dict[Reflection, float]] = {
    # weights per reflection on the product-of-cosines form (see the module docstring)
    "schwarz_p": {(1, 0, 0): 1.0},
    "neovius": {(1, 0, 0): 3.0, (1, 1, 1): 4.0},
    "iwp": {(1, 1, 0): 2.0, (2, 0, 0): -1.0},
    "frd": {(1, 1, 1): 4.0, (2, 2, 0): -1.0},
}
MODES = ("lower", "upper", "shell")
# Least volume fraction at which each phase (or wall) of a named surface is one connected piece
# in the tiling, measured at n = 32 and 48 and rounded up: below it the network phases are
# pinched-off blobs and the walls thinner than a voxel get holes.  A mode whose bound leaves
# less than min_vf_span of the window (Neovius' two labyrinths, the F-RD upper phase) is not used.
NAMED_MIN_VF: dict[str, dict[str, float]] = {
    "schwarz_p": {"lower": 0.23, "upper": 0.23, "shell": 0.09},
    "neovius": {"lower": 0.35, "upper": 0.35, "shell": 0.16},
    "iwp": {"lower": 0.12, "upper": 0.05, "shell": 0.13},
    "frd": {"lower": 0.24, "upper": 0.35, "shell": 0.16},
}
# (111) is left out as a dominant term: alone its walls are three families of planes meeting in
# degenerate lines, which any perturbation splits into separate sheets
LOW_ORDER: tuple[Reflection, ...] = ((1, 0, 0), (1, 1, 0))
# The same for a random sum, from its dominant reflection alone (with positive weight; a negative
# one swaps lower and upper): the weaker terms shift the bound a little, so this is a guide.
# 1.0: never in one piece inside the window.
DOMINANT_MIN_VF: dict[Reflection, dict[str, float]] = {
    (1, 0, 0): {"lower": 0.25, "upper": 0.25, "shell": 0.08},
    (1, 1, 0): {"lower": 0.15, "upper": 1.0, "shell": 0.12},
}


@dataclass(frozen=True)
class LevelSetParams:
    """family_size: members per family (inclusive range); named: the named surfaces drawn from;
    named_probability: chance a family uses a named surface rather than a random sum;
    dominant_weight: modulus of a random sum's dominant reflection (one of LOW_ORDER); extra_terms,
    extra_weight, hmax: count, weight modulus and largest index of its further reflections (signs
    random); modes: phi forms drawn from (see MODES); vf_range: window the volume-fraction
    targets are drawn in; min_vf_span: least spread of a family's targets."""
    family_size: tuple[int, int] = (4, 8)
    named: tuple[str, ...] = tuple(NAMED)
    named_probability: float = 0.4
    dominant_weight: tuple[float, float] = (0.6, 1.0)
    extra_terms: tuple[int, int] = (1, 2)
    extra_weight: tuple[float, float] = (0.1, 0.4)
    hmax: int = 2
    modes: tuple[str, ...] = MODES
    vf_range: tuple[float, float] = (0.06, 0.38)
    min_vf_span: float = 0.1


def structure_factor(points: np.ndarray, weights: dict[Reflection, float]) -> np.ndarray:
    """sum_hkl w_hkl sum_{distinct permutations} cos(2 pi h x) cos(2 pi k y) cos(2 pi l z)."""
    hmax = max(max(hkl) for hkl in weights)
    # cosines per axis and index, (3, hmax + 1, ...): each factor computed once
    c = np.cos(2.0 * np.pi * np.arange(hmax + 1)[None, :, None, None, None]
               * np.moveaxis(points, -1, 0)[:, None])
    f = np.zeros(points.shape[:-1])
    for hkl, w in weights.items():
        for h, k, l in sorted(set(permutations(hkl))):
            f += w * c[0, h] * c[1, k] * c[2, l]
    return f


def random_weights(rng: np.random.Generator, p: LevelSetParams) -> dict[Reflection, float]:
    """One dominant low-order reflection and a few weaker ones of order up to hmax: equal-weight
    mixtures of higher orders mostly give isolated blobs or walls in pieces, a perturbed
    low-order surface stays in one piece more often while still varying the shape."""
    dominant = LOW_ORDER[int(rng.integers(len(LOW_ORDER)))]
    refl = [(h, k, l) for h in range(1, p.hmax + 1) for k in range(h + 1) for l in range(k + 1)
            if (h, k, l) != dominant]
    m = int(rng.integers(p.extra_terms[0], p.extra_terms[1] + 1))
    chosen = sorted(rng.choice(len(refl), size=min(m, len(refl)), replace=False).tolist())
    weights = {dominant: float(rng.choice((-1.0, 1.0)) * rng.uniform(*p.dominant_weight))}
    for i in chosen:
        weights[refl[i]] = float(rng.choice((-1.0, 1.0)) * rng.uniform(*p.extra_weight))
    return weights


def generate(rng: np.random.Generator, count: int, n: int = 48,
             params: LevelSetParams | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """count level-set units: cells (count, n, n, n) uint8, family ids, descriptions."""
    p = params or LevelSetParams()
    check_n(n)
    pts = grid(n)
    eighths: list[np.ndarray] = []
    family: list[int] = []
    desc: list[str] = []
    for fid, size in enumerate(family_sizes(rng, count, p.family_size)):
        lo, hi = p.vf_range
        if p.named and rng.random() < p.named_probability:
            name = p.named[int(rng.integers(len(p.named)))]
            weights, floors = NAMED[name], NAMED_MIN_VF[name]
        else:
            weights = random_weights(rng, p)
            name = "sf[" + ",".join(f"{''.join(map(str, hkl))}:{w:+.2f}" for hkl, w in weights.items()) + "]"
            dominant = next(iter(weights))
            swap = {"lower": "upper", "upper": "lower", "shell": "shell"} if weights[dominant] < 0 else None
            floors = {m: DOMINANT_MIN_VF[dominant][swap[m] if swap else m] for m in MODES}
        modes = [m for m in p.modes if hi - max(lo, floors[m]) >= p.min_vf_span] or list(p.modes)
        mode = modes[int(rng.integers(len(modes)))]
        lo = min(max(lo, floors[mode]), hi)
        f = structure_factor(pts, weights)
        # max over permutations: f is invariant in exact arithmetic, this makes it so in floats
        f = symmetrize_permutations(f)
        f = f / max(float(np.abs(f).max()), 1e-12)
        # e <= t(v) is the solid; e's quantile at v gives the isovalue with volume fraction v
        e = {"lower": f, "upper": -f, "shell": np.abs(f)}[mode]
        v0, v1 = vf_targets(rng, lo, hi, p.min_vf_span) or (lo, hi)
        t0, t1 = float(np.quantile(e, v0)), float(np.quantile(e, v1))
        for s in (np.linspace(t0, t1, size) if size > 1 else np.array([(t0 + t1) / 2])):
            t = -s if mode == "upper" else s
            phi = {"lower": f - t, "upper": t - f, "shell": f * f - t * t}[mode]
            eighths.append(phi <= 0)
            family.append(fid)
            desc.append(f"{name} {mode} t={t:.3f}")
    return assemble(eighths, n), np.asarray(family, dtype=np.int64), desc
