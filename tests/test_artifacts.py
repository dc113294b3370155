"""The HDF5 artifact format: provenance, atomic writes, validated reads, gather."""
import json
import os

import h5py
import numpy as np
import pytest

from pipeline_lib import artifacts
from pipeline_lib.artifacts import ArtifactError


def _cells(n, seed=0):
    rng = np.random.default_rng(seed)
    return {"index": np.arange(n, dtype=np.int64), "C": rng.random((n, 3, 3))}


def test_written_artifact_carries_schema_units_config_seed_and_code_version(tmp_path):
    path = artifacts.write(tmp_path / "a.h5", "pixel2d/stiffness", _cells(5), config={"x": 1}, seed=7,
                           stats={"n": 5})
    with h5py.File(path) as h5:
        assert h5.attrs["kind"] == "pixel2d/stiffness"
        assert h5.attrs["schema_version"] == 1
        assert h5.attrs["seed"] == 7
        assert json.loads(h5.attrs["config"]) == {"x": 1}
        assert h5.attrs["package"].startswith("metagen ")
        assert h5.attrs["git_commit"]
        assert "T" in h5.attrs["created"]
        assert h5["C"].attrs["units"].startswith("E")
        assert h5["C"].compression == "gzip" and h5["C"].fletcher32 and h5["C"].chunks
    a = artifacts.read(path, "pixel2d/stiffness")
    np.testing.assert_array_equal(a["C"], _cells(5)["C"])
    assert a.config == {"x": 1} and a.stats == {"n": 5}


def test_a_failed_write_leaves_neither_the_target_nor_a_temporary(tmp_path):
    target = tmp_path / "a.h5"
    bad = _cells(3)
    bad["C"] = bad["C"].astype(np.float32)  # wrong dtype: refused before anything is written
    with pytest.raises(ArtifactError, match="dtype"):
        artifacts.write(target, "pixel2d/stiffness", bad)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_artifact_is_replaced_only_when_the_new_one_is_complete(tmp_path, monkeypatch):
    target = artifacts.write(tmp_path / "a.h5", "pixel2d/stiffness", _cells(3))
    before = target.read_bytes()

    def boom(*a, **k):
        raise KeyboardInterrupt  # a kill in the middle of writing

    monkeypatch.setattr(artifacts.h5py.Group, "create_dataset", boom)
    with pytest.raises(KeyboardInterrupt):
        artifacts.write(target, "pixel2d/stiffness", _cells(4))
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.h5"]


def test_truncated_file_is_reported_with_its_name(tmp_path):
    path = artifacts.write(tmp_path / "shard.h5", "pixel2d/stiffness", _cells(2000))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match=r"shard\.h5.*(truncated|corrupt)"):
        artifacts.read(path, "pixel2d/stiffness")


def test_corrupt_chunk_is_caught_by_its_checksum(tmp_path):
    path = artifacts.write(tmp_path / "shard.h5", "pixel2d/stiffness", _cells(4000, seed=1))
    with h5py.File(path) as h5:
        offset = h5["C"].id.get_chunk_info(0).byte_offset
    raw = bytearray(path.read_bytes())
    for k in range(64):
        raw[offset + 100 + k] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ArtifactError, match=r"shard\.h5.*'C'.*corrupt"):
        artifacts.read(path, "pixel2d/stiffness")


@pytest.mark.parametrize("mutate, message", [
    (lambda h5: h5.attrs.__setitem__("schema_version", 99), "schema version 99"),
    (lambda h5: h5.attrs.__setitem__("kind", "pixel2d/seeds"), "expected 'pixel2d/stiffness'"),
    (lambda h5: h5.__delitem__("index"), "'index' is missing"),
    (lambda h5: (h5.__delitem__("C"), h5.create_dataset("C", data=np.zeros((5, 3, 4)))), r"shape \(5, 3, 4\)"),
    (lambda h5: (h5.__delitem__("index"), h5.create_dataset("index", data=np.zeros(4, np.int64))), "N = "),
])
def test_reader_refuses_artifacts_that_do_not_match_their_schema(tmp_path, mutate, message):
    path = artifacts.write(tmp_path / "x.h5", "pixel2d/stiffness", _cells(5))
    with h5py.File(path, "a") as h5:
        mutate(h5)
    with pytest.raises(ArtifactError, match=message) as err:
        artifacts.read(path, "pixel2d/stiffness")
    assert "x.h5" in str(err.value)


def test_missing_file_and_foreign_hdf5_are_named(tmp_path):
    with pytest.raises(ArtifactError, match="does not exist"):
        artifacts.read(tmp_path / "nope.h5")
    with h5py.File(tmp_path / "plain.h5", "w") as h5:
        h5["x"] = [1, 2]
    with pytest.raises(ArtifactError, match="not a metagen artifact"):
        artifacts.read(tmp_path / "plain.h5")


def test_gather_concatenates_shards_into_one_self_contained_file(tmp_path):
    a = artifacts.write(tmp_path / "a.h5", "pixel2d/stiffness", _cells(3, seed=1))
    b = artifacts.write(tmp_path / "b.h5", "pixel2d/stiffness", _cells(0))
    c = artifacts.write(tmp_path / "c.h5", "pixel2d/stiffness", _cells(4, seed=2))
    out = artifacts.gather([a, b, c], tmp_path / "all.h5", "pixel2d/stiffness")
    for p in (a, b, c):
        os.remove(p)  # a merged copy, not a view of the shards
    got = artifacts.read(out, "pixel2d/stiffness")
    np.testing.assert_array_equal(got["C"], np.concatenate([_cells(3, 1)["C"], _cells(4, 2)["C"]]))


def test_gather_stops_at_a_corrupt_shard_and_names_it(tmp_path):
    a = artifacts.write(tmp_path / "a.h5", "pixel2d/stiffness", _cells(3))
    b = tmp_path / "b.h5"
    b.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(ArtifactError, match="b.h5"):
        artifacts.gather([a, b], tmp_path / "all.h5", "pixel2d/stiffness")
    assert not (tmp_path / "all.h5").exists()


def test_join_shards_fills_every_row_exactly_once(tmp_path):
    a = artifacts.write(tmp_path / "a.h5", "pixel2d/stiffness", {"index": np.array([2, 0]), "C": np.ones((2, 3, 3))})
    b = artifacts.write(tmp_path / "b.h5", "pixel2d/stiffness", {"index": np.array([1]), "C": 2 * np.ones((1, 3, 3))})
    C = artifacts.join_shards([a, b], "pixel2d/stiffness", 3, "owner.h5")["C"]
    assert C[:, 0, 0].tolist() == [1, 2, 1]
    with pytest.raises(ArtifactError, match="owner.h5: row 1 has 0 results"):
        artifacts.join_shards([a], "pixel2d/stiffness", 3, "owner.h5")
    with pytest.raises(ArtifactError, match="row 1 has 2 results"):
        artifacts.join_shards([a, b, b], "pixel2d/stiffness", 3, "owner.h5")
    with pytest.raises(ArtifactError, match="a.h5: rows 0..2 outside the 2 rows"):
        artifacts.join_shards([a, b], "pixel2d/stiffness", 2, "owner.h5")
