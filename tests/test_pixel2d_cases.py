"""Design cases as config data: boundary conditions and targets on the macro and fine node grids,
numbered as the design artifact's contract says (DOF 2 (i (n W + 1) + j) + c, i from the top)."""
import numpy as np
import pytest

from pipeline_lib.pixel2d.cases import Case
from pipeline_lib.pixel2d.multiscale import assemble

BRIDGE = dict(rows=4, cols=30, fixed=[{"where": "x == 0", "ux": 0, "uy": 0}, {"where": "x == W", "ux": -0.3, "uy": 0}],
              track=[{"where": "y == H", "component": "uy", "target": "0.1 * (1 - cos(2 * pi * x / W)) / 2"}])


def test_the_bridge_prescribes_every_fine_node_of_both_ends():
    c = Case.from_config("bridge", BRIDGE)
    n = 50
    dofs, vals = c.prescribed(n)
    assert len(dofs) == 2 * 2 * (4 * n + 1)
    nx = 30 * n
    right_x = 2 * (np.arange(4 * n + 1) * (nx + 1) + nx)  # u_x of node (i, 50 W)
    np.testing.assert_array_equal(vals[np.isin(dofs, right_x)], -0.3)
    left = 2 * (np.arange(4 * n + 1) * (nx + 1))
    np.testing.assert_array_equal(vals[np.isin(dofs, np.concatenate([left, left + 1]))], 0.0)


def test_tracked_dofs_sit_on_the_fine_nodes_of_the_macro_corners_with_their_targets():
    c = Case.from_config("bridge", BRIDGE)
    fine, target, macro = c.tracked(50)
    assert len(fine) == 29  # the two end nodes are prescribed, so not tracked
    node, comp = np.divmod(fine, 2)
    i, j = np.divmod(node, 30 * 50 + 1)
    assert (comp == 1).all() and (i == 0).all() and (j % 50 == 0).all()
    x = j / 50
    np.testing.assert_allclose(target, 0.1 * (1 - np.cos(2 * np.pi * x / 30)) / 2)
    mnode, mcomp = np.divmod(macro, 2)
    np.testing.assert_array_equal(np.divmod(mnode, 31)[1], j // 50)


def test_a_bad_expression_or_an_empty_selection_names_the_case_and_entry():
    bad = dict(BRIDGE, track=[{"where": "y == H", "component": "uy", "target": "sinh(x)"}])
    with pytest.raises(ValueError, match=r"case b: track\[0\].*sinh"):
        Case.from_config("b", bad).tracked()
    empty = dict(BRIDGE, fixed=[{"where": "x == 99", "ux": 0}])
    with pytest.raises(ValueError, match=r"fixed\[0\].*selects no node"):
        Case.from_config("b", empty).prescribed(1)
    with pytest.raises(ValueError, match="space"):
        Case.from_config("b", dict(BRIDGE, space="everything"))


def test_cells_are_assembled_row_by_row_from_the_top_left():
    cells = np.arange(2 * 3 * 2 * 2).reshape(2, 3, 2, 2)
    s = assemble(cells)
    assert s.shape == (4, 6)
    np.testing.assert_array_equal(s[2:4, 4:6], cells[1, 2])
    np.testing.assert_array_equal(s[0:2, 2:4], cells[0, 1])
