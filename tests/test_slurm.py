"""The workflow under SLURM for real: a single-node cluster on localhost (tests/slurm/up.sh) runs the
tiny preset through snakemake-executor-plugin-slurm with profiles/slurm-local.

Needs root and Debian's slurm-wlm + munge; skipped otherwise.  Takes a few minutes (status polling).
The cluster state lives under $R (default /tmp/slurm_local).  A cluster that was already up is reused
and left up; one this test started is stopped afterwards unless SLURM_LOCAL_KEEP=1.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "tests" / "slurm"
TIMEOUT_S = 600

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def _skip_reason():
    if os.geteuid() != 0:
        return "needs root: the local SLURM cluster runs munged, slurmctld and slurmd as root"
    missing = [b for b in ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "srun")
               if shutil.which(b, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None]
    if missing:
        return f"{', '.join(missing)} not installed (apt-get install -y slurm-wlm munge)"
    return None


@pytest.fixture(scope="module")
def slurm_cluster():
    """Bring the local cluster up (or reuse it); yield its environment; stop it if we started it."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    root = Path(os.environ.get("R", "/tmp/slurm_local")).resolve()
    env = dict(os.environ, R=str(root))
    env["PATH"] = env.get("PATH", "") + ":/usr/sbin:/sbin"   # the daemons live in sbin
    up = subprocess.run(["bash", str(SCRIPTS / "up.sh")], env=env, capture_output=True, text=True, timeout=120)
    if up.returncode != 0:   # stop whatever part of it did start
        subprocess.run(["bash", str(SCRIPTS / "down.sh")], env=env, capture_output=True, timeout=60)
        pytest.fail(f"tests/slurm/up.sh failed (rc={up.returncode}):\n{up.stdout}\n{up.stderr}")
    started = "slurm_local: started" in up.stdout
    run_env = dict(env)
    run_env["SLURM_CONF"] = str(root / "etc" / "slurm.conf")
    # the venv's bin first (the jobs call python/snakemake from PATH), then the srun wrapper
    run_env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), str(root / "bin"), env["PATH"]])
    try:
        yield {"root": root, "env": run_env}
    finally:
        if started and os.environ.get("SLURM_LOCAL_KEEP") != "1":
            subprocess.run(["bash", str(SCRIPTS / "down.sh")], env=env, capture_output=True, text=True,
                           timeout=60)


def _jobcomp_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_pixel2d_tiny_under_slurm(slurm_cluster, tmp_path):
    from pipeline_lib import artifacts

    env = slurm_cluster["env"]
    jobcomp = slurm_cluster["root"] / "log" / "jobcomp.txt"
    seen = len(_jobcomp_lines(jobcomp))

    # no perturbation iterations: each dependency level costs a SLURM status-polling round (tens of
    # seconds), and the perturbation loop adds three levels per iteration without new SLURM features
    extra = tmp_path / "no_perturbation.yaml"
    extra.write_text("pixel2d:\n  perturb:\n    iterations: 0\n")
    cmd = [os.path.join(os.path.dirname(sys.executable), "snakemake"),
           "--profile", str(REPO / "profiles" / "slurm-local"),
           "--configfile", str(REPO / "presets" / "tiny.yaml"), str(extra),
           "--directory", str(tmp_path), "pixel2d"]
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = (exc.stderr or b"").decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        run_id = re.search(r"SLURM run ID: (\S+)", out + err)
        if run_id:   # do not leave jobs of the killed run in the queue
            subprocess.run(["scancel", "--name", run_id.group(1)], env=env, capture_output=True)
        pytest.fail(f"snakemake under SLURM timed out after {TIMEOUT_S} s:\n{out}\n{err}")
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        print(log)
        slurm_logs = tmp_path / ".snakemake" / "slurm_logs"
        for f in sorted(slurm_logs.rglob("*.log")) if slurm_logs.exists() else []:
            print(f"==> {f}\n{f.read_text(errors='replace')}")
        pytest.fail(f"snakemake under SLURM failed (rc={proc.returncode}); output above")

    # the database the workflow produced
    db = artifacts.read(tmp_path / "data" / "pixel2d" / "database.h5", "pixel2d/database")
    cells, C, it = db["cells"], db["C"], db["iteration"]
    assert cells.ndim == 3 and cells.shape[1:] == (24, 24) and cells.shape[0] > 0, cells.shape
    assert C.shape == (cells.shape[0], 3, 3)
    assert np.all(np.isfinite(C))
    np.testing.assert_allclose(C, np.swapaxes(C, 1, 2), rtol=1e-8, atol=1e-12)
    assert np.all(np.linalg.eigvalsh(C) > 0), "C must be positive definite"
    assert set(np.unique(it).tolist()) == {0}, np.unique(it)
    assert (tmp_path / "data" / "pixel2d" / "figures" / "gallery.png").exists()

    # ... and SLURM, not a local fallback, ran the jobs: every job of this run is in the jobcomp log
    m = re.search(r"SLURM run ID: (\S+)", log)
    assert m, "no 'SLURM run ID' in the snakemake output: did the slurm executor run?\n" + log
    submitted = set(re.findall(r"has been submitted with SLURM jobid (\d+)", log))
    assert submitted, "no SLURM job submissions in the snakemake output\n" + log
    ours = [ln for ln in _jobcomp_lines(jobcomp)[seen:] if f" Name={m.group(1)} " in ln]
    states = {re.search(r"JobId=(\d+)", ln).group(1): re.search(r"JobState=(\S+)", ln).group(1) for ln in ours}
    assert set(states) == submitted, (sorted(states), sorted(submitted))
    assert set(states.values()) == {"COMPLETED"}, states
