"""Graph VAE with a property predictor for octant lattices (paper 002, "Generative modeling
framework", Eqs. 1-5).

Inputs are the serialized graph: the upper triangle of the adjacency with its diagonal (378
entries) and the offsets of the free node directions (27 values: 12 edge nodes x 1, 6 face nodes x
2, the body node x 3).  Two encoders give (mu, log var) of dimension d_A = topology + shared and
d_x = shared + geometry; the latent is [topology part of the adjacency code, the mean of the two
shared parts, geometry part of the offset code] (Eq. 3).  Two decoders read [topology, shared]
-> adjacency (sigmoid) and [shared, geometry] -> offsets (0.5 tanh, the admissible range); the
predictor reads the latent mean and returns the nine stiffness components, standardized (and
optionally log-scaled first: ``log_properties``).  Loss (Eq. 4): squared reconstruction errors of
adjacency and offsets (or binary cross-entropy for the adjacency), squared property error, and
beta * KL with beta cyclically annealed.
"""
from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from pipeline_lib.learn.losses import kl_standard_normal, reparameterize
from pipeline_lib.learn.schedules import beta as beta_at
from pipeline_lib.truss3d.octant import BASE, FREE

IU = np.triu_indices(27)  # 378 entries, diagonal included
FREE_INDEX = np.argwhere(FREE)  # (27, 2): (node, axis) of each free direction
N_ADJ, N_OFF = len(IU[0]), len(FREE_INDEX)


