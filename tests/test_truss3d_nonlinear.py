"""Nonlinear periodic homogenization of beam lattices: the corotational element against the linear
one and finite differences, the full periodic cell against the independent reference, the
small-strain tangent against the linear solver, rigid rotations, energy consistency and elastic
unloading."""
import numpy as np
import pytest
import reference_frame
import torch
from scipy.spatial.transform import Rotation

from pipeline_lib.fem.beam3d import global_stiffness
from pipeline_lib.fem.corotational import Beams, so3_exp, so3_log
from pipeline_lib.truss3d import homogenize
from pipeline_lib.truss3d.cell import periodic_cell
from pipeline_lib.truss3d.frame import build_frame
from pipeline_lib.truss3d.generation import ELEMENTARY, PerturbParams, perturbation_chain
from pipeline_lib.truss3d.homogenization import strut_radii
from pipeline_lib.truss3d.nonlinear import (CellModel, NonlinearParams, _factor, compress, follow, follow_many,
                                            minimize, newton, output_strains)

Z = np.zeros((27, 3))
P = NonlinearParams()
T64 = torch.float64


def _model(A, X=Z, rho=0.15, beam="timoshenko", lateral="strain"):
    f = build_frame(A, X)
    return CellModel(periodic_cell(f), strut_radii([f], rho)[0], beam=beam, lateral=lateral)


def _lattices(k=4, seed=0):
    """Perturbed elementary lattices (moved nodes, added and removed beams)."""
    rng = np.random.default_rng(seed)
    out = []
    for name in ("bcc", "octet", "sc", "octahedron")[:k]:
        chain = perturbation_chain(rng, ELEMENTARY[name], Z, PerturbParams(iterations=3))
        out.append(chain[-1])
    return out


def test_exp_and_log_are_inverse_and_smooth_at_the_identity():
    phi = torch.tensor([[0.3, -1.2, 0.5], [1e-5, 2e-5, -1e-5], [0.0, 0.0, 0.0]], dtype=T64)
    np.testing.assert_allclose(so3_log(so3_exp(phi)).numpy(), phi.numpy(), atol=1e-15)
    R = so3_exp(phi)
    np.testing.assert_allclose((R @ R.mT).numpy(), np.tile(np.eye(3), (3, 1, 1)), atol=1e-15)
    x = torch.zeros(3, dtype=T64, requires_grad=True)  # d log(exp(x)) / dx = I at 0, no NaN
    (J,) = torch.autograd.grad(so3_log(so3_exp(x)).sum(), x)
    np.testing.assert_allclose(J.numpy(), np.ones(3), atol=1e-14)


def test_the_corotational_tangent_at_rest_is_the_linear_beam_and_rigid_motions_cost_nothing():
    torch.manual_seed(0)
    D0 = torch.randn(6, 3, dtype=T64)
    r = torch.full((6,), 0.08, dtype=T64)
    for theory in ("timoshenko", "euler-bernoulli"):
        b = Beams(D0, r, 2.0, 0.3, theory)
        eye = torch.eye(3, dtype=T64).expand(6, 3, 3)
        g, H = b.tangent(D0, eye, eye)
        assert g.abs().max() < 1e-16
        T = torch.zeros(9, 12, dtype=T64)
        T[:3, :3], T[:3, 6:9], T[3:6, 3:6], T[6:9, 9:12] = -torch.eye(3), torch.eye(3), torch.eye(3), torch.eye(3)
        K = global_stiffness(D0, r, 2.0, 0.3, theory)
        np.testing.assert_allclose((T.T @ H @ T).numpy(), K.numpy(), atol=1e-13 * K.abs().max().item())
        R = so3_exp(torch.tensor([0.4, -2.0, 1.3], dtype=T64))
        Rs = R.expand(6, 3, 3)
        assert b.energy(D0 @ R.T, Rs, Rs).abs().max() < 1e-28
        assert b.forces(D0 @ R.T, Rs, Rs).abs().max() < 1e-14


