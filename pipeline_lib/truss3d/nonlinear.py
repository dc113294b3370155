"""Geometrically nonlinear periodic homogenization of beam lattices under large compression (paper
002, "Design for tailored nonlinear mechanical response", Fig. 6).

The full periodic cell (:mod:`pipeline_lib.truss3d.cell`; buckling breaks the mirror symmetry the
linear octant solve uses), rigid-jointed corotational beams (:mod:`pipeline_lib.fem.corotational`:
exact large rotations, the linear beam's small-strain stiffness, Timoshenko or Euler-Bernoulli),
linear elastic base material.  Kinematics: x = F X + w(X), w and the nodal rotations periodic; the
macro deformation F = I + H is prescribed (``lateral="strain"``: uniaxial strain, H = -eps e3 e3,
what the authors' code does) or has free lateral normal components with zero conjugate stress
(``lateral="stress"``: uniaxial stress; shears held at zero).  Nominal (first Piola-Kirchhoff)
stress P = (1/V) dW/dF.

Every load step minimizes the cell's strain energy over the fluctuations and rotations (and the free
macro components) by Newton's method on the exact tangent, with an energy line search and, where the
tangent is indefinite, a Levenberg-Marquardt shift: so the solution follows the *stable* path.  A
perfect lattice sits on a symmetric path that turns unstable at a bifurcation; the tangent's
loss of positive definiteness (a failed Cholesky factorization) detects it, the
critical strain is bracketed by bisection, and the state is pushed along the critical eigenmode
(amplitude ``imperfection`` x the mean beam length) onto the buckled branch.  Struts touching other
struts are not modelled (no contact).

Many lattices are followed in lockstep (:func:`follow_many`): the path-following functions are
generators that yield each element evaluation they need, and one element call answers the requests
of many lattices at once.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch
from threadpoolctl import threadpool_limits

from pipeline_lib.fem import corotational_jit
from pipeline_lib.fem.corotational import Beams, _NumpyOps, analytic_tangent, so3_exp, so3_log
from pipeline_lib.truss3d.cell import PeriodicCell, periodic_cell

LATERAL = ("strain", "stress")
DENSE_MAX = 600  # free DOFs up to which the tangent is dense (LAPACK); beyond, sparse LU wins (decoded dense lattices)
QUADRATIC = 1e-6  # residual / (E A) below which one more Newton step converges (to ~1e-12)
EXPAND = 8  # doublings of a full shifted step while the energy falls (measured: 14-25 % faster, the same curves)
BATCH = 16  # lattices followed in lockstep by one process (more adds little: the kernel is then per beam)


@dataclass
class NonlinearParams:
    steps: int = 50  # strain increments over the whole path to start with (adapted; 25 is 12 % faster but takes another branch for 1 in 32 superposed lattices)
    max_iterations: int = 20  # Newton iterations per increment before it is halved
    min_increment: float = 1e-6  # smallest strain increment before the path is abandoned
    imperfection: float = 1e-3  # push along the critical mode, fraction of the mean beam length
    bisections: int = 8  # halvings of the bracket of the critical strain (1/256 of a step)
    tol: float = 1e-10  # residual (force) tolerance relative to E A of the struts
    elements_per_beam: int = 1  # corotational elements per strut (the bowing term makes one enough for ~1 %)


@dataclass
class Path:
    strain: np.ndarray  # (K,) compressive strain of every converged step (0 first)
    stress: np.ndarray  # (K,) nominal compressive stress -P33 / E
    energy: np.ndarray  # (K,) strain energy per cell volume / E
    stable: np.ndarray  # (K,) bool: the tangent was positive definite there
    critical_strain: float = np.nan  # first bifurcation (NaN: none up to the end)
    lateral: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # (K, 2) free H11, H22 ("stress")
    final: dict | None = None  # the last converged state (w, R, h), for drawing the deformed cell

    def stress_at(self, eps: np.ndarray) -> np.ndarray:
        """Stress at strains that are steps of the path (exact there; linear in between)."""
        return np.interp(eps, self.strain, self.stress)


class CellModel:
    """One lattice's periodic cell as an FE model: DOFs w (3 per node), spins (3 per node) and the
    free macro components; node 0's translations fixed (the rigid translation)."""

    def __init__(self, cell: PeriodicCell, radius: float, E: float = 1.0, nu: float = 0.3,
                 beam: str = "timoshenko", lateral: str = "strain"):
        if lateral not in LATERAL:
            raise ValueError(f"lateral must be one of {LATERAL}, got {lateral!r}")
        self.cell, self.E, self.r = cell, E, float(radius)
        n, m = len(cell.nodes), len(cell.a)
        t = torch.float64
        self.D0 = torch.as_tensor(cell.D0, dtype=t)
        self.beams = Beams(self.D0, torch.full((m,), self.r, dtype=t), E, nu, beam)
        self.n, self.m = n, m
        self.macro = [(0, 0), (1, 1)] if lateral == "stress" else []  # free components of H
        self.ndof = 6 * n + len(self.macro)
        a, b = cell.a, cell.b
        w = lambda k: 3 * k[:, None] + np.arange(3)  # noqa: E731
        s = lambda k: 3 * n + 3 * k[:, None] + np.arange(3)  # noqa: E731
        self.edofs = np.concatenate([w(a), s(a), w(b), s(b)], 1)  # (m, 12)
        self.free = np.ones(self.ndof, bool)
        self.free[:3] = False
        # T: (w_a, phi_a, w_b, phi_b) -> (d, phi_a, phi_b)
        T = np.zeros((9, 12))
        T[:3, :3], T[:3, 6:9], T[3:6, 3:6], T[6:9, 9:12] = -np.eye(3), np.eye(3), np.eye(3), np.eye(3)
        self.T = T
        # d/dh_k of every chord: (k, m, 3)
        self.dd_dh = np.array([np.eye(3)[:, i][None, :] * cell.D0[:, j:j + 1] for i, j in self.macro]).reshape(
            len(self.macro), m, 3)
        self.force_scale = E * np.pi * self.r ** 2
        self._pattern = None
        self._slot = None  # (m, 12, 12) place of every beam's Hessian entry (the compiled scatter)
        self.shift = 0.0  # the last diagonal shift that made the tangent positive definite (a search's first guess)

    # ----------------------------------------------------------------------------------- state
    def initial(self) -> dict:
        return {"w": np.zeros((self.n, 3)), "R": np.tile(np.eye(3), (self.n, 1, 1)), "h": np.zeros(len(self.macro))}

    def H(self, state: dict, H0: np.ndarray) -> np.ndarray:
        H = np.array(H0, float)
        for (i, j), v in zip(self.macro, state["h"]):
            H[i, j] = v
        return H

    def _chords(self, state, H0):
        """Every beam's chord and end rotations (numpy: the element's fast path)."""
        H = self.H(state, H0)
        d = self.cell.D0 @ (np.eye(3) + H).T + state["w"][self.cell.b] - state["w"][self.cell.a]
        return d, state["R"][self.cell.a], state["R"][self.cell.b]

    def energy(self, state, H0) -> float:
        return _evaluate([(ENERGY, self, state, H0)])[0]

    def stress(self, state, H0) -> np.ndarray:
        """Nominal stress P = (1/V) sum over beams of (dW/dd) (x) D0, (3, 3)."""
        return _evaluate([(STRESS, self, state, H0)])[0]

    def gradient_and_tangent(self, state, H0) -> tuple[np.ndarray, "np.ndarray | sp.csc_matrix"]:
        """The energy's gradient (all DOFs) and its Hessian on the free DOFs: dense up to
        ``DENSE_MAX`` free DOFs (a database cell has a few hundred, where LAPACK's Cholesky beats a
        sparse LU several times over), CSC beyond; the scatter into it is built once."""
        return _evaluate([(TANGENT, self, state, H0)])[0]

    def assembled_gradient(self, g9: np.ndarray) -> np.ndarray:
        """The gradient (all DOFs) from every beam's (m, 9) gradient."""
        g = np.bincount(self.edofs.ravel(), weights=(g9 @ self.T).ravel(), minlength=self.ndof)
        for k, c in enumerate(self.dd_dh):  # macro components
            g[6 * self.n + k] = (g9[:, :3] * c).sum()
        return g

    def assembled(self, g9: np.ndarray, H9: np.ndarray) -> tuple[np.ndarray, "np.ndarray | sp.csc_matrix"]:
        """Gradient and free-free Hessian from every beam's (m, 9) gradient and (m, 9, 9) Hessian."""
        if self._pattern is None:
            self._pattern = self._build_pattern()
        flat, keep, nf, csc = self._pattern
        if not self.macro and corotational_jit.available():  # the compiled scatter (no macro couplings)
            if self._slot is None:
                self._slot = np.full(self.m * 144, -1, np.int64)
                self._slot[keep] = flat
                self._slot = self._slot.reshape(self.m, 12, 12)
            size = len(csc[0]) if csc is not None else nf * nf
            g, data = corotational_jit.assemble(g9, H9, self.edofs, self._slot, self.ndof, size)
            if csc is not None:
                return g, sp.csc_matrix((data, csc[0], csc[1]), shape=(nf, nf))
            return g, data.reshape(nf, nf)
        g = self.assembled_gradient(g9)
        vals = [(self.T.T @ H9 @ self.T).ravel()]
        for c in self.dd_dh:  # macro couplings
            cross = (self.T.T @ H9[:, :, :3] @ c[:, :, None])[..., 0].ravel()  # (m, 12)
            vals += [cross, cross]
            vals += [np.array([(c[:, None, :] @ H9[:, :3, :3] @ c2[:, :, None]).sum()]) for c2 in self.dd_dh]
        if csc is not None:  # a large cell: sparse (the CSC slot of every entry)
            indices, indptr = csc
            data = np.bincount(flat, weights=np.concatenate(vals)[keep], minlength=len(indices))
            return g, sp.csc_matrix((data, indices, indptr), shape=(nf, nf))
        K = np.bincount(flat, weights=np.concatenate(vals)[keep], minlength=nf * nf).reshape(nf, nf)
        return g, K

    def _build_pattern(self):
        """Where each Hessian entry goes in the free-free block: its flat index (dense), or its
        slot in the CSC data with the CSC structure (beyond ``DENSE_MAX``)."""
        m = self.m
        rows = [np.broadcast_to(self.edofs[:, :, None], (m, 12, 12)).ravel()]
        cols = [np.broadcast_to(self.edofs[:, None, :], (m, 12, 12)).ravel()]
        base = 6 * self.n
        for k in range(len(self.dd_dh)):
            rows += [self.edofs.ravel(), np.full(12 * m, base + k)]
            cols += [np.full(12 * m, base + k), self.edofs.ravel()]
            rows += [np.array([base + k])] * len(self.dd_dh)
            cols += [np.array([base + l]) for l in range(len(self.dd_dh))]
        rows, cols = np.concatenate(rows), np.concatenate(cols)
        number = np.cumsum(self.free) - 1  # free numbering
        keep = self.free[rows] & self.free[cols]
        r, c = number[rows[keep]], number[cols[keep]]
        nf = int(self.free.sum())
        if nf <= DENSE_MAX:
            return r.astype(np.int64) * nf + c, keep, nf, None
        uniq, slot = np.unique(c.astype(np.int64) * nf + r, return_inverse=True)
        indices = (uniq % nf).astype(np.int32)
        indptr = np.searchsorted(uniq // nf, np.arange(nf + 1)).astype(np.int32)
        return slot, keep, nf, (indices, indptr)

    def deformed(self, state: dict, H0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every beam's deformed end points (x_a, x_a + chord) and the displacement magnitudes
        there, (m, 3) x 2 and (m,) x 2: what a picture of the deformed cell draws (a beam leaving
        the cell is drawn whole, from its first node)."""
        H = self.H(state, H0)
        X = self.cell.nodes
        x = X @ (np.eye(3) + H).T + state["w"]
        d = self.cell.D0 @ (np.eye(3) + H).T + state["w"][self.cell.b] - state["w"][self.cell.a]
        u = np.linalg.norm(x - X, axis=1)
        ub = np.linalg.norm(x[self.cell.a] + d - (X[self.cell.a] + self.cell.D0), axis=1)
        return x[self.cell.a], x[self.cell.a] + d, u[self.cell.a], ub

    def extrapolated(self, state: dict, previous: dict, factor: float) -> dict:
        """The secant predictor: state + factor (state - previous), rotations along the geodesic."""
        step = so3_log(np.einsum("nij,nkj->nik", state["R"], previous["R"])) * factor
        R = so3_exp(step) @ state["R"]
        return {"w": state["w"] + factor * (state["w"] - previous["w"]), "R": R,
                "h": state["h"] + factor * (state["h"] - previous["h"])}

    def moved(self, state, delta: np.ndarray) -> dict:
        n = self.n
        dw, dphi = delta[:3 * n].reshape(n, 3), delta[3 * n:6 * n].reshape(n, 3)
        R = corotational_jit.rotate(dphi, state["R"]) if corotational_jit.available() else so3_exp(dphi) @ state["R"]
        return {"w": state["w"] + dw, "R": R, "h": state["h"] + delta[6 * n:]}


# The path-following functions below are generators: each evaluation of the beams they need is
# yielded as a request (kind, model, state, H0) and answered by a driver -- one lattice at a time
# (_drive), or many lattices in lockstep (follow_many), which answers all their pending requests
# with one call of the element kernel: at a cell's hundred beams that kernel's cost is per call,
# not per beam, so stacking the beams of many cells makes it several times cheaper per cell.
ENERGY, STRESS, GRADIENT, TANGENT = "energy", "stress", "gradient", "tangent"


class _Stacked:
    """The beam constants of several models end to end, as :func:`analytic_tangent` reads them."""

    def __init__(self, models: list[CellModel]):
        parts = [m.beams.constants(_NumpyOps) for m in models]
        self._np = tuple(np.concatenate(c) for c in zip(*parts))

    def constants(self, xp):
        return self._np


def _evaluate(requests: list[tuple]) -> list:
    """Answers to (kind, model, state, H0) requests, one element-kernel call per kind."""
    out = [None] * len(requests)
    for kind in (ENERGY, STRESS, GRADIENT, TANGENT):
        idx = [i for i, r in enumerate(requests) if r[0] == kind]
        if not idx:
            continue
        models = [requests[i][1] for i in idx]
        chords = [m._chords(requests[i][2], requests[i][3]) for i, m in zip(idx, models)]
        beams = models[0].beams if len(idx) == 1 else _Stacked(models)
        d, Ra, Rb = (np.concatenate(c) if len(idx) > 1 else c[0] for c in zip(*chords))
        res = analytic_tangent(beams, d, Ra, Rb, energy_only=kind == ENERGY, gradient_only=kind in (STRESS, GRADIENT))
        cuts = np.cumsum([m.m for m in models])[:-1]
        if kind == ENERGY:
            for i, e in zip(idx, np.split(res, cuts)):
                out[i] = float(e.sum())
        elif kind == STRESS:
            for i, m, g in zip(idx, models, np.split(res, cuts)):
                out[i] = g[:, :3].T @ m.cell.D0 / m.cell.volume
        elif kind == GRADIENT:
            for i, m, g in zip(idx, models, np.split(res, cuts)):
                out[i] = m.assembled_gradient(g)
        else:
            for i, m, g, H in zip(idx, models, np.split(res[0], cuts), np.split(res[1], cuts)):
                out[i] = m.assembled(g, H)
    return out


def _drive(gen):
    """Run one path-following generator to its result, answering its requests one at a time."""
    try:
        request = next(gen)
        while True:
            request = gen.send(_evaluate([request])[0])
    except StopIteration as stop:
        return stop.value


def follow_many(models, strain: float, outputs: np.ndarray, p: NonlinearParams | None = None, *,
                batch: int = BATCH, on_done=None) -> tuple[list, np.ndarray]:
    """:func:`follow` for many lattices in lockstep: the same paths, with the element evaluations of
    up to ``batch`` lattices answered together.  ``models``: a sequence of CellModel, or of
    callables that build one (built when its turn comes).  Each round answers the kind of request
    most lattices wait for (the others wait one round), and a finished lattice's place goes to the
    next one, so batches stay full.  Returns each lattice's Path (or the RuntimeError that ended
    it) and the seconds it cost: its own steps plus its share of the evaluations it took part in;
    ``on_done(i, result)`` is called as each one ends."""
    models = list(models)
    results, seconds = [None] * len(models), np.zeros(len(models))
    gens, pending, queue = {}, {}, iter(range(len(models)))

    def advance(i, answer):
        t = time.perf_counter()
        try:
            pending[i] = gens[i].send(answer)
        except StopIteration as stop:
            results[i] = stop.value
        except RuntimeError as exc:
            results[i] = exc
        seconds[i] += time.perf_counter() - t
        if results[i] is not None:
            del gens[i]
            pending.pop(i, None)
            if on_done is not None:
                on_done(i, results[i])
            start()

    def start():
        i = next(queue, None)
        if i is not None:
            t = time.perf_counter()
            m = models[i] if isinstance(models[i], CellModel) else models[i]()
            gens[i] = _follow(m, strain, outputs, p)
            seconds[i] += time.perf_counter() - t
            advance(i, None)

    with threadpool_limits(1):  # a cell's matrices are small: BLAS threads only contend with the other jobs
        for _ in range(max(1, batch)):
            start()
        _answer(pending, advance, seconds)
    return results, seconds


def _answer(pending: dict, advance, seconds: np.ndarray) -> None:
    """Answer pending requests until none is left, the most common kind first."""
    while pending:
        kinds = [r[0] for r in pending.values()]
        kind = max(set(kinds), key=kinds.count)
        keys = [k for k, r in pending.items() if r[0] == kind]
        t = time.perf_counter()
        answers = _evaluate([pending.pop(k) for k in keys])
        seconds[keys] += (time.perf_counter() - t) / len(keys)
        for k, a in zip(keys, answers):
            advance(k, a)


class _Factor:
    """A factorization of the symmetric tangent with a ``solve``: Cholesky, or Bunch-Kaufman
    LDL^T where the matrix is not positive definite."""

    def __init__(self, f: np.ndarray, ipiv: np.ndarray | None = None):
        self.f, self.ipiv = f, ipiv

    def solve(self, b: np.ndarray) -> np.ndarray:
        if self.ipiv is None:
            x, _ = _potrs(self.f, b, lower=1)
        else:
            x, _ = _sytrs(self.f, self.ipiv, b, lower=1)
        return x


_potrf, _potrs, _sytrf, _sytrs = sla.get_lapack_funcs(("potrf", "potrs", "sytrf", "sytrs"), (np.zeros(1),))


def _sparse_factor(K: sp.csc_matrix):
    """A large cell's tangent: LU with diagonal pivots (U's diagonal carries the inertia), and
    whether K is positive definite as in :func:`_factor`."""
    try:
        lu = spla.splu(K, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    except RuntimeError:
        return None, -1
    return lu, int((lu.U.diagonal() < 0).any())


def _shifted(K, mu: float):
    """K + mu I, dense or sparse."""
    if sp.issparse(K):
        return (K + mu * sp.identity(K.shape[0], format="csc")).tocsc()
    K = K.copy()
    K.flat[::K.shape[0] + 1] += mu
    return K


def _diagonal(K) -> np.ndarray:
    return K.diagonal() if sp.issparse(K) else np.diagonal(K)


def _cholesky(K, own: bool = False):
    """A factorization with a ``solve`` where K is positive definite (Cholesky; LU for a sparse
    K), None where it is not (the shift searches need no more).  ``own``: K is a scratch copy
    (a shifted tangent), factorized in place."""
    if sp.issparse(K):
        lu, neg = _sparse_factor(K)
        return lu if neg == 0 else None
    # K is symmetric: its transpose is the Fortran-ordered view LAPACK takes without a transposing copy
    c, info = _potrf(K.T, lower=1, clean=0, overwrite_a=int(own))
    return _Factor(c) if info == 0 else None


def _factor(K) -> tuple:
    """A factorization for solves and whether K is positive definite: (factor, 0) if it is, (factor,
    1) if not, (None, -1) if singular.  Cholesky first: it succeeds exactly when K is positive
    definite -- the stability test (what the solver needs of the inertia) and almost every call's
    case; Bunch-Kaufman LDL^T otherwise (plain Newton steps on an unstable branch)."""
    if sp.issparse(K):
        return _sparse_factor(K)
    chol = _cholesky(K)
    if chol is not None:
        return chol, 0
    f, ipiv, info = _sytrf(K, lower=1)
    return (None, -1) if info > 0 else (_Factor(f, ipiv), 1)


def minimize(model: CellModel, state: dict, H0: np.ndarray, p: NonlinearParams, *, escape: bool = False
             ) -> tuple[dict, bool, int]:
    """:func:`_minimize` for one lattice."""
    return _drive(_minimize(model, state, H0, p, escape=escape))


def _minimize(model: CellModel, state: dict, H0: np.ndarray, p: NonlinearParams, *, escape: bool = False):
    """An equilibrium at macro H0 (and free components) near ``state``: Newton with an energy line
    search, shifted where the tangent is indefinite.  Without ``escape`` it may end on a saddle
    (so the path's loss of stability is seen); with it, a saddle is left down its negative
    curvature, towards a local minimum.  Returns (state, converged, 0 if the tangent is positive
    definite at the result, else 1)."""
    free = model.free
    energy = (yield (ENERGY, model, state, H0))
    pushes, shift = 0, model.shift  # the shift search starts from the last one that worked (calls alike)
    mu = 0.0
    for _ in range(p.max_iterations):
        g, Kf = (yield (TANGENT, model, state, H0))
        gf = g[free]
        gmax = np.abs(gf).max()
        if mu > 0 and not escape and gmax > p.tol * model.force_scale:
            lu, neg = None, 1  # indefinite a step ago, and not an answer yet: straight to the shift search
        else:
            lu = _cholesky(Kf)
            neg = 0 if lu is not None else 1
        saddle = escape and neg != 0 and pushes < 3
        if gmax <= p.tol * model.force_scale and not saddle:  # an equilibrium: stable or not
            return state, True, neg
        if saddle and gmax <= 1e-4 * model.force_scale:
            # next to a saddle, shifted Newton steps leave it only slowly: step down the
            # negative curvature instead
            state, pushes = (yield from _push(model, state, H0, p)), pushes + 1
            energy = (yield (ENERGY, model, state, H0))
            continue
        mu = 0.0
        while lu is None or neg > 0:  # the last successful shift / 10 first: fewer factorizations
            mu = max(10 * mu, shift / 10, 1e-8 * abs(_diagonal(Kf)).max())
            lu = _cholesky(_shifted(Kf, mu), own=True)
            neg = 0 if lu is not None else 1
        if mu > 0:
            shift = model.shift = mu
        step = np.zeros(model.ndof)
        step[free] = -lu.solve(gf)
        if mu == 0 and gmax <= QUADRATIC * model.force_scale:
            # the quadratic region: full Newton steps (energy differences are round-off here); one
            # step converges, and its gradient alone says so (the tangent is positive definite by
            # the unshifted factorization, and the step too small to change that: see _newton)
            state = model.moved(state, step)
            if np.abs((yield (GRADIENT, model, state, H0))[free]).max() <= p.tol * model.force_scale:
                return state, True, 0
            energy = (yield (ENERGY, model, state, H0))
            continue
        slope = gf @ step[free]
        alpha = 1.0
        for _ in range(40):
            trial = model.moved(state, alpha * step)
            e = (yield (ENERGY, model, trial, H0))
            if e < energy + 1e-4 * alpha * slope:
                break
            alpha *= 0.5
        else:
            break  # no descent along the step: give up (the caller shortens the increment)
        if mu > 0 and alpha == 1.0:
            # the shift that makes the tangent positive definite shortens the step most along the
            # negative curvature, where the energy falls furthest: longer steps along it while the
            # energy keeps falling (an energy costs no factorization; a finer shift ladder instead
            # took other branches after multiple bifurcations, 3 lattices in 128)
            for _ in range(EXPAND):
                longer = model.moved(state, 2 * alpha * step)
                e2 = (yield (ENERGY, model, longer, H0))
                if not e2 < e:
                    break
                trial, e, alpha = longer, e2, 2 * alpha
        state, energy = trial, e
    g, Kf = (yield (TANGENT, model, state, H0))
    neg = 0 if _cholesky(Kf) is not None else 1
    return state, bool(np.abs(g[free]).max() <= p.tol * model.force_scale * 10), neg


def newton(model: CellModel, state: dict, H0: np.ndarray, p: NonlinearParams) -> tuple[dict, bool, int]:
    """:func:`_newton` for one lattice."""
    return _drive(_newton(model, state, H0, p))


def _newton(model: CellModel, state: dict, H0: np.ndarray, p: NonlinearParams):
    """The equilibrium next to ``state`` by plain Newton steps, stable or not (no line search, no
    shift): on a smooth branch it converges in a few steps where the energy-minimizing
    :func:`minimize` crawls along a saddle's negative curvature -- what the bisection of a critical
    strain and the first try of every increment need.  Fails (the caller falls back to
    :func:`minimize`) on a singular tangent or a step beyond a quarter of the mean beam length or a
    quarter radian.  Returns (state, converged, 0 if the tangent is positive definite at the result,
    1 if not, -1 if singular)."""
    free, n = model.free, model.n
    cap = 0.25 * model.cell.lengths.mean()
    tol = p.tol * model.force_scale
    neg = -1
    for _ in range(p.max_iterations):
        g, Kf = (yield (TANGENT, model, state, H0))
        gf = g[free]
        lu, neg = _factor(Kf)
        if lu is None:
            return state, False, -1
        gmax = np.abs(gf).max()
        if gmax <= tol:
            return state, True, neg
        step = np.zeros(model.ndof)
        step[free] = -lu.solve(gf)
        if not np.isfinite(step).all() or np.abs(step[:3 * n]).max() > cap or np.abs(step[3 * n:6 * n]).max() > 0.25:
            return state, False, neg
        state = model.moved(state, step)
        if gmax <= QUADRATIC * model.force_scale and np.abs((yield (GRADIENT, model, state, H0))[free]).max() <= tol:
            # converged in Newton's quadratic range: the step moved the state by ~|g|/k, far too
            # little for the tangent's definiteness to change, so the last factorization's holds
            # (a tangent and a factorization fewer per increment)
            return state, True, neg
    return state, False, neg


def _critical_mode(model: CellModel, state, H0):
    """Eigenvector of the tangent's smallest eigenvalue (free DOFs, padded to all).

    Lanczos on (K + mu I)^-1 with the smallest tried shift mu that makes K + mu I positive
    definite: its largest eigenvalue is 1 / (lambda_min + mu), well separated from the rest, so a
    few solves give it (a dense eigendecomposition cost a quarter of a whole path)."""
    _, Kf = (yield (TANGENT, model, state, H0))
    n = Kf.shape[0]
    scale = float(abs(_diagonal(Kf)).max())
    mu = max(1e-8 * scale, model.shift / 16)  # the minimizer's last shift: near the negative eigenvalue's size
    while (lu := _cholesky(_shifted(Kf, mu), own=True)) is None:
        mu *= 4
    op = spla.LinearOperator((n, n), matvec=lu.solve, dtype=float)
    try:
        _, vecs = spla.eigsh(op, k=1, which="LA", tol=1e-8, ncv=min(n, 24),
                             v0=np.random.default_rng(0).standard_normal(n))
        vec = vecs[:, 0]
    except spla.ArpackNoConvergence as exc:  # clustered modes: any converged vector of the cluster will do
        vec = exc.eigenvectors[:, 0] if exc.eigenvectors.shape[1] else np.linalg.eigh(Kf.toarray() if sp.issparse(Kf) else Kf)[1][:, 0]
    v = np.zeros(model.ndof)
    v[model.free] = vec
    return v


def _push(model: CellModel, state, H0, p: NonlinearParams):
    """The state moved along the critical mode by the imperfection amplitude (translations scaled
    to ``imperfection`` x the mean beam length)."""
    v = yield from _critical_mode(model, state, H0)
    n = model.n
    scale = np.abs(v[:3 * n]).max()
    if scale < 1e-8 * np.abs(v).max():  # a rotational mode
        scale = np.abs(v).max() / model.cell.lengths.mean()
    return model.moved(state, v * p.imperfection * model.cell.lengths.mean() / scale)


def follow(model: CellModel, strain: float, outputs: np.ndarray, p: NonlinearParams | None = None) -> Path:
    """:func:`_follow` for one lattice."""
    return _drive(_follow(model, strain, outputs, p))


def _follow(model: CellModel, strain: float, outputs: np.ndarray, p: NonlinearParams | None = None):
    """The stable equilibrium path under compression eps33 = 0 .. ``strain``, with converged steps
    at every strain of ``outputs`` (and wherever the step control put them)."""
    p = p or NonlinearParams()
    H0 = lambda e: np.diag([0.0, 0.0, -e])  # noqa: E731
    state = model.initial()
    previous, prev_eps = None, 0.0  # the step before, for the secant predictor
    eps, inc = 0.0, strain / p.steps
    marks = np.unique(np.append(np.asarray(outputs, float), strain))
    rec = {"strain": [0.0], "stress": [0.0], "energy": [0.0], "stable": [True], "lateral": [state["h"].copy()]}
    critical = np.nan
    while eps < strain - 1e-15:
        nxt = marks[marks > eps + 1e-15]
        target = min(eps + inc, nxt[0]) if len(nxt) else min(eps + inc, strain)
        guess = state
        if previous is not None and eps > prev_eps:
            guess = model.extrapolated(state, previous, (target - eps) / (eps - prev_eps))
        ok = False
        if np.isnan(critical):  # on the fundamental branch: plain Newton, and its tangent says if it still holds
            trial, ok, neg = yield from _newton(model, guess, H0(target), p)
        if not ok:  # buckled (several stable branches may be near): the energy's descent picks the stable one
            trial, ok, neg = yield from _minimize(model, guess, H0(target), p)
        if not ok and guess is not state:  # the predictor overshot: from the last state instead
            trial, ok, neg = yield from _minimize(model, state, H0(target), p)
        switched = False
        if neg != 0 and np.isnan(critical):
            # the path lost stability between eps and target: bracket the critical strain, then
            # switch branches just past it, where the buckled branch is still near
            lo, hi, at_hi = eps, target, (trial if ok else None)
            for _ in range(p.bisections):
                mid = 0.5 * (lo + hi)
                s_mid, ok_mid, n_mid = yield from _newton(model, state, H0(mid), p)  # on the branch: stable or not
                if not ok_mid:
                    s_mid, ok_mid, n_mid = yield from _minimize(model, state, H0(mid), p)
                if ok_mid and n_mid == 0:
                    lo = mid
                else:
                    hi, at_hi = mid, (s_mid if ok_mid else None)
            critical = 0.5 * (lo + hi)
            if at_hi is not None:
                target, trial, ok, neg = hi, at_hi, True, max(neg, 1)
                inc = max((hi - eps) / 2, p.min_increment)
        if not ok and neg != 0:  # stuck on a ridge of negative curvature (a later bifurcation): push off it
            pushed = yield from _push(model, trial, H0(target), p)
            trial, ok, neg = yield from _minimize(model, pushed, H0(target), p, escape=True)
            switched = ok
        if not ok and inc <= strain / p.steps / 16:
            # small increments fail and the tangent is positive definite: the branch ends in a limit
            # point, and the state snaps through to another one; let the energy's descent find it
            longer = replace(p, max_iterations=5 * p.max_iterations)
            trial, ok, neg = yield from _minimize(model, state, H0(target), longer, escape=True)
            switched = ok
        if not ok:
            inc /= 2
            if inc < p.min_increment:
                raise RuntimeError(f"no converged equilibrium beyond compressive strain {eps:.4g}")
            continue
        if neg > 0:  # an unstable equilibrium: onto the stable branch along the critical mode
            switched = True
            for _ in range(4):
                pushed = yield from _push(model, trial, H0(target), p)
                trial, ok, neg = yield from _minimize(model, pushed, H0(target), p, escape=True)
                if ok and neg == 0:
                    break
        previous, prev_eps = (None, 0.0) if switched else (state, eps)  # no secant across a branch switch
        state, eps = trial, target
        P = (yield (STRESS, model, state, H0(eps)))
        rec["strain"].append(eps)
        rec["stress"].append(-P[2, 2] / model.E)
        rec["energy"].append((yield (ENERGY, model, state, H0(eps))) / model.cell.volume / model.E)
        rec["stable"].append(neg == 0)
        rec["lateral"].append(state["h"].copy())
        inc = min(inc * 1.5, 2 * strain / p.steps)
    return Path(np.array(rec["strain"]), np.array(rec["stress"]), np.array(rec["energy"]), np.array(rec["stable"]),
                critical, np.array(rec["lateral"]).reshape(len(rec["strain"]), -1), state)


def output_strains(strain: float = 0.25, points: int = 13) -> np.ndarray:
    """eps_k = strain (k + 1/4) / (points - 1/2): 0.5 %, 2.5 %, ..., 24.5 % by default."""
    return strain * (np.arange(points) + 0.25) / (points - 0.5)


def compress(adjacency, offsets, *, radius=None, relative_density=None, E=1.0, nu=0.3, beam="timoshenko",
             lateral="strain", strain=0.25, points=13) -> np.ndarray:
    """Nominal compressive stress sigma33 / E (positive in compression) at the strains of
    :func:`output_strains`, shape (points,) or (N, points), by the conventions of
    :func:`pipeline_lib.truss3d.homogenize` (exactly one of ``radius``, a fraction of the cell
    side, and ``relative_density``)."""
    from pipeline_lib.truss3d.homogenization import checked_frames, strut_radii

    if (radius is None) == (relative_density is None):
        raise ValueError("give exactly one of radius and relative_density")
    A = np.asarray(adjacency)
    X = np.asarray(offsets, dtype=float)
    single = A.ndim == 2
    if single:
        A, X = A[None], X[None]
    frames = checked_frames(A, X)
    if radius is not None:
        r = 2.0 * np.broadcast_to(np.asarray(radius, dtype=float), (len(frames),))
    else:
        r = strut_radii(frames, relative_density)
    eps = output_strains(strain, points)
    out = np.empty((len(frames), points))
    p = NonlinearParams()
    paths, _ = follow_many(_models(frames, r, p, E=E, nu=nu, beam=beam, lateral=lateral), strain, eps, p)
    for i, path in enumerate(paths):
        if isinstance(path, Exception):
            raise RuntimeError(f"lattice {i}: {path}") from path
        out[i] = path.stress_at(eps)
    return out[0] if single else out


def _cell_model(frame, r: float, p: NonlinearParams, **kw) -> CellModel:
    """The FE model of one octant frame's full periodic cell (``kw``: E, nu, beam, lateral)."""
    return CellModel(periodic_cell(frame).subdivided(p.elements_per_beam), r, **kw)


def _models(frames, radii, p: NonlinearParams, **kw) -> list:
    """A CellModel builder per lattice (built when follow_many reaches it)."""
    from functools import partial

    return [partial(_cell_model, f, r, p, **kw) for f, r in zip(frames, radii)]


def lattice_path(frame, r: float, *, E: float = 1.0, nu: float = 0.3, beam: str = "timoshenko",
                 lateral: str = "strain", strain: float = 0.25, outputs: np.ndarray | None = None,
                 params: NonlinearParams | None = None) -> Path:
    """The stable compression path of one octant frame (strut radius ``r`` in octant units)."""
    p = params or NonlinearParams()
    outputs = output_strains(strain) if outputs is None else outputs
    return follow(_cell_model(frame, r, p, E=E, nu=nu, beam=beam, lateral=lateral), strain, outputs, p)


def deformed_cell(frame, r: float, *, E: float = 1.0, nu: float = 0.3, beam: str = "timoshenko",
                  lateral: str = "strain", strain: float = 0.25, params: NonlinearParams | None = None):
    """The path of one lattice and its deformed cell at the end of it: (Path, (x_a, x_b, |u_a|,
    |u_b|) of every beam, :meth:`CellModel.deformed`)."""
    p = params or NonlinearParams()
    model = _cell_model(frame, r, p, E=E, nu=nu, beam=beam, lateral=lateral)
    path = follow(model, strain, output_strains(strain), p)
    return path, model.deformed(path.final, np.diag([0.0, 0.0, -path.strain[-1]]))


def compress_frames(frames: list, radii: np.ndarray, *, E: float = 1.0, nu: float = 0.3, beam: str = "timoshenko",
                    lateral: str = "strain", strain: float = 0.25, points: int = 13,
                    params: NonlinearParams | None = None, workers: int = 1, on_done=None) -> dict[str, np.ndarray]:
    """The paths of many lattices: label curves (N, points), critical strains, the full paths
    NaN-padded to the longest, seconds each.  A lattice without a converged path gets NaN (and a
    warning naming it) instead of stopping the others.  ``workers`` > 1 spreads the lattices over
    that many processes (one thread each), interleaved so that slow ones do not queue up.
    ``on_done(i, converged)`` is called as each lattice's path ends (one process only: a job's
    progress in its log)."""
    radii = np.asarray(radii, dtype=float)
    kw = dict(E=E, nu=nu, beam=beam, lateral=lateral, strain=strain, points=points, params=params)
    workers = max(1, min(int(workers), len(frames)))
    if workers == 1:
        return _compress_serial(frames, radii, **kw, on_done=on_done)
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    chunks = [np.arange(k, len(frames), workers) for k in range(workers)]
    # fork where the platform has it: the workers inherit the imported modules and compiled kernels
    # (spawn re-imports them, 5 s of a 30 s batch on 2 cores); each then runs on one thread
    # (_one_thread), as PyTorch's DataLoader workers do after a fork
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    with ProcessPoolExecutor(workers, mp_context=mp.get_context(method), initializer=_one_thread) as ex:
        parts = list(ex.map(_compress_chunk, [([frames[i] for i in c], radii[c], kw) for c in chunks]))
    order = np.argsort(np.concatenate(chunks))
    out = join_paths(parts)
    return {k: v if k == "strain" else v[order] for k, v in out.items()}


def join_paths(parts: list[dict]) -> dict:
    """Results of compress_frames (or shards of them) joined row by row: the full paths NaN-padded
    to the longest, the output strains shared."""
    S = max(a["path_strain"].shape[1] for a in parts)
    pad = lambda x: np.pad(x, ((0, 0), (0, S - x.shape[1])), constant_values=np.nan)  # noqa: E731
    cat = {k: np.concatenate([pad(a[k]) if k.startswith("path_") else a[k] for a in parts])
           for k in parts[0] if k != "strain"}
    cat["strain"] = parts[0]["strain"]
    return cat


def _one_thread() -> None:
    torch.set_num_threads(1)


def _compress_chunk(job) -> dict:
    frames, radii, kw = job
    return _compress_serial(frames, radii, **kw)


def _compress_serial(frames, radii, *, E, nu, beam, lateral, strain, points, params, batch=BATCH, on_done=None
                     ) -> dict[str, np.ndarray]:
    import logging

    p = params or NonlinearParams()
    eps = output_strains(strain, points)
    n = len(frames)
    curve, critical = np.full((n, points), np.nan), np.full(n, np.nan)
    paths = [(np.zeros(0), np.zeros(0))] * n
    done = None if on_done is None else (lambda i, r: on_done(i, not isinstance(r, Exception)))
    results, seconds = follow_many(_models(frames, radii, p, E=E, nu=nu, beam=beam, lateral=lateral), strain, eps, p,
                                   batch=batch, on_done=done)
    for i, path in enumerate(results):
        if isinstance(path, Exception):
            logging.getLogger(__name__).warning("lattice %d: %s", i, path)
            continue
        curve[i], critical[i] = path.stress_at(eps), path.critical_strain
        paths[i] = (path.strain, path.stress)
    S = max([len(a) for a, _ in paths] + [1])
    ps, pt = np.full((n, S), np.nan), np.full((n, S), np.nan)
    for i, (a, b) in enumerate(paths):
        ps[i, :len(a)], pt[i, :len(b)] = a, b
    return {"strain": eps, "curve": curve, "critical_strain": critical, "path_strain": ps, "path_stress": pt,
            "seconds": seconds}
