"""Method of Moving Asymptotes (Svanberg 1987) for a batch of independent problems with one
inequality constraint each.

    minimise f0(x)  subject to  g(x) <= 0,  xmin <= x <= xmax

SIMP seeds are hundreds of small, independent problems; stepping them together as (B, n) arrays
costs one vectorized call per iteration instead of B calls to a single-problem solver (mmapy takes
0.15-0.2 s per call).  With one constraint the MMA subproblem's dual is a concave function of a
single multiplier, so it is solved exactly by bisection on its derivative, vectorized over the
batch; a constraint the move limits cannot satisfy saturates the multiplier, which is where
Svanberg's artificial variable would land too.  Asymptote and move-limit rules follow Svanberg's
2007 notes (asyinit 0.5, asyincr 1.2, asydecr 0.7, albefa 0.1).

Plain MMA suits SIMP, whose compliance is nearly separable and convex in the densities.  On a
strongly coupled, non-convex objective (the multiscale macro design's displacement matching) its
approximations are not conservative and the iterates oscillate; :func:`gcmma_step` is Svanberg's
globally convergent variant (2002; the 2007 notes' inner loop): the curvature terms rho of the
objective and the constraint grow until the approximations at the new point lie above the true
values, so each outer iteration lowers the objective of a feasible design.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class MMAState:
    x: np.ndarray  # (B, n) current design
    xold1: np.ndarray
    xold2: np.ndarray
    low: np.ndarray
    upp: np.ndarray
    it: int = 0


def init_state(x0: np.ndarray) -> MMAState:
    x0 = np.array(x0, dtype=float)
    return MMAState(x0.copy(), x0.copy(), x0.copy(), np.zeros_like(x0), np.ones_like(x0), 0)


def mma_step(state: MMAState, df0: np.ndarray, g: np.ndarray, dg: np.ndarray, xmin, xmax,
             move: float = 0.2, active: np.ndarray | None = None, asyinit: float = 0.5,
             asyincr: float = 1.2, asydecr: float = 0.7, albefa: float = 0.1, asymin: float = 0.01,
             rho: tuple | None = None, asymptotes: tuple | None = None) -> MMAState:
    """One MMA update of every active problem; df0, dg: (B, n) gradients, g: (B,) constraint values.
    ``rho`` = (rho0, rho1), (B,) each: the curvature added to the objective's and the constraint's
    approximation (GCMMA), 1e-5 when not given; ``asymptotes`` = (low, upp) reuses those of an
    earlier call at the same x (GCMMA's inner iterations keep them).

    ``asymin`` is the closest the asymptotes come to x, as a fraction of the bounds' span; MMA steps
    near an interior optimum are about half that distance, so it bounds the final precision there
    (optima on the bounds, as in SIMP, are reached exactly)."""
    x = state.x
    xmin = np.broadcast_to(xmin, x.shape)
    xmax = np.broadcast_to(xmax, x.shape)
    span = np.maximum(xmax - xmin, 1e-5)
    k = state.it + 1
    if asymptotes is not None:
        low, upp = asymptotes
    elif k <= 2:
        low = x - asyinit * span
        upp = x + asyinit * span
    else:
        sign = (x - state.xold1) * (state.xold1 - state.xold2)
        factor = np.where(sign > 0, asyincr, np.where(sign < 0, asydecr, 1.0))
        low = x - factor * (state.xold1 - state.low)
        upp = x + factor * (state.upp - state.xold1)
        low = np.clip(low, x - 10 * span, x - asymin * span)
        upp = np.clip(upp, x + asymin * span, x + 10 * span)
    alpha = np.maximum.reduce([xmin, low + albefa * (x - low), x - move * span])
    beta = np.minimum.reduce([xmax, upp - albefa * (upp - x), x + move * span])

    r0, r1 = (np.full(x.shape[0], 1e-5),) * 2 if rho is None else rho
    p0, q0 = _pq(df0, x, low, upp, span, r0)
    p1, q1 = _pq(dg, x, low, upp, span, r1)
    b = (p1 / (upp - x) + q1 / (x - low)).sum(-1) - g  # approx. constraint: sum(...) <= b

    def primal(lam):
        P = p0 + lam[:, None] * p1
        Q = q0 + lam[:, None] * q1
        sp, sq = np.sqrt(P), np.sqrt(Q)
        xs = (sp * low + sq * upp) / (sp + sq)
        return np.clip(xs, alpha, beta)

    def slack(lam):  # derivative of the dual: decreasing in lam
        xs = primal(lam)
        return (p1 / (upp - xs) + q1 / (xs - low)).sum(-1) - b

    B = x.shape[0]
    lo = np.zeros(B)
    hi = np.ones(B)
    need = slack(lo) > 0  # constraint active at lam = 0
    for _ in range(64):  # bracket
        grow = need & (slack(hi) > 0)
        if not grow.any():
            break
        hi = np.where(grow, hi * 4.0, hi)
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        pos = slack(mid) > 0
        lo = np.where(pos, mid, lo)
        hi = np.where(pos, hi, mid)
    lam = np.where(need, hi, 0.0)
    xnew = primal(lam)
    if active is not None:
        xnew = np.where(active[:, None], xnew, x)
        low = np.where(active[:, None], low, state.low)
        upp = np.where(active[:, None], upp, state.upp)
    return MMAState(xnew, x.copy(), state.xold1.copy(), low, upp, k)


def _pq(grad, x, low, upp, span, rho):
    reg = np.asarray(rho, float)[:, None] / span
    p = (upp - x) ** 2 * (1.001 * np.maximum(grad, 0) + 0.001 * np.maximum(-grad, 0) + reg)
    q = (x - low) ** 2 * (0.001 * np.maximum(grad, 0) + 1.001 * np.maximum(-grad, 0) + reg)
    return p, q


def gcmma_step(state: MMAState, f0: np.ndarray, df0: np.ndarray, g: np.ndarray, dg: np.ndarray, evaluate,
               xmin, xmax, rho: tuple | None = None, move: float = 0.2, inner: int = 15,
               **kw) -> tuple[MMAState, tuple, int]:
    """One GCMMA outer iteration: ``evaluate(x (B, n)) -> (f0 (B,), g (B,))`` gives the true values at
    a trial point; the curvatures rho grow (Svanberg's rule) until both approximations are
    conservative there, or after ``inner`` trials.  Returns the new state, the rho to start the next
    iteration with (a tenth of the accepted ones) and the number of evaluations made."""
    x = state.x
    span = np.maximum(np.broadcast_to(xmax, x.shape) - np.broadcast_to(xmin, x.shape), 1e-5)
    if rho is None:  # Svanberg's start: a tenth of the mean first-order change over the box
        rho = tuple(np.maximum(0.1 * np.mean(np.abs(gr) * span, axis=-1), 1e-5) for gr in (df0, dg))
    rho0, rho1 = np.array(rho[0], float), np.array(rho[1], float)
    trial = mma_step(state, df0, g, dg, xmin, xmax, move=move, rho=(rho0, rho1), **kw)
    low, upp = trial.low, trial.upp
    evaluations = 0
    for _ in range(inner):
        xn = trial.x
        f_true, g_true = evaluate(xn)
        evaluations += 1
        approx = []
        for grad, val, r in ((df0, f0, rho0), (dg, g, rho1)):
            p, q = _pq(grad, x, low, upp, span, r)
            approx.append(val + (p * (1 / (upp - xn) - 1 / (upp - x)) + q * (1 / (xn - low) - 1 / (x - low))).sum(-1))
        d = ((upp - low) * (xn - x) ** 2 / ((upp - xn) * (xn - low) * span)).sum(-1)
        bad0 = f_true > approx[0] + 1e-10 * np.abs(f_true)
        bad1 = g_true > approx[1] + 1e-10 * np.abs(g_true)
        if not (bad0 | bad1).any():
            break
        with np.errstate(divide="ignore", invalid="ignore"):
            delta0 = np.where(d > 0, (f_true - approx[0]) / d, 0)
            delta1 = np.where(d > 0, (g_true - approx[1]) / d, 0)
        rho0 = np.where(bad0, np.minimum(1.1 * (rho0 + delta0), 10 * rho0), rho0)
        rho1 = np.where(bad1, np.minimum(1.1 * (rho1 + delta1), 10 * rho1), rho1)
        redo = mma_step(state, df0, g, dg, xmin, xmax, move=move, rho=(rho0, rho1), asymptotes=(low, upp), **kw)
        trial = MMAState(np.where((bad0 | bad1)[:, None], redo.x, trial.x), trial.xold1, trial.xold2, low, upp, trial.it)
    return trial, (np.maximum(0.1 * rho0, 1e-5), np.maximum(0.1 * rho1, 1e-5)), evaluations
