"""Gradient search in a latent space, many starts in one batch (paper 002, "Gradient-based
optimization in the latent space").

Chain-agnostic: the caller passes ``loss(z) -> (N,)`` (and optionally what to record per step), a
differentiable function of latent vectors in which rows do not interact -- for truss3d, decode ->
re-encode -> predict -> objective.  Adam moves every row at once; a row stops when its loss has not
improved by ``tol`` (relative) for ``patience`` steps, and each row's best point is kept, so a run
that wanders off after its best step costs nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch


@dataclass
class SearchParams:
    steps: int = 300  # Adam steps at most
    lr: float = 0.02  # Adam step size in latent units (the prior's standard deviation is 1)
    patience: int = 40  # steps without improvement before a run stops
    tol: float = 1e-4  # relative loss decrease that counts as an improvement


@dataclass
class SearchResult:
    z: np.ndarray  # (N, D) each run's best latent vector
    loss: np.ndarray  # (N,) its loss
    best_step: np.ndarray  # (N,) the step it was reached at (0: the start)
    steps: np.ndarray  # (N,) steps each run took before it stopped
    history: np.ndarray  # (N, S + 1) loss at every step; NaN after the run stopped
    path: np.ndarray  # (N, S + 1, D) float32 latent vector at every step; NaN after the stop
    recorded: np.ndarray | None  # (N, S + 1, K) what ``loss`` recorded at every step, or None


Loss = Callable[[torch.Tensor], "torch.Tensor | tuple[torch.Tensor, torch.Tensor]"]


def search(z0: np.ndarray, loss: Loss, params: SearchParams | None = None, *,
           device: torch.device | str = "cpu") -> SearchResult:
    """Minimize ``loss`` from every row of ``z0`` (N, D) by Adam.

    ``loss(z)`` returns the (N,) losses or a pair (losses, record) with ``record`` (N, K) kept at
    every step (e.g. the predicted properties, for drawing the path)."""
    p = params or SearchParams()
    z0 = np.asarray(z0, dtype=np.float64)
    n, d = z0.shape
    z = torch.tensor(z0, dtype=torch.float32, device=device, requires_grad=True)
    opt = torch.optim.Adam([z], lr=p.lr)
    history = np.full((n, p.steps + 1), np.nan)
    path = np.full((n, p.steps + 1, d), np.nan, dtype=np.float32)
    recorded = None
    best = np.full(n, np.inf)
    best_z = z0.copy()
    best_step = np.zeros(n, dtype=np.int64)
    since = np.zeros(n, dtype=np.int64)  # steps since the last improvement
    active = np.ones(n, dtype=bool)
    steps = np.zeros(n, dtype=np.int64)
    for step in range(p.steps + 1):
        out = loss(z)
        value, record = out if isinstance(out, tuple) else (out, None)
        v = value.detach().cpu().numpy().astype(np.float64)
        if record is not None:
            if recorded is None:
                recorded = np.full((n, p.steps + 1, record.shape[1]), np.nan)
            recorded[active, step] = record.detach().cpu().numpy()[active]
        history[active, step] = v[active]
        path[active, step] = z.detach().cpu().numpy()[active]
        finite = np.isfinite(best)
        threshold = np.where(finite, best - p.tol * np.abs(np.where(finite, best, 0.0)), np.inf)
        improved = active & np.isfinite(v) & (v < threshold)
        best_z[improved] = path[improved, step]
        best[improved] = v[improved]
        best_step[improved] = step
        since = np.where(improved, 0, since + 1)
        steps[active] = step
        active &= since < p.patience
        if step == p.steps or not active.any():
            break
        opt.zero_grad(set_to_none=True)
        value[torch.as_tensor(active, device=value.device)].sum().backward()
        frozen = z.detach().clone()
        opt.step()
        with torch.no_grad():  # stopped runs stay where they stopped
            keep = torch.as_tensor(~active, device=z.device)
            z[keep] = frozen[keep]
    return SearchResult(best_z, best, best_step, steps, history, path, recorded)
