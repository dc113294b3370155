"""Uncertainty of a latent vector's properties (paper 004, section 2.2, Eqs. 6-9, Fig. 2), written
against the chain protocol: any chain whose predictor gives a standard deviation gets it.

For latent vectors z (N, d): decode each to its geometry -> re-encode -> (mu, sigma) -> M latent
samples from N(mu, sigma^2) -> the predictor's mean m_k and standard deviation s_k for each sample
k -> per property

    mean       = mean_k m_k                      (Eq. 6)
    aleatoric  = mean_k s_k^2                    (Eq. 7: the data's own spread, as predicted)
    epistemic  = mean_k (m_k - mean)^2           (Eq. 8: the spread of the latent region)
    total      = aleatoric + epistemic           (Eq. 9)

Derived quantities of the chain (``chain.quantities``: voxel3d's K = E / (3 (1 - 2 nu))) are
computed per sample from m_k, with their aleatoric variance propagated per sample to first order
from s_k (independent properties), then decomposed the same way.  The M latent draws are common
random numbers (one (M, d) standard-normal block per call, from ``seed``): the same z always gives
the same answer, which an optimizer needs.

A ``temperature`` per property scales the predicted standard deviations s_k (a held-out
calibration of an over- or under-confident predictor, :func:`fit_temperature`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from scipy.optimize import brentq

from pipeline_lib.chain import Chain, Samples


@dataclass
class UQParams:
    samples: int = 30  # M latent draws per vector (paper: 30, Appendix B)
    batch: int = 64  # latent vectors per decode / encode call


@dataclass
class Uncertainty:
    """Per latent vector and quantity: the mean and the three standard deviations (sqrt of the
    variances of Eqs. 7-9), in the chain's units.  ``names`` are the chain's properties, then its
    derived quantities."""

    names: tuple[str, ...]
    mean: np.ndarray  # (N, Q)
    aleatoric: np.ndarray  # (N, Q) standard deviations
    epistemic: np.ndarray  # (N, Q)
    mu: np.ndarray = field(repr=False, default=None)  # (N, d) re-encoded latent means
    sigma: np.ndarray = field(repr=False, default=None)  # (N, d) re-encoded latent standard deviations

    @property
    def total(self) -> np.ndarray:
        return np.sqrt(self.aleatoric ** 2 + self.epistemic ** 2)

    def column(self, name: str) -> int:
        if name not in self.names:
            raise KeyError(f"no quantity {name!r}; known: {', '.join(self.names)}")
        return self.names.index(name)

    def of(self, name: str) -> dict[str, np.ndarray]:
        """mean, aleatoric, epistemic and total standard deviation of one quantity, (N,) each."""
        k = self.column(name)
        return {"mean": self.mean[:, k], "aleatoric": self.aleatoric[:, k], "epistemic": self.epistemic[:, k],
                "total": self.total[:, k]}


def decompose(means: np.ndarray, stds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eqs. 6-8 over the sample axis 1 of (N, M, Q) predicted means and standard deviations:
    the mean, the aleatoric and the epistemic standard deviation, (N, Q) each."""
    mean = means.mean(1)
    aleatoric = np.sqrt((stds ** 2).mean(1))
    epistemic = np.sqrt(((means - mean[:, None]) ** 2).mean(1))
    return mean, aleatoric, epistemic


