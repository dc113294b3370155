"""Wall time and peak memory of the pixel2d multiscale design, stage by stage, per case.

    python benchmarks/design_cases.py [--cases bridge graded] [--config config.yaml [presets/...]]
                                      [--data data/pixel2d] [--out /tmp/design-bench]

Runs each stage as its own process (``python -m pipeline_lib run pixel2d.<stage>``), exactly as the
workflow's rules do, on the database, model, latent codes and families of a finished default run
(``--data``), and prints per case: seconds and peak RSS of the feasibility field, stage 1, stage 2
and stage 3, the whole case, and its figures of merit (RRMSE macro and fine, the nodal-only
baseline's fine RRMSE, MRF energy, bound and gap).  The targets of the issue: bridge <= 5 min on 2
cores with fine RRMSE <= 0.06; graded <= 0.15; smiley <= 30 min, fine solve <= 12 GB, <= 0.15.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline_lib.config import validate_config  # noqa: E402


def config(files: list[str]) -> dict:
    cfg: dict = {}

    def merge(a, b):
        for k, v in b.items():
            a[k] = merge(a.get(k, {}), v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
        return a

    for f in files:
        merge(cfg, yaml.safe_load(Path(f).read_text()) or {})
    return validate_config(cfg, ROOT / "workflow/schemas/config.schema.yaml")


def run(stage: str, args: list[str]) -> tuple[float, float]:
    """Seconds and peak RSS (GB) of one stage in its own process."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "pipeline_lib", "run", stage, *args, "--threads", "2"], cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{stage} failed with exit code {proc.returncode}")
    return time.perf_counter() - t, usage.ru_maxrss / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=["bridge", "graded"])
    ap.add_argument("--config", nargs="+", default=["config.yaml"])
    ap.add_argument("--data", default="data/pixel2d")
    ap.add_argument("--out", default="/tmp/design-bench")
    a = ap.parse_args()
    d = config(a.config)["pixel2d"]["design"]
    data, out = Path(a.data), Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    db = str(data / "database.h5")
    feas = out / "feasibility.h5"
    s, m = run("pixel2d.feasibility", ["--db", db, "--out", str(feas), "--figure", str(out / "feasibility.png"),
                                       "--cfg", json.dumps(d["feasibility"])])
    print(f"feasibility field: {s:.1f} s, peak {m:.2f} GB")
    print(f"{'case':>10} {'stage':>9} {'seconds':>8} {'peak GB':>8}")
    for case in a.cases:
        c = out / case
        c.mkdir(exist_ok=True)
        spec = {"case": d["cases"][case]}
        space = ["--feasibility", str(feas)] if spec["case"].get("space", "database") == "database" else \
            ["--families", str(data / "latent/families.h5")]
        times = {}
        times["macro"] = run("pixel2d.design_macro", ["--db", db, *space, "--out", str(c / "macro.h5"), "--figure",
                                                      str(c / "macro.png"), "--case", case,
                                                      "--cfg", json.dumps(dict(spec, macro=d["macro"]))])
        times["assembly"] = run("pixel2d.design_assemble", [
            "--db", db, "--model", str(data / "model/model.h5"), "--latent", str(data / "model/latent.h5"),
            "--macro", str(c / "macro.h5"), "--out", str(c / "assembly.h5"), "--figure", str(c / "mrf.png"),
            "--case", case, "--cfg", json.dumps(dict(spec, assembly=d["assembly"], mrf=d["mrf"])), "--seed", "2026"])
        times["verify"] = run("pixel2d.design_verify", [
            "--db", db, "--macro", str(c / "macro.h5"), "--assembly", str(c / "assembly.h5"), "--out",
            str(c / "design.h5"), "--structure-figure", str(c / "structure.png"), "--deformed-figure",
            str(c / "deformed.png"), "--summary", str(c / "summary.json"), "--case", case,
            "--cfg", json.dumps(dict(spec, solver=d["solver"]))])
        for stage, (sec, gb) in times.items():
            print(f"{case:>10} {stage:>9} {sec:8.1f} {gb:8.2f}")
        r = json.loads((c / "summary.json").read_text())
        total = sum(t for t, _ in times.values())
        print(f"{case:>10} {'total':>9} {total:8.1f}   RRMSE macro {r['rrmse_macro']:.4f}  fine {r['rrmse_fine']:.4f}  "
              f"baseline fine {r['rrmse_fine_baseline']:.4f}  MRF energy {r['mrf_energy']:.4g} "
              f"bound {r['mrf_lower_bound']} gap {r['mrf_gap']}  fine DOFs {r['fine_dofs']} ({r['solver']})")


if __name__ == "__main__":
    main()
