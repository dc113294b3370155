"""One training loop for every model of the pipeline.

A model is an ``nn.Module`` with ``loss(batch, epoch) -> (loss, logs)``: the loss to minimise and
a dict of floats to record (``epoch`` is fractional, so schedules can move within an epoch;
validation passes ``epoch=None``, asking for fixed end-of-schedule weights so that validation losses
of different epochs compare -- early stopping and the best weights are chosen on them).  The
trainer owns everything else:

* device: CUDA when present (bfloat16 autocast there), else CPU, seeded and deterministic;
* mini-batches shuffled by a generator seeded with (seed, epoch), so a resumed run sees exactly
  the batches an uninterrupted one would; a model may define ``augment(batch, generator)`` to
  apply exact symmetries of its data to each batch;
* optimizer (Adam or RMSprop), cosine or constant learning rate, gradient clipping;
* early stopping on the validation loss (the best weights are kept and restored at the end);
* a checkpoint written atomically after every epoch, in HDF5 (weights, optimizer state, RNG state,
  history; no pickles), and picked up automatically when a killed run is started again -- unless
  the run's fingerprint (config and data) has changed, in which case training starts over;
* one progress line per epoch, the history in JSON, and training curves.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import h5py
import numpy as np
import torch

from pipeline_lib.device import default_device

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """The trainer's part of a ``<chain>.train`` config section (the rest belongs to the stage:
    :data:`STAGE_KEYS`).  epochs and batch size differ by chain, so only the schema gives them."""

    epochs: int
    batch_size: int
    lr: float = 1e-3
    optimizer: str = "adam"  # or "rmsprop" (paper 000)
    weight_decay: float = 0.0
    lr_schedule: str = "cosine"  # or "constant"
    min_lr_ratio: float = 0.05
    patience: int = 0  # epochs without validation improvement before stopping; 0 = never stop early
    grad_clip: float = 10.0
    seed: int = 0


# keys of a train section read by the training stage or the scheduler, not by the trainer
STAGE_KEYS = ("split", "samples", "down_select", "phases", "threads", "gpu", "mem_mb", "runtime")


def train_config(section: dict) -> TrainConfig:
    """TrainConfig from a train config section (plus ``seed``), refusing keys nobody reads."""
    from pipeline_lib.config import build

    return build(TrainConfig, section, ignore=STAGE_KEYS, where="train")


@dataclass
class History:
    epochs: list[dict] = field(default_factory=list)
    best_epoch: int = -1
    best_val: float = math.inf
    stopped_early: bool = False
    seconds: float = 0.0


def fingerprint(*parts) -> str:
    """Identity of a training run: its config and a digest of its data."""
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, np.ndarray):
            h.update(np.ascontiguousarray(p).tobytes())
        else:
            h.update(json.dumps(p, sort_keys=True, default=str).encode())
    return h.hexdigest()[:32]


# ------------------------------------------------------------------------------------ checkpoints
def _write_tensors(group: h5py.Group, tensors: dict) -> None:
    for k, v in tensors.items():
        group.create_dataset(k.replace("/", "|"), data=v.detach().cpu().numpy() if torch.is_tensor(v) else np.asarray(v))


def _read_tensors(group: h5py.Group, device) -> dict:
    return {k.replace("|", "/"): torch.as_tensor(group[k][()], device=device) for k in group}


def save_checkpoint(path: Path, *, model: torch.nn.Module, optimizer=None, best_state: dict | None = None,
                    attrs: dict | None = None) -> None:
    """Weights (and, for resuming, optimizer state and the best weights so far) in HDF5, atomically."""
    from pipeline_lib import atomic
    from pipeline_lib.artifacts import code_version

    with atomic.output(path) as tmp:
        with h5py.File(tmp, "w") as h5:
            h5.attrs["kind"] = "learn/checkpoint"
            h5.attrs["schema_version"] = 1
            h5.attrs["git_commit"] = code_version()
            for k, v in (attrs or {}).items():
                h5.attrs[k] = v if isinstance(v, (int, float, str)) else json.dumps(v, default=str)
            _write_tensors(h5.create_group("model"), model.state_dict())
            if best_state is not None:
                _write_tensors(h5.create_group("best"), best_state)
            if optimizer is not None:
                sd = optimizer.state_dict()
                g = h5.create_group("optimizer")
                g.attrs["param_groups"] = json.dumps(sd["param_groups"])
                for idx, st in sd["state"].items():
                    _write_tensors(g.create_group(str(idx)), st)


# ------------------------------------------------------------------------------------ the loop
class Trainer:
    def __init__(self, model: torch.nn.Module, train: Sequence[torch.Tensor], val: Sequence[torch.Tensor],
                 cfg: TrainConfig, state_path: Path, run_id: str, device: torch.device | None = None,
                 on_epoch: Callable[[int, dict], None] | None = None):
        self.device = device or default_device()
        self.model = model.to(self.device)
        self.train = [t.to(self.device) for t in train]
        self.val = [t.to(self.device) for t in val]
        self.cfg = cfg
        self.state_path = Path(state_path)
        self.run_id = run_id
        self.on_epoch = on_epoch
        params = [p for p in self.model.parameters() if p.requires_grad]
        if cfg.optimizer == "adam":
            self.opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        elif cfg.optimizer == "rmsprop":
            self.opt = torch.optim.RMSprop(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        else:
            raise ValueError(f"optimizer must be 'adam' or 'rmsprop', got {cfg.optimizer!r}")
        self.history = History()
        self.best_state: dict | None = None
        self.start_epoch = 0

    def _lr(self, epoch: float) -> float:
        if self.cfg.lr_schedule == "constant":
            return self.cfg.lr
        if self.cfg.lr_schedule == "cosine":
            lo = self.cfg.lr * self.cfg.min_lr_ratio
            return lo + 0.5 * (self.cfg.lr - lo) * (1 + math.cos(math.pi * min(epoch / self.cfg.epochs, 1.0)))
        raise ValueError(f"lr_schedule must be 'cosine' or 'constant', got {self.cfg.lr_schedule!r}")

    def _resume(self) -> None:
        if not self.state_path.exists():
            return
        try:
            with h5py.File(self.state_path, "r") as h5:
                if h5.attrs.get("run_id") != self.run_id:
                    log.info("checkpoint %s belongs to another run (config or data changed): starting over",
                             self.state_path)
                    return
                self.model.load_state_dict(_read_tensors(h5["model"], self.device))
                if "best" in h5:
                    self.best_state = _read_tensors(h5["best"], self.device)
                sd = {"param_groups": json.loads(h5["optimizer"].attrs["param_groups"]),
                      "state": {int(k): _read_tensors(v, self.device) for k, v in h5["optimizer"].items()}}
                for st in sd["state"].values():  # scalar step counters stay on the CPU
                    if "step" in st:
                        st["step"] = st["step"].cpu()
                self.opt.load_state_dict(sd)
                hist = json.loads(h5.attrs["history"])
                self.history = History(**hist)
                torch.set_rng_state(torch.as_tensor(h5["rng"][()], dtype=torch.uint8))
                self.start_epoch = len(self.history.epochs)
        except (OSError, KeyError, ValueError) as exc:  # a damaged checkpoint costs a restart, not the run
            log.warning("could not resume from %s (%s): starting over", self.state_path, exc)
            self.history, self.best_state, self.start_epoch = History(), None, 0
            return
        log.info("resuming %s at epoch %d", self.state_path, self.start_epoch)

    def _checkpoint(self) -> None:
        save_checkpoint(self.state_path, model=self.model, optimizer=self.opt, best_state=self.best_state,
                        attrs={"run_id": self.run_id, "history": asdict(self.history)})
        with h5py.File(self.state_path, "a") as h5:
            h5.create_dataset("rng", data=torch.get_rng_state().numpy())

    def _batches(self, epoch: int):
        n = len(self.train[0])
        g = torch.Generator().manual_seed(self.cfg.seed * 100003 + epoch)
        order = torch.randperm(n, generator=g).to(self.device)
        bs = self.cfg.batch_size
        augment = getattr(self.model, "augment", None)  # optional: exact symmetries of the data
        for s in range(0, n, bs):
            idx = order[s:s + bs]
            if len(idx) < 2 and n >= 2:
                continue  # a single-sample batch only adds noise (and breaks batch norm)
            batch = [t[idx] for t in self.train]
            yield augment(batch, g) if augment is not None else batch

    def _autocast(self):
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return torch.autocast("cpu", enabled=False)

    @torch.no_grad()
    def evaluate(self, data: Sequence[torch.Tensor], epoch: float | None = None) -> dict:
        self.model.eval()
        totals: dict[str, float] = {}
        n = len(data[0])
        bs = max(self.cfg.batch_size, 256)
        for s in range(0, n, bs):
            batch = [t[s:s + bs] for t in data]
            with self._autocast():
                loss, logs = self.model.loss(batch, epoch)
            w = len(batch[0]) / n
            totals["loss"] = totals.get("loss", 0.0) + float(loss) * w
            for k, v in logs.items():
                totals[k] = totals.get(k, 0.0) + float(v) * w
        return totals

    def fit(self) -> History:
        torch.manual_seed(self.cfg.seed)
        if self.device.type == "cpu":
            torch.use_deterministic_algorithms(True, warn_only=True)
        self._resume()
        if self.history.stopped_early or self.start_epoch >= self.cfg.epochs:
            self._finish()
            return self.history
        steps = max(1, math.ceil(len(self.train[0]) / self.cfg.batch_size))
        for epoch in range(self.start_epoch, self.cfg.epochs):
            t0 = time.perf_counter()
            self.model.train()
            sums: dict[str, float] = {}
            count = 0
            for k, batch in enumerate(self._batches(epoch)):
                e = epoch + k / steps
                for g in self.opt.param_groups:
                    g["lr"] = self._lr(e)
                with self._autocast():
                    loss, logs = self.model.loss(batch, e)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"loss became {float(loss)} at epoch {epoch}, step {k}")
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                if self.cfg.grad_clip:
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
                self.opt.step()
                b = len(batch[0])
                count += b
                sums["loss"] = sums.get("loss", 0.0) + float(loss.detach()) * b
                for key, v in logs.items():
                    sums[key] = sums.get(key, 0.0) + float(v) * b
            train_logs = {k: v / max(count, 1) for k, v in sums.items()}
            val_logs = self.evaluate(self.val) if len(self.val[0]) else {"loss": train_logs["loss"]}
            record = {"epoch": epoch + 1, "lr": self._lr(epoch + 1), "seconds": time.perf_counter() - t0,
                      **{f"train_{k}": v for k, v in train_logs.items()},
                      **{f"val_{k}": v for k, v in val_logs.items()}}
            self.history.epochs.append(record)
            self.history.seconds += record["seconds"]
            improved = val_logs["loss"] < self.history.best_val - 1e-12
            if improved:
                self.history.best_val = val_logs["loss"]
                self.history.best_epoch = epoch + 1
                self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            if self.on_epoch:
                self.on_epoch(epoch + 1, record)
            done = int(20 * (epoch + 1) / self.cfg.epochs)
            log.info("[%s%s] epoch %d/%d  train %.4g  val %.4g%s  (%.1f s)", "#" * done, "." * (20 - done), epoch + 1,
                     self.cfg.epochs, train_logs["loss"], val_logs["loss"], "  *" if improved else "",
                     record["seconds"])
            if self.cfg.patience and epoch + 1 - self.history.best_epoch >= self.cfg.patience:
                self.history.stopped_early = True
                log.info("stopping early: no validation improvement for %d epochs", self.cfg.patience)
            self._checkpoint()
            if self.history.stopped_early:
                break
        self._finish()
        return self.history

    def _finish(self) -> None:
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        self.model.eval()


def plot_curves(history: History, out: Path, keys: Sequence[str], title: str = "") -> Path:
    """Training and validation curves of the logged quantities (the papers' Fig. 5)."""
    from pipeline_lib.viz.plots import plt, save_atomic

    keys = [k for k in keys if any(f"train_{k}" in e for e in history.epochs)]
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.4), squeeze=False)
    ep = [e["epoch"] for e in history.epochs]
    for ax, k in zip(axes[0], keys):
        for split, style in (("train", "-"), ("val", "--")):
            vals = [e.get(f"{split}_{k}", np.nan) for e in history.epochs]
            ax.plot(ep, vals, style, label=split)
        ax.set_title(k)
        ax.set_xlabel("epoch")
        if all(v > 0 for v in (e.get(f"train_{k}", 1) for e in history.epochs)):
            ax.set_yscale("log")
        if history.best_epoch > 0:
            ax.axvline(history.best_epoch, color="0.6", lw=0.8)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return save_atomic(fig, out)


def split_indices(n: int, fractions: Sequence[float], seed: int) -> tuple[np.ndarray, ...]:
    """Random train/validation/test rows (sorted), reproducible from the seed."""
    order = np.random.default_rng(seed).permutation(n)
    cuts = np.cumsum([int(round(f * n)) for f in fractions[:-1]])
    return tuple(np.sort(p) for p in np.split(order, cuts))
