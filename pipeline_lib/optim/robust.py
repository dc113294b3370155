"""Robust design in a latent space (paper 004, Eq. 5 and Eqs. 18-20), against the chain protocol.

A design problem is data: goals (a quantity of ``chain.quantities`` to maximize, each with its
weight lambda on the standard deviation: mean - lambda * std) and a volume-fraction band of the
**decoded** geometry.  :class:`LatentProblem` turns it into the batched ``evaluate(Z) -> (F, G)``
that :func:`pipeline_lib.optim.nsga2.minimize` calls once per generation:

    decode Z (with the chain's threshold, or at a target solid fraction: ``decode_at``) -> volume
    fraction of the decoded unit (two inequalities: pymoo's equality tolerance is far looser than
    the band) -> the database's screening (a unit that fails counts as infeasible) -> for the rows
    that pass both, the uncertainty of Fig. 2 (pipeline_lib.latent.uq) or, for a deterministic
    predictor, its mean at z -> F = -(mean - lambda * total std) per goal.

Rows outside the band are neither screened nor predicted (NSGA-II ranks infeasible rows by their
violation alone), which keeps a generation to one decode and one predictor call on the rows that
matter.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from pipeline_lib.chain import Chain, Samples, take
from pipeline_lib.latent import uq as U

Predict = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]


@dataclass(frozen=True)
class Goal:
    quantity: str  # a name of chain.quantities (voxel3d: E, nu, G, K)
    lam: float = 0.0  # weight of the total standard deviation: maximize mean - lam * std

    def value(self, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
        return mean - self.lam * std


@dataclass
class Evaluated:
    """What one evaluation found, row by row (NaN where a row was not predicted)."""

    volume_fraction: np.ndarray  # (N,)
    valid: np.ndarray  # (N,) passed the database's screening (False where not screened)
    mean: np.ndarray  # (N, Q) predicted means of every quantity
    aleatoric: np.ndarray  # (N, Q) standard deviations (0 for a deterministic predictor)
    epistemic: np.ndarray  # (N, Q)
    names: tuple[str, ...]

    @property
    def total(self) -> np.ndarray:
        return np.sqrt(self.aleatoric ** 2 + self.epistemic ** 2)


class LatentProblem:
    """Goals and a volume-fraction band over a chain's latent space.  ``predict`` replaces the
    uncertainty of Fig. 2 by a deterministic predictor at z (the paper's Appendix D baseline)."""

    def __init__(self, chain: Chain, goals: Sequence[Goal], band: tuple[float, float], *, eps: np.ndarray,
                 temperature: Sequence[float] | None = None, predict: Predict | None = None, batch: int = 64,
                 decode_at: float | None = None):
        if not goals:
            raise ValueError("a design problem needs at least one goal")
        lo, hi = map(float, band)
        if not lo < hi:
            raise ValueError(f"volume-fraction band {band}: the lower bound must be below the upper")
        self.chain, self.goals, self.band = chain, tuple(goals), (lo, hi)
        self.eps, self.temperature, self.predict, self.batch = eps, temperature, predict, batch
        self.decode_at = decode_at  # decode every z at this solid fraction (None: the chain's threshold)
        self.names = tuple(chain.quantities(np.ones((1, len(chain.properties)))))
        for g in self.goals:
            if g.quantity not in self.names:
                raise ValueError(f"goal quantity {g.quantity!r} is not one of {', '.join(self.names)}")
        self.n_obj, self.n_ieq = len(self.goals), 3
        self.evaluations = 0

    def decode(self, Z: np.ndarray) -> Samples:
        """The geometry of latent vectors as this problem sees it (at ``decode_at`` if set)."""
        if self.decode_at is None:
            return self.chain.decode(Z)
        return self.chain.decode(Z, volume_fraction=self.decode_at)

    def in_band(self, vf: np.ndarray) -> np.ndarray:
        lo, hi = self.band
        return (vf >= lo) & (vf <= hi)

    def assess(self, samples: Samples, z: np.ndarray | None = None) -> Evaluated:
        """Volume fraction, screening and prediction of geometry (decoded from ``z``, which a
        deterministic predictor reads)."""
        ch = self.chain
        vf = np.asarray(ch.volume_fraction(samples), float)
        n, Q = len(vf), len(self.names)
        valid = np.zeros(n, bool)
        rows = np.flatnonzero(self.in_band(vf))
        if len(rows):
            valid[rows] = ch.screen(take(samples, rows))
        rows = np.flatnonzero(valid)
        mean, alea, epi = (np.full((n, Q), np.nan) for _ in range(3))
        if len(rows):
            if self.predict is None:
                u = U.of_samples(ch, take(samples, rows), self.eps, self.temperature, self.batch)
                mean[rows], alea[rows], epi[rows] = u.mean, u.aleatoric, u.epistemic
            else:
                if z is None:
                    raise ValueError("a deterministic predictor reads z: pass the latent vectors")
                m, _ = self.predict(np.asarray(z)[rows])
                names, q, _ = U.propagate(ch.quantities, np.asarray(m, float), np.zeros_like(m, dtype=float))
                mean[rows], alea[rows], epi[rows] = q, 0.0, 0.0
        return Evaluated(vf, valid, mean, alea, epi, self.names)

    def objectives(self, e: Evaluated) -> np.ndarray:
        """(N, goals) values to maximize (NaN where not predicted)."""
        total = e.total
        return np.stack([g.value(e.mean[:, self.names.index(g.quantity)], total[:, self.names.index(g.quantity)])
                         for g in self.goals], 1)

    def evaluate(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """NSGA-II's view: F (minimized) and G (feasible where <= 0): below the band, above it,
        failed screening."""
        Z = np.asarray(Z, float)
        self.evaluations += len(Z)
        e = self.assess(self.decode(Z), Z)
        lo, hi = self.band
        G = np.stack([lo - e.volume_fraction, e.volume_fraction - hi,
                      np.where(self.in_band(e.volume_fraction), np.where(e.valid, -1.0, 1.0), 0.0)], 1)
        F = -self.objectives(e)
        return np.where(np.isfinite(F), F, 0.0), G


def latent_box(mu: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension bounds: the range of the database's latent means, widened by ``margin`` of it
    on each side (the optimizer stays where the decoder has seen data)."""
    lo, hi = mu.min(0), mu.max(0)
    pad = margin * (hi - lo)
    return lo - pad, hi + pad


def starting_rows(quantities: Mapping[str, np.ndarray], volume_fraction: np.ndarray, goals: Sequence[Goal],
                  band: tuple[float, float], k: int) -> np.ndarray:
    """Database rows to start from: those with volume fraction in ``band``, best first by the sum of
    their ranks in each goal's quantity (FE values; the paper starts from encoded database units),
    then the rest by distance to the band."""
    vf = np.asarray(volume_fraction, float)
    score = np.zeros(len(vf))
    for g in goals:
        v = np.nan_to_num(np.asarray(quantities[g.quantity], float), nan=-np.inf)
        score += np.argsort(np.argsort(-v))
    inside = (vf >= band[0]) & (vf <= band[1])
    dist = np.maximum(band[0] - vf, vf - band[1])
    order = np.lexsort((score, np.where(inside, 0.0, dist)))
    return order[:k]
