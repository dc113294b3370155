"""A plain feed-forward regressor on fixed features (latent means): the deterministic property
predictor of paper 004's Appendix D, trained beside a VAE whose encoder and decoder it shares.
Mean squared error on standardized targets, full-batch Adam, the weights of the best validation
epoch kept."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


class Regressor(nn.Module):
    def __init__(self, n_in: int, n_out: int, hidden=(256, 128)):
        super().__init__()
        sizes, layers = (n_in, *hidden), []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(sizes[-1], n_out))
        for name in ("x_mean", "x_std", "y_mean", "y_std"):
            self.register_buffer(name, torch.zeros(n_in if name[0] == "x" else n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.x_mean) / self.x_std) * self.y_std + self.y_mean

    @torch.no_grad()
    def predict(self, x: np.ndarray) -> tuple[np.ndarray, None]:
        """Mean (N, P) at features x; no standard deviation (the chain protocol's predict)."""
        self.eval()
        return self(torch.as_tensor(np.asarray(x), dtype=torch.float32)).numpy().astype(np.float64), None


def fit(x: np.ndarray, y: np.ndarray, train: np.ndarray, val: np.ndarray, *, hidden=(256, 128), epochs: int = 600,
        lr: float = 1e-3, weight_decay: float = 0.0, seed: int = 0) -> tuple[Regressor, dict]:
    """Fit on rows ``train``, keep the epoch with the lowest validation error; returns the model and
    its training record (epochs, best epoch, validation MSE in standardized units)."""
    torch.manual_seed(seed)
    m = Regressor(x.shape[1], y.shape[1], hidden)
    X = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    Y = torch.as_tensor(np.asarray(y), dtype=torch.float32)
    for name, data in (("x", X[train]), ("y", Y[train])):
        getattr(m, f"{name}_mean").copy_(data.mean(0))
        getattr(m, f"{name}_std").copy_(data.std(0).clamp_min(1e-8))
    opt = torch.optim.Adam(m.parameters(), lr=lr, weight_decay=weight_decay)
    Yn = (Y - m.y_mean) / m.y_std
    tr, va = torch.as_tensor(train), torch.as_tensor(val if len(val) else train)
    best, best_state, best_epoch = np.inf, None, 0
    for epoch in range(epochs):
        m.train()
        opt.zero_grad()
        loss = ((m.net((X[tr] - m.x_mean) / m.x_std) - Yn[tr]) ** 2).mean()
        loss.backward()
        opt.step()
        with torch.no_grad():
            m.eval()
            v = float(((m.net((X[va] - m.x_mean) / m.x_std) - Yn[va]) ** 2).mean())
        if v < best:
            best, best_epoch = v, epoch
            best_state = {k: t.clone() for k, t in m.state_dict().items()}
    m.load_state_dict(best_state)
    return m.eval(), {"epochs": epochs, "best_epoch": best_epoch, "val_mse_standardized": best}
