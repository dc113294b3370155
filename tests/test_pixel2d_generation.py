"""SIMP seeds and stochastic perturbation."""
import numpy as np
import pytest
from conftest import mirror_quarter

from pipeline_lib import mirror
from pipeline_lib.digest import binary_digests as digests
from pipeline_lib.fem.quad4 import elasticity_matrix
from pipeline_lib.pixel2d import perturb as pt
from pipeline_lib.pixel2d import simp
from pipeline_lib.pixel2d.homogenization import homogenize_cells

D = elasticity_matrix(1.0, 0.49, "stress")


def test_targets_are_admissible_and_below_the_voigt_bound(rng):
    T, f = simp.sample_targets(rng, 500, D, (0.2, 0.8), (-0.5, 1.0))
    assert T.shape == (500, 4) and ((f >= 0.2) & (f <= 0.8)).all()
    C = np.zeros((500, 3, 3))
    C[:, 0, 0], C[:, 0, 1], C[:, 1, 1], C[:, 2, 2] = T.T
    C[:, 1, 0] = C[:, 0, 1]
    assert (np.linalg.eigvalsh(C)[:, 0] > 0).all()
    assert (np.linalg.eigvalsh(f[:, None, None] * D - C)[:, 0] >= -1e-12).all()
    assert (T[:, 1] < 0).any()  # auxetic targets are drawn too


def test_filter_preserves_constant_fields_and_mirror_symmetry():
    F = simp.filter_matrix(8, 10, 2.5)
    np.testing.assert_allclose(F @ np.ones(80), 1.0, atol=1e-12)
    x = np.random.default_rng(0).random(80)
    assert mirror.is_mirror_symmetric(mirror_quarter((F @ x).reshape(8, 10))[None], 2).all()


def test_projection_derivative_matches_finite_differences():
    x = np.linspace(0.01, 0.99, 30)
    y, dy = simp.project(x, 8.0)
    y2, _ = simp.project(x + 1e-7, 8.0)
    np.testing.assert_allclose(dy, (y2 - y) / 1e-7, rtol=1e-5)
    np.testing.assert_allclose(simp.project(np.array([0.0, 1.0]), 8.0)[0], [0.0, 1.0], atol=1e-12)


def test_simp_moves_designs_toward_their_targets(rng):
    T, f = simp.sample_targets(rng, 6, D, (0.3, 0.7), (0.0, 1.0))
    mat = simp.Material()
    res = simp.optimize(T, f, 20, mat, simp.SimpParams(max_iter=40, beta_every=8), rng)
    assert res["cells"].shape == (6, 20, 20) and mirror.is_mirror_symmetric(res["cells"], 2).all()
    # error of the uniform gray start (density f everywhere) versus the optimized gray design
    start = (f**3)[:, None] * np.stack([D[0, 0], D[0, 1], D[1, 1], D[2, 2]])
    err_start = ((start - T) ** 2).sum(1) / D[0, 0] ** 2
    assert np.median(res["objective"] / err_start) < 0.5
    vol = res["density"].mean((1, 2))
    assert (vol <= f * 1.02).all()  # the volume bound holds


def test_hull_distance_is_zero_on_the_hull_and_positive_inside(rng):
    P = rng.standard_normal((400, 4))
    P[0] = 0.0  # the centre is deep inside
    d = pt.hull_distance(P)
    from scipy.spatial import ConvexHull

    assert np.allclose(d[ConvexHull(P).vertices], 0.0)
    assert d[0] > 0.5 * d.max() > 0


def test_selection_favours_extreme_and_sparse_cells(rng):
    C = np.zeros((600, 3, 3))
    core = rng.normal(0.3, 0.01, (590, 4))  # a dense cluster ...
    outliers = rng.normal(0.3, 0.2, (10, 4))  # ... and ten sparse, extreme cells
    P = np.concatenate([core, outliers])
    C[:, 0, 0], C[:, 0, 1], C[:, 1, 1], C[:, 2, 2] = P.T
    s = pt.selection_scores(C, 0.5, 8)
    assert s[590:].mean() > 0.9 and s[:590].mean() < 0.55
    def outliers_picked(greed):
        return np.mean([np.isin(pt.select_parents(rng, s, 50, greed), np.arange(590, 600)).sum()
                        for _ in range(200)])

    uniform, greedy = outliers_picked(0.0), outliers_picked(4.0)
    assert uniform == pytest.approx(50 * 10 / 600, abs=0.3)  # greed 0: every cell alike
    assert greedy > 5 * uniform


@pytest.mark.parametrize("operator", ["levelset", "blob"])
def test_children_are_symmetric_perturbations_of_their_parent(rng, operator):
    q = np.zeros((25, 25), dtype=np.uint8)
    q[:, 8:18] = 1
    q[8:18, :] = 1
    parents = np.stack([mirror_quarter(q)] * 3)
    p = pt.PerturbParams(children_per_parent=4, operators={operator: 1.0}, levelset=pt.LevelsetParams(amplitude=(0.5, 1.5)))
    kids, ops = pt.make_children(rng, parents, p)
    assert kids.shape == (12, 50, 50) and (ops == pt.OPERATORS.index(operator)).all()
    assert mirror.is_mirror_symmetric(kids, 2).all()
    changed = (kids != np.repeat(parents, 4, axis=0)).mean((1, 2))
    assert (changed > 0).mean() > 0.5 and changed.max() < 0.25


def test_signed_distance_is_periodic_and_positive_in_the_solid():
    c = np.zeros((1, 10, 10), dtype=np.uint8)
    c[0, :, 0:2] = 1  # a bar on the left edge: its nearest void wraps to column 9
    phi = pt.signed_distance(c)[0]
    assert (phi[:, :2] > 0).all() and (phi[:, 2:] < 0).all()
    np.testing.assert_allclose(phi[:, 5], phi[:, 6])  # farthest from the bar in both directions


def test_digests_identify_identical_cells_only(rng):
    a = (rng.random((5, 10, 10)) < 0.5).astype(np.uint8)
    b = a.copy()
    b[2, 3, 3] ^= 1
    da, db = digests(a), digests(b)
    assert da.dtype == np.uint64 and len(set(da.tolist())) == 5
    assert (da == db).tolist() == [True, True, False, True, True]
    assert digests(a.reshape(5, 4, 25))[0] != da[0]  # same bits, other shape


def test_seed_cells_homogenize_to_admissible_stiffness(rng):
    T, f = simp.sample_targets(rng, 3, D, (0.4, 0.6), (0.0, 1.0))
    res = simp.optimize(T, f, 16, simp.Material(), simp.SimpParams(max_iter=20, beta_every=5), rng)
    C = homogenize_cells(res["cells"], nu=0.49)
    for Cc, c in zip(C, res["cells"]):
        assert np.linalg.eigvalsh(c.mean() * D - Cc).min() > -1e-9  # Voigt
