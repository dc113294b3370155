"""Defect detection and fixing on the periodic cell."""
import numpy as np
import pytest
from conftest import mirror_quarter

from pipeline_lib import mirror
from pipeline_lib.periodic import component_windings
from pipeline_lib.pixel2d.defects import checkerboards, fix_defects, isolated


def cross(n=12, w=2):
    c = np.zeros((n, n), dtype=np.uint8)
    c[:, n // 2 - w // 2: n // 2 + w - w // 2] = 1
    c[n // 2 - w // 2: n // 2 + w - w // 2, :] = 1
    return c


def test_a_clean_cell_is_left_unchanged():
    fixed, keep, counts = fix_defects(cross()[None])
    np.testing.assert_array_equal(fixed[0], cross())
    assert keep[0] and sum(counts.values()) == 0


def test_isolated_pixels_of_either_phase_are_flipped():
    lone_solid = cross()
    lone_solid[2, 2] = 1  # no solid edge-neighbour
    lone_void = cross(w=4)
    lone_void[0, 6] = 0  # a pinhole inside the vertical bar (wraps to row 11)
    iso_s, iso_v = isolated(lone_solid.astype(bool))
    assert iso_s[2, 2] and iso_s.sum() == 1 and not iso_v.any()
    fixed, keep, counts = fix_defects(np.stack([lone_solid, lone_void]))
    np.testing.assert_array_equal(fixed[0], cross())
    np.testing.assert_array_equal(fixed[1], cross(w=4))
    assert counts["isolated_solid"] == 1 and counts["isolated_void"] == 1 and keep.all()


def test_checkerboard_windows_are_found_across_the_periodic_seam_and_filled():
    d = np.zeros((8, 8), dtype=bool)
    d[:, 0] = d[:, 3] = d[6, :] = True  # a grid of bars ...
    d[3, 1] = d[4, 2] = True  # ... with a stub touching another only at a corner: (3,1)-(4,2)
    assert checkerboards(d)[0][3, 1]  # window anchored at (3,1): solid diagonal, void anti-diagonal
    seam = np.zeros((6, 6), dtype=bool)
    seam[5, 5] = seam[0, 0] = True  # a corner contact across the corner of the cell
    assert checkerboards(seam)[0][5, 5]
    fixed, keep, counts = fix_defects(d[None].astype(np.uint8))
    assert counts["checkerboard"] >= 1 and keep[0]
    assert fixed[0, 3, 2] == 1 and fixed[0, 4, 1] == 1  # the void diagonal was filled
    assert not any(w.any() for w in checkerboards(fixed[0].astype(bool)))


def test_floating_islands_are_removed():
    c = cross(16)
    c[2:4, 2:4] = 1  # a 2x2 island not touching the cross
    fixed, keep, counts = fix_defects(c[None])
    np.testing.assert_array_equal(fixed[0], cross(16))
    assert counts["floating_parts"] == 1 and keep[0]


def test_cells_that_do_not_connect_both_ways_are_rejected():
    stripes = np.zeros((10, 10), dtype=np.uint8)
    stripes[:, 2:5] = 1  # carries load along y only
    empty = np.zeros((10, 10), dtype=np.uint8)
    fixed, keep, counts = fix_defects(np.stack([stripes, empty, cross(10)]))
    assert keep.tolist() == [False, False, True]
    assert counts["rejected"] == 2


@pytest.mark.parametrize("shape, rank", [("cross", 2), ("stripe", 1), ("island", 0), ("diagonal", 1)])
def test_windings_measure_how_a_component_connects_the_tiling(shape, rank):
    n = 10
    s = np.zeros((n, n), dtype=bool)
    if shape == "cross":
        s[:, 4] = s[4, :] = True
    elif shape == "stripe":
        s[3, :] = True
    elif shape == "island":
        s[2:5, 2:5] = True
    else:  # a staircase wrapping along (1, 1)
        for i in range(n):
            s[i, i] = s[i, (i + 1) % n] = True
    _, ranks = component_windings(s)
    assert max(ranks) == rank


def test_fixing_keeps_mirror_symmetric_cells_symmetric(rng):
    cells = mirror_quarter((rng.random((30, 12, 12)) < 0.55).astype(np.uint8))
    fixed, keep, counts = fix_defects(cells)
    assert sum(counts.values()) > 0
    assert mirror.is_mirror_symmetric(fixed, 2).all()
    for c in fixed[keep].astype(bool):
        iso_s, iso_v = isolated(c)
        assert not iso_s.any() and not iso_v.any()
        assert not any(w.any() for w in checkerboards(c))
        assert max(component_windings(c)[1]) == 2
