"""The chain protocol: what latent analysis and design need from a chain, implemented once by each
of pixel2d, truss3d and voxel3d (``pipeline_lib.<name>.chain``) and found by name.

A chain is built from its database's config (material, conventions) and, for the latent-space
verbs, a trained model::

    ch = chain.from_artifact("data/truss3d/database.h5").load_model("data/truss3d/model/model.h5")
    mu, logvar = ch.encode(samples)          # samples: the database's geometry datasets
    decoded = ch.decode(mu)                  # same type: post-processed as the chain's paper does
    ok = ch.screen(decoded)                  # the database's own validity rules
    fe = ch.homogenize(chain.take(decoded, ok))   # (N, P) properties by the chain's FE solver
    mean, std = ch.predict(mu)               # the model's (N, P) in the same units; std or None

Samples are a dict of arrays with one leading row axis, keyed by the database's dataset names
(``chain.geometry``): pixel2d ``{"cells"}``, truss3d ``{"adjacency", "offsets"}``, voxel3d
``{"cells"}``.  So every chain's samples slice, concatenate and write to an artifact the same way,
and a decoded design is stored exactly as a database row is.  Properties are the columns
``chain.properties`` in ``chain.units`` (physical units), the same for the FE solver, the
predictor and the database (:meth:`Chain.database_properties`).
"""
from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from pipeline_lib import artifacts
from pipeline_lib.shards import concat, take  # noqa: F401  (samples slice and join like shard parts)

Samples = dict[str, np.ndarray]
NAMES = ("pixel2d", "truss3d", "voxel3d")
_REGISTRY: dict[str, type["Chain"]] = {}