def test_the_corotational_forces_are_the_energy_gradient_under_large_rotations():
    torch.manual_seed(1)
    D0 = torch.randn(4, 3, dtype=T64)
    b = Beams(D0, torch.full((4,), 0.1, dtype=T64), 1.0, 0.3, "timoshenko")
    Ra, Rb = so3_exp(0.8 * torch.randn(4, 3, dtype=T64)), so3_exp(0.8 * torch.randn(4, 3, dtype=T64))
    d = 0.9 * D0 @ so3_exp(torch.tensor([0.0, 0.5, 0.2], dtype=T64)).T
    g = b.forces(d, Ra, Rb)
    h = 1e-6
    for k in range(9):
        e = torch.zeros(9, dtype=T64)
        e[k] = h

        def E(s):
            return b.energy(d + s * e[:3], so3_exp((s * e[3:6]).expand(4, 3)) @ Ra, so3_exp((s * e[6:9]).expand(4, 3)) @ Rb)
        np.testing.assert_allclose(((E(1) - E(-1)) / (2 * h)).numpy(), g[:, k].numpy(), rtol=1e-6, atol=1e-12)


def test_the_full_cell_matches_the_independent_reference_cell():
    for A, X in _lattices():
        f = build_frame(A, X)
        if len(f.beams) != np.triu(A, 1).sum():
            continue  # the reference does not split crossings
        c = periodic_cell(f)
        n, beams = reference_frame.periodic_beams(A, X)
        assert len(c.nodes) == n and len(c.a) == len(beams)
        np.testing.assert_allclose(np.sort(c.lengths), np.sort([np.linalg.norm(b[3]) for b in beams]), atol=1e-13)
        r = strut_radii([f], 0.15)[0]
        assert np.pi * r ** 2 * c.lengths.sum() / c.volume == pytest.approx(0.15, rel=1e-12)


@pytest.mark.parametrize("beam", ["timoshenko", "euler-bernoulli"])
def test_the_small_strain_tangent_is_the_linear_c33(beam):
    lattices = [(ELEMENTARY[n].astype(bool), Z) for n in ("sc", "bcc", "octet")] + _lattices(3, seed=2)
    for A, X in lattices:
        m = _model(A, X, beam=beam)
        eps = 1e-6
        state, ok, neg = minimize(m, m.initial(), np.diag([0.0, 0.0, -eps]), P)
        C = homogenize(A, X, relative_density=0.15, beam=beam)
        assert ok and neg == 0
        assert -m.stress(state, np.diag([0.0, 0.0, -eps]))[2, 2] / eps == pytest.approx(C[2, 2], rel=1e-4)


def test_the_small_strain_tangent_under_uniaxial_stress_is_one_over_s33():
    A = ELEMENTARY["bcc"].astype(bool)
    m = _model(A, lateral="stress")
    eps = 1e-6
    state, ok, _ = minimize(m, m.initial(), np.diag([0.0, 0.0, -eps]), P)
    S = np.linalg.inv(homogenize(A, Z, relative_density=0.15))
    stress = m.stress(state, np.diag([0.0, 0.0, -eps]))
    assert ok and abs(stress[0, 0]) < 1e-12 and abs(stress[1, 1]) < 1e-12
    assert -stress[2, 2] / eps == pytest.approx(1 / S[2, 2], rel=1e-4)
    assert state["h"][0] / eps == pytest.approx(-S[0, 2] / S[2, 2], rel=1e-3)  # lateral expansion: nu31


def test_a_rigid_rotation_of_the_cell_gives_zero_stress():
    for A, X in [(ELEMENTARY["octet"].astype(bool), Z), _lattices(1)[0]]:
        m = _model(A, X)
        Q = Rotation.from_rotvec([0.3, -0.7, 1.1]).as_matrix()
        state, ok, _ = minimize(m, m.initial(), Q - np.eye(3), P)
        assert ok
        assert np.abs(m.stress(state, Q - np.eye(3))).max() < 1e-12
        assert m.energy(state, Q - np.eye(3)) < 1e-20


