"""FE-in-the-loop local search on octant lattices: the finishing step after the latent search.

The predictor is a shortcut that saturates at the edge of its training data, where the extremes
are; the beam homogenizer is exact and costs about a millisecond per lattice, so the last stretch
is searched with the FE solver itself.  Two kinds of move, both scored by FE in batches:

* topology: toggle one beam -- every pair of candidate nodes within the rewiring radius
  (``octant.REWIRABLE``, as the database was generated) and every existing beam -- and keep the
  best toggle that passes the database's rules;
* geometry: a gradient step on the free offsets of the used nodes, the gradient by central
  differences (two solves per free direction, all in one batch), with a batched line search over
  step lengths and offsets clipped to [-0.5, 0.5].

Rounds alternate: the best toggle, then a few offset steps; when no toggle helps, offset steps
alone; the search stops when neither improves by ``tol``.  Every lattice it returns passed
``frame.database_problems`` and the solve, with the loss it reports.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from pipeline_lib.truss3d.model import FREE_INDEX
from pipeline_lib.truss3d.octant import REWIRABLE

# (n, 27, 27) adjacency, (n, 27, 3) offsets -> (n,) loss, inf where a lattice is invalid
Evaluate = Callable[[np.ndarray, np.ndarray], np.ndarray]
_PAIRS = np.argwhere(np.triu(REWIRABLE, 1))
_STEPS = np.array([4.0, 2.0, 1.0, 0.5, 0.25, 0.1])  # line search, in units of the current step


@dataclass
class RefineParams:
    rounds: int = 20  # accepted moves at most (a toggle with its offset steps, or offset steps alone)
    offset_steps: int = 5  # gradient steps on the offsets per round
    topology: bool = True  # try beam toggles (False: offsets only)
    fd_step: float = 1e-3  # central-difference step on an offset (natural coordinates)
    step: float = 0.05  # first offset step (largest change of one offset)
    tol: float = 1e-3  # relative loss decrease that counts as an improvement


@dataclass
class Refined:
    adjacency: np.ndarray  # (27, 27) bool
    offsets: np.ndarray  # (27, 3)
    loss: float
    trace: list[tuple[str, float]]  # (move, loss after it) in order: "start", "toggle i-j", "offsets"
    evaluations: int


def used_nodes(adjacency: np.ndarray) -> np.ndarray:
    A = np.asarray(adjacency, bool)
    return (A & ~np.eye(27, dtype=bool)).any(-1)


def _toggles(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every single-beam toggle of ``a`` that can keep it connected -- removing a beam, or adding
    one that touches a used node -- as (k, 27, 27) lattices and the (k, 2) pairs toggled."""
    existing = np.argwhere(np.triu(a, 1))
    used = used_nodes(a)
    new = _PAIRS[used[_PAIRS[:, 0]] | used[_PAIRS[:, 1]]]
    pairs = np.unique(np.concatenate([new, existing]), axis=0)
    out = np.repeat(a[None], len(pairs), 0)
    k = np.arange(len(pairs))
    out[k, pairs[:, 0], pairs[:, 1]] ^= True
    out[k, pairs[:, 1], pairs[:, 0]] ^= True
    return out, pairs


