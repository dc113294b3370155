"""Lattice generation (paper 002, "Creating the design space" and Methods "Data generation").

1. Elementary lattices on the octant: simple cubic on the cell edges and at half period, BCC,
   octet (FCC) and octahedron, each as a 1x1x1 cell of side 2 and as a 2x2x2 tessellation (cells of
   side 1, i.e. one per octant).  Beams longer than sqrt(3)/2 go through the candidate node in the
   middle.
2. Stochastic perturbation, by the authors' rules: a step inserts or removes nodes and beams --
   every new connection joins candidate nodes at most sqrt(3)/2 apart in their reference
   positions (the rewiring radius, ``octant.REWIRABLE``; a new node joins 1..k of its nearest
   active ones) -- and then moves each active non-vertex node with probability 1/2 to offsets
   ~ U(-0.5, 0.5) along its free directions.  Moves are not redrawn for making beams long: that
   is the design space of the authors' data.  A step is retried until the lattice passes the
   database's rules (``frame.database_problems``: one component touching all six octant faces,
   no zero-length beam, no dangling node).  Chains of such steps from every elementary lattice,
   each state kept, form the library.
3. Superposition: the union (logical OR) of the adjacency of two library lattices; a node active
   in both keeps the first lattice's offsets.  Crossing beams are split by the frame builder (see
   pipeline_lib.truss3d.frame); pairs that violate a rule are redrawn.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from pipeline_lib.shards import concat, first_occurrence
from pipeline_lib.truss3d.frame import build_frame, is_valid
from pipeline_lib.truss3d.octant import BASE, FREE, REWIRABLE, node_index

Lattice = tuple[np.ndarray, np.ndarray]  # adjacency (27, 27) bool, offsets (27, 3)


def _from_paths(paths) -> np.ndarray:
    A = np.eye(27, dtype=bool)
    for path in paths:
        for u, v in zip(path[:-1], path[1:]):
            i, j = node_index(*u), node_index(*v)
            A[i, j] = A[j, i] = True
    return A


def _mid(u, v):
    return tuple((np.add(u, v) / 2).tolist())


_CORNERS = [(x, y, z) for x in (0, 1) for y in (0, 1) for z in (0, 1)]
_FACES = [(0, .5, .5), (1, .5, .5), (.5, 0, .5), (.5, 1, .5), (.5, .5, 0), (.5, .5, 1)]
_OCT_EDGES = [(u, v) for i, u in enumerate(_CORNERS) for v in _CORNERS[i + 1:] if np.abs(np.subtract(u, v)).sum() == 1]


def _face_corners(f):
    a = [k for k in range(3) if f[k] == 0.5]
    return [tuple(f[k] if k not in a else (c0 if k == a[0] else c1) for k in range(3))
            for c0 in (0, 1) for c1 in (0, 1)]


def _adjacent_faces():
    return [(f, g) for i, f in enumerate(_FACES) for g in _FACES[i + 1:]
            if np.isclose(np.linalg.norm(np.subtract(f, g)), np.sqrt(0.5))]


ELEMENTARY: dict[str, np.ndarray] = {
    # simple cubic with struts on the edges of the full cell (period 2)
    "sc": _from_paths([[(0, 1, 1), (.5, 1, 1), (1, 1, 1)], [(1, 0, 1), (1, .5, 1), (1, 1, 1)],
                       [(1, 1, 0), (1, 1, .5), (1, 1, 1)]]),
    # simple cubic at half period: struts on all octant edges
    "sc_half": _from_paths([[u, _mid(u, v), v] for u, v in _OCT_EDGES]),
    # body-centred cubic, cell side 2: centre to corners through the body node
    "bcc": _from_paths([[(0, 0, 0), (.5, .5, .5), (1, 1, 1)]]),
    # BCC at half period: body node to the eight octant corners
    "bcc_half": _from_paths([[(.5, .5, .5), c] for c in _CORNERS]),
    # octet (FCC nearest neighbours), cell side 2: corner to face centres, face centre to face centre
    "octet": _from_paths([[(1, 1, 1), (1, .5, .5), (1, 0, 0)], [(1, 1, 1), (.5, 1, .5), (0, 1, 0)],
                          [(1, 1, 1), (.5, .5, 1), (0, 0, 1)], [(1, 0, 0), (.5, .5, 0), (0, 1, 0)],
                          [(1, 0, 0), (.5, 0, .5), (0, 0, 1)], [(0, 1, 0), (0, .5, .5), (0, 0, 1)]]),
    # octet at half period: FCC in the octant
    "octet_half": _from_paths([[f, c] for f in _FACES for c in _face_corners(f)] + [list(p) for p in _adjacent_faces()]),
    # octahedron, cell side 2: the octahedron on the full cell's face centres
    "octahedron": _from_paths([[(1, 0, 0), (.5, .5, 0), (0, 1, 0)], [(1, 0, 0), (.5, 0, .5), (0, 0, 1)],
                               [(0, 1, 0), (0, .5, .5), (0, 0, 1)]]),
    # octahedron at half period: on the octant's face centres
    "octahedron_half": _from_paths([list(p) for p in _adjacent_faces()]),
}
ELEMENTARY_NAMES = tuple(ELEMENTARY)


def canonical(A: np.ndarray, x: np.ndarray) -> Lattice:
    """Symmetric adjacency with a true diagonal; offsets of inactive nodes zeroed."""
    A = np.asarray(A, dtype=bool)
    A = A | A.T
    np.fill_diagonal(A, True)
    active = (A & ~np.eye(27, dtype=bool)).any(1)
    x = np.where(active[:, None] & FREE, np.asarray(x, dtype=float), 0.0)
    return A, x


def digest(A: np.ndarray, x: np.ndarray) -> int:
    """64-bit digest of a canonical lattice (topology bits + offsets rounded to 1e-9)."""
    iu, ju = np.triu_indices(27, 1)
    bits = np.packbits(np.asarray(A, dtype=bool)[iu, ju]).tobytes()
    off = np.round(np.asarray(x, dtype=float) * 1e9).astype(np.int64).tobytes()
    return int.from_bytes(hashlib.blake2b(bits + off, digest_size=8).digest(), "little")


@dataclass(frozen=True)
class PerturbParams:
    iterations: int = 10
    move_probability: float = 0.5
    add_node: float = 0.3
    remove_node: float = 0.2
    add_beam: float = 0.3
    remove_beam: float = 0.2
    max_neighbours: int = 3
    max_tries: int = 50


def move_nodes(rng: np.random.Generator, x: np.ndarray, probability: float = 0.5) -> np.ndarray:
    """The authors' node perturbation: each node moves with ``probability`` to offsets drawn
    ~ U(-0.5, 0.5) along its free directions (vertex nodes have none; inactive nodes are zeroed
    by :func:`canonical`)."""
    move = rng.random(27) < probability
    return np.where(move[:, None] & FREE, rng.uniform(-0.5, 0.5, (27, 3)), x)


def perturb_step(rng: np.random.Generator, A: np.ndarray, x: np.ndarray, p: PerturbParams) -> Lattice | None:
    """One valid random perturbation of a lattice, or None after max_tries invalid attempts."""
    eye = np.eye(27, dtype=bool)
    for _ in range(p.max_tries):
        B = A.copy()
        off = B & ~eye
        active = np.flatnonzero(off.any(1))
        inactive = np.flatnonzero(~off.any(1))
        if rng.random() < p.remove_node and len(active) > 2:
            k = rng.choice(active)
            B[k, :] = B[:, k] = False
        if rng.random() < p.add_node and len(inactive):
            k = rng.choice(inactive)
            act = np.flatnonzero((B & ~eye).any(1) & REWIRABLE[k])
            if len(act) == 0:
                continue
            near = act[np.argsort(np.linalg.norm(BASE[act] - BASE[k], axis=1), kind="stable")]
            near = near[: rng.integers(1, p.max_neighbours + 1)]
            B[k, near] = B[near, k] = True
        act = np.flatnonzero((B & ~eye).any(1))
        if rng.random() < p.add_beam and len(act) > 1:
            i = rng.choice(act)
            partners = act[REWIRABLE[i, act] & ~B[i, act]]
            if len(partners):
                j = rng.choice(partners)
                B[i, j] = B[j, i] = True
        if rng.random() < p.remove_beam:
            iu, ju = np.nonzero(np.triu(B, 1))
            if len(iu) > 1:
                e = rng.integers(len(iu))
                B[iu[e], ju[e]] = B[ju[e], iu[e]] = False
        B, y = canonical(B, move_nodes(rng, x, p.move_probability))
        if is_valid(B, y):
            return B, y
    return None


def perturbation_chain(rng: np.random.Generator, A: np.ndarray, x: np.ndarray, p: PerturbParams) -> list[Lattice]:
    """The states of a chain of ``p.iterations`` valid perturbation steps (stops early if stuck)."""
    out = []
    for _ in range(p.iterations):
        nxt = perturb_step(rng, A, x, p)
        if nxt is None:
            break
        A, x = nxt
        out.append(nxt)
    return out


def superpose(A1: np.ndarray, x1: np.ndarray, A2: np.ndarray, x2: np.ndarray) -> Lattice:
    """Union of two lattices; a node active in both keeps the first lattice's offsets."""
    act1 = (A1 & ~np.eye(27, dtype=bool)).any(1)
    x = np.where(act1[:, None], x1, x2)
    return canonical(A1 | A2, x)


