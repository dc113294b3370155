"""The three voxel3d unit sources (templates, skeletons, level sets): shapes, exact cubic symmetry,
families that sweep a parameter, the volume-fraction window, determinism."""
import dataclasses
import re

import numpy as np
import pytest

from pipeline_lib.voxel3d import levelsets, skeletons, templates
from pipeline_lib.voxel3d.symmetry import is_cubic

MODULES = {"templates": templates, "skeletons": skeletons, "levelsets": levelsets}
COUNT = {16: 40, 48: 16}


@pytest.fixture(scope="module", params=[(name, n) for name in MODULES for n in COUNT],
                ids=lambda p: f"{p[0]}-n{p[1]}")
def made(request):
    name, n = request.param
    cells, family, desc = MODULES[name].generate(np.random.default_rng(7), COUNT[n], n=n)
    return name, n, cells, family, desc


def test_shapes_and_binary(made):
    name, n, cells, family, desc = made
    count = COUNT[n]
    assert cells.shape == (count, n, n, n) and cells.dtype == np.uint8
    assert family.shape == (count,) and family.dtype == np.int64
    assert len(desc) == count and all(isinstance(d, str) and d for d in desc)
    assert set(np.unique(cells)) <= {0, 1}
    vf = cells.mean(axis=(1, 2, 3))
    assert (vf > 0).all() and (vf < 1).all()


def test_every_unit_is_cubic(made):
    assert is_cubic(made[2]).all()


def test_families(made):
    name, n, cells, family, desc = made
    # a family's members are contiguous, ids are unique to it
    starts = np.flatnonzero(np.r_[True, family[1:] != family[:-1]])
    assert len(starts) == len(np.unique(family))
    vf = cells.mean(axis=(1, 2, 3))
    sizes = np.diff(np.r_[starts, len(family)])
    assert sizes.max() >= 4
    full = varied = monotone = 0
    for s, m in zip(starts, sizes):
        if m < 3:
            continue
        # members differ from one another
        assert all(not np.array_equal(cells[i], cells[i + 1]) for i in range(s, s + m - 1)) or n == 16
        if desc[s].endswith(".c)"):  # a plate family moves its planes: the fraction need not change
            continue
        full += 1
        v = vf[s:s + m]
        varied += np.ptp(v) > 0
        if not desc[s].endswith("(sweep a)"):  # node positions: no fixed trend either
            d = np.diff(v)
            monotone += (d >= 0).all() or (d <= 0).all()  # radius, thickness or isovalue sweeps
        else:
            monotone += 1
    assert full >= 1 and monotone == full
    # at n = 16 a voxel layer can hold a whole family's range (octet struts: ~0.3 at once)
    assert varied == full if n == 48 else varied >= full / 2


def test_volume_fraction_window(made):
    vf = made[2].mean(axis=(1, 2, 3))
    assert ((vf >= 0.05) & (vf <= 0.4)).mean() > 0.5


@pytest.mark.parametrize("name", MODULES)
def test_deterministic_and_seed_dependent(name):
    gen = MODULES[name].generate
    a = gen(np.random.default_rng(3), 6, n=16)
    b = gen(np.random.default_rng(3), 6, n=16)
    c = gen(np.random.default_rng(4), 6, n=16)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("name", MODULES)
def test_params_are_the_modules_dataclass(name):
    """The chain finds a source's parameters as the one dataclass its module defines."""
    module = MODULES[name]
    found = [v for v in vars(module).values()
             if dataclasses.is_dataclass(v) and isinstance(v, type) and v.__module__ == module.__name__]
    assert len(found) == 1
    params = found[0]()
    cells, _, _ = module.generate(np.random.default_rng(0), 2, n=8, params=params)
    assert cells.shape == (2, 8, 8, 8)


@pytest.mark.parametrize("name", MODULES)
def test_zero_count_and_odd_n(name):
    cells, family, desc = MODULES[name].generate(np.random.default_rng(0), 0, n=16)
    assert cells.shape == (0, 16, 16, 16) and family.shape == (0,) and desc == []
    with pytest.raises(ValueError):
        MODULES[name].generate(np.random.default_rng(0), 1, n=15)