def _clean(adjacency: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Offsets with unused nodes at zero (as the database stores them)."""
    return np.where(used_nodes(adjacency)[..., None], offsets, 0.0)


class _Search:
    def __init__(self, evaluate: Evaluate, p: RefineParams):
        self.evaluate, self.p, self.evaluations = evaluate, p, 0

    def score(self, A: np.ndarray, X: np.ndarray) -> np.ndarray:
        self.evaluations += len(A)
        return np.asarray(self.evaluate(A, _clean(A, X)), float)

    def offset_steps(self, a, x, loss, step):
        """Up to ``offset_steps`` improving gradient steps; returns (x, loss, step)."""
        p = self.p
        free = FREE_INDEX[used_nodes(a)[FREE_INDEX[:, 0]]]
        if not len(free):
            return x, loss, step
        k = np.arange(len(free))
        for _ in range(p.offset_steps):
            X = np.repeat(x[None], 2 * len(free), 0)
            X[2 * k, free[:, 0], free[:, 1]] += p.fd_step
            X[2 * k + 1, free[:, 0], free[:, 1]] -= p.fd_step
            v = self.score(np.repeat(a[None], len(X), 0), np.clip(X, -0.5, 0.5))
            g = np.zeros_like(x)
            diff = v[0::2] - v[1::2]
            g[free[:, 0], free[:, 1]] = np.where(np.isfinite(diff), diff / (2 * p.fd_step), 0.0)
            scale = np.abs(g).max()
            if scale == 0:
                break
            lengths = step * _STEPS
            cand = np.clip(x[None] - lengths[:, None, None] * g[None] / scale, -0.5, 0.5)
            cv = self.score(np.repeat(a[None], len(cand), 0), cand)
            j = int(np.argmin(cv))
            if not cv[j] < loss - p.tol * abs(loss):
                step *= 0.3
                if step < 1e-4:
                    break
                continue
            x, loss, step = cand[j], float(cv[j]), float(lengths[j])
        return x, loss, step

    def run(self, a: np.ndarray, x: np.ndarray) -> Refined:
        p = self.p
        a = np.asarray(a, bool).copy()
        x = _clean(a, np.asarray(x, float))
        loss = float(self.score(a[None], x[None])[0])
        trace = [("start", loss)]
        if not np.isfinite(loss):
            return Refined(a, x, loss, trace, self.evaluations)
        step = p.step
        for _ in range(p.rounds):
            moved = False
            if p.topology:
                cands, pairs = _toggles(a)
                v = self.score(cands, np.repeat(x[None], len(cands), 0))
                j = int(np.argmin(v))
                if v[j] < loss - p.tol * abs(loss):
                    a, loss, moved = cands[j], float(v[j]), True
                    x = _clean(a, x)
                    trace.append((f"toggle {pairs[j, 0]}-{pairs[j, 1]}", loss))
            x2, loss2, step = self.offset_steps(a, x, loss, max(step, p.step / 4))
            if loss2 < loss:
                x, loss = x2, loss2
                trace.append(("offsets", loss))
            elif not moved:
                break
        return Refined(a, _clean(a, x), loss, trace, self.evaluations)


def refine(adjacency: np.ndarray, offsets: np.ndarray, evaluate: Evaluate, params: RefineParams | None = None) -> Refined:
    """Local search from one lattice (27, 27), (27, 3), minimizing ``evaluate``'s loss.  A start
    that is itself invalid (infinite loss) comes back unchanged."""
    return _Search(evaluate, params or RefineParams()).run(adjacency, offsets)


def mutants(adjacency: np.ndarray, offsets: np.ndarray, sigma: float, k: int, rng: np.random.Generator, *,
            toggle: float = 0.5, nodes: int = 2) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` random neighbours of a lattice, the local search's two moves drawn at random (the
    mutation of an FE-in-the-loop evolution strategy, where a gradient by finite differences
    would cost too many solves): with probability ``toggle`` one beam toggled (among the same
    candidates as the local search's), and the free offsets of ``nodes`` random used nodes moved by
    ``sigma`` N(0, 1), clipped to [-0.5, 0.5]; unused nodes' offsets zeroed."""
    a0 = np.asarray(adjacency, bool)
    x0 = _clean(a0, np.asarray(offsets, float))
    cands, _ = _toggles(a0)
    out = []
    for _ in range(k):
        a = cands[rng.integers(len(cands))] if len(cands) and rng.random() < toggle else a0
        x = x0.copy()
        used = np.flatnonzero(used_nodes(a))
        if len(used) and nodes > 0:
            moved = rng.choice(used, min(nodes, len(used)), replace=False)
            free = FREE_INDEX[np.isin(FREE_INDEX[:, 0], moved)]
            x[free[:, 0], free[:, 1]] += sigma * rng.standard_normal(len(free))
        out.append((a, _clean(a, np.clip(x, -0.5, 0.5))))
    return out
