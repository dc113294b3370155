"""``metagen`` (or ``python -m pipeline_lib``): look through a run's results, inspect and show
artifacts, run one stage.

    metagen summary [DIR]                     a finished run on one screen: databases, models, designs, figures
    metagen inspect FILE.h5                   datasets, shapes, units, provenance, statistics
    metagen show FILE.h5 --index I [--out x.png]    render one sample
    metagen export FILE.h5 --index I --out x.stl    one sample as a mesh (.stl/.vtp/.vti/.vtu)
    metagen stages                            list the stages ``run`` knows
    metagen run pixel2d.seeds --out F --shard 0 --cfg '{...}' --seed 1   (what the rules call)
"""
from __future__ import annotations

import argparse
import importlib
import inspect as _inspect
import json
import logging
import os
import re
import sys
import typing
from pathlib import Path
from typing import Callable

import h5py
import numpy as np

from pipeline_lib import artifacts, atomic
from pipeline_lib.device import DeviceError


def _stages() -> dict[str, Callable]:
    """Every stage entry point, ``<chain>.<name>``, ``latent.<name>`` and ``report.<name>``, from
    the ``stages.STAGES`` of each chain, of the latent analyses and of the report."""
    from pipeline_lib.chain import NAMES

    out = {}
    for package in (*NAMES, "latent", "report"):
        module = importlib.import_module(f"pipeline_lib.{package}.stages")
        out.update({f"{package}.{name}": getattr(module, name) for name in module.STAGES})
    return out


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
    if not path.exists():
        raise artifacts.ArtifactError(path, "file does not exist")
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


# ------------------------------------------------------------------------------------ show, export
def _one_sample(path: str | os.PathLike, index: int):
    """The chain of an artifact, one of its samples and a title naming it (with its properties
    where the artifact has them)."""
    from pipeline_lib import chain as chains

    ch = chains.from_artifact(path)
    sample = ch.read(path, [index])
    title = f"{Path(path).name} #{index}"
    with artifacts.open_artifact(path) as h5:
        if all(k in h5 for k in ch.property_datasets):  # not before homogenization
            n = h5[ch.geometry[0]].shape[0]
            values = ch.database_properties({k: h5[k][[index % n]] for k in ch.property_datasets})[0]
            title += "  " + " ".join(f"{k}={v:.4g}" for k, v in zip(ch.properties, values))
    return ch, sample, title


def show(path: str | os.PathLike, index: int, out: str | os.PathLike) -> Path:
    """Render one sample of an artifact to an image file."""
    ch, sample, title = _one_sample(path, index)
    return ch.render(sample, out, titles=[title])


def export(path: str | os.PathLike, index: int, out: str | os.PathLike, thickness: float = 1.0) -> Path:
    """Write one sample for other tools, the format chosen by the suffix of ``out`` (truss3d .vtp /
    .stl; voxel3d .stl / .vti / .vtu; pixel2d .csv / .stl / .vti / .vtu).  A pixel2d design's
    assembled structure goes to .stl (extruded by ``thickness`` cell sides) or a pixel-exact .png."""
    with artifacts.open_artifact(path) as h5:
        kind = str(h5.attrs["kind"])
    if kind == "pixel2d/design":
        from pipeline_lib.pixel2d.multiscale import export_structure

        return export_structure(path, out, thickness)
    ch, sample, _ = _one_sample(path, index)
    return ch.export(sample, out)


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
    parser = argparse.ArgumentParser(prog=f"metagen run {name}", description=fn.__doc__)
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


def check_stage_args(name: str, template: str) -> None:
    """A rule's argument template (``--out {output} --shard ...``) against the stage's signature:
    every flag must be a parameter, every required parameter given.  Raises ValueError naming the
    stage and the flags, so a wrong rule fails when the workflow is parsed, not when the job runs."""
    stages = _stages()
    if name not in stages:
        raise ValueError(f"unknown stage {name!r}; known: {', '.join(sorted(stages))}")
    params = _inspect.signature(stages[name]).parameters
    known = {p.replace("_", "-") for p in params} | {"threads"}
    given = set(re.findall(r"(?<![\w-])--([a-z][a-z0-9-]*)", template))
    unknown = sorted(given - known)
    missing = sorted(p.replace("_", "-") for p, v in params.items()
                     if v.default is _inspect.Parameter.empty and p.replace("_", "-") not in given)
    if unknown or missing:
        raise ValueError(f"stage {name}: " + "; ".join(
            ([f"unknown flag(s) {', '.join('--' + f for f in unknown)}"] if unknown else [])
            + ([f"missing flag(s) {', '.join('--' + f for f in missing)}"] if missing else [])))


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
    atomic.exit_on_sigterm()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    parser = argparse.ArgumentParser(prog="metagen", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_sum = sub.add_parser("summary", help="a finished run on one screen, with the paths of its figures")
    p_sum.add_argument("directory", nargs="?", default=".", help="the run's directory (holding data/)")
    p_in = sub.add_parser("inspect", help="summarize an artifact")
    p_in.add_argument("files", nargs="+")
    p_show = sub.add_parser("show", help="render one sample of an artifact")
    p_show.add_argument("file")
    p_show.add_argument("--index", type=int, default=0)
    p_show.add_argument("--out", help="image file (default: <file stem>_<index>.png here)")
    p_exp = sub.add_parser("export", help="write one sample as a mesh (.stl, .vtp, .vti, .vtu)")
    p_exp.add_argument("file")
    p_exp.add_argument("--index", type=int, default=0)
    p_exp.add_argument("--out", required=True)
    p_exp.add_argument("--thickness", type=float, default=1.0,
                       help="extrusion of a pixel2d design's structure in .stl, in cell sides")
    p_run = sub.add_parser("run", help="run one pipeline stage", add_help=False)
    p_run.add_argument("stage")
    sub.add_parser("stages", help="list stages")
    args, rest = parser.parse_known_args(argv)
    if rest and args.cmd != "run":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        if args.cmd == "summary":
            from pipeline_lib.report.summary import summary

            summary(args.directory)
        elif args.cmd == "inspect":
            for f in args.files:
                inspect_file(f)
        elif args.cmd == "show":
            print(show(args.file, args.index, args.out or f"{Path(args.file).stem}_{args.index}.png"))
        elif args.cmd == "export":
            print(export(args.file, args.index, args.out, args.thickness))
        elif args.cmd == "stages":
            for name, fn in sorted(_stages().items()):
                print(f"{name:<30} {(fn.__doc__ or '').strip().splitlines()[0]}")
        elif args.cmd == "run":
            run_stage(args.stage, rest)
    except (artifacts.ArtifactError, ValueError, DeviceError) as exc:
        # the last line says what to do: a user reads it first
        print(f"error: {exc}", file=sys.stderr)
        if getattr(exc, "hint", None):
            print(f"what to do: {exc.hint}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `inspect ... | head`: the reader stopped listening
        sys.stderr.close()
        return 0
    return 0
