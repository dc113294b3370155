"""Fine-scale Q4 solve of assembled pixel structures (pipeline_lib.pixel2d.structure)."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline_lib.fem.quad4 import elasticity_matrix, element_stiffness
from pipeline_lib.pixel2d import structure as S
from pipeline_lib.pixel2d.homogenization import homogenize

H = 1 / 50


def coords(ny, nx, h=H):
    """Node (x, y) straight from the contract: x = j h, y = (ny - i) h, node i (nx + 1) + j."""
    i, j = np.meshgrid(np.arange(ny + 1), np.arange(nx + 1), indexing="ij")
    return (j * h).ravel(), ((ny - i) * h).ravel()


def affine(ny, nx, strain, h=H):
    """Displacement of the homogeneous strain (e_xx, e_yy, gamma_xy) at every node, DOF order."""
    x, y = coords(ny, nx, h)
    exx, eyy, gxy = strain
    u = np.empty(2 * len(x))
    u[0::2] = exx * x + 0.5 * gxy * y
    u[1::2] = 0.5 * gxy * x + eyy * y
    return u


def boundary_dofs(ny, nx):
    i, j = np.meshgrid(np.arange(ny + 1), np.arange(nx + 1), indexing="ij")
    on = ((i == 0) | (i == ny) | (j == 0) | (j == nx)).ravel()
    return np.sort(np.concatenate([2 * np.flatnonzero(on), 2 * np.flatnonzero(on) + 1]))


def solid_node_dofs(st):
    ny, nx = st.shape
    t = np.zeros((ny + 1, nx + 1), dtype=bool)
    for a in (0, 1):
        for b in (0, 1):
            t[a:a + ny, b:b + nx] |= st.astype(bool)
    return np.repeat(t.ravel(), 2)


def uniaxial(plane, nu, eps):
    """Strain of uniaxial stress along x: lateral contraction -nu eps (stress), -nu/(1-nu) eps (strain)."""
    return np.array([eps, -(nu if plane == "stress" else nu / (1 - nu)) * eps, 0.0])


def holes_structure(cells_y, cells_x, size=50, seed=0):
    """Tiled cells with 1-3 random circular holes kept off the cell border (connected solid)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    cells = np.ones((6, size, size), dtype=np.uint8)
    for c in cells:
        for _ in range(rng.integers(1, 4)):
            r = rng.uniform(0.1, 0.25) * size
            cy, cx = rng.uniform(r + 3, size - r - 3, 2)
            c[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = 0
    pick = rng.integers(0, len(cells), (cells_y, cells_x))
    return cells[pick].transpose(0, 2, 1, 3).reshape(cells_y * size, cells_x * size)


def clamp_left_push_right(ny, nx, ux=-0.05):
    i = np.arange(ny + 1)
    fixed = np.concatenate([S.dof(i, 0, 0, nx), S.dof(i, 0, 1, nx), S.dof(i, nx, 0, nx), S.dof(i, nx, 1, nx)])
    values = np.concatenate([np.zeros(2 * (ny + 1)), np.full(ny + 1, ux), np.zeros(ny + 1)])
    return fixed, values


# --- 1. patch test -------------------------------------------------------------------------------

@pytest.mark.parametrize("plane", ["stress", "strain"])
@pytest.mark.parametrize("strain_kind", ["uniaxial", "general"])
def test_patch_interior_reproduces_affine_field(plane, strain_kind):
    ny, nx, nu = 10, 20, 0.3
    strain = uniaxial(plane, nu, 1e-3) if strain_kind == "uniaxial" else np.array([1e-3, -4e-4, 6e-4])
    exact = affine(ny, nx, strain)
    bd = boundary_dofs(ny, nx)
    u = S.solve(np.ones((ny, nx)), bd, exact[bd], nu=nu, plane=plane, solver="direct")
    interior = np.setdiff1d(np.arange(len(exact)), bd)
    assert len(interior) == 2 * 9 * 19
    assert np.abs(u - exact)[interior].max() <= 1e-10 * np.abs(exact).max()


def test_patch_uniaxial_stress_with_free_lateral_edges():
    """Only u_x on the ends and one u_y: the lateral contraction -nu eps must come out by itself."""
    ny, nx, nu, eps = 10, 20, 0.3, 1e-3
    i = np.arange(ny + 1)
    fixed = np.concatenate([S.dof(i, 0, 0, nx), S.dof(i, nx, 0, nx), [S.dof(ny, 0, 1, nx)]])
    values = np.concatenate([np.zeros(ny + 1), np.full(ny + 1, eps * nx * H), [0.0]])
    u = S.solve(np.ones((ny, nx)), fixed, values, nu=nu, solver="direct")
    np.testing.assert_allclose(u, affine(ny, nx, uniaxial("stress", nu, eps)), rtol=0, atol=1e-12)


# --- 2. energy -----------------------------------------------------------------------------------

@pytest.mark.parametrize("plane", ["stress", "strain"])
@pytest.mark.parametrize("h", [H, 0.3])
def test_strain_energy_of_affine_field_is_half_eps_D_eps_area(plane, h):
    ny, nx, nu = 10, 20, 0.3
    strain = np.array([1e-3, -4e-4, 6e-4])
    exact = affine(ny, nx, strain, h)
    bd = boundary_dofs(ny, nx)
    u = S.solve(np.ones((ny, nx)), bd, exact[bd], E=2.5, nu=nu, plane=plane, solver="direct", h=h)
    expected = 0.5 * strain @ elasticity_matrix(2.5, nu, plane) @ strain * ny * nx * h * h
    w = S.strain_energy(np.ones((ny, nx)), u, E=2.5, nu=nu, plane=plane)
    assert w == pytest.approx(expected, rel=1e-12)
    # the energy is also 0.5 u . (K u) with K u the nodal forces
    f = S.reaction_forces(np.ones((ny, nx)), u, E=2.5, nu=nu, plane=plane)
    assert 0.5 * u @ f == pytest.approx(expected, rel=1e-12)


# --- 3. against homogenization --------------------------------------------------------------------

def test_dirichlet_affine_energy_bounds_homogenized_and_converges():
    cell = np.ones((20, 20), dtype=np.uint8)
    cell[6:14, 6:14] = 0  # centred 8 x 8 hole: mirror-symmetric
    C = homogenize(cell, E=1.0, nu=0.3, plane="stress", void=1e-9)
    strains = [np.array([1e-3, 0, 0]), np.array([0, 0, 1e-3]), np.array([1e-3, -5e-4, 4e-4])]
    excess = {}
    for k in (2, 4, 6):
        st = np.tile(cell, (k, k))
        ny, nx = st.shape
        bd = boundary_dofs(ny, nx)
        rel = []
        for eps in strains:
            u = S.solve(st, bd, affine(ny, nx, eps)[bd], nu=0.3, solver="direct")
            w = S.strain_energy(st, u, nu=0.3) / (ny * nx * H * H)
            w_hom = 0.5 * eps @ C @ eps
            assert w >= w_hom * (1 - 1e-9)
            rel.append(w / w_hom - 1)
        excess[k] = np.array(rel)
    assert np.all(excess[2] > excess[4]) and np.all(excess[4] > excess[6])
    assert np.all(excess[6] < 0.5 * excess[2])  # boundary-layer excess ~ 1/k


# --- 4. direct against amg ------------------------------------------------------------------------

AMG_TOL = 1e-5  # documented in solve(): amg at rtol=1e-8 matches direct to ~1e-7..1e-6 of max |u|


def test_direct_and_amg_agree_on_structure_with_holes():
    st = holes_structure(3, 6)
    fixed, values = clamp_left_push_right(*st.shape)
    info_d, info_a = {}, {}
    ud = S.solve(st, fixed, values, solver="direct", info=info_d)
    ua = S.solve(st, fixed, values, solver="amg", info=info_a)
    assert info_d["solver"] == "direct" and info_a["solver"] == "amg"
    assert 0 < info_a["cg_iterations"] < 100
    at = solid_node_dofs(st)
    scale = np.abs(ud[at]).max()
    assert np.abs(ua - ud)[at].max() <= AMG_TOL * scale
    assert np.abs(ua - ud)[~at].max() <= AMG_TOL * scale  # void nodes too (Jacobi-scaled stop)
    assert S.strain_energy(st, ua) == pytest.approx(S.strain_energy(st, ud), rel=1e-7)


def test_amg_resolves_floating_island_and_hinged_pixel_like_direct():
    # Parts held only by void (island) or by one node (hinged pixel) move with the void filler;
    # their soft modes are invisible to the residual and must be deflated to match direct.
    st = np.ones((40, 120), dtype=np.uint8)
    st[10:30, 20:50] = 0
    st[17:23, 30:38] = 1  # floating island inside the hole
    st[20:30, 80:90] = 0
    st[20, 80] = 1  # edge-joined to the solid above and left of the hole
    st[21, 81] = 1  # void on all four sides: hinged to pixel (20, 80) at node (21, 81) only
    fixed, values = clamp_left_push_right(*st.shape, ux=-0.02)
    info = {}
    ud = S.solve(st, fixed, values, solver="direct")
    ua = S.solve(st, fixed, values, solver="amg", info=info)
    assert info["deflated_modes"] >= 4  # 3 for the island, >= 1 for the hinged pixel
    scale = np.abs(ud).max()
    island = np.zeros_like(st, dtype=bool)
    island[17:23, 30:38] = True
    at = solid_node_dofs(island)
    assert np.abs(ud[at]).max() > 1e-3 * scale  # the island does move with its surroundings
    assert np.abs(ua - ud).max() <= AMG_TOL * scale


# --- 5. DOF numbering and orientation -------------------------------------------------------------

def test_dof_and_element_dofs_follow_the_contract():
    ny, nx = 3, 5
    assert S.dof(0, 0, 0, nx) == 0 and S.dof(0, 0, 1, nx) == 1
    assert S.dof(1, 0, 0, nx) == 2 * (nx + 1)
    assert S.dof(ny, nx, 1, nx) == 2 * (ny + 1) * (nx + 1) - 1
    ed = S.element_dofs(ny, nx)
    assert ed.shape == (ny * nx, 8) and ed.dtype == np.int64
    for r in range(ny):
        for s in range(nx):
            corners = [(r + 1, s), (r + 1, s + 1), (r, s + 1), (r, s)]  # BL, BR, TR, TL
            want = [S.dof(i, j, c, nx) for i, j in corners for c in (0, 1)]
            assert ed[r * nx + s].tolist() == want
    x, y = coords(ny, nx)
    np.testing.assert_allclose(S.node_coordinates(ny, nx), np.stack([x, y], 1))


def test_solution_matches_loop_built_dense_reference_on_non_square_structure():
    rng = np.random.default_rng(3)
    ny, nx = 4, 7
    st = (rng.random((ny, nx)) > 0.3).astype(np.uint8)
    st[:, 0] = 1
    Ke = element_stiffness(elasticity_matrix(1.0, 0.3, "stress"))
    n = 2 * (ny + 1) * (nx + 1)
    K = np.zeros((n, n))
    for r in range(ny):
        for s in range(nx):
            tl = r * (nx + 1) + s
            nodes = [tl + nx + 1, tl + nx + 2, tl + 1, tl]  # BL, BR, TR, TL
            d = [2 * k + c for k in nodes for c in (0, 1)]
            K[np.ix_(d, d)] += (1.0 if st[r, s] else 1e-9) * Ke
    left = np.arange(ny + 1)
    fixed = np.concatenate([S.dof(left, 0, 0, nx), S.dof(left, 0, 1, nx), [S.dof(0, nx, 1, nx)]])
    values = np.concatenate([np.zeros(2 * (ny + 1)), [0.01]])
    forces = np.zeros(n)
    forces[S.dof(ny, nx, 0, nx)] = 0.003
    free = np.setdiff1d(np.arange(n), fixed)
    ref = np.zeros(n)
    ref[fixed] = values
    ref[free] = np.linalg.solve(K[np.ix_(free, free)], forces[free] - K[np.ix_(free, fixed)] @ values)
    np.testing.assert_allclose(S.stiffness(st).toarray(), K, atol=1e-14)
    for solver in ("direct", "amg"):
        u = S.solve(st, fixed, values, forces=forces, solver=solver, rtol=1e-12)
        np.testing.assert_allclose(u, ref, rtol=0, atol=1e-9 * np.abs(ref).max())
    f = S.reaction_forces(st, ref)
    np.testing.assert_allclose(f[free], forces[free], atol=1e-12)  # equilibrium at free DOFs
    assert f[0::2].sum() == pytest.approx(0.0, abs=1e-12) and f[1::2].sum() == pytest.approx(0.0, abs=1e-12)


def test_clamped_beam_prescribed_tip_lift_bends_upward():
    ny, nx = 6, 90  # slender, non-square
    st = np.ones((ny, nx))
    i = np.arange(ny + 1)
    fixed = np.concatenate([S.dof(i, 0, 0, nx), S.dof(i, 0, 1, nx), [S.dof(0, nx, 1, nx)]])
    values = np.concatenate([np.zeros(2 * (ny + 1)), [0.1]])
    u = S.solve(st, fixed, values, solver="direct")
    assert u.shape == (2 * (ny + 1) * (nx + 1),)
    assert u[S.dof(0, nx, 1, nx)] == 0.1  # the prescribed top-right u_y, exactly
    assert np.all(u[S.dof(i, 0, 0, nx)] == 0) and np.all(u[S.dof(i, 0, 1, nx)] == 0)
    uy = u[S.dof(ny // 2, np.arange(nx + 1), 1, nx)]  # mid-height line, left to right
    assert np.all(uy[1:] > 0) and np.all(np.diff(uy) > 0)
    # bending with w' > 0: sections rotate counter-clockwise, u_x = -(y - y_mid) w' < 0 on the top
    # fibre (row 0, y up) and > 0 on the bottom one
    assert u[S.dof(0, 10, 0, nx)] < 0 < u[S.dof(ny, 10, 0, nx)]


def test_auto_picks_direct_below_threshold_and_amg_above(monkeypatch):
    st = holes_structure(1, 2)
    fixed, values = clamp_left_push_right(*st.shape)
    info = {}
    ud = S.solve(st, fixed, values, info=info)
    assert info["solver"] == "direct"
    monkeypatch.setattr(S, "AUTO_DIRECT_MAX_DOFS", 10)
    ua = S.solve(st, fixed, values, info=info)
    assert info["solver"] == "amg"
    assert np.abs(ua - ud).max() <= AMG_TOL * np.abs(ud).max()


# --- 6. bad input ---------------------------------------------------------------------------------

GOOD = np.ones((3, 4))
FD = np.arange(10)
FV = np.zeros(10)


@pytest.mark.parametrize("kwargs, match", [
    ({"structure": np.ones((2, 3, 4))}, "2-D"),
    ({"structure": np.ones((0, 4))}, "at least 1 x 1"),
    ({"structure": np.full((3, 4), 0.5)}, "binary"),
    ({"structure": np.full((3, 4), np.nan)}, "binary"),
    ({"structure": np.array([["a"] * 4] * 3)}, "numeric"),
    ({"fixed_dofs": np.arange(10) + 35}, "lie in"),
    ({"fixed_dofs": np.arange(10) - 1}, "lie in"),
    ({"fixed_dofs": np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 8])}, "duplicates"),
    ({"fixed_dofs": np.arange(10.0)}, "integers"),
    ({"fixed_dofs": np.array([], dtype=int), "fixed_values": np.array([])}, "non-empty"),
    ({"fixed_dofs": np.array([0, 1]), "fixed_values": np.zeros(2)}, "rigid"),  # rotation free
    ({"fixed_dofs": np.array([0, 2, 4, 6]), "fixed_values": np.zeros(4)}, "rigid"),  # u_y free
    ({"fixed_values": np.zeros(9)}, "length"),
    ({"fixed_values": np.r_[np.zeros(9), np.inf]}, "finite"),
    ({"solver": "cholmod"}, "solver"),
    ({"void": 0.0}, "void"),
    ({"void": 1.5}, "void"),
    ({"forces": np.zeros(5)}, "forces"),
    ({"rtol": 0.0}, "rtol"),
    ({"h": 0.0}, "h must"),
    ({"plane": "membrane"}, "plane"),
])
def test_bad_input_raises_value_error(kwargs, match):
    args = {"structure": GOOD, "fixed_dofs": FD, "fixed_values": FV}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        S.solve(args.pop("structure"), args.pop("fixed_dofs"), args.pop("fixed_values"), **args)


def test_strain_energy_rejects_wrong_length():
    with pytest.raises(ValueError, match="shape"):
        S.strain_energy(GOOD, np.zeros(7))
