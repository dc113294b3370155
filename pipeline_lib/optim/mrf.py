"""Minimum-energy labelling of a grid Markov random field: the assembly step of the pixel2d multiscale
design (paper 000, section 5.2), where each macro element picks one of L candidate cells.

    E(x) = sum_ij U[i, j, x_ij] + sum_ij Ph[i, j, x_ij, x_i,j+1] + sum_ij Pv[i, j, x_ij, x_i+1,j]

The edge costs are arbitrary per edge and not metric (boundary mismatch of two particular cells), so
graph cuts do not apply and no package on PyPI fits (``../shared/notes/libraries.md``).  Two solvers,
both vectorized over the grid:

- dual decomposition (Komodakis et al., the paper's DD-MRF): the grid splits into its row chains and
  column chains, each unary shared half and half with a Lagrange multiplier; every chain is solved
  exactly by one batched Viterbi pass; the multipliers follow the projected supergradient with
  Polyak steps.  The sum of the chain minima is a certified lower bound on the energy, so the gap
  of any labelling is known.
- synchronous damped min-sum loopy belief propagation, which finds lower energies on frustrated
  instances (measured in the notes above).

:func:`solve` runs both, polishes each result with iterated conditional modes and keeps the lower
energy, with the DD bound beside it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline_lib.progress import Progress, track


@dataclass
class GridMRF:
    unary: np.ndarray  # (H, W, L) cost of each label at each node
    horizontal: np.ndarray  # (H, W-1, L, L) [i, j, a, b]: node (i, j) labelled a beside (i, j+1) labelled b
    vertical: np.ndarray  # (H-1, W, L, L) [i, j, a, b]: node (i, j) labelled a above (i+1, j) labelled b

    def __post_init__(self):
        self.unary = np.asarray(self.unary, float)
        self.horizontal = np.asarray(self.horizontal, float)
        self.vertical = np.asarray(self.vertical, float)
        if self.unary.ndim != 3 or min(self.unary.shape) < 1:
            raise ValueError(f"unary costs must be (H, W, L), got shape {self.unary.shape}")
        H, W, L = self.unary.shape
        for name, arr, shape in (("horizontal", self.horizontal, (H, W - 1, L, L)),
                                 ("vertical", self.vertical, (H - 1, W, L, L))):
            if arr.shape != shape:
                raise ValueError(f"{name} edge costs must have shape {shape} for a {H}x{W} grid of {L} labels, "
                                 f"got {arr.shape}")
        for name, arr in (("unary", self.unary), ("horizontal", self.horizontal), ("vertical", self.vertical)):
            if not np.isfinite(arr).all():
                raise ValueError(f"{name} costs must be finite")

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.unary.shape

    def energy(self, labels: np.ndarray) -> np.ndarray:
        """E of labellings (..., H, W) -> (...)."""
        x = np.asarray(labels)
        H, W, _ = self.shape
        i, j = np.ogrid[:H, :W]
        e = self.unary[i, j, x].sum(axis=(-1, -2))
        ih, jh = np.ogrid[:H, :W - 1]
        e = e + self.horizontal[ih, jh, x[..., :, :-1], x[..., :, 1:]].sum(axis=(-1, -2))
        iv, jv = np.ogrid[:H - 1, :W]
        return e + self.vertical[iv, jv, x[..., :-1, :], x[..., 1:, :]].sum(axis=(-1, -2))

    def local_costs(self, labels: np.ndarray) -> np.ndarray:
        """(H, W, L): the energy terms of each node for each of its labels, its neighbours fixed."""
        x = np.asarray(labels)
        c = self.unary.copy()
        H, W, L = self.shape
        if W > 1:
            c[:, 1:] += np.take_along_axis(self.horizontal, x[:, :-1, None, None], axis=2)[:, :, 0, :]
            c[:, :-1] += np.take_along_axis(self.horizontal, x[:, 1:, None, None], axis=3)[:, :, :, 0]
        if H > 1:
            c[1:] += np.take_along_axis(self.vertical, x[:-1, :, None, None], axis=2)[:, :, 0, :]
            c[:-1] += np.take_along_axis(self.vertical, x[1:, :, None, None], axis=3)[:, :, :, 0]
        return c


@dataclass
class MRFResult:
    labels: np.ndarray  # (H, W)
    energy: float
    lower_bound: float  # -inf where the method gives none
    method: str
    history: dict = field(default_factory=dict)  # per iteration: best energy, bound

    @property
    def gap(self) -> float:
        """Relative primal-dual gap (E - bound) / |E|; inf without a bound."""
        return float((self.energy - self.lower_bound) / max(abs(self.energy), 1e-300))


def viterbi(unary: np.ndarray, pairwise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact minima of B chains at once: unary (B, n, L), pairwise (B, n-1, L, L) -> labels (B, n),
    minimum energies (B,)."""
    B, n, L = unary.shape
    cost = unary[:, 0].copy()
    back = np.empty((B, max(n - 1, 0), L), dtype=np.int64)
    for t in range(1, n):
        total = cost[:, :, None] + pairwise[:, t - 1]  # (B, L_prev, L)
        back[:, t - 1] = total.argmin(axis=1)
        cost = total.min(axis=1) + unary[:, t]
    x = np.empty((B, n), dtype=np.int64)
    x[:, -1] = cost.argmin(axis=1)
    best = cost.min(axis=1)
    rows = np.arange(B)
    for t in range(n - 1, 0, -1):
        x[:, t - 1] = back[rows, t - 1, x[:, t]]
    return x, best