def test_the_stress_is_the_derivative_of_the_stored_energy_along_the_path():
    m = _model(ELEMENTARY["bcc"].astype(bool))
    state = m.initial()
    for eps in (0.02, 0.06):  # large strain, before buckling
        H = lambda e: np.diag([0.0, 0.0, -e])  # noqa: E731
        state, ok, _ = minimize(m, state, H(eps), P)
        h = 1e-5
        up, _, _ = minimize(m, state, H(eps + h), P)
        down, _, _ = minimize(m, state, H(eps - h), P)
        dW = (m.energy(up, H(eps + h)) - m.energy(down, H(eps - h))) / (2 * h) / m.cell.volume
        assert dW == pytest.approx(-m.stress(state, H(eps))[2, 2], rel=1e-6)


def test_unloading_below_the_critical_strain_returns_to_zero_stress():
    m = _model(ELEMENTARY["octet"].astype(bool))
    state = m.initial()
    for eps in (0.01, 0.02, 0.03, 0.02, 0.01, 0.0):
        state, ok, neg = minimize(m, state, np.diag([0.0, 0.0, -eps]), P)
        assert ok and neg == 0
    assert np.abs(m.stress(state, np.zeros((3, 3)))).max() < 1e-12
    assert np.abs(state["w"]).max() < 1e-10


def test_a_simple_cubic_lattice_buckles_and_its_stress_plateaus():
    m = _model(ELEMENTARY["sc"].astype(bool))
    path = follow(m, 0.25, output_strains(), NonlinearParams(steps=20, bisections=6))
    assert 0.05 < path.critical_strain < 0.25
    before = path.strain < path.critical_strain
    C33 = homogenize(ELEMENTARY["sc"].astype(bool), Z, relative_density=0.15)[2, 2]
    np.testing.assert_allclose(path.stress[before], C33 * path.strain[before], rtol=0.02)  # struts in compression
    after = path.strain > path.critical_strain + 0.02
    assert path.stress[after].max() < 1.1 * C33 * path.critical_strain  # buckled: no longer linear
    assert path.stable[after].all()


def test_plain_newton_stays_on_the_unstable_symmetric_branch_that_minimizing_leaves():
    """Past the critical strain the perfect simple-cubic cell has an unstable homogeneous
    equilibrium (struts straight, stress C33 eps): plain Newton finds it, with negative pivots --
    what the bisection of the critical strain asks -- and minimizing with escape leaves it for a
    buckled state of lower energy and no negative pivot."""
    m = _model(ELEMENTARY["sc"].astype(bool), rho=0.05)
    eps = 1.5 * follow(m, 0.1, output_strains(0.1), NonlinearParams(steps=20, bisections=6)).critical_strain
    H0 = np.diag([0.0, 0.0, -eps])
    state, ok, neg = newton(m, m.initial(), H0, P)  # from the homogeneous deformation x = F X
    assert ok and neg > 0
    C33 = homogenize(ELEMENTARY["sc"].astype(bool), Z, relative_density=0.05)[2, 2]
    assert -m.stress(state, H0)[2, 2] == pytest.approx(C33 * eps, rel=0.02)
    buckled, ok2, neg2 = minimize(m, state, H0, NonlinearParams(max_iterations=80), escape=True)
    assert ok2 and neg2 == 0 and m.energy(buckled, H0) < m.energy(state, H0)


def test_lattices_followed_in_lockstep_take_the_paths_they_take_one_at_a_time():
    """follow_many batches the element evaluations of many paths (and answers them out of order);
    each path -- buckling, branch switches and all -- must be the one follow gives alone."""
    frames = [build_frame(A, X) for A, X in _lattices(3, seed=2)] + [build_frame(ELEMENTARY["sc"].astype(bool), Z)]
    radii = strut_radii(frames, 0.15)
    p = NonlinearParams(steps=12, bisections=4)
    eps = output_strains(0.12, 4)
    models = lambda: [CellModel(periodic_cell(f), r) for f, r in zip(frames, radii)]  # noqa: E731
    alone = [follow(m, 0.12, eps, p) for m in models()]
    ended = []
    together, seconds = follow_many(models(), 0.12, eps, p, batch=3,  # a batch smaller than the lattices: refills
                                    on_done=lambda i, path: ended.append((i, path)))
    assert (seconds > 0).all()
    assert sorted(i for i, _ in ended) == [0, 1, 2, 3] and all(together[i] is path for i, path in ended)
    assert any(np.isfinite(a.critical_strain) for a in alone)  # the paths do buckle
    for a, b in zip(alone, together):
        np.testing.assert_array_equal(a.strain, b.strain)
        np.testing.assert_allclose(b.stress, a.stress, rtol=0, atol=1e-14)
        np.testing.assert_array_equal(a.stable, b.stable)
        assert a.critical_strain == b.critical_strain or (np.isnan(a.critical_strain) and np.isnan(b.critical_strain))


