"""The one way a latent-space result is checked: decode -> screen -> homogenize by the chain's own
FE solver -> set beside the predictor.  Every latent analysis and design stage goes through
:func:`verify`, so all of them report the same thing: the FE value of the decoded geometry, with the
predictor's value beside it (never instead of it), and NaN where the decoded geometry fails the
database's rules."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from pipeline_lib.chain import Chain, Samples, count, take
from pipeline_lib.chain import concat as concat_samples


@dataclass
class Verified:
    """Decoded designs, row by row: latent vector, geometry, screening, FE and predicted properties."""

    z: np.ndarray  # (N, d); NaN where the geometry did not come from a latent vector
    samples: Samples  # the geometry, as the database stores it
    valid: np.ndarray  # (N,) passed the database's rules and the FE solve
    fe: np.ndarray  # (N, P) the chain's FE solver on the geometry; NaN where not valid
    predicted: np.ndarray  # (N, P) the model's predictor at z; NaN without a model or z
    predicted_std: np.ndarray | None  # (N, P) where the model predicts a spread (an MDN)

    def take(self, keep) -> Verified:
        """The rows ``keep`` (a mask or indices)."""
        return Verified(self.z[keep], take(self.samples, keep), self.valid[keep], self.fe[keep], self.predicted[keep],
                        None if self.predicted_std is None else self.predicted_std[keep])

    def arrays(self) -> dict[str, np.ndarray]:
        """Datasets for an artifact (the ``<chain>/verified`` fields)."""
        out = {"z": self.z, **self.samples, "valid": self.valid, "fe": self.fe, "predicted": self.predicted}
        if self.predicted_std is not None:
            out["predicted_std"] = self.predicted_std
        return out


def concat(parts: list[Verified]) -> Verified:
    """Rows of several results in order; ``z`` NaN-padded where a part has none (database designs
    verified from their geometry), ``predicted_std`` kept only where every part has it."""
    d = max(p.z.shape[1] for p in parts)
    z = np.concatenate([p.z if p.z.shape[1] == d else np.full((len(p.z), d), np.nan) for p in parts])
    std = None if any(p.predicted_std is None for p in parts) else np.concatenate([p.predicted_std for p in parts])
    return Verified(z, concat_samples([p.samples for p in parts]), np.concatenate([p.valid for p in parts]),
                    np.concatenate([p.fe for p in parts]), np.concatenate([p.predicted for p in parts]), std)


def by_halves(solve: Callable[[np.ndarray], None], rows: np.ndarray) -> np.ndarray:
    """Call ``solve(rows)`` once for the whole batch; where the solver refuses a batch (ValueError:
    a mechanism no screen sees), halve it until each refused row is alone.  Returns those rows."""
    refused, todo = [], [np.asarray(rows, np.int64)]
    while todo:
        idx = todo.pop()
        if len(idx) == 0:
            continue
        try:
            solve(idx)
        except ValueError:
            if len(idx) == 1:
                refused.append(int(idx[0]))
            else:
                todo += [idx[: len(idx) // 2], idx[len(idx) // 2:]]
    return np.array(refused, dtype=np.int64)


def homogenize_valid(chain: Chain, samples: Samples, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """FE properties (N, P), NaN outside ``valid``; a sample the solver refuses (a mechanism the
    screen cannot see) is found by halving the batch and marked not valid."""
    n = count(samples)
    fe = np.full((n, len(chain.properties)), np.nan)
    valid = np.asarray(valid, bool).copy()

    def solve(idx):
        fe[idx] = chain.homogenize(take(samples, idx))

    valid[by_halves(solve, np.flatnonzero(valid))] = False
    return fe, valid


def verify_samples(chain: Chain, samples: Samples, z: np.ndarray | None = None) -> Verified:
    """Screen and homogenize given geometry; with ``z`` (and a loaded model), the predictor too."""
    n = count(samples)
    fe, valid = homogenize_valid(chain, samples, chain.screen(samples))
    P = len(chain.properties)
    if z is not None and chain.model is not None:
        predicted, std = chain.predict(z)
    else:
        predicted, std = np.full((n, P), np.nan), None
    zz = np.asarray(z, float) if z is not None else np.full((n, 0), np.nan)
    return Verified(zz, samples, valid, fe, np.asarray(predicted, float), std)


def verify(chain: Chain, z: np.ndarray) -> Verified:
    """Decode latent vectors (with the chain's post-processing), screen, homogenize, predict."""
    z = np.atleast_2d(np.asarray(z, float))
    return verify_samples(chain, chain.decode(z), z)


def relative_error(predicted: np.ndarray, fe: np.ndarray) -> np.ndarray:
    """|predicted - fe| / |fe| elementwise (NaN where fe is NaN or 0)."""
    fe = np.asarray(fe, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(fe != 0, np.abs(np.asarray(predicted, float) - fe) / np.abs(fe), np.nan)
