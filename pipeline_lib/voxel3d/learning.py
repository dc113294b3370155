"""Training targets, evaluation and inference of the voxel3d VAE + MDN (arrays in, arrays out)."""
from __future__ import annotations

import numpy as np
import torch

from pipeline_lib import config, mirror
from pipeline_lib.learn import inference as I
from pipeline_lib.learn import metrics as M
from pipeline_lib.voxel3d.homogenization import PROPERTIES
from pipeline_lib.voxel3d.model import ModelConfig, UnitVAE, mixture_moments


def to_input(cells: np.ndarray) -> torch.Tensor:
    """(N, 1, h, h, h) float eighths of (N, n, n, n) units."""
    return torch.as_tensor(mirror.corner(np.asarray(cells), 3).astype(np.float32))[:, None]


def down_select(rows: np.ndarray, nu: np.ndarray, keep: float, rng: np.random.Generator) -> np.ndarray:
    """Training rows with only a fraction ``keep`` of the majority class (positive Poisson's
    ratio) kept, at random (paper 004, section 4.1.1; the paper keeps 60 %)."""
    if keep >= 1.0:
        return rows
    pos = rows[nu[rows] > 0]
    kept = rng.choice(pos, size=int(round(keep * len(pos))), replace=False)
    return np.sort(np.concatenate([rows[nu[rows] <= 0], kept]))


def encode(model: UnitVAE, cells: np.ndarray, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Latent mean and log-variance of (N, n, n, n) units, in batches."""
    return I.encode_batched(model, len(cells), lambda rows: [to_input(cells[rows])], batch)


def decode_probabilities(model: UnitVAE, z: np.ndarray, batch: int = 256) -> np.ndarray:
    """Voxel probabilities (N, n, n, n) of full units decoded from latent vectors."""
    h = model.cfg.side
    return mirror.unfold(I.decode_probabilities(model, z, batch, (h, h, h)), 3)


def decode(model: UnitVAE, z: np.ndarray, threshold: float | None = None,
           volume_fraction: float | None = None) -> np.ndarray:
    """Binary units (N, n, n, n) decoded from latent vectors: voxels above the threshold, or, with
    ``volume_fraction``, each unit's most probable voxels up to that solid fraction (a threshold per
    unit: the same shape's surface moved in or out, which a design at a fixed volume needs)."""
    p = decode_probabilities(model, z)
    if volume_fraction is None:
        t = model.cfg.threshold if threshold is None else threshold
        return (p > t).astype(np.uint8)
    return at_volume_fraction(p, volume_fraction)


def at_volume_fraction(p: np.ndarray, f: float) -> np.ndarray:
    """(N, n, n, n) probabilities -> units of solid fraction ``f``: the k = round(f n^3) most
    probable voxels of each.  Voxels of one symmetry orbit carry the same probability up to
    rounding (the decoder averages over the cube's axis permutations), so the cut is taken a hair
    below the k-th value: a whole orbit is in or out and the unit stays cubic; its fraction may
    exceed f by one orbit (at most 48 voxels)."""
    flat = p.reshape(len(p), -1)
    k = int(np.clip(round(f * flat.shape[1]), 1, flat.shape[1]))
    kth = -np.partition(-flat, k - 1, axis=1)[:, k - 1]
    return (flat >= (kth - 1e-6)[:, None]).reshape(p.shape).astype(np.uint8)


@torch.no_grad()
def predict(model: UnitVAE, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted mean and standard deviation (N, 3) of E, nu, G (database units) at latent vectors:
    the moments of the MDN's mixtures (aleatoric uncertainty)."""
    model.eval()
    parts = model.mixture(torch.as_tensor(z, dtype=torch.float32, device=I.device_of(model)))
    m, s = mixture_moments(*(p.cpu().numpy().astype(np.float64) for p in parts))
    mean, std = model.y_mean.cpu().numpy(), model.y_std.cpu().numpy()
    return m * std + mean, s * std


def evaluate(model: UnitVAE, cells: np.ndarray, y: np.ndarray, batch: int = 256) -> dict:
    """Reconstruction accuracy (paper 004, Eq. 12: the fraction of voxels reconstructed right) and
    R^2 / NRMSE (Eq. 14) of the predicted means, keyed E, nu, G."""
    mu, _ = encode(model, cells)
    correct = 0
    for s in range(0, len(mu), batch):  # full units, a batch at a time (a 48^3 float unit is 0.4 MB)
        correct += int((decode(model, mu[s:s + batch]) == np.asarray(cells[s:s + batch], bool)).sum())
    mean, std = predict(model, mu)
    z = (y - mean) / np.maximum(std, 1e-12)
    return {
        "voxel_accuracy": correct / max(np.asarray(cells).size, 1),
        "r2": {k: float(v) for k, v in zip(PROPERTIES, M.r2(y, mean))},
        "nrmse": {k: float(v) for k, v in zip(PROPERTIES, M.nrmse(y, mean))},
        # calibration of the predicted spread: the fraction of truths within one predicted std
        "within_one_std": {k: float(v) for k, v in zip(PROPERTIES, (np.abs(z) <= 1).mean(0))},
        "units": int(len(mu)),
    }


def build(cfg: dict) -> UnitVAE:
    return UnitVAE(config.build(ModelConfig, cfg, where="voxel3d.model"))