def icm(mrf: GridMRF, labels: np.ndarray, sweeps: int = 50) -> np.ndarray:
    """Iterated conditional modes on the two colours of the checkerboard (nodes of one colour share
    no edge, so they move together); stops when a sweep changes nothing.  Never raises the energy."""
    x = np.array(labels, dtype=np.int64)
    H, W, _ = mrf.shape
    colour = (np.add.outer(np.arange(H), np.arange(W)) % 2).astype(bool)
    for _ in range(sweeps):
        changed = False
        for c in (False, True):
            costs = mrf.local_costs(x)
            best = costs.argmin(axis=-1)
            cur = np.take_along_axis(costs, x[..., None], axis=-1)[..., 0]
            move = (colour == c) & (costs.min(axis=-1) < cur - 1e-12)
            if move.any():
                x[move] = best[move]
                changed = True
        if not changed:
            break
    return x


def dual_decomposition(mrf: GridMRF, iterations: int = 5000, rtol: float = 1e-6, patience: int = 20,
                       polish_every: int = 10) -> MRFResult:
    """DD-MRF over row and column chains (see the module docstring).  Stops when the gap closes to
    ``rtol`` or after ``iterations``; the Polyak factor halves after ``patience`` iterations without
    a better bound."""
    U, Ph, Pv = mrf.unary, mrf.horizontal, mrf.vertical
    H, W, L = mrf.shape
    lam = np.zeros_like(U)
    Pv_cols = Pv.transpose(1, 0, 2, 3)
    best_x, best_e, best_lb = None, np.inf, -np.inf
    gamma, stale = 1.0, 0
    hist_e, hist_lb = [], []
    progress = Progress("MRF dual decomposition", iterations, unit="it")
    for it in range(iterations):
        xr, er = viterbi(U / 2 + lam, Ph)
        xc, ec = viterbi((U / 2 - lam).transpose(1, 0, 2), Pv_cols)
        xc = xc.T
        lb = float(er.sum() + ec.sum())
        if lb > best_lb and (best_lb == -np.inf or lb > best_lb + 1e-12 * max(1.0, abs(best_lb))):
            best_lb, stale = lb, 0
        else:
            stale += 1
            if stale >= patience:
                gamma, stale = gamma / 2, 0
        candidates = [(float(mrf.energy(xr)), xr), (float(mrf.energy(xc)), xc)]
        if polish_every and it % polish_every == 0:
            x = icm(mrf, min(candidates, key=lambda c: c[0])[1])
            candidates.append((float(mrf.energy(x)), x))
        for e, x in candidates:
            if e < best_e:
                best_x, best_e = x, e
        hist_e.append(best_e)
        hist_lb.append(best_lb)
        progress.update(note=f"energy {best_e:.6g}, lower bound {best_lb:.6g}")
        g = (xr[..., None] == np.arange(L)).astype(float) - (xc[..., None] == np.arange(L))
        norm2 = float((g * g).sum())
        if norm2 == 0 or best_e - best_lb <= rtol * max(1.0, abs(best_e)):
            break  # the chains agree (the bound is attained) or the gap is closed
        lam += gamma * max(best_e - lb, 1e-12 * max(1.0, abs(best_e))) / norm2 * g
    progress.close(f"energy {best_e:.6g}, lower bound {best_lb:.6g}")
    return MRFResult(best_x, best_e, best_lb, "dual decomposition",
                     {"energy": np.array(hist_e), "lower_bound": np.array(hist_lb)})