def test_the_stability_test_is_positive_definiteness_and_the_solves_are_exact_either_way():
    rng = np.random.default_rng(0)
    for shift in (5.0, -1.0, 0.5):
        A = rng.standard_normal((30, 30))
        K = A @ A.T / 30 + (shift - 1.0) * np.eye(30)
        f, neg = _factor(K)
        assert neg == int(np.linalg.eigvalsh(K).min() <= 0)
        b = rng.standard_normal(30)
        np.testing.assert_allclose(K @ f.solve(b), b, atol=1e-9 * np.abs(b).max() * np.linalg.cond(K))


def test_compress_returns_the_paper_label_vector():
    eps = output_strains()
    np.testing.assert_allclose(eps[[0, 1, -1]], [0.005, 0.025, 0.245])
    s = compress(ELEMENTARY["bcc"], Z, relative_density=0.15, strain=0.02, points=3)
    assert s.shape == (3,) and (s > 0).all() and (np.diff(s) > 0).all()
    with pytest.raises(ValueError, match="exactly one"):
        compress(ELEMENTARY["bcc"], Z)


@pytest.mark.parametrize("name, column", [("sc", 2.0), ("sc_half", 1.0), ("octet", None)])
def test_the_critical_strain_of_slender_lattices_is_the_linear_buckling_eigenvalue(name, column):
    from reference_buckling import critical_strain

    A = ELEMENTARY[name].astype(bool)
    f = build_frame(A, Z)
    r = strut_radii([f], 0.01)[0]
    eig = critical_strain(A, Z, r, s=4)
    if column == 2.0:  # one strut per period: the clamped column, pi^2 (r / L)^2
        assert eig == pytest.approx(np.pi ** 2 * (r / column) ** 2, rel=1e-3)
    elif column == 1.0:  # the 2 x 2 x 2 simple-cubic cell: a quarter of that in its own strut length
        assert eig == pytest.approx(np.pi ** 2 * (r / column) ** 2 / 4, rel=1e-3)
    m = CellModel(periodic_cell(f).subdivided(2), r, beam="euler-bernoulli")
    path = follow(m, 2.5 * eig, np.array([2.5 * eig]), NonlinearParams(steps=10, bisections=8))
    # linearized buckling ignores the shortening before it, an error of the order of the
    # critical strain itself (1 % for the simple-cubic column)
    assert path.critical_strain == pytest.approx(eig, rel=0.01 + eig)
    assert path.stable[-1]  # and the path goes on, buckled


def test_a_large_cell_takes_the_sparse_tangent_and_the_same_path(monkeypatch):
    """Cells beyond DENSE_MAX free DOFs (decoded dense lattices: thousands) assemble a sparse
    tangent; the path, buckling included, is the dense one's."""
    import pipeline_lib.truss3d.nonlinear as nl

    p = NonlinearParams(steps=12, bisections=4)
    eps = output_strains(0.12, 4)
    A = ELEMENTARY["sc"].astype(bool)
    dense = follow(_model(A, rho=0.05), 0.12, eps, p)
    monkeypatch.setattr(nl, "DENSE_MAX", 10)
    m = _model(A, rho=0.05)
    assert nl.sp.issparse(m.gradient_and_tangent(m.initial(), np.zeros((3, 3)))[1])
    sparse = follow(m, 0.12, eps, p)
    assert np.isfinite(dense.critical_strain)
    np.testing.assert_allclose(sparse.critical_strain, dense.critical_strain, rtol=1e-9)
    np.testing.assert_allclose(sparse.stress_at(eps), dense.stress_at(eps), rtol=1e-7, atol=1e-12)