def _radius(desc: str) -> float:
    return float(re.search(r"r=([0-9.]+)", desc).group(1))


def _three_cylinders(r: float) -> float:
    """Solid fraction of three perpendicular cylinders along the cell edges (Steinmetz overlaps)."""
    return 3 * np.pi * r ** 2 - 8 * np.sqrt(2) * r ** 3


def test_simple_cubic_skeleton_matches_the_cylinder_formula():
    cells, _, desc = skeletons.generate(np.random.default_rng(1), 8, n=48,
                                        params=skeletons.SkeletonParams(skeletons=("sc",)))
    for u, d in zip(cells, desc):
        assert u.mean() == pytest.approx(_three_cylinders(_radius(d)), abs=0.01)
    # struts along the cell edges: the corner voxel is solid, the body centre empty
    assert cells[:, 0, 0, 0].all() and not cells[:, 24, 24, 24].any()


def test_edge_cylinder_template_matches_the_cylinder_formula():
    prm = templates.TemplateParams(kinds=("cylinder",), n_primitives=(1, 1), void_probability=0.0)
    cells, _, desc = templates.generate(np.random.default_rng(5), 24, n=48, params=prm)
    checked = 0
    for u, d in zip(cells, desc):
        if "cylinder@edge" in d:
            assert u.mean() == pytest.approx(_three_cylinders(_radius(d)), abs=0.01)
            checked += 1
    assert checked


def test_named_level_sets_have_their_reflections():
    """Schwarz P is one cosine per axis; the sum over permutations is invariant under them."""
    from pipeline_lib.voxel3d.symmetry import grid

    pts = grid(16)
    f = levelsets.structure_factor(pts, levelsets.NAMED["schwarz_p"])
    X = 2 * np.pi * pts
    assert np.allclose(f, np.cos(X).sum(-1))
    g = levelsets.structure_factor(pts, {(2, 1, 0): 1.0})
    assert np.allclose(g, np.transpose(g, (1, 0, 2))) and np.allclose(g, np.transpose(g, (2, 1, 0)))
    # a shell family straddles the surface f = 0
    prm = levelsets.LevelSetParams(named=("schwarz_p",), named_probability=1.0, modes=("shell",))
    cells, _, desc = levelsets.generate(np.random.default_rng(2), 4, n=16, params=prm)
    assert all(d.startswith("schwarz_p shell") for d in desc)
    full = np.cos(2 * np.pi * grid(16, eighth_only=False)).sum(-1)
    assert cells[:, np.abs(full) < 0.05].all()


@pytest.mark.parametrize("name", ["octet", "kelvin", "bcc_cube"])
def test_strut_distance_matches_brute_force(name):
    """Within the margin, the pruned strut set gives the distance to the whole periodic skeleton."""
    from itertools import permutations, product

    pts = np.random.default_rng(0).uniform(0, 0.5, (200, 3))
    gens = [np.array(s, float) for key in skeletons.SKELETONS[name].groups[0]
            for s in skeletons.STRUTS[key](0.3)]
    segs = [np.stack([g[:, list(p)] * np.array(sg) + np.array(t) for g in gens])
            for p in permutations(range(3)) for sg in product((1, -1), repeat=3)
            for t in product(range(-2, 3), repeat=3)]
    segs = np.concatenate(segs)
    a, d = segs[:, 0], segs[:, 1] - segs[:, 0]
    w = pts[:, None] - a[None]
    t = np.clip((w * d).sum(-1) / (d * d).sum(-1), 0, 1)
    brute = np.linalg.norm(w - t[..., None] * d, axis=-1).min(1)
    gen_key = tuple(tuple(map(tuple, g.tolist())) for g in gens)
    fast = skeletons.strut_distance(pts, *skeletons.expand_struts(gen_key, 0.3))
    near = brute <= 0.3
    assert near.sum() > 50
    assert np.allclose(fast[near], brute[near], atol=1e-9)
    assert (fast[~near] > 0.3 - 1e-9).all()
