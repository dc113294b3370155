"""The shared spine: shard slicing and dedupe, atomic output, config -> dataclass, mirror symmetry."""
import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pipeline_lib import atomic, mirror, shards
from pipeline_lib.config import ConfigError, build, schema_defaults

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------------------------------ shards
def test_shard_rows_partition_the_rows_in_order():
    for n in (0, 1, 7, 100):
        for k in (1, 2, 3, 8):
            parts = [shards.rows(n, s, k) for s in range(k)]
            got = np.concatenate([np.arange(n)[p] for p in parts])
            assert got.tolist() == list(range(n))
    with pytest.raises(ValueError, match="shard 2 is outside 0..1"):
        shards.rows(10, 2, 2)


def test_first_occurrence_matches_a_plain_loop_and_drops_known_digests(rng):
    d = rng.integers(0, 20, 300).astype(np.uint64)
    known = np.array([3, 5, 7], dtype=np.uint64)
    first, expect = {}, []
    for i, x in enumerate(d.tolist()):
        expect.append(-1 if x in (3, 5, 7) else first.setdefault(x, i))
    assert shards.first_occurrence(d, known).tolist() == expect
    keep = shards.fresh(d, known)
    assert keep.sum() == len(set(d.tolist()) - {3, 5, 7}) and not np.isin(d[keep], known).any()
    assert shards.first_occurrence(np.zeros(0, np.uint64)).shape == (0,)


def test_concat_refuses_parts_with_different_datasets():
    a = {"x": np.arange(3), "y": np.zeros(3)}
    assert shards.concat([a, a])["x"].tolist() == [0, 1, 2, 0, 1, 2]
    with pytest.raises(ValueError, match="part 1"):
        shards.concat([a, {"x": np.arange(2)}])


# ------------------------------------------------------------------------------------------ atomic
_WRITER = textwrap.dedent("""
    import sys, time
    from pipeline_lib import atomic
    atomic.exit_on_sigterm()
    with atomic.output(sys.argv[1]) as tmp:
        tmp.write_bytes(b"half of a file")
        print("writing", flush=True)
        time.sleep(60)
""")


def _start_writer(target: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(target)], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "writing"  # killed mid-way, the temporary half written
    assert atomic.temporary(target).exists() and not target.exists()
    return proc


def test_a_writer_killed_mid_way_leaves_neither_a_file_nor_a_temporary(tmp_path):
    target = tmp_path / "out" / "result.h5"
    proc = _start_writer(target)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_after_sigkill_the_next_write_of_the_same_target_clears_the_leftover(tmp_path):
    target = tmp_path / "result.json"
    proc = _start_writer(target)
    proc.kill()
    proc.wait(timeout=30)
    assert atomic.temporary(target).exists() and not target.exists()  # SIGKILL cannot be caught
    atomic.write_json(target, {"a": np.float64(1.5), "b": np.arange(2)})
    assert target.read_text() == '{\n  "a": 1.5,\n  "b": [\n    0,\n    1\n  ]\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_a_failing_writer_keeps_the_previous_file(tmp_path):
    target = tmp_path / "fig.png"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic.output(target) as tmp:
            tmp.write_bytes(b"new, half")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["fig.png"]
    with pytest.raises(FileNotFoundError, match="produced nothing"):
        with atomic.output(target):
            pass
    assert target.read_bytes() == b"old"


def test_every_writer_of_the_package_goes_through_the_atomic_helper():
    offenders = []
    for f in (ROOT / "pipeline_lib").rglob("*.py"):
        text = f.read_text()
        if f.name != "atomic.py" and ("os.replace" in text or "os.rename" in text or "mkstemp" in text):
            offenders.append(f.name)
    assert offenders == []


# ------------------------------------------------------------------------------------------ config
@dataclasses.dataclass(frozen=True)
class _Inner:
    size: tuple[int, int] = (1, 2)


@dataclasses.dataclass(frozen=True)
class _Outer:
    name: str = "a"
    widths: tuple[int, ...] = (3,)
    inner: _Inner = _Inner()


