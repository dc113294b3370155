"""Periodic 2D homogenization: closed forms, bounds, symmetries and an independent solver."""
import numpy as np
import pytest
import torch
from conftest import mirror_quarter
from reference_fem import reference_homogenize

from pipeline_lib.fem.quad4 import elasticity_matrix
from pipeline_lib.pixel2d import homogenize
from pipeline_lib.pixel2d.homogenization import element_matrix, homogenize_cells, homogenize_scaled


@pytest.mark.parametrize("plane", ["stress", "strain"])
def test_solid_cell_gives_the_material_matrix(plane):
    C = homogenize(np.ones((50, 50)), E=2.5, nu=0.49 if plane == "stress" else 0.3, plane=plane)
    D = elasticity_matrix(2.5, 0.49 if plane == "stress" else 0.3, plane)
    np.testing.assert_allclose(C, D, rtol=0, atol=1e-10)


def laminate(D1, D2, f1):
    """Exact stiffness of layers stacked along y (interfaces parallel to x).

    eps_xx is continuous across the layers, sigma_yy and sigma_xy are continuous."""
    a, b = [0], [1, 2]
    C = np.zeros((3, 3))
    M = f1 * np.linalg.inv(D1[np.ix_(b, b)]) + (1 - f1) * np.linalg.inv(D2[np.ix_(b, b)])
    for k in range(3):
        e = np.eye(3)[k]
        w = e[b] + sum(f * np.linalg.solve(D[np.ix_(b, b)], D[np.ix_(b, a)] @ e[a])
                       for f, D in ((f1, D1), (1 - f1, D2)))
        t = np.linalg.solve(M, w)
        sigma = np.zeros(3)
        for f, D in ((f1, D1), (1 - f1, D2)):
            eb = np.linalg.solve(D[np.ix_(b, b)], t - D[np.ix_(b, a)] @ e[a])
            strain = np.array([e[0], eb[0], eb[1]])
            sigma += f * D @ strain
        C[:, k] = sigma
    return C


@pytest.mark.parametrize("plane", ["stress", "strain"])
def test_layered_cell_gives_the_exact_laminate(plane):
    cell = np.zeros((40, 30), dtype=bool)
    cell[5:17] = True  # 12 of 40 rows solid: layers normal to y
    cell[30:36] = True
    void = 1e-3  # a stiff enough second phase to make every entry of C meaningful
    D = elasticity_matrix(1.0, 0.3, plane)
    expected = laminate(D, void * D, 18 / 40)
    C = homogenize(cell, nu=0.3, plane=plane, void=void)
    np.testing.assert_allclose(C, expected, rtol=1e-10, atol=1e-13)
    # The same laminate turned by 90 degrees swaps the roles of x and y.
    Ct = homogenize(cell.T, nu=0.3, plane=plane, void=void)
    P = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]])
    np.testing.assert_allclose(Ct, P @ expected @ P, rtol=1e-10, atol=1e-13)


def test_C_is_symmetric_positive_definite_and_below_the_voigt_bound(rng):
    cells = rng.random((6, 24, 20)) < 0.6
    cells[:, :, 3] = True  # a solid column and row keep the cells stiff in both directions
    cells[:, 5, :] = True
    C = homogenize(cells)
    D = elasticity_matrix(1.0, 0.3)
    for c, Cc in zip(cells, C):
        np.testing.assert_allclose(Cc, Cc.T, atol=1e-15)
        assert np.linalg.eigvalsh(Cc).min() > 0
        f = c.mean()
        voigt = (f + (1 - f) * 1e-9) * D
        assert np.linalg.eigvalsh(voigt - Cc).min() > -1e-12


def test_circular_shift_leaves_C_unchanged(rng):
    cell = rng.random((20, 26)) < 0.55
    C = homogenize(cell)
    np.testing.assert_allclose(homogenize(np.roll(cell, (7, -11), axis=(0, 1))), C, atol=1e-12)


def test_transpose_swaps_directions_1_and_2(rng):
    cell = rng.random((22, 22)) < 0.55
    C = homogenize(cell)
    Ct = homogenize(cell.T)
    P = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]])
    np.testing.assert_allclose(Ct, P @ C @ P, atol=1e-12)


