"""theta^G of Eq. 17 (paper 000): boundary mismatch of neighbouring cells, the assembly's edge cost."""
import numpy as np
import pytest

from pipeline_lib.fem.quad4 import elasticity_matrix
from pipeline_lib.pixel2d import compatibility
from pipeline_lib.pixel2d.homogenization import boundary_tractions, homogenize_cells


def test_a_hand_counted_boundary_pair():
    a, b = np.array([[1, 1, 0, 0]]), np.array([[1, 0, 0, 1]])
    # solid on either side: rows 0, 1, 3; on one side only: rows 1, 3
    assert compatibility.geometric(a, b)[0, 0] == pytest.approx(2 / 3)


def test_matching_boundaries_cost_nothing_and_disconnected_ones_cost_one():
    solid, void = np.ones((1, 5)), np.zeros((1, 5))
    assert compatibility.geometric(solid, solid)[0, 0] == 0
    assert compatibility.geometric(solid, void)[0, 0] == 1
    assert compatibility.geometric(void, void)[0, 0] == 1  # nothing crosses the boundary


def test_edge_costs_compare_the_right_column_with_the_left_one_and_the_bottom_row_with_the_top_one():
    n = 6
    right_solid = np.zeros((n, n)); right_solid[:, -1] = 1  # noqa: E702
    left_solid = np.zeros((n, n)); left_solid[:, 0] = 1  # noqa: E702
    cand = np.stack([right_solid, left_solid])  # labels 0, 1
    grid = np.broadcast_to(cand, (1, 2, 2, n, n))
    h, v = compatibility.geometric_edge_costs(grid)
    assert h.shape == (1, 1, 2, 2) and v.shape == (0, 2, 2, 2)
    assert h[0, 0, 0, 1] == 0  # solid right edge beside a solid left edge
    assert h[0, 0, 1, 0] == 1  # void right edge beside a void left edge
    bottom_solid, top_solid = right_solid.T, left_solid.T
    h, v = compatibility.geometric_edge_costs(np.broadcast_to(np.stack([bottom_solid, top_solid]), (2, 1, 2, n, n)))
    assert v[0, 0, 0, 1] == 0 and v[0, 0, 1, 0] == 1


def test_edge_costs_equal_a_pixel_by_pixel_count_on_a_random_grid(rng):
    H, W, L, n = 3, 4, 3, 8
    cand = rng.random((H, W, L, n, n)) < 0.5
    h, v = compatibility.geometric_edge_costs(cand)

    def count(x, y):
        either = sum(int(p or q) for p, q in zip(x, y))
        return 1.0 if either == 0 else sum(int(p != q) for p, q in zip(x, y)) / either

    for i in range(H):
        for j in range(W):
            for a in range(L):
                for b in range(L):
                    if j + 1 < W:
                        assert h[i, j, a, b] == pytest.approx(count(cand[i, j, a][:, -1], cand[i, j + 1, b][:, 0]))
                    if i + 1 < H:
                        assert v[i, j, a, b] == pytest.approx(count(cand[i, j, a][-1], cand[i + 1, j, b][0]))


def test_candidates_of_the_wrong_shape_are_refused():
    with pytest.raises(ValueError, match="candidates must be"):
        compatibility.geometric_edge_costs(np.zeros((2, 2, 3, 5, 4)))


# --- theta^M: boundary tractions of the periodic solutions under the unit strains -------------

LEFT, RIGHT, TOP, BOTTOM = range(4)


def holed(n, radius):
    yy, xx = np.mgrid[:n, :n]
    return (yy - (n - 1) / 2) ** 2 + (xx - (n - 1) / 2) ** 2 >= radius ** 2


