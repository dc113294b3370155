"""Batched static condensation of a structured 2D grid by nested dissection.

Every cell of a pixel database lives on the same grid, so every cell has the same elimination
tree.  The grid is split recursively (longer side first) down to single elements; going back up,
two sibling patches are merged by assembling their boundary stiffnesses and eliminating the
nodes on their shared interface that are interior to the parent.  Each merge is a small dense
Cholesky, one triangular solve and one matrix product, and all merges of the same shape in a
tree level -- across all cells of a batch -- run as one batched call.  What remains is the dense
Schur complement of the whole patch on its outer boundary nodes; the caller closes it with
periodic or symmetry conditions.  The same code runs on CPU and CUDA (torch).

The patch stiffness is assembled from one reference element matrix ``Ke`` scaled per element,
which covers binary cells (solid / void modulus) and SIMP densities alike.

Node (i, j) of a patch of h x w elements sits at node row i (0 at the top) and column j; the
boundary nodes of a patch are listed row-major; DOFs are interleaved per node.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch

LEAF = -1  # source id of single-element leaves

# Element node order is BL, BR, TR, TL (pipeline_lib.fem.quad4); a leaf patch lists its
# nodes row-major: (0,0)=TL, (0,1)=TR, (1,0)=BL, (1,1)=BR.
_LEAF_NODES = np.array([3, 2, 0, 1])


def boundary_nodes(h: int, w: int) -> list[tuple[int, int]]:
    """Boundary node coordinates of an h x w element patch, row-major."""
    return [(i, j) for i in range(h + 1) for j in range(w + 1) if i in (0, h) or j in (0, w)]


def _dofs(nodes: np.ndarray, ndof: int) -> np.ndarray:
    return (nodes[:, None] * ndof + np.arange(ndof)[None, :]).ravel()


@dataclass
class MergeGroup:
    """All merges of one tree level with the same child shapes: one batched dense elimination."""

    gid: int
    shape: tuple[int, int]
    n_interior: int  # DOFs eliminated
    n_boundary: int  # DOFs kept (parent boundary)
    map_a: torch.Tensor  # child-A boundary DOF -> position in [interior, boundary]
    map_b: torch.Tensor
    # Where the children come from: lists of (source gid, index in source, position here).
    sources_a: list[tuple[int, torch.Tensor, torch.Tensor]] = field(default_factory=list)
    sources_b: list[tuple[int, torch.Tensor, torch.Tensor]] = field(default_factory=list)
    count: int = 0
    flat_a: torch.Tensor | None = None  # map_a as flat (row * n + col) indices into the front
    flat_b: torch.Tensor | None = None


@dataclass
class CondensationPlan:
    nely: int
    nelx: int
    ndof: int
    groups: list[MergeGroup]  # bottom-up order; the last one is the root
    leaf_perm: torch.Tensor  # element DOF order -> leaf (row-major node) DOF order

    @property
    def root(self) -> MergeGroup:
        return self.groups[-1]

    def to(self, device: torch.device) -> "CondensationPlan":
        def mv(src):
            return [(s, i.to(device), p.to(device)) for s, i, p in src]

        groups = [
            MergeGroup(g.gid, g.shape, g.n_interior, g.n_boundary, g.map_a.to(device), g.map_b.to(device),
                       mv(g.sources_a), mv(g.sources_b), g.count, g.flat_a.to(device), g.flat_b.to(device))
            for g in self.groups
        ]
        return CondensationPlan(self.nely, self.nelx, self.ndof, groups, self.leaf_perm.to(device))


def _merge_maps(shape_a, shape_b, axis, ndof):
    ha, wa = shape_a
    hb, wb = shape_b
    if axis == 1:
        off_b, shape = (0, wa), (ha, wa + wb)
    else:
        off_b, shape = (ha, 0), (ha + hb, wa)
    nodes_a = boundary_nodes(ha, wa)
    nodes_b = [(i + off_b[0], j + off_b[1]) for i, j in boundary_nodes(hb, wb)]
    outer = boundary_nodes(*shape)
    outer_set = set(outer)
    interior = sorted(set(nodes_a + nodes_b) - outer_set)
    pos = {n: k for k, n in enumerate(interior + outer)}
    map_a = _dofs(np.array([pos[n] for n in nodes_a]), ndof)
    map_b = _dofs(np.array([pos[n] for n in nodes_b]), ndof)
    return shape, len(interior) * ndof, len(outer) * ndof, map_a, map_b


@lru_cache(maxsize=32)
def plan(nely: int, nelx: int, ndof: int = 2) -> CondensationPlan:
    """Elimination tree and index maps for an nely x nelx element grid (cached, CPU tensors)."""
    if nely < 1 or nelx < 1 or nely * nelx < 2:
        raise ValueError(f"grid must hold at least two elements, got {nely} x {nelx}")
    # Build the tree top-down: node = (depth, h, w, r0, c0, child_a, child_b, axis)
    nodes: list[tuple] = []

    def build(h, w, r0, c0, depth):
        if h == 1 and w == 1:
            nodes.append((depth, h, w, r0, c0, None, None, None))
            return len(nodes) - 1
        if w >= h:
            wa = w // 2
            a = build(h, wa, r0, c0, depth + 1)
            b = build(h, w - wa, r0, c0 + wa, depth + 1)
            axis = 1
        else:
            ha = h // 2
            a = build(ha, w, r0, c0, depth + 1)
            b = build(h - ha, w, r0 + ha, c0, depth + 1)
            axis = 0
        nodes.append((depth, h, w, r0, c0, a, b, axis))
        return len(nodes) - 1

    build(nely, nelx, 0, 0, 0)
    where: dict[int, tuple[int, int]] = {}  # tree node -> (gid, index in group)
    for k, (_, h, w, r0, c0, a, _, _) in enumerate(nodes):
        if a is None:
            where[k] = (LEAF, r0 * nelx + c0)

    # Group internal nodes by (depth, axis, child shapes), deepest first.
    keyed: dict[tuple, list[int]] = {}
    for k, (depth, h, w, r0, c0, a, b, axis) in enumerate(nodes):
        if a is not None:
            key = (-depth, axis, nodes[a][1:3], nodes[b][1:3])
            keyed.setdefault(key, []).append(k)
    groups = []
    for key in sorted(keyed):
        _, axis, sa, sb = key
        members = keyed[key]
        shape, n_int, n_bnd, map_a, map_b = _merge_maps(sa, sb, axis, ndof)
        g = MergeGroup(len(groups), shape, n_int, n_bnd, torch.as_tensor(map_a), torch.as_tensor(map_b))
        g.count = len(members)
        n = n_int + n_bnd
        g.flat_a = (g.map_a[:, None] * n + g.map_a[None, :]).reshape(-1)
        g.flat_b = (g.map_b[:, None] * n + g.map_b[None, :]).reshape(-1)
        for side, child_slot in (("a", 5), ("b", 6)):
            by_src: dict[int, tuple[list, list]] = {}
            for pos, k in enumerate(members):
                src, idx = where[nodes[k][child_slot]]
                by_src.setdefault(src, ([], []))
                by_src[src][0].append(idx)
                by_src[src][1].append(pos)
            srcs = [(s, torch.tensor(i), torch.tensor(p)) for s, (i, p) in by_src.items()]
            setattr(g, f"sources_{side}", srcs)
        for pos, k in enumerate(members):
            where[k] = (g.gid, pos)
        groups.append(g)
    leaf_perm = torch.as_tensor(_dofs(_LEAF_NODES, ndof))
    return CondensationPlan(nely, nelx, ndof, groups, leaf_perm)


def _gather(sources, outputs, leaf_scale, leaf_K, count):
    """Stack the children of one side of a merge group: (B, count, n, n)."""
    if len(sources) == 1:
        src, idx, pos = sources[0]
        if src == LEAF:
            out = leaf_scale[:, idx, None, None] * leaf_K
        else:
            out = outputs[src].index_select(1, idx)
        if torch.equal(pos, torch.arange(count, device=pos.device)):
            return out
        res = torch.empty_like(out)
        res[:, pos] = out
        return res
    parts = []
    for src, idx, pos in sources:
        parts.append((pos, leaf_scale[:, idx, None, None] * leaf_K if src == LEAF
                      else outputs[src].index_select(1, idx)))
    first = parts[0][1]
    res = first.new_empty((first.shape[0], count) + first.shape[2:])
    for pos, val in parts:
        res[:, pos] = val
    return res


@dataclass
class Factors:
    """What back-substitution needs: per group the Cholesky factor of the interior block and
    Y = L^-1 K_IB (the Schur update is S = K_BB - Y^T Y)."""

    L: dict[int, torch.Tensor]
    Y: dict[int, torch.Tensor]


def condense(p: CondensationPlan, Ke: torch.Tensor, scale: torch.Tensor, keep_factors: bool = False):
    """Schur complement of the whole grid on its outer boundary nodes.

    Ke: (nd, nd) reference element matrix in element DOF order; scale: (B, nely, nelx) per-element
    factors.  Returns S of shape (B, n_boundary, n_boundary) in row-major boundary-node order, and
    the factors for :func:`expand` when ``keep_factors`` is set (else None).
    """
    B = scale.shape[0]
    leaf_scale = scale.reshape(B, -1)
    leaf_K = Ke[p.leaf_perm][:, p.leaf_perm]
    # How many more times each group output is read, so it can be freed after its last use.
    uses = {}
    for g in p.groups:
        for src, _, _ in g.sources_a + g.sources_b:
            uses[src] = uses.get(src, 0) + 1
    outputs: dict[int, torch.Tensor] = {}
    factors = Factors({}, {}) if keep_factors else None
    for g in p.groups:
        A = _gather(g.sources_a, outputs, leaf_scale, leaf_K, g.count)
        Bm = _gather(g.sources_b, outputs, leaf_scale, leaf_K, g.count)
        for src, _, _ in g.sources_a + g.sources_b:
            uses[src] -= 1
            if uses[src] == 0 and src != LEAF:
                del outputs[src]
        n = g.n_interior + g.n_boundary
        BG = B * g.count
        # Extend-add of the two children into the front, on flat indices (index_copy_/index_add_
        # along one dimension are several times faster than 2D advanced-index assignment).
        M = A.new_zeros((BG, n * n))
        M.index_copy_(1, g.flat_a, A.reshape(BG, -1))
        M.index_add_(1, g.flat_b, Bm.reshape(BG, -1))
        M = M.view(BG, n, n)
        del A, Bm
        ni = g.n_interior
        if ni:
            L = torch.linalg.cholesky(M[:, :ni, :ni])
            Y = torch.linalg.solve_triangular(L, M[:, :ni, ni:], upper=False)
            S = torch.baddbmm(M[:, ni:, ni:], Y.mT, Y, alpha=-1.0)
            if keep_factors:
                factors.L[g.gid] = L.view(B, g.count, ni, ni)
                factors.Y[g.gid] = Y.view(B, g.count, ni, -1)
        else:
            S = M
        S = S.view(B, g.count, g.n_boundary, g.n_boundary)
        outputs[g.gid] = S
    return outputs[p.root.gid][:, 0], factors


def expand(p: CondensationPlan, factors: Factors, u_boundary: torch.Tensor) -> torch.Tensor:
    """Back-substitute boundary values down the tree.

    u_boundary: (B, n_boundary, k) values on the outer boundary (k load cases).  Returns the
    element DOF values (B, nely * nelx, nd, k) in element DOF order.
    """
    B, _, k = u_boundary.shape
    nd = p.leaf_perm.numel()
    store: dict[int, torch.Tensor] = {p.root.gid: u_boundary[:, None]}
    leaves = u_boundary.new_empty((B, p.nely * p.nelx, nd, k))
    for g in reversed(p.groups):
        uK = store.pop(g.gid)
        if g.n_interior:
            L, Y = factors.L[g.gid], factors.Y[g.gid]
            uI = -torch.linalg.solve_triangular(L.mT, Y @ uK, upper=True)
            uM = torch.cat([uI, uK], dim=2)
        else:
            uM = uK
        for sources, m in ((g.sources_a, g.map_a), (g.sources_b, g.map_b)):
            vals = uM[:, :, m]
            for src, idx, pos in sources:
                if src == LEAF:
                    leaves[:, idx] = vals[:, pos]
                else:
                    if src not in store:
                        sg = p.groups[src]
                        store[src] = vals.new_empty((B, sg.count, sg.n_boundary, k))
                    store[src][:, idx] = vals[:, pos]
    inv = torch.argsort(p.leaf_perm)
    return leaves[:, :, inv]
