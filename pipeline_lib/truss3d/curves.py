"""The 13-point stress-strain curve of a lattice from the graph VAE's latent space (paper 002,
"Design for tailored nonlinear mechanical response", Fig. 6a).

The paper retrains its whole framework with the curve as the label.  Here the VAE stays as it is
(its latent space is the design space of every truss result) and two predictors are fitted on the
stress-strain database and compared on the same split:

* **frozen**: an MLP head on the latent mean of the trained encoder;
* **finetune**: the same head, then head and encoders trained together (the decoders, and so what
  a latent vector decodes to, are untouched).  It starts from the frozen head and keeps its best
  validation state, so it can only match or beat the frozen one on validation.

``mode: auto`` keeps the one with the lower validation NRMSE; both test NRMSEs are reported.  The
loss is the metric itself, squared: per-curve RMSE over the range (max - min) of the true curve
(the authors' NRMSE), so a soft lattice's curve counts as much as a stiff one's.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

MODES = ("auto", "frozen", "finetune")


@dataclass
class PredictorParams:
    hidden: tuple[int, ...] = (128, 128)
    epochs: int = 3000  # full-batch Adam steps of the head
    lr: float = 3e-3
    weight_decay: float = 1e-4
    finetune_epochs: int = 600  # head and encoders together
    finetune_lr: float = 3e-4
    properties: bool = True  # the VAE's property prediction as features beside the latent mean
    split: tuple[float, float, float] = (0.7, 0.15, 0.15)  # train, validation, test
    mode: str = "auto"


def nrmse(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per-curve RMSE over the range of the true curve (the authors' convention), (...,)."""
    true, pred = np.asarray(true, float), np.asarray(pred, float)
    rng = true.max(-1) - true.min(-1)
    return np.sqrt(((true - pred) ** 2).mean(-1)) / rng


def nrmse_tensor(true: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    rng = true.max(-1).values - true.min(-1).values
    return torch.sqrt(((true - pred) ** 2).mean(-1) + 1e-30) / rng


class CurveHead(nn.Module):
    """Features of a lattice -> curve (units of E_s); input and output standardization travel as
    buffers.  The features are the latent mean and, with ``properties`` > 0, the VAE's own property
    prediction from it (:meth:`CurvePredictor.features`)."""

    def __init__(self, latent: int, points: int, hidden=(128, 128), properties: int = 0):
        super().__init__()
        self.properties = int(properties)
        latent = latent + self.properties
        sizes = (latent, *hidden, points)
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.SiLU()]
        self.net = nn.Sequential(*layers[:-1])
        for name, n in (("z_mean", latent), ("z_std", latent), ("y_mean", points), ("y_std", points)):
            self.register_buffer(name, torch.zeros(n) if "mean" in name else torch.ones(n))

    def forward(self, mu: torch.Tensor) -> torch.Tensor:
        return self.net((mu - self.z_mean) / self.z_std) * self.y_std + self.y_mean