class Chain:
    """Base of the three chains: the shared half of the protocol (config, the model verbs through
    the chain's ``learning`` module, sample I/O); each chain adds its FE solver, screening and
    pictures."""

    name: str = ""
    geometry: tuple[str, ...] = ()
    properties: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    property_datasets: tuple[str, ...] = ()  # the database datasets database_properties reads

    def __init__(self, config: Mapping[str, Any] | None = None):
        from pipeline_lib.config import validate_config

        # the chain's config section with the schema's defaults: what its database was made with
        self.config: dict = validate_config({self.name: dict(config or {})})[self.name]
        self.model = None

    # ----------------------------------------------------- model verbs (shared by all chains)
    # Each chain's ``learning`` module has build(config), encode(model, *geometry),
    # decode(model, z) -> geometry arrays (post-processed) and predict(model, z) -> mean or (mean, std).
    def _learning(self):
        return importlib.import_module(f"pipeline_lib.{self.name}.learning")

    def load_model(self, path: str | os.PathLike, device=None) -> "Chain":
        """Attach the trained model of ``path`` (a ``<chain>/model`` artifact); returns self."""
        from pipeline_lib.device import default_device
        from pipeline_lib.learn.store import load_model

        self.model, _ = load_model(Path(path), self.name, self._learning().build, device or default_device())
        return self

    def _need_model(self):
        if self.model is None:
            raise RuntimeError(f"{self.name}: load_model(path) first")
        return self.model

    def encode(self, samples: Samples) -> tuple[np.ndarray, np.ndarray]:
        """Latent mean and log-variance (N, d) of samples."""
        return self._learning().encode(self._need_model(), *(samples[k] for k in self.geometry))

    def decode(self, z: np.ndarray, *, volume_fraction: float | None = None) -> Samples:
        """Samples decoded from latent vectors (N, d), post-processed as the chain's paper does;
        with ``volume_fraction``, each at that solid fraction (chains whose decoder gives voxel
        probabilities: the per-sample threshold that keeps that fraction)."""
        if volume_fraction is None:
            out = self._learning().decode(self._need_model(), np.asarray(z))
        else:
            out = self._learning().decode(self._need_model(), np.asarray(z), volume_fraction=float(volume_fraction))
        return dict(zip(self.geometry, out if isinstance(out, tuple) else (out,)))

    def predict(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The model's properties (N, P) at latent vectors, and their standard deviation where the
        model predicts one (else None)."""
        out = self._learning().predict(self._need_model(), np.asarray(z))
        return out if isinstance(out, tuple) else (out, None)

    # ------------------------------------------------------------ FE and pictures (per chain)
    def homogenize(self, samples: Samples) -> np.ndarray:
        """Properties (N, P) by the chain's FE solver, with the database's material and conventions."""
        raise NotImplementedError

    def screen(self, samples: Samples) -> np.ndarray:
        """(N,) bool: which samples pass the database's own validity rules."""
        raise NotImplementedError

    def volume_fraction(self, samples: Samples) -> np.ndarray:
        """(N,) solid fraction of each sample's geometry (a design constraint)."""
        raise NotImplementedError(f"{self.name} has no volume fraction of its geometry")

    def render(self, samples: Samples, out: str | os.PathLike, *, titles: Sequence[str] | None = None,
               ncol: int | None = None, properties: np.ndarray | None = None) -> Path:
        """A picture of the samples, ``ncol`` per row (one sample: a larger view of it); with their
        property columns, a chain may draw them too (truss3d: elastic surfaces)."""
        raise NotImplementedError

    def export(self, samples: Samples, out: str | os.PathLike) -> Path:
        """One sample as a file for other tools, the format chosen by the suffix of ``out``."""
        raise NotImplementedError

    def database_properties(self, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        """The property columns (N, P) of a database's (or any artifact's) datasets."""
        raise NotImplementedError

    def quantities(self, P: np.ndarray) -> dict[str, np.ndarray]:
        """Named scalar properties derived from property columns (N, P) -- moduli, ratios,
        anisotropy -- NaN where a row is NaN; what analyses sort, colour and report by."""
        P = np.asarray(P, float)
        return {name: P[:, k] for k, name in enumerate(self.properties)}

    def latent_groups(self) -> dict[str, np.ndarray]:
        """The model's latent dimensions by role (one group unless the model splits them)."""
        return {"latent": np.arange(self.latent_size())}

    def latent_size(self) -> int:
        return int(self._need_model().cfg.latent)

    # ---------------------------------------------------------------------- sample I/O
    def read(self, path: str | os.PathLike, rows=None) -> Samples:
        """The samples of an artifact (all rows, or ``rows``: indices in any order)."""
        with artifacts.open_artifact(path) as h5:
            missing = [k for k in self.geometry if k not in h5]
            if missing:
                raise artifacts.ArtifactError(path, f"no {self.name} samples: dataset(s) {missing} missing")
            n = h5[self.geometry[0]].shape[0]
            if rows is None:
                return {k: h5[k][()] for k in self.geometry}
            rows = np.atleast_1d(np.asarray(rows, dtype=np.int64))
            bad = rows[(rows < -n) | (rows >= n)]
            if len(bad):
                raise artifacts.ArtifactError(path, f"index {int(bad[0])} is outside the {n} samples")
            rows = np.where(rows < 0, rows + n, rows)
            uniq, inverse = np.unique(rows, return_inverse=True)  # h5py reads increasing unique rows
            return {k: h5[k][uniq][inverse] for k in self.geometry}


def register(cls: type[Chain]) -> type[Chain]:
    """Class decorator: make a chain findable by :func:`get`."""
    _REGISTRY[cls.name] = cls
    return cls


def get(name: str, config: Mapping[str, Any] | None = None) -> Chain:
    """The chain called ``name``, built from its config section (schema defaults for the rest)."""
    if name not in _REGISTRY:
        if name not in NAMES:
            raise ValueError(f"unknown chain {name!r}; known: {', '.join(NAMES)}")
        importlib.import_module(f"pipeline_lib.{name}.chain")
    return _REGISTRY[name](config)


def from_artifact(path: str | os.PathLike) -> Chain:
    """The chain an artifact belongs to (by its kind), with the config the artifact was made with:
    a database's material and conventions come with it."""
    with artifacts.open_artifact(path) as h5:
        name = str(h5.attrs["kind"]).split("/")[0]
        made_with = json.loads(h5.attrs.get("config", "{}"))
    if name not in NAMES:
        raise artifacts.ArtifactError(path, f"kind of chain {name!r} has no chain protocol")
    from pipeline_lib.config import load_schema

    keys = load_schema()["properties"][name]["properties"]
    return get(name, {k: v for k, v in made_with.items() if k in keys})


def count(samples: Samples) -> int:
    return len(next(iter(samples.values()))) if samples else 0
