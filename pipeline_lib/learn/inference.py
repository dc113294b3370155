"""Batched inference and target standardization shared by the three models.

Models keep their target statistics in ``y_mean`` / ``y_std`` buffers (so they travel with the
weights) and expose ``encode(*inputs) -> (mu, logvar)``; image-like models also
``decode_logits(z) -> (B, 1, ...)``.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch


def device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def set_normalization(model: torch.nn.Module, y: np.ndarray) -> None:
    """Store the per-column mean and standard deviation of training targets in the model."""
    model.y_mean.copy_(torch.as_tensor(np.mean(y, 0), dtype=torch.float32))
    model.y_std.copy_(torch.as_tensor(np.std(y, 0) + 1e-12, dtype=torch.float32))


def standardize(model: torch.nn.Module, y: np.ndarray) -> torch.Tensor:
    return (torch.as_tensor(y, dtype=torch.float32) - model.y_mean.cpu()) / model.y_std.cpu()


@torch.no_grad()
def encode_batched(model: torch.nn.Module, n: int, inputs: Callable[[slice], Sequence[torch.Tensor]],
                   batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Latent mean and log-variance of n samples; ``inputs(rows)`` gives the model's inputs for a
    slice of rows (built per batch, so a database never sits in memory twice)."""
    model.eval()
    dev = device_of(model)
    mus, lvs = [], []
    for s in range(0, n, batch):
        mu, lv = model.encode(*(t.to(dev) for t in inputs(slice(s, s + batch))))
        mus.append(mu.cpu().numpy())
        lvs.append(lv.cpu().numpy())
    d = model.cfg.latent
    empty = np.zeros((0, d), np.float32)
    return (np.concatenate(mus) if mus else empty), (np.concatenate(lvs) if lvs else empty)


@torch.no_grad()
def decode_probabilities(model: torch.nn.Module, z: np.ndarray, batch: int, shape: tuple[int, ...]) -> np.ndarray:
    """Sigmoid of the decoder's single output channel, (N, *shape), in batches."""
    model.eval()
    dev = device_of(model)
    out = [torch.sigmoid(model.decode_logits(torch.as_tensor(z[s:s + batch], dtype=torch.float32, device=dev)))[:, 0]
           .cpu().numpy() for s in range(0, len(z), batch)]
    return np.concatenate(out) if out else np.zeros((0, *shape), np.float32)