def loopy_bp(mrf: GridMRF, iterations: int = 200, damping: float = 0.5) -> MRFResult:
    """Synchronous damped min-sum belief propagation; the best decoded labelling over the iterations."""
    U, Ph, Pv = mrf.unary, mrf.horizontal, mrf.vertical
    H, W, L = mrf.shape
    # messages into each node from its left, right, upper and lower neighbour (zero at the borders)
    left, right, up, down = (np.zeros_like(U) for _ in range(4))
    best_x, best_e, hist = None, np.inf, []
    for _ in track(range(iterations), "MRF belief propagation", unit="it"):
        belief = U + left + right + up + down
        x = belief.argmin(axis=-1)
        e = float(mrf.energy(x))
        if e < best_e:
            best_x, best_e = x, e
        hist.append(best_e)
        new = [np.zeros_like(U) for _ in range(4)]
        if W > 1:
            h = belief[:, :-1] - right[:, :-1]  # what (i, j) tells (i, j+1)
            new[0][:, 1:] = (h[..., :, None] + Ph).min(axis=-2)
            h = belief[:, 1:] - left[:, 1:]  # what (i, j+1) tells (i, j)
            new[1][:, :-1] = (h[..., None, :] + Ph).min(axis=-1)
        if H > 1:
            h = belief[:-1] - down[:-1]
            new[2][1:] = (h[..., :, None] + Pv).min(axis=-2)
            h = belief[1:] - up[1:]
            new[3][:-1] = (h[..., None, :] + Pv).min(axis=-1)
        new = [m - m.min(axis=-1, keepdims=True) for m in new]  # messages are defined up to a constant
        left, right, up, down = (damping * old + (1 - damping) * m for old, m in zip((left, right, up, down), new))
    return MRFResult(best_x, best_e, -np.inf, "loopy belief propagation", {"energy": np.array(hist)})


def solve(mrf: GridMRF, dd_iterations: int = 5000, bp_iterations: int = 200, damping: float = 0.5,
          rtol: float = 1e-6) -> MRFResult:
    """Both solvers, each polished by ICM; the lower energy, with the DD lower bound and both
    histories (``dd_energy``, ``dd_lower_bound``, ``bp_energy``)."""
    dd = dual_decomposition(mrf, dd_iterations, rtol)
    bp = loopy_bp(mrf, bp_iterations, damping) if bp_iterations else None
    polished = []
    for r in (dd, bp):
        if r is not None:
            x = icm(mrf, r.labels)
            polished.append((float(mrf.energy(x)), r.method, x))
    energy, method, labels = min(polished, key=lambda t: t[0])  # DD first: it wins ties
    history = {"dd_energy": dd.history["energy"], "dd_lower_bound": dd.history["lower_bound"]}
    if bp is not None:
        history["bp_energy"] = bp.history["energy"]
    return MRFResult(labels, energy, dd.lower_bound, method, history)
