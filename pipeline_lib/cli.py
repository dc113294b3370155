"""``python -m pipeline_lib``: inspect and show artifacts, run one stage.

    python -m pipeline_lib inspect FILE.h5            datasets, shapes, units, provenance, statistics
    python -m pipeline_lib show FILE.h5 --index I --out x.png     render one sample
    python -m pipeline_lib export FILE.h5 --index I --out x.stl   one sample as a mesh (.stl/.vtp/.vti/.vtu)
    python -m pipeline_lib run pixel2d.seeds --out F --shard 0 --cfg '{...}' --seed 1
    python -m pipeline_lib stages                     list the stages ``run`` knows
"""
from __future__ import annotations

import argparse
import inspect as _inspect
import json
import logging
import os
import sys
import typing
from pathlib import Path
from typing import Callable

import h5py
import numpy as np

from pipeline_lib import artifacts


def _stages() -> dict[str, Callable]:
    from pipeline_lib.pixel2d import stages as p2
    from pipeline_lib.truss3d import stages as t3
    from pipeline_lib.voxel3d import stages as v3

    return {
        "pixel2d.seeds": p2.seeds,
        "pixel2d.initial_candidates": p2.initial_candidates,
        "pixel2d.perturb": p2.perturb,
        "pixel2d.homogenize_shard": p2.homogenize_shard,
        "pixel2d.collect_iteration": p2.collect_iteration,
        "pixel2d.database": p2.database,
        "pixel2d.figures": p2.figures,
        "pixel2d.train": p2.train,
        "truss3d.library_shard": t3.library_shard,
        "truss3d.library": t3.library,
        "truss3d.superpose_shard": t3.superpose_shard,
        "truss3d.lattices": t3.lattices,
        "truss3d.homogenize_shard": t3.homogenize_shard,
        "truss3d.database": t3.database,
        "truss3d.figures": t3.figures,
        "truss3d.train": t3.train,
        "voxel3d.generate": v3.generate,
        "voxel3d.units": v3.units,
        "voxel3d.homogenize_shard": v3.homogenize_shard,
        "voxel3d.database": v3.database,
        "voxel3d.aleatoric": v3.aleatoric,
        "voxel3d.figures": v3.figures,
        "voxel3d.train": v3.train,
        "voxel3d.latent_study": v3.latent_study,
    }


# ---------------------------------------------------------------------------------------- inspect
def _stats_line(ds: h5py.Dataset, max_rows: int = 2000) -> str:
    if ds.size == 0 or ds.dtype.kind not in "biuf":
        return ""
    n = ds.shape[0] if ds.ndim else 1
    if ds.ndim and n > max_rows:
        rows = np.unique(np.linspace(0, n - 1, max_rows).astype(int))
        a = ds[rows]
        note = f" (on {len(rows)} of {n} rows)"
    else:
        a = ds[()]
        note = ""
    a = np.asarray(a, dtype=float)
    finite = np.isfinite(a)
    bad = "" if finite.all() else f", {np.count_nonzero(~finite)} non-finite"
    a = a[finite]
    if a.size == 0:
        return f"all non-finite{note}"
    return f"min {a.min():.6g}  max {a.max():.6g}  mean {a.mean():.6g}  std {a.std():.6g}{bad}{note}"


