"""A training stage, the same for every chain: fit in one or more phases (each resuming from its own
checkpoint and starting from the previous phase's weights), evaluate, encode the database, write
``model.h5``, ``latent.h5``, ``metrics.json``, ``history.json`` and the training curves.

The chains supply the model, its tensors and two callables; this module knows nothing of cells,
lattices or voxels.
"""
from __future__ import annotations

import logging
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from pipeline_lib import atomic
from pipeline_lib.learn import store
from pipeline_lib.learn.trainer import Trainer, fingerprint, plot_curves, split_indices, train_config

log = logging.getLogger(__name__)


@dataclass
class Phase:
    """One leg of training: its trainer config and a hook that sets the model up for it (loss
    weights of a progressive schedule); ``name`` labels its checkpoint and its history rows."""

    name: str
    train: dict
    setup: Callable[[torch.nn.Module], None] | None = None
    describe: dict | None = None  # config of the phase beyond ``train``, part of its fingerprint


def build_model(build: Callable[[dict], torch.nn.Module], config: dict, seed: int) -> torch.nn.Module:
    """The model with initial weights drawn from ``seed``.  torch seeds every process at random, so
    without this two runs of one training stage start from different weights and end with
    different metrics; the caller's random stream is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build(config)


def split_rows(n: int, split: Sequence[float], seed: int) -> dict[str, np.ndarray]:
    if len(split) != 3 or min(split) < 0 or abs(sum(split) - 1) > 1e-6:
        raise ValueError(f"split must be three fractions (train, val, test) summing to 1, got {list(split)}")
    tr, va, te = split_indices(n, split, seed)
    if len(tr) < 2:
        raise ValueError(f"{n} rows leave {len(tr)} for training: the database is too small for split {list(split)}")
    return {"train": tr, "val": va, "test": te}


def fit(model: torch.nn.Module, tensors: Sequence[torch.Tensor], rows: dict[str, np.ndarray],
        phases: Sequence[Phase], state_dir: Path, identity: Sequence) -> list[dict]:
    """Train through the phases; returns the history rows of all of them."""
    train = [t[torch.as_tensor(rows["train"])] for t in tensors]
    val = [t[torch.as_tensor(rows["val"])] for t in tensors]
    records, run = [], list(identity)
    for k, ph in enumerate(phases):
        if ph.setup is not None:
            ph.setup(model)
        run.append([ph.name, ph.train, ph.describe])
        name = "train_state.h5" if len(phases) == 1 else f"train_state_{k + 1}_{ph.name}.h5"
        trainer = Trainer(model, train, val, train_config(ph.train), Path(state_dir) / name,
                          fingerprint(*run))
        log.info("phase %s: %d epochs on %s, %d training and %d validation rows", ph.name,
                 trainer.cfg.epochs, trainer.device, len(train[0]), len(val[0]))
        hist = trainer.fit()
        records += [dict(r, phase=ph.name) for r in hist.epochs]
        model = trainer.model
    return records


def train_stage(*, chain: str, model: torch.nn.Module, tensors: Sequence[torch.Tensor], rows: dict[str, np.ndarray],
                phases: Sequence[Phase], identity: Sequence, evaluate: Callable[[torch.nn.Module], dict],
                encode_all: Callable[[torch.nn.Module], tuple[np.ndarray, np.ndarray]], n_rows: int,
                model_path: Path, latent_path: Path, metrics_path: Path, curves_path: Path,
                curve_keys: Sequence[str], config: dict, seed: int) -> dict:
    """Fit, evaluate and write every output of a training stage; returns the metrics."""
    model_path = Path(model_path)
    t0 = time.perf_counter()
    records = fit(model, tensors, rows, phases, model_path.parent, identity)
    seconds = time.perf_counter() - t0
    model.eval()
    metrics = evaluate(model)
    metrics["training"] = {
        "seconds": round(seconds, 1), "epochs": len(records),
        "epoch_seconds": round(float(sum(r["seconds"] for r in records)), 1),
        "device": str(next(model.parameters()).device), "threads": torch.get_num_threads(),
        "rows": {k: int(len(v)) for k, v in rows.items()}, "torch": torch.__version__,
        "machine": platform.machine(),
        "parameters": int(sum(p.numel() for p in model.parameters())),
    }
    mu, logvar = encode_all(model)
    store.save_latent(latent_path, chain, mu, logvar, store.split_code(n_rows, rows), config=config, seed=seed)
    atomic.write_json(model_path.with_name("history.json"), records)
    _curves(records, curves_path, curve_keys, chain)
    model_cfg = model.config_dict() if hasattr(model, "config_dict") else {}
    store.save_model(model_path, chain, model, rows=rows, config=config, seed=seed, history=records,
                     metrics=metrics, model_config=model_cfg)
    atomic.write_json(metrics_path, metrics)
    log.info("%s model: %s", chain, {k: v for k, v in metrics.items() if k != "training"})
    return metrics


def _curves(records: list[dict], out: Path, keys: Sequence[str], chain: str) -> None:
    from pipeline_lib.learn.trainer import History

    # number epochs through the phases so that the curves run on
    h = History(epochs=[dict(r, epoch=i + 1) for i, r in enumerate(records)])
    vals = [r.get("val_loss", np.inf) for r in records]
    h.best_epoch = int(np.argmin(vals)) + 1 if records else -1
    plot_curves(h, out, ["loss", *keys], title=f"{chain} training")
