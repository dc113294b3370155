"""Validation of the independent hex8 voxel homogenization reference (tests/reference_voxel.py).

Every expected value here is derived in this file from elasticity, not taken from the module.
"""
import itertools

import numpy as np
import pytest

from reference_voxel import reference_voxel_C, solid_components

E, NU = 1.0, 0.3
VOIGT_PAIRS = [(0, 0), (1, 1), (2, 2), (1, 2), (2, 0), (0, 1)]


def iso(E=E, nu=NU):
    """Isotropic C written out from its closed form (Voigt 11,22,33,23,31,12; engineering shear)."""
    c11 = E * (1 - nu) / ((1 + nu) * (1 - 2 * nu))
    c12 = E * nu / ((1 + nu) * (1 - 2 * nu))
    c44 = E / (2 * (1 + nu))
    C = np.full((3, 3), c12) + np.eye(3) * (c11 - c12)
    return np.block([[C, np.zeros((3, 3))], [np.zeros((3, 3)), c44 * np.eye(3)]])


def grid(n):
    return np.meshgrid(np.arange(n), np.arange(n), np.arange(n), indexing="ij")


def corner_frame(n, a=1):
    """Bars of cross-section a x a along x, y and z through the cell corner (periodic frame)."""
    i, j, k = grid(n)
    bi, bj, bk = i < a, j < a, k < a
    return (bi & bj) | (bj & bk) | (bi & bk)


def random_connected_unit(rng, n, p):
    """Corner frame of 1-voxel bars plus random voxels, keeping only the part attached to the frame."""
    cells = corner_frame(n) | (rng.random((n, n, n)) < p)
    labels = solid_components(cells)
    return labels == labels[0, 0, 0]


def sphere_void(n, r):
    """Solid cube with a centred spherical void of radius r (voxel centres tested)."""
    x = np.arange(n) + 0.5 - n / 2
    X, Y, Z = np.meshgrid(x, x, x, indexing="ij")
    return X**2 + Y**2 + Z**2 > r**2


def centred_cross(n, a):
    """Three orthogonal bars of cross-section a x a through the cell centre."""
    lo = (n - a) // 2
    i, j, k = grid(n)
    bi, bj, bk = [(c >= lo) & (c < lo + a) for c in (i, j, k)]
    return (bi & bj) | (bj & bk) | (bi & bk)


def cube_symmetries():
    """The 48 operations of the cube: 6 axis permutations x 8 reflections."""
    for perm in itertools.permutations(range(3)):
        for flips in itertools.product((False, True), repeat=3):
            yield perm, flips


def apply_op(cells, perm, flips):
    out = np.transpose(cells, perm)
    for ax, f in enumerate(flips):
        if f:
            out = np.flip(out, axis=ax)
    return out


def transform_C(C, perm, flips):
    """C of the unit after apply_op: new axis d is old axis perm[d], then x_d -> -x_d where flipped."""
    idx = {pair: I for I, pair in enumerate(VOIGT_PAIRS)}
    idx.update({(b, a): I for (a, b), I in idx.items()})
    src = [idx[(perm[a], perm[b])] for a, b in VOIGT_PAIRS]
    sign = np.array([(-1) ** (int(flips[a]) + int(flips[b])) for a, b in VOIGT_PAIRS])
    return np.outer(sign, sign) * C[np.ix_(src, src)]


# ---------------------------------------------------------------------------------------------
# homogeneous material


@pytest.mark.parametrize("n", [4, 6])
def test_fully_solid_is_isotropic(n):
    C = reference_voxel_C(np.ones((n, n, n), dtype=bool), E=E, nu=NU)
    np.testing.assert_allclose(C, iso(), rtol=0, atol=1e-10)


def test_scales_with_E_and_uses_nu():
    C = reference_voxel_C(np.ones((4, 4, 4)), E=210.0, nu=0.25)
    np.testing.assert_allclose(C, iso(210.0, 0.25), rtol=0, atol=1e-12 * 210.0)


# ---------------------------------------------------------------------------------------------
# laminates


