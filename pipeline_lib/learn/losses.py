"""Loss terms shared by the models (all reduce to a mean over the batch)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) summed over latent dims, mean over the batch (Eq. 5)."""
    return 0.5 * (logvar.exp() + mu * mu - 1.0 - logvar).sum(-1).mean()


def bernoulli_nll(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Bernoulli negative log-likelihood summed over pixels/voxels/entries, mean over the batch."""
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1).sum(1).mean()


def gaussian_mixture_nll(target: torch.Tensor, logits: torch.Tensor, mean: torch.Tensor,
                         log_std: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood of targets (B, P) under per-property mixtures of K Gaussians
    (logits, mean, log_std: (B, P, K)); summed over properties, mean over the batch."""
    y = target[..., None]
    log_comp = -0.5 * ((y - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)
    return -torch.logsumexp(F.log_softmax(logits, -1) + log_comp, -1).sum(-1).mean()


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return mu + torch.randn_like(mu) * (0.5 * logvar).exp()