def test_vertical_flip_flips_the_sign_of_the_shear_coupling(rng):
    cell = rng.random((18, 24)) < 0.55
    C = homogenize(cell)
    assert abs(C[0, 2]) > 1e-6  # the test means something only with coupling present
    S = np.diag([1.0, 1.0, -1.0])
    np.testing.assert_allclose(homogenize(cell[::-1]), S @ C @ S, atol=1e-12)


def test_square_symmetric_cells_have_equal_axes_and_no_coupling(rng):
    q = rng.random((12, 12)) < 0.6
    q = q | q.T  # symmetric about the diagonal, then mirrored about both mid-axes
    cell = mirror_quarter(q)
    C = homogenize(cell)
    assert C[0, 0] == pytest.approx(C[1, 1], abs=1e-12)
    assert abs(C[0, 2]) < 1e-13 and abs(C[1, 2]) < 1e-13


@pytest.mark.parametrize("plane", ["stress", "strain"])
def test_agrees_with_the_independent_reference(rng, plane):
    cells = list(rng.random((3, 20, 26)) < 0.55)  # general cells: full periodic path
    cells += list(mirror_quarter(rng.random((2, 12, 10)) < 0.55))  # symmetric: quarter path
    for cell in cells:
        C = homogenize(cell, nu=0.49 if plane == "stress" else 0.3, plane=plane)
        R = reference_homogenize(cell, nu=0.49 if plane == "stress" else 0.3, plane=plane)
        np.testing.assert_allclose(C, R, rtol=0, atol=1e-8)


def test_quarter_and_full_periodic_solves_agree(rng):
    cells = mirror_quarter(rng.random((5, 25, 25)) < 0.5)
    Cq = homogenize_cells(cells, method="quarter")
    Cp = homogenize_cells(cells, method="periodic")
    np.testing.assert_allclose(Cq, Cp, rtol=0, atol=1e-11)
    assert np.abs(Cq[:, :2, 2]).max() == 0.0


def test_batching_changes_results_only_by_rounding(rng):
    cells = rng.random((7, 16, 16)) < 0.55
    a = homogenize_cells(cells, batch_size=1)
    b = homogenize_cells(cells, batch_size=5)
    np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-16)
    np.testing.assert_array_equal(homogenize_cells(cells, batch_size=5), b)  # and repeatable


@pytest.mark.parametrize("method", ["periodic", "quarter"])
def test_element_energies_are_the_derivative_of_C(rng, method):
    H = W = 12
    Ke = torch.as_tensor(element_matrix(1.0, 0.3, "stress"))
    q = 0.2 + 0.8 * rng.random((H // 2, W // 2))
    s = mirror_quarter(q)
    scale = torch.as_tensor(s[None])
    C, Q = homogenize_scaled(scale, Ke, method, energies=True)
    r, c, h = 2, 3, 1e-6
    factor = 1.0 if method == "periodic" else 4.0
    s2 = s.copy()
    if method == "periodic":
        s2[r, c] += h
    else:  # one quarter variable drives its four mirror images
        s2[r, c] += h
        s2[r, W - 1 - c] += h
        s2[H - 1 - r, c] += h
        s2[H - 1 - r, W - 1 - c] += h
    C2, _ = homogenize_scaled(torch.as_tensor(s2[None]), Ke, method)
    fd = (C2 - C)[0].numpy() / h
    np.testing.assert_allclose(factor * Q[0, r, c].numpy() / (H * W), fd, rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("bad, message", [
    (np.ones((2, 3, 4, 5)), "shape"),
    (np.ones((1, 7)), "at least 2 x 2"),
    (np.full((4, 4), np.nan), "NaN"),
    (np.array([["a", "b"], ["c", "d"]]), "dtype"),
])
def test_bad_cells_are_refused_with_a_clear_error(bad, message):
    with pytest.raises(ValueError, match=message):
        homogenize(bad)


@pytest.mark.parametrize("shape", [(2, 2), (2, 3), (4, 2), (3, 5)])
def test_the_smallest_cells_homogenize_like_the_reference(rng, shape):
    for cell in [np.ones(shape, bool), rng.random(shape) < 0.5, np.eye(*shape, dtype=bool)]:
        cell[0, 0] = True  # keep the cell from being all void
        np.testing.assert_allclose(homogenize(cell), reference_homogenize(cell), rtol=0, atol=1e-8)


def test_quarter_method_refuses_asymmetric_cells(rng):
    with pytest.raises(ValueError, match="mirror-symmetric"):
        homogenize_cells(rng.random((10, 10)) < 0.5, method="quarter")
