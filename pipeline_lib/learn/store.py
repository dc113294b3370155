"""What a training stage leaves behind, the same for every chain.

* ``model.h5`` (kind ``<chain>/model``): the weights (group ``weights``), the rows of the
  train/validation/test split, the model and training config, the per-epoch history and the test
  metrics -- everything needed to rebuild the model and to know what it was trained on;
* ``latent.h5`` (kind ``<chain>/latent``): mu and log sigma^2 of every database row, with its split;
* ``metrics.json`` and ``history.json``: the same numbers for scripts and people.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from pipeline_lib import artifacts
from pipeline_lib.artifacts import Field, Schema, register

SPLITS = ("train", "val", "test")


def register_schemas(chain: str, what: str) -> tuple[Schema, Schema]:
    """The model and latent artifact kinds of a chain (``what`` names the rows: cells, lattices...)."""
    model = register(Schema(f"{chain}/model", 1, tuple(
        Field(f"{s}_rows", "int64", (f"N_{s}",), "row", f"database rows of the {s} split") for s in SPLITS),
        f"trained generative model of {what}: weights in group 'weights', config and history in attrs"))
    latent = register(Schema(f"{chain}/latent", 1, (
        Field("mu", "float32", ("N", "D"), "1", f"latent mean of every database row ({what})"),
        Field("logvar", "float32", ("N", "D"), "1", "latent log variance (log sigma^2)"),
        Field("split", "int8", ("N",), "code", "0 train, 1 validation, 2 test"),
    ), f"latent codes of the {what} database under the trained model"))
    return model, latent


def split_code(n: int, rows: dict[str, np.ndarray]) -> np.ndarray:
    code = np.full(n, -1, dtype=np.int8)
    for k, s in enumerate(SPLITS):
        code[rows[s]] = k
    return code


def save_model(path: Path, chain: str, model: torch.nn.Module, *, rows: dict[str, np.ndarray], config: dict,
               seed: int, history: dict, metrics: dict, model_config: dict) -> Path:
    weights = {k.replace("/", "|"): v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    return artifacts.write(path, f"{chain}/model", {f"{s}_rows": np.asarray(rows[s], np.int64) for s in SPLITS},
                           config=config, seed=seed, stats=metrics,
                           attrs={"model_config": json.dumps(model_config, sort_keys=True),
                                  "history": json.dumps(history)},
                           groups={"weights": weights})


def load_model(path: Path, chain: str, build: Callable[[dict], torch.nn.Module],
               device: torch.device | str = "cpu") -> tuple[torch.nn.Module, artifacts.Artifact]:
    """Rebuild a trained model from its ``model.h5`` (validated), in eval mode on ``device``."""
    import h5py

    art = artifacts.read(path, f"{chain}/model")
    model = build(json.loads(art.attrs["model_config"]))
    with h5py.File(path, "r") as h5:
        state = {k.replace("|", "/"): torch.as_tensor(v[()]) for k, v in h5["weights"].items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise artifacts.ArtifactError(path, f"weights do not fit the model they describe: {exc}") from None
    return model.to(device).eval(), art


def save_latent(path: Path, chain: str, mu: np.ndarray, logvar: np.ndarray, split: np.ndarray, *, config: dict,
                seed: int) -> Path:
    return artifacts.write(path, f"{chain}/latent", {"mu": mu.astype(np.float32), "logvar": logvar.astype(np.float32),
                                                     "split": split.astype(np.int8)}, config=config, seed=seed)


def write_json(path: Path, obj: Any) -> Path:
    """JSON written atomically (temporary name, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_plain) + "\n")
    os.replace(tmp, path)
    return path


def _plain(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))
