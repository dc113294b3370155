"""The HDF5 artifact format shared by every stage of every chain.

Every artifact is one HDF5 file whose root attributes say what it is and where it came from:

=================  ==============================================================
``kind``           artifact kind, a key of :data:`SCHEMAS` (e.g. ``pixel2d/cells``)
``schema_version`` version of that kind's layout; readers refuse other versions
``created``        UTC creation time (ISO 8601)
``package``        ``metagen <version>``
``git_commit``     commit of the code that wrote it (``+dirty`` if uncommitted changes)
``config``         JSON of the config slice the stage ran with
``seed``           the random seed the stage used (``-1`` if it draws no random numbers)
``stats``          JSON of counters the stage kept (defects fixed, rejects, ...)
=================  ==============================================================

Each dataset carries ``units`` and ``description`` attributes, is chunked along its first (sample)
axis, gzip-compressed with shuffle and protected by a Fletcher-32 checksum, so a flipped bit in a
chunk is reported instead of read.  Files are written through :func:`pipeline_lib.atomic.output`
(a temporary name in the target folder, renamed when complete): a killed job never leaves a file
that looks finished.
"""
from __future__ import annotations

import datetime as _dt
import importlib
import json
import os
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import h5py
import numpy as np

from pipeline_lib import __version__, atomic

Dim = int | str  # a fixed size, or a symbol that must agree across the datasets of a file


class ArtifactError(ValueError):
    """An artifact is missing, truncated, corrupt or not what the reader expects."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")

    @property
    def hint(self) -> str:
        """One line saying what to do about it (the command line prints it last)."""
        p, suffix = self.path, Path(self.path).suffix
        if self.problem == "file does not exist":
            return (f"make it by running `snakemake {p}` in the run's directory (same --configfile), or check the "
                    "path; `metagen summary` lists what a run has made")
        if "not a readable HDF5 file" in self.problem and suffix not in (".h5", ".hdf5"):
            return (f"metagen reads the workflow's .h5 artifacts; {Path(p).name} is a {suffix or 'suffix-less'} "
                    "file: open it directly (`metagen summary` lists a run's artifacts and figures)")
        if "artifact kind is" in self.problem:
            return "pass an artifact of the kind named; `metagen inspect FILE` tells any artifact's kind"
        if " samples: " in self.problem:
            return ("show and export take an artifact that holds samples (a database, a latent analysis, a "
                    "design); `metagen inspect FILE` lists what this one holds")
        if "no 'kind' attribute" in self.problem:
            return "this HDF5 file was not written by metagen; `h5dump -H` or h5py shows what is in it"
        return f"remake it with this code: `snakemake -f {p}` (the stages after it rerun as needed)"


@dataclass(frozen=True)
class Field:
    """One dataset of an artifact kind: name, dtype, shape (ints and symbols), units, meaning."""

    name: str
    dtype: str
    shape: tuple[Dim, ...]
    units: str
    description: str
    optional: bool = False


@dataclass(frozen=True)
class Schema:
    kind: str
    version: int
    fields: tuple[Field, ...]
    description: str = ""

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


SCHEMAS: dict[str, Schema] = {}


def register(schema: Schema) -> Schema:
    """Add an artifact kind; chains declare their kinds in their ``schemas`` module."""
    SCHEMAS[schema.kind] = schema
    return schema


def schema_of(kind: str) -> Schema | None:
    """The schema of a kind, importing the owning chain's ``schemas`` module on first use."""
    if kind not in SCHEMAS:
        chain = kind.split("/")[0]
        if chain.isidentifier():
            try:
                importlib.import_module(f"pipeline_lib.{chain}.schemas")
            except ModuleNotFoundError:
                return None
    return SCHEMAS.get(kind)


@dataclass
class Artifact:
    path: Path
    kind: str
    attrs: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def config(self) -> dict:
        return json.loads(self.attrs.get("config", "{}"))

    @property
    def stats(self) -> dict:
        return json.loads(self.attrs.get("stats", "{}"))

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def __len__(self) -> int:
        first = next(iter(self.arrays.values()), None)
        return 0 if first is None else len(first)