class CurvePredictor(nn.Module):
    """An encoder (a copy of the VAE's, fine-tuned or not) and the head: lattice -> curve."""

    def __init__(self, vae: nn.Module, head: CurveHead, mode: str):
        super().__init__()
        self.vae, self.head, self.mode = vae, head, mode

    def latent(self, a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.vae.encode(a, x)[0]

    def features(self, mu: torch.Tensor) -> torch.Tensor:
        """The head's input: the latent mean, and the VAE's property prediction from it (trained
        on the whole linear database, it carries the stiffness scale that a few hundred curves
        teach the head only roughly)."""
        if not self.head.properties:
            return mu
        return torch.cat([mu, self.vae.predict_standardized(mu)], 1)

    def forward(self, a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(self.latent(a, x)))


def _loss(pred: torch.Tensor, true: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return (((pred - true) / scale[:, None]) ** 2).mean()


def _ranges(curves: np.ndarray) -> torch.Tensor:
    r = curves.max(1) - curves.min(1)
    return torch.as_tensor(np.maximum(r, 1e-3 * np.median(r)), dtype=torch.float32)


def fit(vae: nn.Module, a: torch.Tensor, x: torch.Tensor, curves: np.ndarray, rows: dict[str, np.ndarray],
        p: PredictorParams, seed: int) -> tuple[CurvePredictor, dict, dict[str, np.ndarray]]:
    """Both predictors on ``rows`` (train / validation / test indices into ``curves``); returns the
    kept one, the metrics of both and both predictions of every row."""
    if p.mode not in MODES:
        raise ValueError(f"truss3d.nonlinear.predictor.mode must be one of {MODES}, got {p.mode!r}")
    tr, va = rows["train"], rows["validation"]
    y = torch.as_tensor(curves, dtype=torch.float32)
    scale = _ranges(curves)
    vae = copy.deepcopy(vae).float().eval()
    for q in vae.parameters():
        q.requires_grad_(False)
    with torch.no_grad():
        mu = vae.encode(a, x)[0]
        n_props = vae.predict_standardized(mu[:1]).shape[1] if p.properties else 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = CurveHead(mu.shape[1], curves.shape[1], tuple(p.hidden), n_props)
    frozen = CurvePredictor(vae, head, "frozen")
    with torch.no_grad():
        feats = frozen.features(mu)
    head.z_mean.copy_(feats[tr].mean(0))
    head.z_std.copy_(feats[tr].std(0) + 1e-6)
    head.y_mean.copy_(y[tr].mean(0))
    head.y_std.copy_(y[tr].std(0) + 1e-12)

    def val_of(f) -> float:
        with torch.no_grad():
            return float(_loss(f(va), y[va], scale[va]))

    history = {"frozen": [], "finetune": []}
    _train(head.parameters(), lambda idx: head(feats[idx]), tr, y, scale, p.epochs, p.lr, p.weight_decay,
           val_of, head, history["frozen"])

    tuned = copy.deepcopy(frozen)
    tuned.mode = "finetune"
    enc = [q for n, q in tuned.vae.named_parameters() if n.startswith(("enc_A", "enc_x"))]
    for q in enc:
        q.requires_grad_(True)
    if p.finetune_epochs:
        _train([*enc, *tuned.head.parameters()], lambda idx: tuned(a[idx], x[idx]), tr, y, scale,
               p.finetune_epochs, p.finetune_lr, p.weight_decay, val_of, tuned, history["finetune"])
    for q in tuned.parameters():
        q.requires_grad_(False)

    metrics, preds = {}, {}
    for name, model in (("frozen", frozen), ("finetune", tuned)):
        with torch.no_grad():
            preds[name] = model(a, x).numpy().astype(np.float64)
        metrics[name] = {s: _summary(nrmse(curves[r], preds[name][r])) for s, r in rows.items()}
    if p.mode == "auto":
        keep = "finetune" if metrics["finetune"]["validation"]["mean"] < metrics["frozen"]["validation"]["mean"] \
            else "frozen"
    else:
        keep = p.mode
    kept = tuned if keep == "finetune" else frozen
    return kept.eval(), {"kept": keep, "nrmse": metrics, "history": history,
                         "lattices": {s: int(len(r)) for s, r in rows.items()}}, preds


def refit(predictor: CurvePredictor, adjacency: np.ndarray, offsets: np.ndarray, curves: np.ndarray, *,
          epochs: int, lr: float, weight_decay: float = 1e-4) -> CurvePredictor:
    """A copy of ``predictor`` trained further on lattices with known FE curves, (n, 27, 27),
    (n, 27, 3), (n, points): the parts it was fitted with (the head; a fine-tuned predictor's
    encoders too), from its current state, full batch, no early stopping (the lattices a design
    search verified are the ones it must get right; the caller mixes in the training curves to
    keep the rest)."""
    from pipeline_lib.truss3d import learning as L

    model = copy.deepcopy(predictor).train()
    params = list(model.head.parameters())
    if model.mode == "finetune":
        params += [q for n, q in model.vae.named_parameters() if n.startswith(("enc_A", "enc_x"))]
    for q in params:
        q.requires_grad_(True)
    a, x = L.tensors(model.vae, adjacency, offsets)
    y = torch.as_tensor(curves, dtype=torch.float32)
    _train(params, lambda idx: model(a[idx], x[idx]), torch.arange(len(y)), y, _ranges(np.asarray(curves)),
           epochs, lr, weight_decay, None, model, [])
    for q in model.parameters():
        q.requires_grad_(False)
    return model.eval()


def _train(params, forward, tr, y, scale, epochs: int, lr: float, wd: float, val_of, model: nn.Module,
           history: list) -> None:
    """Full-batch AdamW with a cosine schedule; the model ends in its best validation state (its
    last state without ``val_of``)."""
    params = list(params)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(epochs, 1))
    best, best_state = (val_of(forward), copy.deepcopy(model.state_dict())) if val_of else (None, None)
    every = max(1, epochs // 100)
    for epoch in range(epochs):
        opt.zero_grad(set_to_none=True)
        _loss(forward(tr), y[tr], scale[tr]).backward()
        opt.step()
        sched.step()
        if val_of and ((epoch + 1) % every == 0 or epoch + 1 == epochs):
            v = val_of(forward)
            history.append((epoch + 1, v))
            if v < best:
                best, best_state = v, copy.deepcopy(model.state_dict())
    if val_of:
        model.load_state_dict(best_state)


def _summary(e: np.ndarray) -> dict:
    return {"mean": float(np.mean(e)), "median": float(np.median(e)), "p90": float(np.percentile(e, 90)),
            "count": int(len(e))}


def save(path, predictor: CurvePredictor, arrays: dict, *, config: dict, seed: int, stats: dict, attrs: dict):
    """``predictor.h5`` (kind ``truss3d/curve_predictor``): the weights (encoder copy and head),
    what they were fitted on and how well they predict."""
    import json

    from pipeline_lib import artifacts
    from pipeline_lib.learn.store import weights_of

    head = predictor.head
    layout = {"latent": int(head.z_mean.numel()) - head.properties, "properties": head.properties,
              "points": int(head.y_mean.numel()),
              "hidden": [m.out_features for m in head.net if isinstance(m, nn.Linear)][:-1]}
    return artifacts.write(path, "truss3d/curve_predictor", arrays, config=config, seed=seed, stats=stats,
                           attrs={**attrs, "mode": predictor.mode, "head": json.dumps(layout),
                                  "model_config": json.dumps(predictor.vae.config_dict(), sort_keys=True)},
                           groups={"weights": weights_of(predictor)})


def load(path) -> tuple[CurvePredictor, "object"]:
    """The predictor of a ``predictor.h5`` (validated), in eval mode, and its artifact."""
    import json

    from pipeline_lib import artifacts
    from pipeline_lib.learn.store import load_weights
    from pipeline_lib.truss3d import learning as L

    art = artifacts.read(path, "truss3d/curve_predictor")
    layout = json.loads(art.attrs["head"])
    model = CurvePredictor(L.build(json.loads(art.attrs["model_config"])),
                           CurveHead(layout["latent"], layout["points"], tuple(layout["hidden"]),
                                     layout.get("properties", 0)), art.attrs["mode"])
    load_weights(path, model)
    for q in model.parameters():
        q.requires_grad_(False)
    return model.eval(), art