def _axis_permutations() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index maps of the six relabelings of the axes (x'_a = x_{p[a]}), exact symmetries of the
    octant: for each, where every serialized adjacency entry, free offset and stiffness component
    of the relabeled lattice comes from."""
    node = {tuple(b): i for i, b in enumerate(BASE.tolist())}
    entry = np.full((27, 27), -1)
    entry[IU] = np.arange(N_ADJ)
    dof = {(int(n), int(a)): k for k, (n, a) in enumerate(FREE_INDEX)}
    normal = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
    adj, off, prop = [], [], []
    for p in itertools.permutations(range(3)):
        new_of_old = np.array([node[tuple(BASE[i][list(p)])] for i in range(27)])
        old_of_new = np.argsort(new_of_old)
        u, v = old_of_new[IU[0]], old_of_new[IU[1]]
        adj.append(entry[np.minimum(u, v), np.maximum(u, v)])
        off.append([dof[(int(old_of_new[n]), p[a])] for n, a in FREE_INDEX])
        # C'_aabb = C_p(a)p(a)p(b)p(b); the shear modulus of the plane without axis a is that of
        # the plane without axis p(a)
        prop.append([normal.index(tuple(sorted((p[a], p[b])))) for a, b in normal] + [6 + p[a] for a in range(3)])
    return np.array(adj), np.array(off), np.array(prop)


PERM_ADJ, PERM_OFF, PERM_PROP = _axis_permutations()


def serialize(adjacency: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 378) adjacency entries and (N, 27) free offsets."""
    A = np.asarray(adjacency, dtype=np.float32)[:, IU[0], IU[1]]
    x = np.asarray(offsets, dtype=np.float32)[:, FREE_INDEX[:, 0], FREE_INDEX[:, 1]]
    return A, x


def deserialize(a: np.ndarray, x: np.ndarray, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Lattices (adjacency (N, 27, 27) bool, symmetric, true diagonal; offsets (N, 27, 3)) from
    decoded entries (probabilities) and free offsets."""
    n = len(a)
    A = np.zeros((n, 27, 27), dtype=bool)
    A[:, IU[0], IU[1]] = np.asarray(a) > threshold
    A = A | A.transpose(0, 2, 1)
    A[:, np.arange(27), np.arange(27)] = True
    off = np.zeros((n, 27, 3))
    off[:, FREE_INDEX[:, 0], FREE_INDEX[:, 1]] = np.clip(x, -0.5, 0.5)
    active = (A & ~np.eye(27, dtype=bool)).any(2)
    return A, np.where(active[..., None], off, 0.0)


@dataclass
class ModelConfig:
    topology: int = 8
    shared: int = 16
    geometry: int = 8
    adjacency_hidden: tuple[int, ...] = (512, 256)
    offset_hidden: tuple[int, ...] = (256, 128)
    predictor_hidden: tuple[int, ...] = (256, 256, 128)
    adjacency_loss: str = "mse"  # paper's Eq. 4; "bce" is the Bernoulli likelihood
    adjacency_weight: float = 1.0
    offset_weight: float = 30.0
    property_weight: float = 5.0
    log_properties: bool = False
    augment: bool = False  # train on random axis relabelings (exact symmetries); measured worse at 100 epochs
    beta: dict = field(default_factory=lambda: {"kind": "cyclical", "value": 0.01, "start": 0.0, "delay": 0,
                                                "epochs": 20, "cycles": 4, "ratio": 0.5})
    epochs: int = 100  # the training's (truss3d.train.epochs): the beta schedule needs it

    @property
    def latent(self) -> int:
        return self.topology + self.shared + self.geometry


def _mlp(sizes, last_activation=None) -> nn.Sequential:
    layers = []
    for a, b in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    if last_activation is not None:
        layers.append(last_activation)
    return nn.Sequential(*layers)


class LatticeVAE(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        t, s, g = cfg.topology, cfg.shared, cfg.geometry
        self.enc_A = _mlp((N_ADJ, *cfg.adjacency_hidden, 2 * (t + s)))
        self.enc_x = _mlp((N_OFF, *cfg.offset_hidden, 2 * (s + g)))
        self.dec_A = _mlp((t + s, *cfg.adjacency_hidden[::-1], N_ADJ))
        self.dec_x = _mlp((s + g, *cfg.offset_hidden[::-1], N_OFF))
        self.predictor = _mlp((t + s + g, *cfg.predictor_hidden, 9))
        self.register_buffer("y_mean", torch.zeros(9))
        self.register_buffer("y_std", torch.ones(9))
        self.register_buffer("log_scale", torch.ones((), dtype=torch.float64))  # see learning.targets

    def augment(self, batch, g: torch.Generator):
        """Relabel the axes of each lattice at random (six exact symmetries of the octant): the
        adjacency and offsets move with the nodes, the stiffness components with the axes."""
        if not self.cfg.augment:
            return batch
        a, x, y = batch
        k = torch.randint(0, 6, (len(a),), generator=g).to(a.device)
        maps = [torch.as_tensor(m, device=a.device)[k] for m in (PERM_ADJ, PERM_OFF, PERM_PROP)]
        raw = y * self.y_std + self.y_mean
        y = (raw.gather(1, maps[2]) - self.y_mean) / self.y_std
        return [a.gather(1, maps[0]), x.gather(1, maps[1]), y]

    def encode(self, a: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        t, s = self.cfg.topology, self.cfg.shared
        muA, lvA = self.enc_A(a).chunk(2, -1)
        mux, lvx = self.enc_x(x).chunk(2, -1)

        def merge(pa, px):  # Eq. 3: topology-only | mean of the shared parts | geometry-only
            return torch.cat([pa[:, :t], 0.5 * (pa[:, t:] + px[:, :s]), px[:, s:]], -1)

        return merge(muA, mux), merge(lvA, lvx).clamp(-12.0, 8.0)

    def decode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Adjacency logits (B, 378) and free offsets (B, 27)."""
        t, s = self.cfg.topology, self.cfg.shared
        return self.dec_A(z[:, : t + s]), 0.5 * torch.tanh(self.dec_x(z[:, t:]))

    def predict_standardized(self, mu: torch.Tensor) -> torch.Tensor:
        return self.predictor(mu)

    def loss(self, batch, epoch: float):
        a, x, y = batch
        mu, logvar = self.encode(a, x)
        logits, xr = self.decode(reparameterize(mu, logvar))
        if self.cfg.adjacency_loss == "bce":
            rec_a = nn.functional.binary_cross_entropy_with_logits(logits, a, reduction="none").sum(-1).mean()
        else:
            rec_a = ((torch.sigmoid(logits) - a) ** 2).sum(-1).mean()
        rec_x = ((xr - x) ** 2).sum(-1).mean()
        prop = ((self.predict_standardized(mu) - y) ** 2).sum(-1).mean()
        kl = kl_standard_normal(mu, logvar)
        b = beta_at(self.cfg.beta, epoch, self.cfg.epochs)
        c = self.cfg
        total = c.adjacency_weight * rec_a + c.offset_weight * rec_x + c.property_weight * prop + b * kl
        return total, {"adjacency": rec_a.detach(), "offsets": rec_x.detach(), "property": prop.detach(),
                       "kl": kl.detach(), "beta": b}

    def config_dict(self) -> dict:
        return asdict(self.cfg)
