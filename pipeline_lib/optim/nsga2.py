"""NSGA-II over a box of design vectors with pymoo: the problem is one batched function
``evaluate(X) -> (F, G)`` (all objectives minimized, constraints feasible where G <= 0), called once
per generation for the whole population, so a latent-space problem decodes and predicts a
population in one model call.  The wrapper adds what a design run reports: per generation the
feasible fraction, the best feasible objectives and the hypervolume of the feasible front (against a
reference point fixed at the start, so the curve is comparable across generations)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

Evaluate = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass
class NSGA2Params:
    population: int = 40
    generations: int = 30
    eta_crossover: float = 15.0  # SBX distribution index (pymoo's default)
    eta_mutation: float = 20.0  # polynomial mutation index (pymoo's default)


@dataclass
class NSGA2Result:
    X: np.ndarray  # (n, d) the final population
    F: np.ndarray  # (n, n_obj)
    G: np.ndarray  # (n, n_ieq)
    front: np.ndarray  # rows of X on the feasible non-dominated front (best first for one objective)
    history: list[dict] = field(default_factory=list)  # per generation: evaluations, feasible, best, hypervolume
    reference: np.ndarray | None = None  # the hypervolume's reference point

    @property
    def feasible(self) -> np.ndarray:
        return (self.G <= 0).all(1) if self.G.size else np.ones(len(self.X), bool)


def _front(F: np.ndarray, feasible: np.ndarray) -> np.ndarray:
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    rows = np.flatnonzero(feasible)
    if len(rows) == 0:
        return rows
    if F.shape[1] == 1:
        return rows[np.argsort(F[rows, 0], kind="stable")][:1]
    nd = NonDominatedSorting().do(F[rows], only_non_dominated_front=True)
    front = rows[nd]
    return front[np.lexsort(F[front].T[::-1])]


def hypervolume(F: np.ndarray, reference: np.ndarray) -> float:
    """Hypervolume dominated by the rows of F (minimized) up to ``reference``; 0 for none."""
    from pymoo.indicators.hv import HV

    F = np.asarray(F, float)
    F = F[(F < reference).all(1)] if len(F) else F
    return float(HV(ref_point=np.asarray(reference, float))(F)) if len(F) else 0.0


def minimize(evaluate: Evaluate, lower: np.ndarray, upper: np.ndarray, *, n_obj: int, n_ieq: int, p: NSGA2Params,
             seed: int, initial: np.ndarray | None = None, reference: np.ndarray | None = None,
             on_generation: Callable[[int, dict], None] | None = None) -> NSGA2Result:
    """NSGA-II of ``p.population`` for ``p.generations`` generations from ``initial`` (rows of the
    first population; the rest uniform in the box).  ``reference`` for the hypervolume: by default
    the worst objectives of the first generation (feasible rows where there are any)."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.evaluator import Evaluator
    from pymoo.core.problem import Problem
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM

    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    d = len(lower)
    calls = {"n": 0}

    class _Problem(Problem):
        def __init__(self):
            super().__init__(n_var=d, n_obj=n_obj, n_ieq_constr=n_ieq, xl=lower, xu=upper)

        def _evaluate(self, X, out, *args, **kwargs):
            F, G = evaluate(np.asarray(X, float))
            calls["n"] += len(X)
            out["F"] = np.asarray(F, float).reshape(len(X), n_obj)
            if n_ieq:
                out["G"] = np.asarray(G, float).reshape(len(X), n_ieq)

    rng = np.random.default_rng(seed)
    start = rng.uniform(lower, upper, (p.population, d))
    if initial is not None and len(initial):
        k = min(len(initial), p.population)
        start[:k] = np.clip(np.asarray(initial, float)[:k], lower, upper)
    algorithm = NSGA2(pop_size=p.population, sampling=start, crossover=SBX(eta=p.eta_crossover, prob=0.9),
                      mutation=PM(eta=p.eta_mutation), eliminate_duplicates=True)
    problem = _Problem()
    algorithm.setup(problem, termination=("n_gen", p.generations), seed=int(seed % 2**31), verbose=False)
    history: list[dict] = []
    ref = None if reference is None else np.asarray(reference, float)
    evaluator = Evaluator()
    while algorithm.has_next():
        infill = algorithm.ask()
        evaluator.eval(problem, infill)
        algorithm.tell(infills=infill)
        pop = algorithm.pop
        F, G = pop.get("F"), pop.get("G") if n_ieq else np.zeros((len(pop), 0))
        feas = (G <= 0).all(1) if n_ieq else np.ones(len(F), bool)
        if ref is None:
            worst = F[feas] if feas.any() else F
            ref = worst.max(0) + 1e-9 * np.maximum(1.0, np.abs(worst.max(0)))
        front = _front(F, feas)
        rec = {"generation": len(history) + 1, "evaluations": calls["n"], "feasible": float(feas.mean()),
               "best": F[front].min(0).tolist() if len(front) else None,
               "hypervolume": hypervolume(F[front], ref) if len(front) else 0.0}
        history.append(rec)
        if on_generation is not None:
            on_generation(rec["generation"], rec)
    pop = algorithm.pop
    X, F = pop.get("X"), pop.get("F")
    G = pop.get("G") if n_ieq else np.zeros((len(X), 0))
    feas = (G <= 0).all(1) if n_ieq else np.ones(len(F), bool)
    return NSGA2Result(X, F, G, _front(F, feas), history, ref)