def split_count(A: np.ndarray, x: np.ndarray) -> int:
    """Number of nodes the frame builder adds where beams cross."""
    return int((build_frame(A, x).candidate < 0).sum())


# ---------------------------------------------------------------- the library and its arrays
ORIGIN = ("elementary", "parent_a", "parent_b", "iteration")
_ORIGIN_DTYPES = (np.int8, np.int64, np.int64, np.int32)


def pack(lattices: list[Lattice], origin: list[dict]) -> dict[str, np.ndarray]:
    """The arrays of a lattices artifact: adjacency, offsets, digest and the origin columns."""
    n = len(lattices)
    out = {"adjacency": np.array([a for a, _ in lattices], dtype=bool).reshape(n, 27, 27),
           "offsets": np.array([x for _, x in lattices], dtype=float).reshape(n, 27, 3),
           "digest": np.array([digest(a, x) for a, x in lattices], dtype=np.uint64)}
    for k, dtype in zip(ORIGIN, _ORIGIN_DTYPES):
        out[k] = np.array([o[k] for o in origin], dtype=dtype).reshape(n)
    return out


def library_chains(jobs: list[tuple[int, int]], seeds: list[int], p: PerturbParams) -> tuple[list[Lattice], list[dict]]:
    """The perturbation chains of (elementary lattice, chain) jobs, each from its own seed, every
    state kept.  Parents are rows of the returned list, or -1 - e for elementary lattice e."""
    zero = np.zeros((27, 3))
    lattices, origin = [], []
    for (e, _), seed in zip(jobs, seeds):
        chain = perturbation_chain(np.random.default_rng(seed), ELEMENTARY[ELEMENTARY_NAMES[e]], zero, p)
        for step, lat in enumerate(chain, start=1):
            parent = -1 - e if step == 1 else len(lattices) - 1
            lattices.append(lat)
            origin.append({"elementary": e, "parent_a": parent, "parent_b": -1, "iteration": step})
    return lattices, origin