def inspect_file(path: str | os.PathLike, out=sys.stdout) -> None:
    path = Path(path)
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise artifacts.ArtifactError(path, f"not a readable HDF5 file (truncated or corrupt?): {exc}") from None
    with h5:
        w = out.write
        kind = h5.attrs.get("kind")
        w(f"{path}\n")
        if kind is None:
            w("  (no metagen 'kind' attribute: plain HDF5 file)\n")
        else:
            schema = artifacts.schema_of(str(kind))
            w(f"  kind            {kind}" + (f"  -- {schema.description}" if schema and schema.description else "") + "\n")
            for key in ("schema_version", "created", "package", "git_commit", "seed"):
                if key in h5.attrs:
                    w(f"  {key:<15} {h5.attrs[key]}\n")
            try:
                with artifacts.open_artifact(path):
                    w("  validation      ok\n")
            except artifacts.ArtifactError as exc:
                w(f"  validation      FAILED: {exc.problem}\n")
        for key in ("config", "stats"):
            if key in h5.attrs:
                text = json.dumps(json.loads(h5.attrs[key]), indent=2, sort_keys=True)
                w(f"  {key}:\n" + "".join(f"    {line}\n" for line in text.splitlines()))
        extra = [k for k in h5.attrs if k not in ("kind", "schema_version", "created", "package", "git_commit",
                                                  "seed", "config", "stats")]
        for k in extra:
            text = str(h5.attrs[k])
            if len(text) > 240:  # a training history, a long description: its start is enough here
                text = f"{text[:200]} ... ({len(text)} characters)"
            w(f"  attr {k} = {text}\n")
        if "weights" in h5:
            n = sum(int(np.prod(v.shape)) for v in h5["weights"].values())
            w(f"  weights         {len(h5['weights'])} tensors, {n:,} parameters\n")
        w("  datasets:\n")

        def visit(name, obj):
            if not isinstance(obj, h5py.Dataset) or name.startswith("weights/"):
                return
            units = obj.attrs.get("units", "")
            comp = obj.compression or "none"
            w(f"    {name:<14} {str(obj.shape):<18} {str(obj.dtype):<8} units={units!s:<10} "
              f"chunks={obj.chunks} compression={comp}\n")
            desc = obj.attrs.get("description")
            if desc:
                w(f"      {desc}\n")
            try:
                line = _stats_line(obj)
            except OSError as exc:
                line = f"UNREADABLE: {exc}"
            if line:
                w(f"      {line}\n")

        h5.visititems(visit)


# ------------------------------------------------------------------------------------------- show
def show(path: str | os.PathLike, index: int, out: str | os.PathLike) -> Path:
    """Render one sample of an artifact to an image file."""
    with artifacts.open_artifact(path) as h5:
        kind = str(h5.attrs["kind"])
        chain = kind.split("/")[0]
        if chain == "pixel2d" and "cells" in h5:
            n = h5["cells"].shape[0]
            if not -n <= index < n:
                raise artifacts.ArtifactError(path, f"index {index} is outside the {n} samples")
            cell = h5["cells"][index]
            C = h5["C"][index] if "C" in h5 else None
            meta = {k: h5[k][index] for k in ("iteration", "parent", "seed_id") if k in h5}
            from pipeline_lib.viz.cells import render_pixel_cell

            return render_pixel_cell(cell, out, C=C, title=f"{Path(path).name} #{index} {meta}")
        if chain == "truss3d" and "adjacency" in h5:
            n = h5["adjacency"].shape[0]
            if not -n <= index < n:
                raise artifacts.ArtifactError(path, f"index {index} is outside the {n} samples")
            nodes, beams, radius = _truss_frame(h5, index)
            title = f"{Path(path).name} #{index}"
            if "C9" in h5:
                title += "  C11 C22 C33 C44 = " + " ".join(f"{h5['C9'][index][k]:.3g}" for k in (0, 3, 5, 6))
            from pipeline_lib.viz.render3d import render_lattices

            return render_lattices([(nodes, beams, radius)], out, titles=[title], ncol=1, window=640)
        if chain == "voxel3d" and "cells" in h5:
            cell = _sample(h5, "cells", index, path)
            title = f"{Path(path).name} #{index}"
            if "E" in h5:
                title += f"  E={h5['E'][index]:.4g} MPa  nu={h5['nu'][index]:.3f}"
            from pipeline_lib.viz.render3d import render_voxels

            return render_voxels(cell[None], out, titles=[title], ncol=1, window=640)
    raise artifacts.ArtifactError(path, f"'show' does not know how to render kind {kind!r}")


def _sample(h5, name: str, index: int, path):
    n = h5[name].shape[0]
    if not -n <= index < n:
        raise artifacts.ArtifactError(path, f"index {index} is outside the {n} samples")
    return h5[name][index]


def _truss_frame(h5, index: int):
    """Full-cell nodes, beams and tube radius (cell units) of one truss3d lattice."""
    from pipeline_lib.truss3d.frame import build_frame, full_cell

    nodes, beams = full_cell(build_frame(h5["adjacency"][index], h5["offsets"][index]))
    radius = 2.0 * float(h5["radius"][index]) if "radius" in h5 else 0.04
    return nodes, beams, radius