@lru_cache(maxsize=1)
def code_version() -> str:
    """Git commit of the package source, with ``+dirty`` for uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _chunks(shape: tuple[int, ...], itemsize: int, target: int = 1 << 20) -> tuple[int, ...] | None:
    if not shape or 0 in shape:
        return None
    row = max(1, int(np.prod(shape[1:])) * itemsize)
    return (int(max(1, min(shape[0], target // row))),) + tuple(shape[1:])


def _validate_arrays(path, schema: Schema, arrays: Mapping[str, Any], loaded_shapes=None) -> dict[str, int]:
    """Check names, dtypes and shapes against the schema; return the bound symbols."""
    dims: dict[str, int] = {}
    for f in schema.fields:
        if f.name not in arrays:
            if f.optional:
                continue
            raise ArtifactError(path, f"{schema.kind}: required dataset '{f.name}' is missing")
        a = arrays[f.name]
        shape = tuple(a.shape)
        if np.dtype(a.dtype) != np.dtype(f.dtype):
            raise ArtifactError(path, f"dataset '{f.name}' has dtype {a.dtype}, expected {f.dtype}")
        if len(shape) != len(f.shape):
            raise ArtifactError(path, f"dataset '{f.name}' has shape {shape}, expected {_fmt(f.shape)}")
        for size, want in zip(shape, f.shape):
            if isinstance(want, int):
                if size != want:
                    raise ArtifactError(path, f"dataset '{f.name}' has shape {shape}, expected {_fmt(f.shape)}")
            elif dims.setdefault(want, size) != size:
                raise ArtifactError(path, f"dataset '{f.name}' has shape {shape}, but {want} = {dims[want]} "
                                          f"elsewhere in the file (expected {_fmt(f.shape)})")
    return dims


def _fmt(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def write(path: str | os.PathLike, kind: str, arrays: Mapping[str, Any], *, config: Mapping | None = None,
          seed: int | None = None, stats: Mapping | None = None, attrs: Mapping | None = None,
          groups: Mapping[str, Mapping[str, Any]] | None = None) -> Path:
    """Validate and write an artifact atomically (temporary name, then rename).

    ``groups`` holds free-form arrays outside the schema (model weights, optimizer state), each
    group a mapping of names to arrays; they are written before the rename like everything else."""
    path = Path(path)
    schema = schema_of(kind)
    if schema is None:
        raise KeyError(f"unknown artifact kind {kind!r}; known: {sorted(SCHEMAS)}")
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    unknown = set(arrays) - {f.name for f in schema.fields}
    if unknown:
        raise ValueError(f"{kind}: datasets {sorted(unknown)} are not in the schema")
    _validate_arrays(path, schema, arrays)
    with atomic.output(path) as tmp:
        with h5py.File(tmp, "w") as h5:
            h5.attrs["kind"] = kind
            h5.attrs["schema_version"] = schema.version
            h5.attrs["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
            h5.attrs["package"] = f"metagen {__version__}"
            h5.attrs["git_commit"] = code_version()
            h5.attrs["config"] = json.dumps(config or {}, sort_keys=True)
            h5.attrs["seed"] = -1 if seed is None else int(seed)
            h5.attrs["stats"] = json.dumps(stats or {}, sort_keys=True)
            for k, v in (attrs or {}).items():
                h5.attrs[k] = v
            for f in schema.fields:
                if f.name not in arrays:
                    continue
                a = arrays[f.name]
                chunks = _chunks(a.shape, a.dtype.itemsize)
                opts = dict(chunks=chunks, compression="gzip", compression_opts=4, shuffle=True,
                            fletcher32=True) if chunks else {}
                d = h5.create_dataset(f.name, data=a, **opts)
                d.attrs["units"] = f.units
                d.attrs["description"] = f.description
            for gname, members in (groups or {}).items():
                g = h5.create_group(gname)
                for k, v in members.items():
                    g.create_dataset(k, data=np.asarray(v))
    return path


def _datasets(h5: h5py.File, schema: Schema) -> dict[str, h5py.Dataset]:
    """The root's datasets and the schema's fields inside groups (a field may be named
    ``group/name``, as h5py names it)."""
    out = {k: v for k, v in h5.items() if isinstance(v, h5py.Dataset)}
    for f in schema.fields:
        if "/" in f.name and f.name in h5 and isinstance(h5[f.name], h5py.Dataset):
            out[f.name] = h5[f.name]
    return out


@contextmanager
def open_artifact(path: str | os.PathLike, kind: str | Sequence[str] | None = None) -> Iterator[h5py.File]:
    """Open an artifact read-only after checking its kind, schema version, datasets and shapes.

    Datasets are read lazily from the returned file; use :func:`read` to load arrays."""
    path = Path(path)
    if not path.exists():
        raise ArtifactError(path, "file does not exist")
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise ArtifactError(path, f"not a readable HDF5 file (truncated or corrupt?): {exc}") from None
    try:
        got = h5.attrs.get("kind")
        if got is None:
            raise ArtifactError(path, "no 'kind' attribute: not a metagen artifact")
        got = str(got)
        kinds = [kind] if isinstance(kind, str) else kind
        if kinds is not None and got not in kinds:
            raise ArtifactError(path, f"artifact kind is {got!r}, expected {' or '.join(map(repr, kinds))}")
        schema = schema_of(got)
        if schema is None:
            raise ArtifactError(path, f"unknown artifact kind {got!r}")
        version = int(h5.attrs.get("schema_version", -1))
        if version != schema.version:
            raise ArtifactError(path, f"schema version {version} of {got!r}, this code reads version {schema.version}")
        _validate_arrays(path, schema, _datasets(h5, schema))
        yield h5
    finally:
        h5.close()


def read(path: str | os.PathLike, kind: str | Sequence[str] | None = None,
         names: Sequence[str] | None = None) -> Artifact:
    """Load a validated artifact (all datasets, or only ``names``)."""
    path = Path(path)
    with open_artifact(path, kind) as h5:
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in h5.attrs.items()}
        arrays = {}
        for name in (names if names is not None else list(_datasets(h5, schema_of(str(attrs["kind"]))))):
            if name not in h5:
                raise ArtifactError(path, f"dataset '{name}' is missing")
            try:
                arrays[name] = h5[name][()]
            except OSError as exc:
                raise ArtifactError(path, f"dataset '{name}' cannot be read (corrupt chunk?): {exc}") from None
        return Artifact(path, str(attrs["kind"]), attrs, arrays)


def gather(paths: Sequence[str | os.PathLike], out: str | os.PathLike, kind: str, *, out_kind: str | None = None,
           config: Mapping | None = None, seed: int | None = None, stats: Mapping | None = None) -> Path:
    """Concatenate artifacts of one kind along the sample axis into one self-contained file.

    A merged copy rather than an HDF5 virtual dataset: the database is moved between machines,
    opened by other tools and read at random by training, and a virtual dataset silently reads fill
    values when a source shard is missing or moved.  Every source is validated first, so a corrupt
    shard stops the gather with its name instead of leaving a hole.
    """
    parts = [read(p, kind) for p in paths]
    schema = schema_of(kind)
    arrays = {}
    for f in schema.fields:
        have = [p.arrays[f.name] for p in parts if f.name in p.arrays]
        if not have:
            continue
        if len(have) != len(parts):
            raise ArtifactError(paths[0], f"dataset '{f.name}' present in some shards only")
        arrays[f.name] = np.concatenate(have, axis=0)
    return write(out, out_kind or kind, arrays, config=config, seed=seed, stats=stats)


def join_shards(shards: Sequence[str | os.PathLike], kind: str, n: int, owner: str | os.PathLike) -> dict[str, np.ndarray]:
    """Scatter the results of shard artifacts (each with an ``index`` dataset of target rows) into
    arrays of ``n`` rows.  Every row must be filled exactly once: a missing or duplicated row, or an
    index outside 0..n-1, is an error naming the shard or the ``owner`` file the rows belong to."""
    out: dict[str, np.ndarray] = {}
    seen = np.zeros(n, dtype=int)
    for s in shards:
        part = read(s, kind)
        idx = part["index"]
        if len(idx) and (idx.min() < 0 or idx.max() >= n):
            raise ArtifactError(s, f"rows {idx.min()}..{idx.max()} outside the {n} rows of {owner}")
        for name, values in part.arrays.items():
            if name != "index":
                if name not in out:
                    out[name] = np.full((n,) + values.shape[1:], np.nan, dtype=np.result_type(values.dtype, np.float64))
                out[name][idx] = values
        seen[idx] += 1
    if (seen != 1).any():
        k = int(np.flatnonzero(seen != 1)[0])
        raise ArtifactError(owner, f"row {k} has {seen[k]} results across {len(shards)} shards (expected exactly 1)")
    return out
