"""Convolutional VAE with a property regressor for pixel cells (paper 000, section 3.2, Eqs. 1-6).

The model sees the top-left quarter of each cell: database cells are mirror-symmetric about both
mid-axes, so the quarter holds all of it and every decoded cell is orthotropic by construction.
Convolutions pad by replication, which at a one-pixel pad is exactly the mirror continuation of
the quarter across its edges (the cell's mirror lines).  The encoder is three strided
convolutions (25 -> 13 -> 7 -> 4) and a fully connected layer to the latent mean and log-variance;
the decoder mirrors the fully connected part (two layers) and has two transposed convolutions
(7 -> 13 -> 25), each followed by a 3x3 convolution (``refine``; without it the decoder is the
paper's shallower one, which measured 0.955 pixel accuracy here against 0.97).  The regressor
reads the latent mean only.  Loss (Eq. 6): Bernoulli
negative log-likelihood of the pixels + beta * KL + w * squared error of the standardized
(C11, C12, C22, C33).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from pipeline_lib.learn.losses import bernoulli_nll, kl_standard_normal, reparameterize
from pipeline_lib.learn.schedules import beta as beta_at
from pipeline_lib.pixel2d.properties import PROPERTIES


@dataclass
class ModelConfig:
    latent: int = 16
    channels: tuple[int, int, int] = (32, 64, 128)
    hidden: int = 256
    regressor: tuple[int, ...] = (128, 128)
    regression_weight: float = 50.0
    refine: bool = True  # a 3x3 convolution after each upsampling (sharper cells; still no deeper than the encoder)
    beta: dict = field(default_factory=lambda: {"kind": "linear", "value": 0.1, "start": 0.0, "delay": 0,
                                                "epochs": 20, "cycles": 4, "ratio": 0.5})
    epochs: int = 30  # the training's (pixel2d.train.epochs): the beta schedule needs it
    side: int = 25  # quarter side (cell side / 2)
    threshold: float = 0.9  # decoding: solid above this probability (paper 000)
    augment: str = "none"  # exact symmetries applied to training batches: none, transpose, all; see the schema


class CellVAE(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        c1, c2, c3 = cfg.channels
        conv = dict(kernel_size=3, stride=2, padding=1, padding_mode="replicate")
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c1, **conv), nn.LeakyReLU(0.2),
            nn.Conv2d(c1, c2, **conv), nn.LeakyReLU(0.2),
            nn.Conv2d(c2, c3, **conv), nn.LeakyReLU(0.2), nn.Flatten())
        with torch.no_grad():
            n_flat = self.encoder(torch.zeros(1, 1, cfg.side, cfg.side)).shape[1]
        self.to_stats = nn.Sequential(nn.Linear(n_flat, cfg.hidden), nn.LeakyReLU(0.2), nn.Linear(cfg.hidden, 2 * cfg.latent))
        self.side = side = cfg.side
        s = self._decoder_side(side)
        top = c3 if cfg.refine else c2
        # the encoder's fully connected hidden layer, mirrored: a single linear map from 16
        # numbers to the 7 x 7 feature grid cannot place boundaries sharply (0.963 pixel accuracy)
        self.from_latent = nn.Sequential(
            nn.Linear(cfg.latent, cfg.hidden), nn.LeakyReLU(0.2),
            nn.Linear(cfg.hidden, top * s * s), nn.LeakyReLU(0.2))
        same = dict(kernel_size=3, padding=1, padding_mode="replicate")
        if cfg.refine:
            self.decoder = nn.Sequential(
                nn.ConvTranspose2d(c3, c2, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                nn.Conv2d(c2, c2, **same), nn.LeakyReLU(0.2),
                nn.ConvTranspose2d(c2, c1, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                nn.Conv2d(c1, 1, **same))
        else:
            self.decoder = nn.Sequential(
                nn.ConvTranspose2d(c2, c1, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                nn.ConvTranspose2d(c1, 1, 3, stride=2, padding=1))
        self._s = s
        layers, width = [], cfg.latent
        for h in cfg.regressor:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2)]
            width = h
        self.regressor = nn.Sequential(*layers, nn.Linear(width, len(PROPERTIES)))
        self.register_buffer("y_mean", torch.zeros(len(PROPERTIES)))
        self.register_buffer("y_std", torch.ones(len(PROPERTIES)))

    @staticmethod
    def _decoder_side(side: int) -> int:
        # two transposed convolutions (k3, s2, p1) map s -> 4 s - 3 >= side; the excess is cropped
        # (none for the paper's 50 x 50 cells: 7 -> 25)
        if side < 2:
            raise ValueError(f"quarter side {side} is too small")
        return -(-(side + 3) // 4)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        stats = self.to_stats(self.encoder(x))
        mu, logvar = stats.chunk(2, dim=-1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        h = self.from_latent(z).view(len(z), -1, self._s, self._s)
        return self.decoder(h)[..., : self.side, : self.side]

    def regress(self, mu: torch.Tensor) -> torch.Tensor:
        """Standardized property predictions."""
        return self.regressor(mu)

    def augment(self, batch, g: torch.Generator):
        """Exact symmetries of mirror-symmetric cells, applied per sample: transposing the quarter
        swaps x and y (C11 <-> C22); with ``all``, flipping it too, a half-period shift of the
        cell (C unchanged).  Transposes stay in the database's distribution (targets are sampled
        symmetrically in C11 and C22); shifts do not (every seed has its solid where SIMP put
        it), so they spend the 16-D latent on cells the test split never shows."""
        if self.cfg.augment not in ("transpose", "all"):
            return batch
        x, y = batch
        n = len(x)
        flips = torch.randint(0, 2, (3, n), generator=g).bool().to(x.device)
        if self.cfg.augment == "all":
            x = torch.where(flips[0, :, None, None, None], x.flip(-2), x)
            x = torch.where(flips[1, :, None, None, None], x.flip(-1), x)
        x = torch.where(flips[2, :, None, None, None], x.transpose(-1, -2), x)
        swap = torch.tensor([2, 1, 0, 3], device=y.device)  # C11, C12, C22, C33 -> C22, C12, C11, C33
        ys = (y * self.y_std + self.y_mean)[:, swap]
        y = torch.where(flips[2, :, None], (ys - self.y_mean) / self.y_std, y)
        return [x, y]

    def loss(self, batch, epoch: float):
        x, y = batch
        mu, logvar = self.encode(x)
        logits = self.decode_logits(reparameterize(mu, logvar))
        recon = bernoulli_nll(logits, x)
        kl = kl_standard_normal(mu, logvar)
        reg = ((self.regress(mu) - y) ** 2).sum(-1).mean()
        b = beta_at(self.cfg.beta, epoch, self.cfg.epochs)
        total = recon + b * kl + self.cfg.regression_weight * reg
        return total, {"recon": recon.detach(), "kl": kl.detach(), "regression": reg.detach(), "beta": b}

    def config_dict(self) -> dict:
        return asdict(self.cfg)
