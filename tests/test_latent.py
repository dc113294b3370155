"""Latent-space tools against cases whose answer is known: interpolation, arrows, clustering,
shortest-path families, and the FE verification step on exact geometry (no model)."""
import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from pipeline_lib import chain
from pipeline_lib.latent import cluster, families, paths
from pipeline_lib.latent.verify import verify_samples


def test_slerp_returns_its_endpoints_and_keeps_the_norm_of_equal_norm_endpoints(rng):
    z0, z1 = rng.standard_normal(16), rng.standard_normal(16)
    z1 *= np.linalg.norm(z0) / np.linalg.norm(z1)
    t = np.linspace(0, 1, 9)
    p = paths.slerp(z0, z1, t)
    np.testing.assert_allclose(p[0], z0, atol=1e-12)
    np.testing.assert_allclose(p[-1], z1, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(p, axis=1), np.linalg.norm(z0), rtol=1e-12)
    # the angle to z0 grows uniformly along the arc
    cos = p @ z0 / np.linalg.norm(p, axis=1) / np.linalg.norm(z0)
    np.testing.assert_allclose(np.diff(np.arccos(np.clip(cos, -1, 1))), np.arccos(cos[-1]) / 8, rtol=1e-8)
    np.testing.assert_allclose(paths.slerp(z0, 2 * z0, t), paths.lerp(z0, 2 * z0, t))  # parallel: a line
    np.testing.assert_allclose(paths.lerp(z0, z1, [0.5])[0], (z0 + z1) / 2)


def test_an_arrow_points_from_one_cluster_centre_to_the_other(rng):
    a, b = np.zeros(8), np.zeros(8)
    b[2], b[5] = 3.0, -4.0
    mu = np.concatenate([a + 0.1 * rng.standard_normal((200, 8)), b + 0.1 * rng.standard_normal((200, 8))])
    value = np.r_[np.zeros(200), np.ones(200)] + 0.01 * rng.random(400)  # the property separates them
    hi, lo = paths.top_bottom(value, 0.3)
    assert hi.sum() == lo.sum() == 120 and not (hi & lo).any()
    arrow = paths.arrow(mu, hi, lo)
    np.testing.assert_allclose(arrow, (b - a) / 5.0, atol=0.02)
    pts, k = paths.walk(mu[:3], arrow, 0.5, 2)
    assert pts.shape == (3, 5, 8) and k.tolist() == [-2, -1, 0, 1, 2]
    np.testing.assert_allclose(pts[:, 4] - pts[:, 0], np.tile(2.0 * arrow, (3, 1)))
    z, axes, off = paths.axis_traversal(np.zeros(3), [-1.0, 1.0])
    assert z.tolist() == [[-1, 0, 0], [1, 0, 0], [0, -1, 0], [0, 1, 0], [0, 0, -1], [0, 0, 1]]
    assert axes.tolist() == [0, 0, 1, 1, 2, 2] and off.tolist() == [-1, 1] * 3


