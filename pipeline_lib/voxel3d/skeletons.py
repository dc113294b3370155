"""Truss-skeleton voxel units (paper 004, §3, second source).

Paper 004 builds its second source from octet (Deshpande et al. 2001), octahedral (Weiss 1985)
and body-centred cubic skeletons: the skeleton of a cubic-symmetric unit is outlined in a
continuous design space and the geometry formed by applying a radius along it.  Here a voxel is
solid where its periodic distance to the struts is at most the radius.

Skeletons (struts of a cell of side 1; each strut set is closed under Pm-3m, i.e. the 48
operations about the origin and the unit translations, so the mirror planes x = 0 and x = 1/2 hold):

- ``sc``: the cell edges.  ``bcc``: corners to the body centre.  ``fcc``: face diagonals (corners
  to face centres).  ``octahedral``: face centre to face centre (the octahedron inscribed in the
  cell).  ``octet``: fcc + octahedral.  ``kelvin``: edges of the truncated octahedra of the
  Kelvin foam (BCC packing).
- combinations with a radius ratio between the parts (parts that share nodes, so the unit stays
  in one piece): ``bcc_sc``, ``octet_sc``, ``fcc_sc``, ``bcc_fcc``, ``octet_bcc``.
- with one node-position parameter a (which keeps cubic symmetry): ``bcc_cube`` (the body-centre
  node split into the 8 corners {a, 1-a}^3 of a central cube whose edges are struts, a in
  [0.2, 0.45]; a -> 1/2 is BCC), ``octahedral_split`` (each face-centre node split into the two
  nodes (1/2, 1/2, +-a) tied by a strut through the face, a in [0, 0.15]; a = 0 is octahedral).

A family either sweeps the radius (fixed skeleton) or, for the parametric skeletons with
probability ``node_sweep_probability``, the node position at a fixed radius.  The radius is not
drawn from a fixed range: a radius family runs linearly between the radii at which the volume
fraction reaches two targets drawn in ``vf_range`` (default [0.06, 0.38], inside the paper's
window [0.05, 0.4]), and a node family's radius puts its middle member on a target in the middle
half of that range; so nearly every unit lands in the window whatever the skeleton's density per
unit radius.  Radii are capped at ``max_radius`` (0.3); the radius ratio of combinations is
drawn in [0.6, 1.4].

Fields are evaluated on the eighth [0, 1/2)^3 only, made exactly permutation-invariant with
``symmetrize_permutations`` and mirrored with ``pipeline_lib.mirror.unfold``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import permutations, product
from typing import Callable, NamedTuple

import numpy as np

from pipeline_lib.voxel3d.families import assemble, check_n, family_sizes, sym_min, vf_targets
from pipeline_lib.voxel3d.symmetry import grid

Segment = tuple[tuple[float, float, float], tuple[float, float, float]]

# Generator struts; their orbit under Pm-3m is the strut set.  Parametric ones take a.
STRUTS: dict[str, Callable[[float], list[Segment]]] = {
    "sc": lambda a: [((0, 0, 0), (1, 0, 0))],
    "bcc": lambda a: [((0, 0, 0), (.5, .5, .5))],
    "fcc": lambda a: [((0, 0, 0), (.5, .5, 0))],
    "octahedral": lambda a: [((.5, .5, 0), (.5, 0, .5))],
    "kelvin": lambda a: [((.25, 0, .5), (0, .25, .5)), ((.25, 0, .5), (.5, 0, .25))],
    "bcc_cube": lambda a: [((0, 0, 0), (a, a, a)), ((a, a, a), (1 - a, a, a))],
    "octahedral_split": lambda a: [((.5, .5, a), (.5, a, .5)), ((.5, .5, -a), (.5, .5, a))],
}


class Skeleton(NamedTuple):
    """Strut groups (each group a tuple of STRUTS keys sharing one radius; later groups get the
    family's radius ratio) and the node-position range, None when the skeleton has no parameter.
    (Not a dataclass: SkeletonParams is this module's one dataclass, the parameters callers find.)"""
    groups: tuple[tuple[str, ...], ...]
    node_range: tuple[float, float] | None = None


SKELETONS: dict[str, Skeleton] = {
    "sc": Skeleton((("sc",),)),
    "bcc": Skeleton((("bcc",),)),
    "fcc": Skeleton((("fcc",),)),
    "octahedral": Skeleton((("octahedral",),)),
    "octet": Skeleton((("fcc", "octahedral"),)),
    "kelvin": Skeleton((("kelvin",),)),
    "bcc_sc": Skeleton((("bcc",), ("sc",))),
    "octet_sc": Skeleton((("fcc", "octahedral"), ("sc",))),
    "fcc_sc": Skeleton((("fcc",), ("sc",))),
    "bcc_fcc": Skeleton((("bcc",), ("fcc",))),
    "octet_bcc": Skeleton((("fcc", "octahedral"), ("bcc",))),
    "bcc_cube": Skeleton((("bcc_cube",),), (0.2, 0.45)),
    "octahedral_split": Skeleton((("octahedral_split",),), (0.0, 0.15)),
}


@dataclass(frozen=True)
class SkeletonParams:
    """family_size: members per family (inclusive range); skeletons: the SKELETONS drawn from,
    uniformly; radius_ratio: radius of the second strut group over the first in combinations;
    node_sweep_probability: chance that a parametric skeleton's family sweeps the node position
    (over a sub-range at least ``min_node_span`` wide) instead of the radius; vf_range: window the
    volume-fraction targets are drawn in; min_vf_span: least spread of a radius family's targets;
    max_radius: cap on the radius (also the search margin of the distance field)."""
    family_size: tuple[int, int] = (4, 8)
    skeletons: tuple[str, ...] = tuple(SKELETONS)
    radius_ratio: tuple[float, float] = (0.6, 1.4)
    node_sweep_probability: float = 0.5
    min_node_span: float = 0.1
    vf_range: tuple[float, float] = (0.06, 0.38)
    min_vf_span: float = 0.1
    max_radius: float = 0.3


# --- struts ------------------------------------------------------------------------------------

_POINT_OPS = [(perm, np.array(signs, dtype=float)) for perm in permutations(range(3))
              for signs in product((1.0, -1.0), repeat=3)]
_SHIFTS = np.array(list(product(range(-2, 3), repeat=3)), dtype=float)


@lru_cache(maxsize=256)
def expand_struts(generators: tuple[Segment, ...], margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Start points and directions (S, 3) of the Pm-3m orbit of the generator struts, limited to
    those whose bounding box comes within margin of the eighth [0, 1/2]^3 (so distances up to
    margin are exact there) and without duplicates or zero-length struts."""
    gen = np.array(generators, dtype=float).reshape(-1, 2, 3)
    images = np.concatenate([gen[:, :, list(perm)] * signs for perm, signs in _POINT_OPS])
    seg = (images[None] + _SHIFTS[:, None, None, :]).reshape(-1, 2, 3)
    lo, hi = seg.min(axis=1), seg.max(axis=1)
    keep = ((hi >= -margin) & (lo <= 0.5 + margin)).all(axis=1)
    keep &= np.abs(seg[:, 1] - seg[:, 0]).sum(axis=1) > 1e-12
    seg = np.round(seg[keep], 12)
    # orientation-free key: the lexicographically smaller endpoint first
    first_small = np.array([tuple(a) <= tuple(b) for a, b in seg.tolist()], dtype=bool).reshape(-1)
    seg = np.where(first_small[:, None, None], seg, seg[:, ::-1])
    seg = np.unique(seg.reshape(-1, 6), axis=0).reshape(-1, 2, 3)
    return seg[:, 0].copy(), (seg[:, 1] - seg[:, 0]).copy()


def strut_distance(points: np.ndarray, starts: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """Distance from points (..., 3) to the nearest of the segments start + s dir, s in [0, 1];
    all pairwise terms come from matrix products, so no (points, segments, 3) temporary."""
    shape = points.shape[:-1]
    p = points.reshape(-1, 3)
    pa, pd = p @ starts.T, p @ dirs.T
    aa, ad, dd = (starts * starts).sum(1), (starts * dirs).sum(1), (dirs * dirs).sum(1)
    wd = pd - ad
    t = np.clip(wd / dd, 0.0, 1.0)
    d2 = (p * p).sum(1)[:, None] - 2.0 * pa + aa - 2.0 * t * wd + t * t * dd
    return np.sqrt(np.maximum(d2.min(axis=1), 0.0)).reshape(shape)


def skeleton_field(points: np.ndarray, skeleton: Skeleton, ratio: float, a: float,
                   margin: float) -> np.ndarray:
    """Distance to the struts scaled per group, so that 'field <= r' is the solid of radius r for
    the first group and ratio * r for the others; exactly permutation-invariant."""
    field = None
    for g, group in enumerate(skeleton.groups):
        gens = tuple(tuple(map(tuple, np.asarray(s, dtype=float).tolist()))
                     for key in group for s in STRUTS[key](a))
        scale = 1.0 if g == 0 else ratio
        d = strut_distance(points, *expand_struts(gens, margin * scale)) / scale
        field = d if field is None else np.minimum(field, d)
    return sym_min(field)


def generate(rng: np.random.Generator, count: int, n: int = 48,
             params: SkeletonParams | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """count truss-skeleton units: cells (count, n, n, n) uint8, family ids, descriptions."""
    p = params or SkeletonParams()
    check_n(n)
    pts = grid(n)
    lo, hi = p.vf_range
    eighths: list[np.ndarray] = []
    family: list[int] = []
    desc: list[str] = []
    for fid, size in enumerate(family_sizes(rng, count, p.family_size)):
        name = p.skeletons[int(rng.integers(len(p.skeletons)))]
        sk = SKELETONS[name]
        ratio = float(rng.uniform(*p.radius_ratio)) if len(sk.groups) > 1 else 1.0
        tag = name + (f" ratio={ratio:.2f}" if len(sk.groups) > 1 else "")
        if sk.node_range is not None and rng.random() < p.node_sweep_probability:
            a0 = rng.uniform(sk.node_range[0], sk.node_range[1] - p.min_node_span)
            a1 = rng.uniform(a0 + p.min_node_span, sk.node_range[1])
            nodes = np.linspace(a0, a1, size) if size > 1 else np.array([(a0 + a1) / 2])
            mid = skeleton_field(pts, sk, ratio, float(nodes[len(nodes) // 2]), p.max_radius)
            # moving the nodes changes the fraction a little either way: aim the middle member
            # at the middle of the window so that the ends stay inside
            v = rng.uniform(lo + 0.25 * (hi - lo), hi - 0.25 * (hi - lo))
            r = min(float(np.quantile(mid, v)), p.max_radius)
            for a in nodes:
                eighths.append(skeleton_field(pts, sk, ratio, float(a), p.max_radius) <= r)
                family.append(fid)
                desc.append(f"{tag} r={r:.3f} a={a:.3f} (sweep a)")
        else:
            a = float(rng.uniform(*sk.node_range)) if sk.node_range is not None else 0.0
            field = skeleton_field(pts, sk, ratio, a, p.max_radius)
            v0, v1 = vf_targets(rng, lo, hi, p.min_vf_span) or (lo, hi)
            r0, r1 = (min(float(np.quantile(field, v)), p.max_radius) for v in (v0, v1))
            radii = np.linspace(r0, r1, size) if size > 1 else np.array([(r0 + r1) / 2])
            node = f" a={a:.3f}" if sk.node_range is not None else ""
            for r in radii:
                eighths.append(field <= r)
                family.append(fid)
                desc.append(f"{tag}{node} r={r:.3f} (sweep r)")
    return assemble(eighths, n), np.asarray(family, dtype=np.int64), desc