def propagate(quantities: Callable[[np.ndarray], dict[str, np.ndarray]], mean: np.ndarray, std: np.ndarray,
              rel_step: float = 1e-6) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Derived quantities of property rows (K, P) and their standard deviation to first order
    (central differences of ``quantities`` in each property; properties taken as independent)."""
    base = quantities(mean)
    names = tuple(base)
    q = np.stack([base[n] for n in names], 1)
    var = np.zeros_like(q)
    for j in range(mean.shape[1]):
        h = rel_step * np.maximum(np.abs(mean[:, j]), 1e-12)
        up, dn = mean.copy(), mean.copy()
        up[:, j] += h
        dn[:, j] -= h
        qu, qd = quantities(up), quantities(dn)
        d = (np.stack([qu[n] for n in names], 1) - np.stack([qd[n] for n in names], 1)) / (2 * h[:, None])
        var += (d * std[:, j:j + 1]) ** 2
    return names, q, np.sqrt(var)


def draws(d: int, M: int, seed: int) -> np.ndarray:
    """The (M, d) standard-normal block every call with this seed uses (common random numbers)."""
    return np.random.default_rng(seed).standard_normal((M, d))


def from_encoding(chain: Chain, mu: np.ndarray, logvar: np.ndarray, eps: np.ndarray,
                  temperature: Sequence[float] | None = None,
                  predict: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]] | None = None) -> Uncertainty:
    """Eqs. 6-9 from re-encoded latent means and log-variances (N, d) and draws ``eps`` (M, d)."""
    predict = predict or chain.predict
    N, d = mu.shape
    M = len(eps)
    sigma = np.exp(0.5 * logvar)
    zs = (mu[:, None, :] + sigma[:, None, :] * eps[None]).reshape(N * M, d)
    m, s = predict(zs)
    m = np.asarray(m, float)
    s = np.zeros_like(m) if s is None else np.asarray(s, float)
    if temperature is not None:
        s = s * np.asarray(temperature, float)[None, :]
    names, q, qs = propagate(chain.quantities, m, s)
    mean, alea, epi = decompose(q.reshape(N, M, -1), qs.reshape(N, M, -1))
    return Uncertainty(names, mean, alea, epi, mu, sigma)


def of_samples(chain: Chain, samples: Samples, eps: np.ndarray, temperature=None, batch: int = 64,
               predict=None) -> Uncertainty:
    """Uncertainty of decoded (or any) geometry: encode it, then :func:`from_encoding`."""
    from pipeline_lib.chain import count, take

    n = count(samples)
    parts = []
    for s in range(0, n, batch):
        mu, logvar = chain.encode(take(samples, np.arange(s, min(n, s + batch))))
        parts.append(from_encoding(chain, np.asarray(mu, float), np.asarray(logvar, float), eps, temperature, predict))
    if not parts:
        d = eps.shape[1]
        names = tuple(chain.quantities(np.ones((1, len(chain.properties)))))
        z = np.zeros((0, len(names)))
        return Uncertainty(names, z, z, z, np.zeros((0, d)), np.zeros((0, d)))
    return Uncertainty(parts[0].names, *(np.concatenate([getattr(p, k) for p in parts]) for k in
                                         ("mean", "aleatoric", "epistemic", "mu", "sigma")))


def uncertainty(chain: Chain, z: np.ndarray, p: UQParams, seed: int, temperature=None) -> tuple[Uncertainty, Samples]:
    """The whole of Fig. 2 for latent vectors (N, d): decode -> re-encode -> sample -> predict ->
    Eqs. 6-9.  Returns the uncertainty and the decoded geometry."""
    z = np.atleast_2d(np.asarray(z, float))
    samples = chain.decode(z)
    eps = draws(z.shape[1], p.samples, seed)
    return of_samples(chain, samples, eps, temperature, p.batch), samples


# ------------------------------------------------------------------------------ calibration
GAUSSIAN_1STD = 0.6826894921370859  # P(|x| <= sigma) of a Gaussian


def fit_temperature(residual: np.ndarray, aleatoric: np.ndarray, epistemic: np.ndarray, method: str = "coverage",
                    bounds: tuple[float, float] = (0.05, 50.0)) -> np.ndarray:
    """Per column, the factor t on the predicted (aleatoric) standard deviation fitted on held-out
    residuals r, with the total std sqrt(t^2 a^2 + e^2):

    * ``coverage``: the fraction of |r| within one total std is a Gaussian's 68.3 % (what a user
      reads a band as; robust to the heavy tails a small database gives);
    * ``variance``: the residuals are unit-variance, mean(r^2 / (t^2 a^2 + e^2)) = 1.

    Both sides are monotone in t, so the root is unique; it is clipped to ``bounds`` (the epistemic
    part alone may already explain the residuals, or nothing may)."""
    if method not in ("coverage", "variance"):
        raise ValueError(f"calibration method {method!r}: use 'coverage' or 'variance'")
    r2, a2, e2 = residual ** 2, aleatoric ** 2, epistemic ** 2
    out = np.ones(r2.shape[1])
    for j in range(r2.shape[1]):
        ok = np.isfinite(r2[:, j]) & np.isfinite(a2[:, j]) & np.isfinite(e2[:, j])
        if not ok.any():
            continue

        def excess(log_t, j=j, ok=ok):
            z2 = r2[ok, j] / (np.exp(2 * log_t) * a2[ok, j] + e2[ok, j] + 1e-300)
            if method == "coverage":  # a step function: brentq still brackets its crossing
                return GAUSSIAN_1STD - np.mean(z2 <= 1.0)
            return np.mean(z2) - 1.0

        lo, hi = np.log(bounds[0]), np.log(bounds[1])
        if excess(lo) <= 0:
            out[j] = bounds[0]
        elif excess(hi) >= 0:
            out[j] = bounds[1]
        else:
            out[j] = float(np.exp(brentq(excess, lo, hi, xtol=1e-10)))
    return out


def coverage(residual: np.ndarray, std: np.ndarray, k: float = 1.0) -> np.ndarray:
    """Fraction of rows per column with |residual| <= k std (a Gaussian gives 0.683 at k = 1,
    0.954 at k = 2)."""
    ok = np.isfinite(residual) & np.isfinite(std)
    inside = (np.abs(residual) <= k * std) & ok
    return inside.sum(0) / np.maximum(ok.sum(0), 1)