def merge_library(parts: list[dict[str, np.ndarray]]) -> tuple[dict[str, np.ndarray], int]:
    """The elementary lattices followed by the chains of every part (parents local to their part,
    as :func:`library_chains` gives them), duplicates removed and children re-pointed to the kept
    copy of their parent; parents become rows of the result.  Returns the arrays and the number
    of duplicates dropped."""
    zero = np.zeros((27, 3))
    elem = pack([canonical(ELEMENTARY[n], zero) for n in ELEMENTARY_NAMES],
                [{"elementary": e, "parent_a": -1, "parent_b": -1, "iteration": 0} for e in range(len(ELEMENTARY_NAMES))])
    shifted, offset = [elem], len(ELEMENTARY_NAMES)
    for a in parts:
        local = a["parent_a"]
        shifted.append(dict(a, parent_a=np.where(local < 0, -1 - local, local + offset)))  # -1-e: elementary row e
        offset += len(local)
    cat = concat(shifted)
    first = first_occurrence(cat["digest"])
    keep = first == np.arange(len(first))
    newrow = np.cumsum(keep) - 1
    pa = cat["parent_a"]
    cat["parent_a"] = np.where(pa >= 0, newrow[first[np.maximum(pa, 0)]], -1)
    return {k: v[keep] for k, v in cat.items()}, int((~keep).sum())


def sample_superpositions(rng: np.random.Generator, adjacency: np.ndarray, offsets: np.ndarray, want: int,
                          max_draws: int, known: set[int]) -> tuple[list[Lattice], list[dict], dict[str, int]]:
    """Superpositions of random pairs of library lattices (repetition allowed) until ``want`` are
    valid and new (digest not in ``known``, which grows), or ``max_draws`` pairs were drawn."""
    n_lib = len(adjacency)
    lattices, origin, draws, invalid = [], [], 0, 0
    while len(lattices) < want and draws < max_draws:
        draws += 1
        i, j = rng.integers(n_lib, size=2)
        A, x = superpose(adjacency[i], offsets[i], adjacency[j], offsets[j])
        if not is_valid(A, x):
            invalid += 1
            continue
        d = digest(A, x)
        if d in known:
            continue
        known.add(d)
        lattices.append((A, x))
        origin.append({"elementary": -1, "parent_a": i, "parent_b": j, "iteration": -1})
    return lattices, origin, {"draws": draws, "invalid": invalid}
