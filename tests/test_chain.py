"""The chain protocol without trained models: lookup, screening by the databases' own rules, FE
homogenization with the database conventions, sample I/O.  The full encode -> decode -> screen ->
homogenize -> predict path on trained models is in test_workflow.py (it needs the tiny run)."""
import numpy as np
import pytest

from pipeline_lib import artifacts, chain
from pipeline_lib.elasticity import orthotropic_components


def test_every_chain_is_found_by_name_with_its_property_columns():
    for name in chain.NAMES:
        ch = chain.get(name)
        assert ch.name == name and len(ch.properties) == len(ch.units) > 0 and ch.geometry
    assert chain.get("pixel2d").properties == ("C11", "C12", "C22", "C33")
    assert chain.get("voxel3d").units == ("MPa", "1", "MPa")
    with pytest.raises(ValueError, match="unknown chain 'pixel3d'"):
        chain.get("pixel3d")
    with pytest.raises(Exception, match="relative_density"):
        chain.get("truss3d", {"relative_density": 2.0})  # the schema checks a chain's config too
    with pytest.raises(RuntimeError, match="load_model"):
        chain.get("pixel2d").encode({"cells": np.zeros((1, 4, 4), np.uint8)})


def _cross(n, w):
    c = np.zeros((n, n), np.uint8)
    lo, hi = n // 2 - w // 2, n // 2 + (w + 1) // 2
    c[:, lo:hi] = 1
    c[lo:hi, :] = 1
    return c


def test_pixel2d_screen_is_the_database_rule_and_homogenize_its_solver():
    from pipeline_lib.pixel2d.homogenization import homogenize_cells

    ch = chain.get("pixel2d", {"material": {"nu": 0.3}})
    good = _cross(12, 4)
    speck = good.copy()
    speck[0, 0] = 1  # an isolated pixel (mirror images too, so still symmetric)
    speck[0, -1] = speck[-1, 0] = speck[-1, -1] = 1
    tilted = good.copy()
    tilted[2, 0:2] = 1  # breaks the mirror symmetry
    island = good.copy()
    island[:2, :2] = island[:2, -2:] = island[-2:, :2] = island[-2:, -2:] = 1  # a block floating at the corner
    mask = ch.screen({"cells": np.stack([good, speck, tilted, island])})
    assert mask.tolist() == [True, False, False, False]
    P = ch.homogenize({"cells": good[None]})
    C = homogenize_cells(good[None], E=1.0, nu=0.3)
    np.testing.assert_allclose(P, [[C[0, 0, 0], C[0, 0, 1], C[0, 1, 1], C[0, 2, 2]]], rtol=1e-12)


def test_truss3d_screen_and_homogenize_follow_the_database_conventions():
    from pipeline_lib.truss3d import homogenize
    from pipeline_lib.truss3d.generation import ELEMENTARY

    ch = chain.get("truss3d")
    A = np.stack([ELEMENTARY["bcc_half"], ELEMENTARY["octet_half"], np.eye(27, dtype=bool)])
    X = np.zeros((3, 27, 3))
    assert ch.screen({"adjacency": A, "offsets": X}).tolist() == [True, True, False]
    P = ch.homogenize({"adjacency": A[:2], "offsets": X[:2]})
    ref = orthotropic_components(homogenize(A[:2], X[:2], relative_density=0.15))
    np.testing.assert_allclose(P, ref, rtol=1e-12)
    with pytest.raises(ValueError, match="lattice 0: lattice has no beams"):
        ch.homogenize({"adjacency": A[2:], "offsets": X[2:]})


def test_voxel3d_homogenize_uses_the_nominal_material_and_screen_the_window():
    from pipeline_lib.voxel3d.homogenization import homogenize_cells

    ch = chain.get("voxel3d", {"volume_fraction": [0.05, 0.6]})
    n = 8
    c = np.zeros((n, n, n), np.uint8)
    c[:, 3:5, 3:5] = c[3:5, :, 3:5] = c[3:5, 3:5, :] = 1  # three orthogonal rods: cubic, connected
    full = np.ones((n, n, n), np.uint8)
    assert ch.screen({"cells": np.stack([c, full])}).tolist() == [True, False]
    P = ch.homogenize({"cells": c[None]})
    C = homogenize_cells(c, E=70000.0, nu=0.33)
    S = np.linalg.inv(C)
    np.testing.assert_allclose(P[0], [1 / S[0, 0], -S[0, 1] / S[0, 0], 1 / S[3, 3]], rtol=1e-12)


def test_samples_are_read_by_row_in_any_order_and_a_bad_index_is_named(tmp_path):
    cells = np.stack([_cross(12, w) for w in (2, 4, 6)])
    path = tmp_path / "cand.h5"
    artifacts.write(path, "pixel2d/candidates", {
        "cells": cells, "parent": np.full(3, -1), "seed_id": np.arange(3), "iteration": np.zeros(3, np.int32),
        "operator": np.full(3, -1, np.int8), "digest": np.arange(3, dtype=np.uint64)})
    ch = chain.from_artifact(path)
    assert ch.name == "pixel2d"
    got = ch.read(path, [2, 0, -1])["cells"]
    np.testing.assert_array_equal(got, cells[[2, 0, 2]])
    with pytest.raises(artifacts.ArtifactError, match="index 3 is outside the 3 samples"):
        ch.read(path, [3])
    assert chain.count(chain.take(ch.read(path), [0, 1])) == 2