def export(path: str | os.PathLike, index: int, out: str | os.PathLike) -> Path:
    """Write one sample for other tools: a truss3d lattice as .vtp (lines + radius) or .stl (tubes);
    a voxel3d unit as .stl (closed marching-cubes surface) or .vti / .vtu (voxels, for ParaView)."""
    from pipeline_lib.viz.render3d import export_lattice, export_voxels

    with artifacts.open_artifact(path) as h5:
        kind = str(h5.attrs["kind"])
        if kind.startswith("voxel3d/") and "cells" in h5:
            return export_voxels(_sample(h5, "cells", index, path), out)
        if kind.startswith("truss3d/") and "adjacency" in h5:
            n = h5["adjacency"].shape[0]
            if not -n <= index < n:
                raise artifacts.ArtifactError(path, f"index {index} is outside the {n} samples")
            return export_lattice(*_truss_frame(h5, index), out)
    raise artifacts.ArtifactError(path, f"'export' does not know how to write kind {kind!r}")


# -------------------------------------------------------------------------------------------- run
def _convert(annotation, text: str):
    origin = typing.get_origin(annotation)
    if annotation in (Path, "Path"):
        return Path(text)
    if annotation in (int, "int"):
        return int(text)
    if annotation in (float, "float"):
        return float(text)
    if annotation in (dict, "dict") or origin is dict:
        return json.loads(text)
    return text


def _stage_parser(name: str, fn: Callable) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m pipeline_lib run {name}", description=fn.__doc__)
    hints = typing.get_type_hints(fn)
    for pname, param in _inspect.signature(fn).parameters.items():
        ann = hints.get(pname, str)
        flag = "--" + pname.replace("_", "-")
        if typing.get_origin(ann) is list:
            (inner,) = typing.get_args(ann)
            parser.add_argument(flag, dest=pname, nargs="*", required=True,
                                type=lambda t, a=inner: _convert(a, t))
        else:
            parser.add_argument(flag, dest=pname, required=param.default is _inspect.Parameter.empty,
                                default=None if param.default is _inspect.Parameter.empty else param.default,
                                type=lambda t, a=ann: _convert(a, t))
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for numerics")
    return parser


def run_stage(name: str, argv: list[str]) -> None:
    stages = _stages()
    if name not in stages:
        raise SystemExit(f"unknown stage {name!r}; known: {', '.join(sorted(stages))}")
    fn = stages[name]
    args = vars(_stage_parser(name, fn).parse_args(argv))
    threads = args.pop("threads")
    if threads:
        import torch

        torch.set_num_threads(threads)
    fn(**args)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m pipeline_lib", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_in = sub.add_parser("inspect", help="summarize an artifact")
    p_in.add_argument("files", nargs="+")
    p_show = sub.add_parser("show", help="render one sample of an artifact")
    p_show.add_argument("file")
    p_show.add_argument("--index", type=int, default=0)
    p_show.add_argument("--out", required=True)
    p_exp = sub.add_parser("export", help="write one sample as a mesh (.stl, .vtp, .vti, .vtu)")
    p_exp.add_argument("file")
    p_exp.add_argument("--index", type=int, default=0)
    p_exp.add_argument("--out", required=True)
    p_run = sub.add_parser("run", help="run one pipeline stage", add_help=False)
    p_run.add_argument("stage")
    sub.add_parser("stages", help="list stages")
    args, rest = parser.parse_known_args(argv)
    try:
        if args.cmd == "inspect":
            for f in args.files:
                inspect_file(f)
        elif args.cmd == "show":
            print(show(args.file, args.index, args.out))
        elif args.cmd == "export":
            print(export(args.file, args.index, args.out))
        elif args.cmd == "stages":
            for name, fn in sorted(_stages().items()):
                print(f"{name:<30} {(fn.__doc__ or '').strip().splitlines()[0]}")
        elif args.cmd == "run":
            run_stage(args.stage, rest)
        if rest and args.cmd != "run":
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
    except (artifacts.ArtifactError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `inspect ... | head`: the reader stopped listening
        sys.stderr.close()
        return 0
    return 0