def laminate_C(Cs, fs, normal):
    """Exact effective C of a laminate with layers normal to axis `normal`, column by column.

    Strains in the layer plane (the Voigt components without index `normal`) equal the macro
    strain in every layer; the out-of-plane strains (component normal-normal and the two shears
    containing `normal`) differ by d_r with sum_r f_r d_r = 0, fixed by continuity of the
    out-of-plane tractions sigma_Q across the layers.  The column is the volume-averaged stress.
    """
    Q = [I for I, (a, b) in enumerate(VOIGT_PAIRS) if normal in (a, b)]
    R = len(Cs)
    C_eff = np.zeros((6, 6))
    for m in range(6):
        eps = np.zeros(6)
        eps[m] = 1.0
        # unknowns d_0..d_{R-1} (3 each): traction continuity (3(R-1) eqs) + zero mean (3 eqs)
        A = np.zeros((3 * R, 3 * R))
        b = np.zeros(3 * R)
        for r in range(1, R):
            rows = slice(3 * (r - 1), 3 * r)
            A[rows, 0:3] = Cs[0][np.ix_(Q, Q)]
            A[rows, 3 * r:3 * r + 3] = -Cs[r][np.ix_(Q, Q)]
            b[rows] = -(Cs[0][Q] - Cs[r][Q]) @ eps
        for r in range(R):
            A[3 * (R - 1):, 3 * r:3 * r + 3] = fs[r] * np.eye(3)
        d = np.linalg.solve(A, b).reshape(R, 3)
        for r in range(R):
            eps_r = eps.copy()
            eps_r[Q] += d[r]
            C_eff[:, m] += fs[r] * Cs[r] @ eps_r
    return C_eff


@pytest.mark.parametrize("n,h", [(4, 2), (6, 2), (5, 3)])
@pytest.mark.parametrize("normal", [2, 0, 1])
def test_two_phase_laminate_matches_exact_formula(n, h, normal):
    i, j, k = grid(n)
    cells = (i, j, k)[normal] < h                 # phase E where the normal coordinate < h
    C = reference_voxel_C(cells, E=E, nu=NU, E_void=0.1)
    expected = laminate_C([iso(E), iso(0.1 * E)], [h / n, 1 - h / n], normal)
    np.testing.assert_allclose(C, expected, rtol=0, atol=1e-10)
    # the laminate is genuinely different from both the Voigt and the Reuss average
    assert abs(expected[normal, normal] - (h / n * E + (1 - h / n) * 0.1 * E)) > 0.05


def test_solid_void_laminate_is_a_plate():
    """Solid layer k < h in void: in-plane plane-stress stiffness times f, nothing out of plane."""
    n, h = 6, 2
    _, _, k = grid(n)
    C = reference_voxel_C(k < h, E=E, nu=NU)
    P, Q = [0, 1, 5], [2, 3, 4]
    D = iso()
    plate = h / n * (D[np.ix_(P, P)] - D[np.ix_(P, Q)] @ np.linalg.solve(D[np.ix_(Q, Q)], D[np.ix_(Q, P)]))
    expected = np.zeros((6, 6))
    expected[np.ix_(P, P)] = plate
    np.testing.assert_allclose(C, expected, rtol=0, atol=1e-12)
    assert abs(C[2, 2]) < 1e-12


# ---------------------------------------------------------------------------------------------
# bounds and invariances on random connected units


@pytest.mark.parametrize("n,p,seed", [(6, 0.3, 0), (6, 0.5, 1), (8, 0.25, 2), (8, 0.45, 3)])
def test_random_units_spd_and_below_voigt_bound(n, p, seed):
    cells = random_connected_unit(np.random.default_rng(seed), n, p)
    f = cells.mean()
    assert 0 < f < 1
    C = reference_voxel_C(cells, E=E, nu=NU)
    np.testing.assert_allclose(C, C.T, rtol=0, atol=1e-14)
    assert np.linalg.eigvalsh(C).min() > 1e-6
    # the FE energy is minimal over fluctuations, chi = 0 included: exact discrete Voigt bound
    assert np.linalg.eigvalsh(f * iso() - C).min() > -1e-12


def test_invariant_under_periodic_shift():
    cells = random_connected_unit(np.random.default_rng(7), 6, 0.35)
    C = reference_voxel_C(cells)
    C_shift = reference_voxel_C(np.roll(cells, (2, -1, 3), axis=(0, 1, 2)))
    np.testing.assert_allclose(C_shift, C, rtol=0, atol=1e-12)


@pytest.mark.parametrize("perm,flips", [((1, 2, 0), (False, False, False)),
                                        ((2, 1, 0), (False, False, False)),
                                        ((0, 1, 2), (True, False, False)),
                                        ((1, 0, 2), (False, True, True))])
