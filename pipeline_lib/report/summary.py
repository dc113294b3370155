"""``metagen summary``: a finished run on one screen -- the databases, the models' test metrics, the
latent analyses and the designs, each with the paths of its figures, and where the report is."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from pipeline_lib import artifacts
from pipeline_lib.chain import NAMES

# the few numbers of a design that say whether it worked (the rest are in the report's tables)
DESIGN_KEYS = {"pixel2d": ("rrmse_fine", "rrmse_fine_baseline", "rrmse_macro"),
               "truss3d": ("database_extreme", "best_fe", "improvement_percent", "database_match_nrmse",
                           "best_fe_nrmse")}


def _num(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return "n/a" if v is None else str(v)


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _rows(path: Path) -> int | None:
    try:
        with artifacts.open_artifact(path) as h5:
            schema = artifacts.schema_of(str(h5.attrs["kind"]))
            return int(h5[schema.fields[0].name].shape[0])
    except (artifacts.ArtifactError, KeyError, OSError):
        return None


def _figures(root: Path, pattern: str, w) -> None:
    """One line: the folder (relative to the run) and the names of the figures in it."""
    found = sorted(root.glob(pattern))
    if found:
        folder = os.path.relpath(found[0].parent, root)
        w(f"{'':<12}figures in {folder}/: " + ", ".join(p.name for p in found) + "\n")


def _metrics_line(m: dict) -> str:
    """The top-level test metrics and the mean and worst R2 over the properties."""
    parts = [f"{k} {_num(v)}" for k, v in sorted(m.items())
             if isinstance(v, (int, float)) and not isinstance(v, bool) and not k.startswith("test_")]
    r2 = [v for v in (m.get("r2") or {}).values() if isinstance(v, (int, float))]
    if r2:
        parts.append(f"R2 mean {_num(sum(r2) / len(r2))} (worst {_num(min(r2))})")
    return "  ".join(parts)


def summary(directory: str | os.PathLike = ".", out: TextIO = sys.stdout) -> None:
    """Print what the run in ``directory`` (holding ``data/``) has made; paths are relative to it."""
    root = Path(directory)
    data = root / "data"
    w = out.write
    if not data.is_dir():
        raise ValueError(f"{root.resolve()} holds no data/ folder: not the directory of a run "
                         "(run `snakemake --cores 2` there first, or pass the run's directory)")
    rel = lambda p: os.path.relpath(p, root)  # noqa: E731
    w(f"metagen run in {root.resolve()}\n")

    w("databases\n")
    for c in NAMES:
        db = data / c / "database.h5"
        n = _rows(db)
        w(f"  {c:<9} " + (f"{n:>8,} rows   {rel(db)}" if n is not None else "not made yet (snakemake " + c + ")")
          + "\n")
        if n is not None:
            _figures(root, f"data/{c}/figures/*.png", w)
        nl = data / c / "nonlinear/database.h5"
        if nl.exists():
            st = artifacts.read(nl, f"{c}/nonlinear", []).stats
            w(f"  {'':<9} {st.get('lattices', 0):>8,} stress-strain paths, {st.get('failed', 0)} failed   {rel(nl)}\n")
            _figures(root, f"data/{c}/nonlinear/*.png", w)

    w("models (test metrics)\n")
    for c in NAMES:
        m = _json(data / c / "model/metrics.json")
        w(f"  {c:<9} " + (_metrics_line(m) if m else f"not trained yet (snakemake train_{c})") + "\n")
        if m:
            _figures(root, f"data/{c}/model/*.png", w)

    w("latent analyses\n")
    for c in NAMES:
        s = _json(data / c / "latent/summary.json")
        w(f"  {c:<9} " + (", ".join(sorted(s)) if s else f"not run yet (snakemake latent_{c})") + "\n")
        if s:
            _figures(root, f"data/{c}/latent/*.png", w)

    w("designs\n")
    p2 = _json(data / "pixel2d/design/summary.json")
    t3 = (_json(data / "truss3d/design/summary.json") or {}).get("targets")
    if not t3:  # a named target alone (e.g. truss3d_nonlinear) writes its targets' reports, no summary
        t3 = {f.stem: r for f in sorted((data / "truss3d/design").glob("*.json"))
              if isinstance(r := _json(f), dict) and "target" in r}
    for c, cases, figs in (("pixel2d", p2, "data/pixel2d/design/{k}/*.png"),
                           ("truss3d", t3, "data/truss3d/design/{k}*.png")):
        if not cases:
            w(f"  {c:<9} none yet\n")
            continue
        for k, r in cases.items():
            nums = "  ".join(f"{key} {_num(r[key])}" for key in DESIGN_KEYS[c] if key in r)
            w(f"  {c:<9} {k:<20} {nums}\n")
            _figures(root, figs.format(k=k), w)

    v3 = _json(data / "voxel3d/design/summary.json")
    if v3:
        b, base = v3.get("best") or {}, v3.get("baselines") or {}
        db, rec = base.get("database") or {}, base.get("reconstruction") or {}
        w(f"  {'voxel3d':<9} {'bulk modulus':<20} K_fe {_num(b.get('K_fe'))} ({_num(b.get('K_over_hs'))} K_HS, "
          f"lambda {_num(b.get('lam'))})  database {_num(db.get('K_fe'))}  reconstruction {_num(rec.get('K_fe'))}  "
          f"beats lookup {v3.get('beats_lookup')}\n")
        cv = v3.get("cv") or {}
        for k in ("robust", "deterministic"):
            c = (cv.get(k) or {}).get("cv_percent_median") or {}
            e = (cv.get(k) or {}).get("error_percent_median") or {}
            w(f"  {'voxel3d':<9} {'pareto ' + k:<20} CV E {_num(c.get('E'))} %  nu {_num(c.get('nu'))} %  "
              f"error E {_num(e.get('E'))} %  nu {_num(e.get('nu'))} %\n")
        _figures(root, "data/voxel3d/design/*.png", w)
    else:
        w(f"  {'voxel3d':<9} none yet\n")

    tables = sorted((data / "report").glob("*.html"))
    w("report\n")
    w(f"  tables: {len(tables)} in {rel(data / 'report')}/ (CSV beside each)\n" if tables else
      "  tables not made yet (snakemake report_tables)\n")
    w("  every figure and table, captioned, on one page: snakemake --report report.html\n")
