"""A (1 + lambda) evolution strategy run on several parents at once: the FE-in-the-loop finish of
the design stages (voxel3d's bulk design, truss3d's curve designs).

The model-guided search ends where the predictor stops being right; the last stretch is searched
with the FE solver itself, which is expensive, so the strategy is the simplest one that never gets
worse: every generation each parent makes ``children`` mutants (the caller's move: a latent step,
a beam toggle, an offset perturbation), all of them are scored in one batched call (FE solves
batch well), and a parent is replaced only by its best child when that child is strictly better.
The step size follows a fixed schedule (``sigmas``, large to small) rather than an adaptive rule:
with a handful of generations there are too few outcomes to adapt on.  Minimizes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from pipeline_lib.progress import Progress

# mutate(parent, sigma, children, rng) -> a sequence of `children` candidates
Mutate = Callable[[Any, float, int, np.random.Generator], Sequence]
# evaluate(candidates) -> (losses (n,), {name: (n,) per-candidate values to trace})
Evaluate = Callable[[Sequence], tuple[np.ndarray, dict]]


@dataclass
class Evolved:
    best: list  # each parent's final candidate
    loss: np.ndarray  # (parents,) its loss
    trace: list[list[dict]]  # per parent, per generation: loss, sigma, valid children, traced values of the best
    evaluations: int


def evolve(starts: Sequence, losses: Sequence[float], mutate: Mutate, evaluate: Evaluate, sigmas: Sequence[float],
           children: int, rng: np.random.Generator, *, start_info: Sequence[dict] | None = None,
           label: str = "FE refinement") -> Evolved:
    """Each of ``starts`` (with its known loss) improved by len(``sigmas``) generations of a
    (1 + children) strategy; the children of every parent are scored together."""
    best, loss = list(starts), np.asarray(losses, float).copy()
    trace = [[{"generation": 0, "loss": float(loss[i]), **(start_info[i] if start_info else {})}]
             for i in range(len(best))]
    prog = Progress(label, len(sigmas), unit="generations")
    evaluations = 0
    for g, sigma in enumerate(sigmas):
        kids = [mutate(b, float(sigma), children, rng) for b in best]
        flat = [k for ks in kids for k in ks]
        v, info = evaluate(flat)
        v = np.asarray(v, float)
        evaluations += len(flat)
        at = 0
        for i, ks in enumerate(kids):
            vi = v[at:at + len(ks)]
            j = int(np.argmin(vi)) if len(vi) else -1
            if j >= 0 and vi[j] < loss[i]:
                best[i], loss[i] = ks[j], float(vi[j])
                trace[i].append({"generation": g + 1, "sigma": float(sigma), "loss": float(loss[i]),
                                 "children_valid": int(np.isfinite(vi).sum()),
                                 **{k: float(np.asarray(x)[at + j]) for k, x in info.items()}})
            else:
                last = {k: x for k, x in trace[i][-1].items() if k not in ("generation", "sigma", "children_valid")}
                trace[i].append({**last, "generation": g + 1, "sigma": float(sigma),
                                 "children_valid": int(np.isfinite(vi).sum())})
            at += len(ks)
        prog.update(1, f"best loss {loss.min():.4g}")
    prog.close()
    return Evolved(best, loss, trace, evaluations)