def test_axis_permutations_and_reflections_transform_C(perm, flips):
    cells = random_connected_unit(np.random.default_rng(11), 6, 0.4)
    C = reference_voxel_C(cells)
    assert np.abs(C[:3, 3:]).max() > 1e-4          # random unit: couplings present, test is not vacuous
    C_op = reference_voxel_C(apply_op(cells, perm, flips))
    np.testing.assert_allclose(C_op, transform_C(C, perm, flips), rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# cubic symmetry


@pytest.mark.parametrize("cells", [sphere_void(8, 3.0), sphere_void(10, 4.2), centred_cross(8, 2),
                                   centred_cross(9, 3)], ids=["sphere8", "sphere10", "cross8", "cross9"])
def test_cubic_symmetric_units_have_cubic_C(cells):
    for perm, flips in cube_symmetries():           # the construction really is cubic-symmetric
        assert np.array_equal(apply_op(cells, perm, flips), cells)
    C = reference_voxel_C(cells)
    scale = C[0, 0]
    tol = 1e-10 * scale
    assert abs(C[0, 0] - C[1, 1]) < tol and abs(C[0, 0] - C[2, 2]) < tol
    assert abs(C[0, 1] - C[0, 2]) < tol and abs(C[0, 1] - C[1, 2]) < tol
    assert abs(C[3, 3] - C[4, 4]) < tol and abs(C[3, 3] - C[5, 5]) < tol
    off = C.copy()
    off[:3, :3] = 0
    off[[3, 4, 5], [3, 4, 5]] = 0
    assert np.abs(off).max() < tol
    assert C[3, 3] > 0 and C[0, 1] > 0


# ---------------------------------------------------------------------------------------------
# simple cubic frame of square bars


@pytest.mark.parametrize("n,a", [(8, 1), (12, 1), (16, 1), (12, 2), (16, 2)])
def test_square_bar_frame_axial_stiffness(n, a):
    """C11 ~ E a^2 / n^2: the x-bars (area a^2 per cell face n^2) carry the x-stretch.

    Honest tolerance.  Lower bound, rigorous: sigma_11 = E n^2/a^2 in the x-bars, zero elsewhere, is
    periodic and statically admissible, so by complementary energy 1/S11 >= E a^2/n^2 for the exact
    solution, and C11 >= 1/S11; the hex8 solution is stiffer than the exact one.  Upper bracket,
    heuristic: the a x a x a junction, where the y- and z-bars attach, is nearly rigid, so only a
    length n - a of each x-bar stretches: C11 <~ E a^2 / (n (n - a)).  The deviation is therefore
    an O(a/n) junction effect (about 0.63 a/(n - a) for a = 1, independent of n), not a
    discretization error: 'a few percent' only holds for a/n <~ 1/16.
    """
    C = reference_voxel_C(corner_frame(n, a), E=E, nu=NU)
    ratio = C[0, 0] / (E * a**2 / n**2)
    assert 1.0 <= ratio <= n / (n - a)
    if a == 1 and n >= 16:
        assert ratio < 1.05
    # cubic frame: the three axial stiffnesses agree
    np.testing.assert_allclose(np.diag(C)[:3], C[0, 0], rtol=1e-10)


def test_square_bar_frame_converges_to_bar_estimate():
    ratios = [reference_voxel_C(corner_frame(n, 1))[0, 0] * n**2 for n in (8, 12, 16)]
    assert ratios[0] > ratios[1] > ratios[2] > 1.0


# ---------------------------------------------------------------------------------------------
# Hashin-Shtrikman bulk bound


def hs_upper_bulk(f, E=E, nu=NU):
    """HS upper bulk bound of a porous solid (solid fraction f, solid moduli K, G).

    From K* <= K + (1 - f) / (1/(0 - K) + f / (K + 4G/3)):  K_HS = 4 G K f / (4 G + 3 K (1 - f)),
    which is K at f = 1.  (The variant 4 G K f / (4 G (1 - f) + 3 K) gives 4G/3, not K, at f = 1;
    it has the (1 - f) on the wrong term and is not the bound.)
    """
    K = E / (3 * (1 - 2 * nu))
    G = E / (2 * (1 + nu))
    return 4 * G * K * f / (4 * G + 3 * K * (1 - f))


def bulk_reuss(C):
    """Bulk modulus under hydrostatic stress: 1 / sum_{i,j<=3} S_ij with S = C^-1."""
    return 1.0 / np.linalg.inv(C)[:3, :3].sum()


def refine(cells, r=2):
    """Same solid region, each voxel split into r^3 voxels."""
    return cells.repeat(r, 0).repeat(r, 1).repeat(r, 2)


@pytest.mark.parametrize("cells", [sphere_void(8, 3.5), sphere_void(10, 4.8), centred_cross(8, 2),
                                   centred_cross(10, 4),
                                   random_connected_unit(np.random.default_rng(6), 8, 0.3),
                                   random_connected_unit(np.random.default_rng(8), 6, 0.2)],
                         ids=["sphere-mid", "sphere-large", "cross-thin", "cross-thick", "rand30", "rand20"])
def test_bulk_modulus_below_hashin_shtrikman(cells):
    """Resolved units sit below the HS bound (it holds for the exact continuum solution)."""
    f = cells.mean()
    K_eff = bulk_reuss(reference_voxel_C(cells))
    K_hs = hs_upper_bulk(f)
    assert 0 < K_eff < K_hs
    assert K_hs < f * E / (3 * (1 - 2 * NU)) + 1e-12      # HS is tighter than Voigt


@pytest.mark.parametrize("cells", [sphere_void(6, 1.6), random_connected_unit(np.random.default_rng(0), 6, 0.6)],
                         ids=["small-cubic-void", "dense-random"])
def test_coarse_units_above_hashin_shtrikman_drop_below_on_refinement(cells):
    """The hex8 solution is a kinematic (upper) estimate of the continuum one, and coarse voxel
    meshes of nearly-optimal (a small void: 0.4 % over) or edge-contact-rich (dense random units:
    up to ~17 % over at n = 6) units do exceed the HS bound.  Splitting every voxel into 2^3 keeps
    the solid region and nests the FE spaces, so C can only drop (in matrix order), and it drops
    below the bound."""
    f = cells.mean()
    C1 = reference_voxel_C(cells)
    C2 = reference_voxel_C(refine(cells))
    assert bulk_reuss(C1) > hs_upper_bulk(f)              # the coarse overshoot is real
    assert np.linalg.eigvalsh(C1 - C2).min() > -1e-12      # nested spaces: refinement softens
    assert bulk_reuss(C2) < hs_upper_bulk(f)


def test_small_E_void_approaches_removed_void():
    """Dong et al.'s soft void (E_void = Emin) converges to exact-zero void with DOF removal."""
    cells = random_connected_unit(np.random.default_rng(4), 6, 0.35)
    C0 = reference_voxel_C(cells)
    C_soft = reference_voxel_C(cells, E_void=1e-8)
    np.testing.assert_allclose(C_soft, C0, rtol=0, atol=1e-6 * C0[0, 0])
    assert np.all(np.diag(C_soft) >= np.diag(C0))        # extra stiff material can only stiffen


# ---------------------------------------------------------------------------------------------
# singular units


def test_two_separate_blocks_raise():
    cells = np.zeros((8, 8, 8), dtype=bool)
    cells[0:3, 0:3, 0:3] = True
    cells[4:7, 4:7, 4:7] = True
    with pytest.raises(ValueError, match="not connected"):
        reference_voxel_C(cells)


def test_interlocked_frames_and_edge_contacts_raise():
    n = 6
    cells = np.zeros((n, n, n), dtype=bool)
    cells[:, 0, 0] = cells[0, :, 0] = cells[0, 0, :] = True      # frame A through (0, 0, 0)
    cells[:, 3, 3] = cells[3, :, 3] = cells[3, 3, :] = True      # frame B through (3, 3, 3), no contact
    with pytest.raises(ValueError, match="not connected"):
        reference_voxel_C(cells)
    edge = np.zeros((n, n, n), dtype=bool)
    edge[:, 0, 0] = edge[:, 1, 1] = True                          # two x-fibres sharing an edge
    with pytest.raises(ValueError, match="not connected"):
        reference_voxel_C(edge)


def test_rotating_parts_raise():
    n = 6
    block = np.zeros((n, n, n), dtype=bool)
    block[1:4, 1:4, 1:4] = True                                   # connected, floats freely
    with pytest.raises(ValueError, match="rotate"):
        reference_voxel_C(block)
    fibre = np.zeros((n, n, n), dtype=bool)
    fibre[:, 2:4, 2:4] = True                                     # can twist about x
    with pytest.raises(ValueError, match="rotate"):
        reference_voxel_C(fibre)
    with pytest.raises(ValueError):
        reference_voxel_C(np.zeros((n, n, n), dtype=bool))
