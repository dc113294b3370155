"""The rule files: lint-clean, and a rule that passes a stage a wrong flag fails when the workflow is
parsed (`snakemake -n`), not when its job runs."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline_lib.cli import _stages, check_stage_args

ROOT = Path(__file__).resolve().parent.parent


def _snakemake(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_stage_flags_are_checked_against_the_stage_signature():
    check_stage_args("pixel2d.seeds", "--out {output} --shard {wildcards.shard} --cfg {params.cfg:q} --seed 1")
    with pytest.raises(ValueError, match=r"stage pixel2d.seeds: unknown flag\(s\) --shards; missing flag\(s\) --shard"):
        check_stage_args("pixel2d.seeds", "--out {output} --shards 2 --cfg x --seed 1")
    with pytest.raises(ValueError, match="unknown stage 'pixel2d.sedes'"):
        check_stage_args("pixel2d.sedes", "--out x")
    assert {"pixel2d.seeds", "truss3d.library", "voxel3d.collect", "voxel3d.latent_study"} <= set(_stages())


def test_the_workflow_is_lint_clean():
    res = _snakemake(ROOT, "--lint")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Lints for" not in res.stdout + res.stderr, res.stdout


def test_a_wrong_flag_in_a_rule_fails_the_dry_run_naming_the_stage(tmp_path):
    for d in ("workflow", "rules", "envs", "profiles"):
        shutil.copytree(ROOT / d, tmp_path / d)
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    smk = tmp_path / "rules/truss3d.smk"
    text = smk.read_text()
    assert '"--parts {input} --out {output}"' in text
    smk.write_text(text.replace('"--parts {input} --out {output}"', '"--shards {input} --out {output}"'))
    res = _snakemake(tmp_path, "-n", "--cores", "1")
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert "stage truss3d.library: unknown flag(s) --shards; missing flag(s) --parts" in out, out[-3000:]


def test_a_figure_whose_caption_is_missing_fails_the_dry_run_naming_it(tmp_path):
    for d in ("workflow", "rules", "envs", "profiles"):
        shutil.copytree(ROOT / d, tmp_path / d)
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    (tmp_path / "workflow/report/voxel3d_gallery.rst").unlink()
    res = _snakemake(tmp_path, "-n", "--cores", "1")
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert "voxel3d_gallery.rst of report entry data/voxel3d/figures/gallery.png does not exist" in out, out[-3000:]