def asymmetric_cells(rng, count, n):
    """Load-bearing cells without mirror symmetry: random pixels on a solid cross off centre."""
    cells = rng.random((count, n, n)) < 0.6
    cells[:, :, 2] = True
    cells[:, n // 3, :] = True
    return cells


@pytest.mark.parametrize("at", ["nodes", "elements"])
def test_an_all_solid_cell_carries_the_columns_of_D_on_every_side(at):
    n = 12
    t = boundary_tractions(np.ones((n, n)), E=1.0, nu=0.49, plane="stress", at=at)
    D = elasticity_matrix(1.0, 0.49, "stress")
    assert t.shape == (4, n, 3, 2)
    # load case k: sigma = D[:, k]; sigma . e_x = (s_xx, s_xy), sigma . e_y = (s_xy, s_yy)
    for side, rows in ((LEFT, [0, 2]), (RIGHT, [0, 2]), (TOP, [2, 1]), (BOTTOM, [2, 1])):
        np.testing.assert_allclose(t[side], np.broadcast_to(D[rows].T, (n, 3, 2)), rtol=0, atol=1e-8)


def test_periodic_tractions_repeat_across_the_cell_right_equals_left_and_bottom_equals_top(rng):
    cells = np.concatenate([asymmetric_cells(rng, 3, 16), holed(16, 5)[None]])
    t = boundary_tractions(cells, nu=0.49)
    scale = np.abs(t).max()
    assert np.abs(t[:, RIGHT] - t[:, LEFT]).max() < 1e-9 * scale
    assert np.abs(t[:, BOTTOM] - t[:, TOP]).max() < 1e-9 * scale
    assert np.abs(t[:, RIGHT] - t[:, RIGHT, ::-1]).max() > 1e-3 * scale  # the sides do vary


@pytest.mark.parametrize("at", ["nodes", "elements"])
def test_the_tractions_of_a_side_add_up_to_the_side_length_times_the_effective_stress(rng, at):
    n = 16
    cells = np.concatenate([asymmetric_cells(rng, 2, n), holed(n, 5)[None]])
    t = boundary_tractions(cells, nu=0.49, at=at)
    C = homogenize_cells(cells, nu=0.49, method="periodic")
    for side, rows in ((LEFT, [0, 2]), (RIGHT, [0, 2]), (TOP, [2, 1]), (BOTTOM, [2, 1])):
        # column k of C is the average stress of load case k; a cut carries n times its traction
        np.testing.assert_allclose(t[:, side].sum(1), n * C[:, rows, :].transpose(0, 2, 1), rtol=0, atol=1e-9)


def test_element_centre_tractions_are_not_periodic_only_the_nodal_ones_are(rng):
    cells = asymmetric_cells(rng, 2, 16)
    te = boundary_tractions(cells, nu=0.49, at="elements")
    assert np.abs(te[:, RIGHT] - te[:, LEFT]).max() > 0.1 * np.abs(te).max()


def test_tractions_of_several_cells_match_those_of_each_cell_alone_whatever_the_batch(rng):
    cells = asymmetric_cells(rng, 3, 10)
    t = boundary_tractions(cells, batch_size=2)
    for c, tc in zip(cells, t):
        np.testing.assert_allclose(boundary_tractions(c), tc, rtol=0, atol=1e-12)


def test_boundary_tractions_refuse_non_square_cells_and_unknown_points():
    with pytest.raises(ValueError, match="square"):
        boundary_tractions(np.ones((6, 8)))
    with pytest.raises(ValueError, match="at must be"):
        boundary_tractions(np.ones((6, 6)), at="gauss")


def test_a_hand_computed_traction_mismatch():
    ta = np.zeros((1, 2, 3, 2))
    ta[0, :, 0, 0] = [1, 2]
    tb = np.zeros((1, 2, 3, 2))
    tb[0, :, 0, 0] = [1, 0]
    # |1-1| + |2-0| over (1+1) + (2+0)
    assert compatibility.mechanical(ta, tb)[0, 0] == pytest.approx(2 / 4)
    assert compatibility.mechanical(ta, -ta)[0, 0] == pytest.approx(1)  # opposite tractions
    assert compatibility.mechanical(ta, ta)[0, 0] == 0


def test_identical_cells_are_mechanically_compatible_in_both_directions(rng):
    cell = asymmetric_cells(rng, 1, 16)[0]
    t = boundary_tractions(cell, nu=0.49)
    grid = np.broadcast_to(t, (2, 3, 1) + t.shape)
    h, v = compatibility.mechanical_edge_costs(grid)
    assert h.shape == (2, 2, 1, 1) and v.shape == (1, 3, 1, 1)
    assert h.max() < 1e-9 and v.max() < 1e-9


def test_a_cell_beside_its_mirror_image_is_mechanically_but_not_geometrically_incompatible(rng):
    cell = asymmetric_cells(rng, 1, 16)[0]
    flipped = cell[:, ::-1]  # its left column is the cell's right column: theta^G = 0
    assert compatibility.geometric(cell[None, :, -1], flipped[None, :, 0])[0, 0] == 0
    t = boundary_tractions(np.stack([cell, flipped]), nu=0.49)
    # mirrored about a vertical line, s_xy changes sign under the normal strains
    assert compatibility.mechanical(t[0, RIGHT][None], t[1, LEFT][None])[0, 0] > 0.1


def test_a_void_boundary_against_a_loaded_one_costs_one_and_so_do_two_void_ones():
    n = 12
    band = np.zeros((n, n), bool)
    band[4:8] = True  # a horizontal solid band: void top and bottom rows
    t = boundary_tractions(np.stack([band, np.ones((n, n))]), nu=0.49)
    assert compatibility.mechanical(t[0, BOTTOM][None], t[1, TOP][None])[0, 0] == pytest.approx(1, abs=1e-6)
    assert compatibility.mechanical(t[0, BOTTOM][None], t[0, TOP][None])[0, 0] == 1  # nothing crosses
    assert compatibility.mechanical(t[0, RIGHT][None], t[1, LEFT][None])[0, 0] > 0.3  # half the side is void


def test_mechanical_edge_costs_equal_a_pair_by_pair_sum_on_a_random_grid(rng):
    H, W, L, n = 3, 4, 3, 5
    t = rng.normal(size=(H, W, L, 4, n, 3, 2))
    h, v = compatibility.mechanical_edge_costs(t)

    def ratio(x, y):
        return np.abs(x - y).sum() / (np.abs(x).sum() + np.abs(y).sum())

    for i in range(H):
        for j in range(W):
            for a in range(L):
                for b in range(L):
                    if j + 1 < W:
                        assert h[i, j, a, b] == pytest.approx(ratio(t[i, j, a, RIGHT], t[i, j + 1, b, LEFT]))
                    if i + 1 < H:
                        assert v[i, j, a, b] == pytest.approx(ratio(t[i, j, a, BOTTOM], t[i + 1, j, b, TOP]))


def test_chunked_comparison_matches_the_one_shot_one(rng):
    ta = rng.normal(size=(7, 2, 4, 6, 3, 2))
    tb = rng.normal(size=(7, 2, 5, 6, 3, 2))
    np.testing.assert_array_equal(compatibility.mechanical(ta, tb, chunk_bytes=1),
                                  compatibility.mechanical(ta, tb, chunk_bytes=1e9))


def test_edge_costs_weigh_the_geometric_and_the_mechanical_terms(rng):
    H, W, L, n = 2, 3, 2, 5
    cand = rng.random((H, W, L, n, n)) < 0.5
    t = rng.normal(size=(H, W, L, 4, n, 3, 2))
    gh, gv = compatibility.geometric_edge_costs(cand)
    mh, mv = compatibility.mechanical_edge_costs(t)
    h, v = compatibility.edge_costs(cand, t, w_geometric=0.5, w_mechanical=2.0)
    np.testing.assert_allclose(h, 0.5 * gh + 2.0 * mh)
    np.testing.assert_allclose(v, 0.5 * gv + 2.0 * mv)


def test_tractions_of_the_wrong_shape_are_refused():
    with pytest.raises(ValueError, match="tractions must be"):
        compatibility.mechanical_edge_costs(np.zeros((2, 2, 3, 4, 5, 3)))
    with pytest.raises(ValueError, match="tractions must be"):
        compatibility.mechanical(np.zeros((2, 5, 3, 2)), np.zeros((2, 4, 3, 2)))
