"""3D convolutional VAE with a mixture density network (paper 004, section 2.1 and Appendix A).

The model sees one eighth of each unit (24^3 of 48^3): database units are mirror-symmetric about
their three mid-planes, so the eighth holds all of it and decoding mirrors it back.  Encoder:
blocks of 3x3x3 convolutions (replicate padding = the mirror continuation at the eighth's faces)
each followed by 2x max pooling (24 -> 12 -> 6 -> 3), then fully connected layers to the latent
mean and log-variance.  Decoder: fully connected back to the 3^3 grid, then blocks of upsampling
and convolutions to 24^3 logits (a sigmoid gives voxel probabilities).  The MDN reads the latent
mean and gives, for each property (E, nu, G; standardized), a mixture of ``components`` Gaussians
(the paper uses one).

Loss (Eq. 4): w_rec * reconstruction + beta * KL + w_mdn * mixture NLL.  Reconstruction is the
Bernoulli likelihood of the voxels by default (the paper's squared error is ``reconstruction:
mse``).  The weights are set per phase of the progressive schedule (section 2.1.4): the model
reads them from ``self.weights``, which the training stage changes between phases.

Appendix A uses three convolutions per block with 32/64/96 channels; the default here is one
convolution per block with 16/32/64 channels, which trains on two CPU cores in minutes and
reaches the issue's accuracy on the default database (``convs_per_block: 3`` and
``channels: [32, 64, 96]`` give the paper's network for GPU runs).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from pipeline_lib.learn.losses import bernoulli_nll, gaussian_mixture_nll, kl_standard_normal, reparameterize
from pipeline_lib.learn.schedules import beta as schedule_at
from pipeline_lib.voxel3d.homogenization import PROPERTIES

_AXIS_PERMUTATIONS = ((2, 3, 4), (2, 4, 3), (3, 2, 4), (3, 4, 2), (4, 2, 3), (4, 3, 2))


@dataclass
class ModelConfig:
    latent: int = 32
    channels: tuple[int, ...] = (16, 32, 64)
    convs_per_block: int = 1
    hidden: tuple[int, ...] = (512,)
    mdn_hidden: tuple[int, ...] = (256, 128)
    components: int = 1
    reconstruction: str = "bce"  # or "mse" (the paper's)
    side: int = 24  # eighth side (unit side / 2); divisible by 2 ** len(channels)
    threshold: float = 0.5
    weights: dict = field(default_factory=lambda: {"reconstruction": 1.0, "kl": 1.0, "mdn": 1.0})


def _block(c_in: int, c_out: int, n: int) -> list[nn.Module]:
    layers = []
    for k in range(n):
        layers += [nn.Conv3d(c_in if k == 0 else c_out, c_out, 3, padding=1, padding_mode="replicate"), nn.ReLU()]
    return layers


def _mlp(sizes) -> nn.Sequential:
    layers = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(sizes[-2], sizes[-1]))


class UnitVAE(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        levels = len(cfg.channels)
        if cfg.side % 2 ** levels:
            raise ValueError(f"eighth side {cfg.side} is not divisible by 2^{levels} (one pooling per block)")
        enc, c_in = [], 1
        for c in cfg.channels:
            enc += _block(c_in, c, cfg.convs_per_block) + [nn.MaxPool3d(2)]
            c_in = c
        self.encoder = nn.Sequential(*enc, nn.Flatten())
        self._s = cfg.side // 2 ** levels
        n_flat = cfg.channels[-1] * self._s ** 3
        self.to_stats = _mlp((n_flat, *cfg.hidden, 2 * cfg.latent))
        self.from_latent = nn.Sequential(_mlp((cfg.latent, *cfg.hidden[::-1], n_flat)), nn.ReLU())
        dec, rev = [], cfg.channels[::-1]
        for k, c in enumerate(rev):
            c_out = rev[k + 1] if k + 1 < len(rev) else max(c // 2, 8)
            dec += [nn.Upsample(scale_factor=2, mode="nearest")] + _block(c, c_out, cfg.convs_per_block)
        self.decoder = nn.Sequential(*dec, nn.Conv3d(c_out, 1, 3, padding=1, padding_mode="replicate"))
        P, K = len(PROPERTIES), cfg.components
        self.mdn = _mlp((cfg.latent, *cfg.mdn_hidden, 3 * P * K))
        self.register_buffer("y_mean", torch.zeros(P))
        self.register_buffer("y_std", torch.ones(P))
        self.set_phase(cfg.weights, 1)

    def set_phase(self, weights: dict, epochs: int) -> None:
        """Loss weights of a training phase: numbers, or schedules over the phase's epochs
        (``{kind: linear, value: 1, epochs: 10}`` raises the KL weight gradually, as in step 2)."""
        self.weights = {k: weights.get(k, 0.0) for k in ("reconstruction", "kl", "mdn")}
        self.phase_epochs = epochs

    def _w(self, key: str, epoch) -> float:
        w = self.weights[key]
        return schedule_at(w, epoch, self.phase_epochs) if isinstance(w, dict) else float(w)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.to_stats(self.encoder(x)).chunk(2, dim=-1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Logits of the eighth, averaged over the six axis permutations: database units are
        cubic-symmetric, so their eighths are unchanged by any relabelling of the axes, and so is
        every decoded unit (the decoder need only get one sixth of the eighth right)."""
        c = self.cfg.channels[-1]
        logits = self.decoder(self.from_latent(z).view(len(z), c, self._s, self._s, self._s))
        return torch.stack([logits.permute(0, 1, *p) for p in _AXIS_PERMUTATIONS]).mean(0)

    def mixture(self, mu: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mixture logits, means and log standard deviations, each (B, P, K), standardized units."""
        P, K = len(PROPERTIES), self.cfg.components
        logits, mean, log_std = self.mdn(mu).view(len(mu), P, 3, K).unbind(2)
        return logits, mean, log_std.clamp(-7.0, 3.0)

    def augment(self, batch, g: torch.Generator):
        """Flipping the eighth along all three axes at once is the shift of the unit by half a
        period along the body diagonal: the same material, the same E, nu and G, and still
        cubic-symmetric (a flip along one axis alone is also a shift, but breaks the symmetry
        under axis relabelling that the decoder builds in)."""
        x = batch[0]
        flip = torch.randint(0, 2, (len(x),), generator=g).bool().to(x.device)
        x = torch.where(flip[:, None, None, None, None], x.flip((-3, -2, -1)), x)
        return [x, *batch[1:]]

    def loss(self, batch, epoch):
        x, y = batch
        w = {k: self._w(k, epoch) for k in self.weights}
        mu, logvar = self.encode(x)
        # a phase without the KL term trains a plain autoencoder (step 1 of section 2.1.4)
        stochastic = isinstance(self.weights["kl"], dict) or w["kl"] > 0
        logits = self.decode_logits(reparameterize(mu, logvar) if stochastic else mu)
        if self.cfg.reconstruction == "mse":
            recon = ((torch.sigmoid(logits) - x) ** 2).flatten(1).sum(1).mean()
        else:
            recon = bernoulli_nll(logits, x)
        kl = kl_standard_normal(mu, logvar)
        total = w["reconstruction"] * recon + w["kl"] * kl
        logs = {"recon": recon.detach(), "kl": kl.detach(), "kl_weight": w["kl"]}
        if w["mdn"] > 0:
            nll = gaussian_mixture_nll(y, *self.mixture(mu))
            total = total + w["mdn"] * nll
            logs["mdn"] = nll.detach()
        return total, logs

    def config_dict(self) -> dict:
        return asdict(self.cfg)


def mixture_moments(logits: np.ndarray, mean: np.ndarray, log_std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of per-property Gaussian mixtures ((B, P, K) arrays)."""
    w = np.exp(logits - logits.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    m = (w * mean).sum(-1)
    var = (w * (np.exp(2 * log_std) + mean ** 2)).sum(-1) - m ** 2
    return m, np.sqrt(np.maximum(var, 0.0))
