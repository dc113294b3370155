"""Template-family voxel units (paper 004, §3, first source).

Paper 004's first source is "the microstructure family template-based method, modified from"
Chen et al. 2018 ("Computational discovery of extremal microstructure families", Science
Advances 4:eaao7005): a template is a few parameterized primitives composed under the cubic
symmetry group, and a family is the set of units obtained by varying a parameter continuously.

Primitives (each a field e on the cell, solid where e <= p; the point sets below are each
invariant under Pm-3m, so every primitive keeps the mirror planes x = 0, 1/2 and, after the
union over axis permutations, the full cubic symmetry):

- ``sphere`` at one point set -- ``corner`` (0,0,0), ``body`` (1/2,1/2,1/2), ``face`` (1/2,1/2,0)
  and permutations, ``edge`` (1/2,0,0) and permutations; p = radius.
- ``cylinder`` along the three axes through a line class -- ``edge`` (the cell edges),
  ``body`` (through the body and face centres), ``mid`` (through face and edge centres, a cross in
  each face); p = radius.
- ``diagonal``: cylinders along the four body diagonals through the corners; p = radius.
- ``plate``: the planes x = c and x = 1 - c and their permutations (c = 0 or 1/2 give a single
  plane per axis); p = half-thickness.
- ``shell``: spherical shell of radius R at a point set; p = half-thickness.
- optionally (``void_probability``) minus a ``void``: a sphere or cylinder removed after the union.

A template draws ``n_primitives`` (1..3) distinct primitives plus maybe a void, and fixes their
parameters in the ranges below.  So that it is one connected piece, the first is a connecting
one (cylinder, diagonal or plate), each further line class shares a special point (corner, body,
face or edge centre) with the lines drawn so far (or meets a plate), spheres and shells sit on a
special point the frame passes through, and the void avoids the special points of the lines.

A family sweeps one parameter -- a radius or shell thickness, or the void's radius -- linearly
between the values at which the volume fraction reaches two targets drawn in ``vf_range``
(default [0.06, 0.38], inside the paper's window [0.05, 0.4]); the fraction is monotone in that
parameter (the primitive's solid grows with p, and the void is removed after the union).  Swept
values are capped (SWEEP_CAP) so that spheres at most touch, shells stay walls and voids do not
cut the frame.  A plate's thickness moves in whole voxel layers on six planes at once (~0.1 of
volume fraction at n = 48), too coarse for a family, so a plate family sweeps the offset c over
at least ``min_plate_span`` instead, at a thickness that puts its middle member on a target; it
is swept only when the template has nothing else to sweep.  A
template that cannot sweep inside the window, or whose members would repeat, is redrawn (up to
``max_redraws`` times; then repeats, then the window, are given up, which only happens on
coarse grids such as n = 16).

Fixed-parameter ranges (defaults): sphere radius [0.1, 0.3], cylinder radius [0.04, 0.12],
diagonal radius [0.03, 0.08], plate offset c [0, 0.5] and half-thickness [0.01, 0.022], shell
radius [0.2, 0.55] and half-thickness [0.01, 0.03], void radius [0.08, 0.3] for spheres and half
that for cylinders.

Fields are evaluated on the eighth [0, 1/2)^3 only, made exactly permutation-invariant (each
primitive's field is the minimum over the six axis permutations, which is also how the one-axis
primitives become three-axis ones) and mirrored with ``pipeline_lib.mirror.unfold``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from pipeline_lib.voxel3d.families import assemble, check_n, family_sizes, sym_min, vf_targets
from pipeline_lib.voxel3d.skeletons import expand_struts, strut_distance
from pipeline_lib.voxel3d.symmetry import grid

POINT_SETS: dict[str, tuple[tuple[float, float, float], ...]] = {
    "corner": ((0, 0, 0),),
    "body": ((.5, .5, .5),),
    "face": ((.5, .5, 0), (.5, 0, .5), (0, .5, .5)),
    "edge": ((.5, 0, 0), (0, .5, 0), (0, 0, .5)),
}
# (y, z) offsets of the lines along x; the permutation union adds those along y and z
LINE_SETS: dict[str, tuple[tuple[float, float], ...]] = {
    "edge": ((0, 0),),
    "body": ((.5, .5),),
    "mid": ((.5, 0), (0, .5)),
}
# Caps on a swept p (radius or half-thickness): spheres at most touching their neighbours,
# shells and plates staying walls, voids not cutting the frame
SWEEP_CAP = {"sphere": 0.5, "cylinder": 0.25, "diagonal": 0.2, "plate": 0.04, "shell": 0.06,
             "void_sphere": 0.35, "void_cylinder": 0.15}
SOLID_KINDS = ("sphere", "cylinder", "diagonal", "plate", "shell")
CONNECTING = ("cylinder", "diagonal", "plate")


@dataclass(frozen=True)
class TemplateParams:
    """family_size: members per family (inclusive range); kinds: solid primitive kinds drawn from
    (uniformly, then the point or line set uniformly); n_primitives: solid primitives per
    template (inclusive range); void_probability: chance of a void primitive; *_radius,
    *_half_thickness, plate_offset, shell_radius: ranges of the fixed (not swept) parameters;
    min_plate_span: least offset range of a plate family; vf_range: window the volume-fraction
    targets are drawn in; min_vf_span: least spread of a family's targets; max_redraws: template
    redraws when the window cannot be reached or members repeat."""
    family_size: tuple[int, int] = (4, 8)
    kinds: tuple[str, ...] = SOLID_KINDS
    n_primitives: tuple[int, int] = (1, 3)
    void_probability: float = 0.3
    sphere_radius: tuple[float, float] = (0.10, 0.30)
    cylinder_radius: tuple[float, float] = (0.04, 0.12)
    diagonal_radius: tuple[float, float] = (0.03, 0.08)
    plate_offset: tuple[float, float] = (0.0, 0.5)
    plate_half_thickness: tuple[float, float] = (0.01, 0.022)
    min_plate_span: float = 0.15
    shell_radius: tuple[float, float] = (0.20, 0.55)
    shell_half_thickness: tuple[float, float] = (0.01, 0.03)
    void_radius: tuple[float, float] = (0.08, 0.30)
    vf_range: tuple[float, float] = (0.06, 0.38)
    min_vf_span: float = 0.1
    max_redraws: int = 20


def _fold(x: np.ndarray) -> np.ndarray:
    """Periodic distance to 0 along one axis, in [0, 1/2]."""
    return np.abs(x - np.round(x))


def point_distance(points: np.ndarray, offsets) -> np.ndarray:
    """Periodic distance to the nearest point of the lattices offset + Z^3."""
    return np.min([np.sqrt((_fold(points - np.asarray(o, dtype=float)) ** 2).sum(-1)) for o in offsets],
                  axis=0)


def line_distance(points: np.ndarray, offsets) -> np.ndarray:
    """Periodic distance to the lines along x at the (y, z) offsets (only the x-lines)."""
    yz = points[..., 1:]
    return np.min([np.sqrt((_fold(yz - np.asarray(o, dtype=float)) ** 2).sum(-1)) for o in offsets], axis=0)


def diagonal_distance(points: np.ndarray) -> np.ndarray:
    """Distance to the body diagonals through the corners (the BCC strut lines)."""
    return strut_distance(points, *expand_struts((((0.0, 0.0, 0.0), (0.5, 0.5, 0.5)),), 0.5))


class Primitive(NamedTuple):
    """kind, where (point/line set name, '' if none), shape (plate offset c or shell radius R,
    else 0), p (the parameter with solid e <= p: radius or half-thickness).  (Not a dataclass:
    TemplateParams is this module's one dataclass, the parameters callers find.)"""
    kind: str
    where: str
    shape: float
    p: float

    def field(self, points: np.ndarray) -> np.ndarray:
        """e, exactly permutation-invariant (the x-only primitives become their 3-axis union)."""
        if self.kind in ("sphere", "void_sphere"):
            e = point_distance(points, POINT_SETS[self.where])
        elif self.kind in ("cylinder", "void_cylinder"):
            e = line_distance(points, LINE_SETS[self.where])
        elif self.kind == "diagonal":
            e = diagonal_distance(points)
        elif self.kind == "plate":
            e = np.abs(_fold(points[..., 0]) - self.shape)
        elif self.kind == "shell":
            e = np.abs(point_distance(points, POINT_SETS[self.where]) - self.shape)
        else:
            raise ValueError(f"unknown primitive {self.kind}")
        return sym_min(e)

    def label(self, p: float | None = None) -> str:
        p = self.p if p is None else p
        where = f"@{self.where}" if self.where else ""
        if self.kind == "plate":
            return f"plate(c={self.shape:.3f},w={2 * p:.3f})"
        if self.kind == "shell":
            return f"shell{where}(R={self.shape:.3f},w={2 * p:.3f})"
        return f"{self.kind.replace('void_', '')}{where}(r={p:.3f})"


def _draw_primitive(rng: np.random.Generator, kind: str, prm: TemplateParams) -> Primitive:
    u = lambda rng_range: float(rng.uniform(*rng_range))  # noqa: E731
    if kind == "sphere":
        return Primitive(kind, str(rng.choice(list(POINT_SETS))), 0.0, u(prm.sphere_radius))
    if kind == "cylinder":
        return Primitive(kind, str(rng.choice(list(LINE_SETS))), 0.0, u(prm.cylinder_radius))
    if kind == "diagonal":
        return Primitive(kind, "", 0.0, u(prm.diagonal_radius))
    if kind == "plate":
        return Primitive(kind, "", u(prm.plate_offset), u(prm.plate_half_thickness))
    if kind == "shell":
        return Primitive(kind, str(rng.choice(list(POINT_SETS))), u(prm.shell_radius),
                         u(prm.shell_half_thickness))
    if kind == "void":
        if rng.random() < 0.5:
            return Primitive("void_sphere", str(rng.choice(list(POINT_SETS))), 0.0, u(prm.void_radius))
        return Primitive("void_cylinder", str(rng.choice(list(LINE_SETS))), 0.0, u(prm.void_radius) / 2)
    raise ValueError(f"unknown primitive kind {kind}")


# Special points each line class (and the diagonals) passes through: C corner, B body centre,
# F face centre, E edge centre.  Used to keep a template in one piece (see draw_template).
LINE_SITES: dict[str, frozenset[str]] = {
    "edge": frozenset("CE"), "body": frozenset("BF"), "mid": frozenset("FE"), "diagonal": frozenset("CB"),
}
SET_SITE = {"corner": "C", "body": "B", "face": "F", "edge": "E"}


def _sites(prim: Primitive) -> frozenset[str]:
    """Special points a connecting primitive passes through (plates: within 0.1 of, i.e. touched
    by any sphere there of radius >= 0.1)."""
    if prim.kind == "cylinder":
        return LINE_SITES[prim.where]
    if prim.kind == "diagonal":
        return LINE_SITES["diagonal"]
    if prim.kind == "plate":
        c = prim.shape
        near = {"C": c, "B": 0.5 - c, "F": min(c, 0.5 - c), "E": min(c, 0.5 - c)}
        return frozenset(k for k, d in near.items() if d < 0.1)
    return frozenset()


def _fits(prim: Primitive, solids: list[Primitive]) -> bool:
    """Whether prim joins the connecting primitives drawn so far instead of floating beside them
    (two interpenetrating frames, or spheres off the frame, are never one connected unit):
    lines meet lines sharing a special point and every plane; spheres and spherical shells sit
    on a special point of the frame."""
    frame = [s for s in solids if s.kind in CONNECTING]
    sites = frozenset().union(*(_sites(s) for s in frame)) if frame else frozenset()
    if prim.kind == "plate" or not frame:
        return True
    if prim.kind in ("cylinder", "diagonal"):
        return any(s.kind == "plate" for s in frame) or bool(_sites(prim) & sites)
    return SET_SITE[prim.where] in sites


def _void_fits(void: Primitive, solids: list[Primitive]) -> bool:
    """A void centred on a special point the lines pass through would cut them into pieces."""
    line_sites = frozenset().union(*(_sites(s) for s in solids if s.kind in ("cylinder", "diagonal")))
    own = frozenset(SET_SITE[void.where]) if void.kind == "void_sphere" else LINE_SITES[void.where]
    return not own & line_sites


def draw_template(rng: np.random.Generator, prm: TemplateParams) -> tuple[list[Primitive], Primitive | None]:
    """Distinct solid primitives, the first a connecting one (if any kind of those is allowed) and
    each next one joining them (see _fits), and maybe a void that does not cut the lines."""
    m = int(rng.integers(prm.n_primitives[0], prm.n_primitives[1] + 1))
    connecting = [k for k in prm.kinds if k in CONNECTING]
    solids: list[Primitive] = []
    seen: set[tuple[str, str]] = set()
    for i in range(20 * m):
        if len(solids) == m:
            break
        pool = connecting if (not solids and connecting) else list(prm.kinds)
        prim = _draw_primitive(rng, str(rng.choice(pool)), prm)
        key = (prim.kind, prim.where)
        if (key not in seen or prim.kind == "plate") and _fits(prim, solids):
            seen.add(key)
            solids.append(prim)
    void = None
    if rng.random() < prm.void_probability:
        for _ in range(10):
            void = _draw_primitive(rng, "void", prm)
            if _void_fits(void, solids):
                break
            void = None
    return solids, void


def _family(rng: np.random.Generator, pts: np.ndarray, prm: TemplateParams, size: int, strict: int = 2):
    """(eighths, descriptions) of a family of the given size from a new template, or None when the
    template cannot sweep inside the window (strict >= 1) or its members would repeat (strict 2;
    a plate's thickness, say, only changes the unit when it crosses a voxel layer).  The lower
    levels are last resorts for coarse grids, where voxels are too few to tell all members apart."""
    solids, void = draw_template(rng, prm)
    fields = [s.field(pts) for s in solids]
    vfield = void.field(pts) if void is not None else None
    # plate families keep their fraction (see below): sweep a plate only when nothing else can be
    sweepable = [j for j, s in enumerate(solids) if s.kind != "plate"] + ([len(solids)] if void else [])
    sweepable = sweepable or list(range(len(solids)))
    k = sweepable[int(rng.integers(len(sweepable)))]
    lo, hi = prm.vf_range
    values: np.ndarray | None = None
    plate_sweep = k < len(solids) and solids[k].kind == "plate"
    if plate_sweep:
        # thickness steps a whole voxel layer on all six planes at once (~0.1 in volume fraction
        # at n = 48), too coarse for a family: a plate family moves the planes instead, with the
        # thickness set so that the middle member reaches a target fraction
        c0 = rng.uniform(prm.plate_offset[0], prm.plate_offset[1] - prm.min_plate_span)
        values = np.linspace(c0, rng.uniform(c0 + prm.min_plate_span, prm.plate_offset[1]), size)
        solids[k] = solids[k]._replace(shape=float(values[size // 2]))
        fields[k] = solids[k].field(pts)
    if k < len(solids):
        rest = np.zeros(pts.shape[:-1], dtype=bool)
        for j, (s, e) in enumerate(zip(solids, fields)):
            if j != k:
                rest |= e <= s.p
        free = ~rest if vfield is None else ~rest & (vfield > void.p)
        base = float((rest if vfield is None else rest & (vfield > void.p)).mean())
        room = float(free.mean())
        # the swept primitive adds the free voxels with e <= p, in order of e
        targets = vf_targets(rng, max(lo, base + 0.01), min(hi, base + room), prm.min_vf_span)
        if targets is None:
            if strict >= 1 or room == 0:
                return None
            targets = (lo, hi)
        ends = [float(np.quantile(fields[k][free], np.clip((v - base) / room, 0, 1))) for v in targets]
        if plate_sweep:
            half = float(np.clip(np.mean(ends), 0.5 / (2 * pts.shape[0]), SWEEP_CAP["plate"]))
            solids[k] = solids[k]._replace(p=half)
    else:
        solid = np.zeros(pts.shape[:-1], dtype=bool)
        for s, e in zip(solids, fields):
            solid |= e <= s.p
        base = float(solid.mean())
        # the void removes solid voxels with e <= p, in order of e: the fraction falls as p grows
        targets = vf_targets(rng, lo, min(hi, base - 0.01), prm.min_vf_span)
        if targets is None:
            if strict >= 1 or base == 0:
                return None
            targets = (lo, hi)
        ends = [float(np.quantile(vfield[solid], np.clip((base - v) / base, 0, 1))) for v in targets[::-1]]
    if values is None:
        # thicker or wider than this and the primitive stops being what it is (or cuts the frame)
        ends[1] = min(ends[1], SWEEP_CAP[(solids + [void])[k].kind])
        if ends[1] - ends[0] < 0.5 / (2 * pts.shape[0]) and strict >= 2:
            return None
        values = np.linspace(ends[0], ends[1], size) if size > 1 else np.array([sum(ends) / 2])
    eighths: list[np.ndarray] = []
    desc: list[str] = []
    for value in values:
        prims = list(solids) + ([void] if void is not None else [])
        swept = prims[k]
        if plate_sweep:
            prims[k] = swept._replace(shape=float(value))
            field_k = prims[k].field(pts)
            what = f"{swept.kind}.c"
        else:
            prims[k] = swept._replace(p=float(value))
            field_k = fields[k] if k < len(solids) else vfield
            what = f"{swept.label().split('(')[0]}." + ("w" if swept.kind in ("plate", "shell") else "r")
        solid = np.zeros(pts.shape[:-1], dtype=bool)
        for j, s in enumerate(prims[:len(solids)]):
            solid |= (field_k if j == k else fields[j]) <= s.p
        if void is not None:
            solid &= (field_k if k == len(solids) else vfield) > prims[-1].p
        if strict >= 2 and eighths and np.array_equal(solid, eighths[-1]):
            return None
        eighths.append(solid)
        text = " + ".join(s.label() for s in prims[:len(solids)])
        if void is not None:
            text += " - " + prims[-1].label()
        desc.append(f"template {text} (sweep {what})")
    return eighths, desc


def generate(rng: np.random.Generator, count: int, n: int = 48,
             params: TemplateParams | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """count template units: cells (count, n, n, n) uint8, family ids, descriptions."""
    prm = params or TemplateParams()
    check_n(n)
    pts = grid(n)
    eighths: list[np.ndarray] = []
    family: list[int] = []
    desc: list[str] = []
    for fid, size in enumerate(family_sizes(rng, count, prm.family_size)):
        drawn = None
        for strict in (2, 1):
            for _ in range(prm.max_redraws + 1):
                drawn = drawn or _family(rng, pts, prm, size, strict)
        for _ in range(100):
            drawn = drawn or _family(rng, pts, prm, size, 0)
        if drawn is None:
            raise RuntimeError("no template with anything to sweep; check the parameter ranges")
        eighths += drawn[0]
        desc += drawn[1]
        family += [fid] * size
    return assemble(eighths, n), np.asarray(family, dtype=np.int64), desc
