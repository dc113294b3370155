"""What a training stage leaves behind, the same for every chain.

* ``model.h5`` (kind ``<chain>/model``): the weights (group ``weights``), the rows of the
  train/validation/test split, the model and training config, the per-epoch history and the test
  metrics -- everything needed to rebuild the model and to know what it was trained on;
* ``latent.h5`` (kind ``<chain>/latent``): mu and log sigma^2 of every database row, with its split;
* ``metrics.json`` and ``history.json``: the same numbers for scripts and people.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from pipeline_lib import artifacts
from pipeline_lib.learn.schemas import SPLITS


def split_code(n: int, rows: dict[str, np.ndarray]) -> np.ndarray:
    code = np.full(n, -1, dtype=np.int8)
    for k, s in enumerate(SPLITS):
        code[rows[s]] = k
    return code


def save_model(path: Path, chain: str, model: torch.nn.Module, *, rows: dict[str, np.ndarray], config: dict,
               seed: int, history: dict, metrics: dict, model_config: dict) -> Path:
    weights = weights_of(model)
    return artifacts.write(path, f"{chain}/model", {f"{s}_rows": np.asarray(rows[s], np.int64) for s in SPLITS},
                           config=config, seed=seed, stats=metrics,
                           attrs={"model_config": json.dumps(model_config, sort_keys=True),
                                  "history": json.dumps(history)},
                           groups={"weights": weights})


def load_model(path: Path, chain: str, build: Callable[[dict], torch.nn.Module],
               device: torch.device | str = "cpu") -> tuple[torch.nn.Module, artifacts.Artifact]:
    """Rebuild a trained model from its ``model.h5`` (validated), in eval mode on ``device``."""
    art = artifacts.read(path, f"{chain}/model")
    model = build(json.loads(art.attrs["model_config"]))
    load_weights(path, model)
    return model.to(device).eval(), art


def weights_of(model: torch.nn.Module) -> dict[str, np.ndarray]:
    """The state dict as the arrays of an artifact's ``weights`` group (``/`` is not a name there)."""
    return {k.replace("/", "|"): v.detach().cpu().numpy() for k, v in model.state_dict().items()}


def load_weights(path: Path, model: torch.nn.Module) -> None:
    """Load an artifact's ``weights`` group into ``model``; an ArtifactError if they do not fit."""
    import h5py

    with h5py.File(path, "r") as h5:
        state = {k.replace("|", "/"): torch.as_tensor(v[()]) for k, v in h5["weights"].items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise artifacts.ArtifactError(path, f"weights do not fit the model they describe: {exc}") from None


def save_latent(path: Path, chain: str, mu: np.ndarray, logvar: np.ndarray, split: np.ndarray, *, config: dict,
                seed: int) -> Path:
    return artifacts.write(path, f"{chain}/latent", {"mu": mu.astype(np.float32), "logvar": logvar.astype(np.float32),
                                                     "split": split.astype(np.int8)}, config=config, seed=seed)
