"""Training, evaluation and inference of the pixel2d VAE (file-free: arrays in, arrays out)."""
from __future__ import annotations

import numpy as np
import torch

from pipeline_lib import config, mirror
from pipeline_lib.learn import inference as I
from pipeline_lib.learn import metrics as M
from pipeline_lib.periodic import load_bearing, torus_components
from pipeline_lib.pixel2d.defects import isolated
from pipeline_lib.pixel2d.model import CellVAE, ModelConfig
from pipeline_lib.pixel2d.properties import PROPERTIES, properties


def to_input(cells: np.ndarray) -> torch.Tensor:
    """(N, 1, h, w) float quarters of (N, H, W) cells."""
    return torch.as_tensor(mirror.corner(np.asarray(cells), 2).astype(np.float32))[:, None]


@torch.no_grad()
def encode(model: CellVAE, cells: np.ndarray, batch: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Latent mean and log-variance of (N, H, W) cells, in batches."""
    return I.encode_batched(model, len(cells), lambda rows: [to_input(cells[rows])], batch)


def decode_probabilities(model: CellVAE, z: np.ndarray, batch: int = 1024) -> np.ndarray:
    """Pixel probabilities (N, H, W) of full cells decoded from latent vectors."""
    return mirror.unfold(I.decode_probabilities(model, z, batch, (model.side, model.side)), 2)


def postprocess(prob: np.ndarray, threshold: float = 0.9) -> np.ndarray:
    """Cells from pixel probabilities: solid above the threshold (paper: 0.9), isolated pixels
    of either phase removed (flipped)."""
    solid = np.asarray(prob) > threshold
    iso_s, iso_v = isolated(solid)
    return ((solid & ~iso_s) | iso_v).astype(np.uint8)


def decode(model: CellVAE, z: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """Binary cells (N, H, W) decoded from latent vectors, post-processed (threshold: the model's)."""
    return postprocess(decode_probabilities(model, z), model.cfg.threshold if threshold is None else threshold)


@torch.no_grad()
def predict(model: CellVAE, z: np.ndarray) -> np.ndarray:
    """(C11, C12, C22, C33) in the units of E from latent means (N, d)."""
    model.eval()
    y = model.regress(torch.as_tensor(z, dtype=torch.float32, device=I.device_of(model)))
    return (y * model.y_std + model.y_mean).cpu().numpy().astype(np.float64)


def is_clean(cell: np.ndarray) -> bool:
    """One solid connecting the tiling in both directions, no isolated pixels."""
    c = np.asarray(cell, dtype=bool)
    if not c.any() or any(m.any() for m in isolated(c)):
        return False
    keep, outside = load_bearing(c)
    return bool(keep.any()) and outside == 0 and torus_components(c) == 1


def evaluate(model: CellVAE, cells: np.ndarray, C: np.ndarray, n_samples: int, seed: int) -> dict:
    """Test-split metrics under the keys of data/pixel2d/model/metrics.json."""
    mu, _ = encode(model, cells)
    prob = decode_probabilities(model, mu)
    threshold = model.cfg.threshold
    rec = postprocess(prob, threshold)
    y = properties(C)
    pred = predict(model, mu)
    r2 = M.r2(y, pred)
    # does decoding to a clean binary cell move the properties a designer reads off z?  the
    # regressor at z against the regressor at the re-encoded, thresholded and cleaned cell
    p_hard = predict(model, encode(model, rec)[0])
    changed = np.linalg.norm(p_hard - pred, axis=1) > 0.01 * np.linalg.norm(pred, axis=1)
    z = np.random.default_rng(seed).standard_normal((n_samples, model.cfg.latent))
    samples = decode(model, z, threshold)
    return {
        # reconstruction: the decoded probabilities at 0.5 (the likelihood's own decision); the
        # cells a designer gets (threshold, isolated pixels removed) are scored separately
        "pixel_accuracy": M.binary_accuracy(cells, prob > 0.5),
        "pixel_accuracy_decoded": M.binary_accuracy(cells, rec),
        "r2": {k: float(v) for k, v in zip(PROPERTIES, r2)},
        "nrmse": {k: float(v) for k, v in zip(PROPERTIES, M.nrmse(y, pred))},
        "clean_sample_fraction": float(np.mean([is_clean(c) for c in samples])),
        "threshold_change_fraction": float(changed.mean()),
        "threshold": threshold,
        "test_cells": int(len(cells)),
    }


def build(cfg: dict) -> CellVAE:
    return CellVAE(config.build(ModelConfig, cfg, where="pixel2d.model"))
