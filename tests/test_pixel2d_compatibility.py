"""theta^G of Eq. 17 (paper 000): boundary mismatch of neighbouring cells, the assembly's edge cost."""
import numpy as np
import pytest

from pipeline_lib.pixel2d import compatibility


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