def test_build_converts_lists_and_nested_mappings_and_refuses_unknown_keys():
    got = build(_Outer, {"widths": [4, 5], "inner": {"size": [6, 7]}})
    assert got == _Outer("a", (4, 5), _Inner((6, 7)))
    with pytest.raises(ConfigError, match=r"model: unknown key\(s\) 'widht'"):
        build(_Outer, {"widht": [1]}, where="model")
    with pytest.raises(ConfigError, match=r"model.inner: unknown key\(s\) 'sise'"):
        build(_Outer, {"inner": {"sise": [1, 2]}}, where="model")
    assert build(_Outer, {"other": 1}, ignore=("other",)) == _Outer()


def _dataclass_table():
    from pipeline_lib.learn.trainer import TrainConfig
    from pipeline_lib.pixel2d import model as pm
    from pipeline_lib.pixel2d import perturb, simp
    from pipeline_lib.truss3d import generation
    from pipeline_lib.truss3d import curve_design, curves
    from pipeline_lib.truss3d import model as tm
    from pipeline_lib.voxel3d import homogenization as vh
    from pipeline_lib.voxel3d import model as vm
    from pipeline_lib.voxel3d import robust as vr

    # (dataclass, schema section, schema keys it does not take, its fields the schema does not set)
    return [
        (simp.Material, ("pixel2d", "material"), (), ()),
        (simp.SimpParams, ("pixel2d", "seeds", "simp"), (), ()),
        (perturb.PerturbParams, ("pixel2d", "perturb"), ("iterations",), ()),
        (pm.ModelConfig, ("pixel2d", "model"), (), ("epochs", "side")),
        (generation.PerturbParams, ("truss3d", "library", "perturb"), (), ()),
        (tm.ModelConfig, ("truss3d", "model"), (), ("epochs",)),
        (curves.PredictorParams, ("truss3d", "nonlinear", "predictor"), ("examples",), ()),
        (curve_design.CurveDesignParams, ("truss3d", "nonlinear", "design"), ("run",), ()),
        (vh.Material, ("voxel3d", "material"), (), ()),
        (vm.ModelConfig, ("voxel3d", "model"), (), ("side", "weights")),
        (vr.DesignParams, ("voxel3d", "design"), (), ()),
        (TrainConfig, ("pixel2d", "train"), ("split", "samples", "threads", "gpu", "mem_mb", "runtime"),
         ("epochs", "batch_size", "seed")),
    ]


def _plain(v):
    if dataclasses.is_dataclass(v):
        return {k: _plain(x) for k, x in dataclasses.asdict(v).items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


@pytest.mark.parametrize("cls, path, not_taken, not_set", _dataclass_table(), ids=lambda x: getattr(x, "__qualname__", None))
def test_dataclass_defaults_are_the_schema_defaults(cls, path, not_taken, not_set):
    section = schema_defaults(*path)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    assert set(section) - set(not_taken) <= set(fields), "schema keys the dataclass does not know"
    assert set(fields) - set(section) <= set(not_set), "dataclass fields the schema does not set"
    made = build(cls, section, ignore=not_taken, where=".".join(path))
    for name in set(section) - set(not_taken):
        f = fields[name]
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        assert _plain(default) == _plain(getattr(made, name)), f"{cls.__qualname__}.{name}"
    # a schema default the chain's other consumers depend on: the model's epochs are the training's
    if "epochs" in not_set and path[-1] == "model":
        assert fields["epochs"].default == schema_defaults(path[0], "train")["epochs"]


# ------------------------------------------------------------------------------------------ mirror
@pytest.mark.parametrize("d", [2, 3])
def test_mirror_unfold_and_corner_invert_each_other_in_any_dimension(rng, d):
    q = rng.random((2,) + (3,) * d)
    full = mirror.unfold(q, d)
    assert full.shape == (2,) + (6,) * d
    np.testing.assert_array_equal(mirror.corner(full, d), q)
    assert mirror.is_mirror_symmetric(full, d).all()
    assert not mirror.is_mirror_symmetric(rng.random((2,) + (6,) * d), d).any()
    assert not mirror.is_mirror_symmetric(np.ones((1,) + (5,) * d), d).any()  # odd sides: no corner solve
    f = rng.random((6,) * d)
    s = mirror.symmetrize(f, d)
    assert mirror.is_mirror_symmetric(s[None], d).all()
    assert s.sum() == pytest.approx(f.sum())