def test_clustered_candidates_are_more_diverse_than_the_greedy_ones_where_they_must_be(rng):
    # ten tight latent clusters far apart; the ten entries nearest the target all sit in cluster 0
    centres = 10.0 * rng.standard_normal((10, 6))
    mu = np.repeat(centres, 30, axis=0) + 0.05 * rng.standard_normal((300, 6))
    props = 0.1 + 0.02 * rng.random((300, 4))  # every entry near the target ...
    props[:30] -= 0.05  # ... cluster 0 nearest of all
    target = np.full(4, 0.05)
    sets = cluster.candidate_sets(target, props, mu, size=10, pool=300, seed=0)
    assert set(sets.greedy.tolist()) <= set(range(30))  # greedy: one shape
    assert len({int(i) // 30 for i in sets.clustered}) == 10  # clustered: one from each cluster
    assert sets.clustered[0] == sets.greedy[0]  # the best entry is in both
    assert cluster.mean_pairwise_distance(mu[sets.clustered]) > 10 * cluster.mean_pairwise_distance(mu[sets.greedy])
    cells = np.zeros((3, 4, 4), np.uint8)
    cells[1, 0] = 1
    cells[2] = 1
    assert cluster.mean_pairwise_distance(cells, "hamming") == pytest.approx((4 / 16 + 1 + 12 / 16) / 3)


def test_families_are_the_known_shortest_paths_and_never_share_a_node():
    # nodes 0..5 in rank order: cheapest route 0-2-5 (1.5); without its nodes, 1-3-4 (3.0)
    i = np.array([0, 2, 1, 3, 0, 2, 1, 3])
    j = np.array([2, 4, 3, 5, 5, 5, 2, 4])
    w = np.array([1.0, 1.0, 2.0, 2.0, 10.0, 0.5, 9.0, 1.0])
    fams = families.shortest_families(6, (i, j, w), ends=2, count=3)
    assert [f.tolist() for f in fams] == [[0, 2, 5], [1, 3, 4]]  # the third search finds nothing left
    used = np.concatenate(fams)
    assert len(used) == len(set(used.tolist()))
    # the first against scipy's Dijkstra on the same graph, source 6 -> {0, 1}, {4, 5} -> sink 7
    G = csr_matrix((np.r_[w, [1e-12] * 4], (np.r_[i, 6, 6, 4, 5], np.r_[j, 0, 1, 7, 7])), shape=(8, 8))
    assert dijkstra(G, indices=6)[7] == pytest.approx(1.5)
    without = families.shortest_families(6, (i[:-1], j[:-1], w[:-1]), ends=2, count=3)
    assert [f.tolist() for f in without] == [[0, 2, 5]]


def test_rank_knn_edges_join_each_node_to_its_nearest_higher_ranks(rng):
    z = rng.standard_normal((40, 3))
    i, j, w = families.rank_knn_edges(z, 5, chunk=7)
    assert (j > i).all()
    for node in range(40):
        higher = np.arange(node + 1, 40)
        d = np.linalg.norm(z[higher] - z[node], axis=1)
        expect = set(higher[np.argsort(d)[:5]].tolist())
        assert set(j[i == node].tolist()) == expect
        np.testing.assert_allclose(np.sort(w[i == node]), np.sort(d)[:5], rtol=1e-10)


def test_family_positions_skip_the_members_and_extrapolate_past_the_ends():
    mu = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 2.0]])
    s, z = families.positions_along(mu, between=1, beyond=1)
    np.testing.assert_allclose(s, [-0.5, 0.5, 1.5, 2.5])
    np.testing.assert_allclose(z, [[-0.5, 0.0], [0.5, 0.0], [1.0, 1.0], [1.0, 3.0]])
    assert families.positions_along(mu[:1], 2, 2)[0].size == 0


def test_the_gradation_curve_of_eq7_starts_at_zero_and_ends_at_the_material():
    c = families.gradation_curve(np.array([0.0, 1.0]), 1.0, 0.3)
    np.testing.assert_allclose(c[0], 0.0)
    np.testing.assert_allclose(c[1], [1.0, 0.3, 1.0, 0.25 - 0.65 + 0.6775])
    d = families.distance_to_curve(np.array([[0.5, 0.0, 0.5, 0.0], [np.nan] * 4]),
                                   families.gradation_curve(np.linspace(0, 1, 2001), 1.0, 0.3), np.ones(4))
    assert d[0] > 0 and np.isnan(d[1])


def test_fe_verification_of_exact_geometry_gives_back_the_solver_and_nan_for_invalid_rows():
    from pipeline_lib.truss3d import homogenize
    from pipeline_lib.truss3d.generation import ELEMENTARY

    ch = chain.get("truss3d")
    A = np.stack([ELEMENTARY["bcc"], np.eye(27, dtype=bool), ELEMENTARY["octet_half"]])
    X = np.zeros((3, 27, 3))
    v = verify_samples(ch, {"adjacency": A, "offsets": X})
    assert v.valid.tolist() == [True, False, True]
    assert np.isnan(v.fe[1]).all() and np.isnan(v.predicted).all() and v.predicted_std is None
    from pipeline_lib.elasticity import orthotropic_components

    ref = orthotropic_components(homogenize(A[[0, 2]], X[[0, 2]], relative_density=0.15))
    np.testing.assert_allclose(v.fe[[0, 2]], ref, rtol=1e-12)
    assert set(v.arrays()) == {"z", "adjacency", "offsets", "valid", "fe", "predicted"}


def test_a_traversal_starts_from_a_test_design_whose_decoded_mean_passes_the_screen():
    from types import SimpleNamespace

    from pipeline_lib.latent.stages import _start_row

    class Screened:  # decodes z to itself; only designs with z[0] > 0.9 pass (one test row)
        def decode(self, z):
            return np.asarray(z)

        def screen(self, samples):
            return samples[:, 0] > 0.9

    mu = np.column_stack([np.linspace(-1, 1, 40) * (-1) ** np.arange(40), np.zeros(40)])
    split = np.where(np.arange(40) % 2, 2, 0)  # odd rows are the test split
    ctx = SimpleNamespace(chain=SimpleNamespace(name="toy", **{k: getattr(Screened(), k) for k in ("decode", "screen")}),
                          mu=mu, P=np.zeros((40, 1)), rows=lambda s: np.flatnonzero(split == 2))
    for seed in range(5):
        row = _start_row(ctx, seed, "traversal")
        assert split[row] == 2 and mu[row, 0] > 0.9
