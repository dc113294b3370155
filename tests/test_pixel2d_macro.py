"""Stage 1 of the multiscale design: the macro Q4 mesh with per-element orthotropic stiffness, its
adjoint gradient (paper 000, Eqs. 13-15) and the MMA loop with the HPI feasibility constraint."""
import numpy as np
import pytest

from pipeline_lib.fem.quad4 import elasticity_matrix
from pipeline_lib.pixel2d import macro
from pipeline_lib.pixel2d.properties import properties
from pipeline_lib.pixel2d.structure import dof


def _boundary(H, W):
    i, j = np.meshgrid(np.arange(H + 1), np.arange(W + 1), indexing="ij")
    on = (i == 0) | (i == H) | (j == 0) | (j == W)
    return i[on], j[on], i[~on], j[~on]


def test_a_uniform_isotropic_mesh_reproduces_an_affine_field_exactly():
    H, W, nu, eps = 3, 5, 0.3, 0.01
    P = np.tile(properties(elasticity_matrix(1.0, nu, "stress")), (H * W, 1))
    bi, bj, ii, ij = _boundary(H, W)
    x, y = bj.astype(float), (H - bi).astype(float)
    dofs = np.concatenate([dof(bi, bj, 0, W), dof(bi, bj, 1, W)])
    vals = np.concatenate([eps * x, -nu * eps * y])
    tdofs = dof(ii, ij, 1, W)
    prob = macro.MacroProblem(H, W, dofs, vals, tdofs, -nu * eps * (H - ii) + 1.0)
    u = prob.solve(P)
    np.testing.assert_allclose(u[dof(ii, ij, 0, W)], eps * ij, atol=1e-12)
    np.testing.assert_allclose(u[tdofs], -nu * eps * (H - ii), atol=1e-12)


def _cantilever(H=3, W=6):
    """Clamped left edge, right edge pushed left; tracked: u_y along the top edge."""
    i = np.arange(H + 1)
    left = np.concatenate([dof(i, 0, 0, W), dof(i, 0, 1, W)])
    right = np.concatenate([dof(i, W, 0, W), dof(i, W, 1, W)])
    fixed = np.concatenate([left, right])
    values = np.concatenate([np.zeros(len(left)), np.full(H + 1, -0.1 * W), np.zeros(H + 1)])
    j = np.arange(1, W)
    t = dof(0, j, 1, W)
    target = 0.05 * (1 - np.cos(2 * np.pi * j / W)) / 2
    return macro.MacroProblem(H, W, fixed, values, t, target)


def test_the_adjoint_gradient_matches_central_differences(rng):
    prob = _cantilever()
    P = properties(elasticity_matrix(1.0, 0.3, "stress")) * rng.uniform(0.2, 1.0, (prob.elements, 4))
    _, F, dF = prob.solve(P, adjoint=True)
    h = 1e-6
    for e, k in [(0, 0), (5, 1), (7, 2), (17, 3), (11, 1)]:
        Pp, Pm = P.copy(), P.copy()
        Pp[e, k] += h
        Pm[e, k] -= h
        fd = (prob.solve(Pp, adjoint=True)[1] - prob.solve(Pm, adjoint=True)[1]) / (2 * h)
        assert dF[e, k] == pytest.approx(fd, rel=1e-6, abs=1e-10 * abs(F))
    d = rng.standard_normal(P.shape)
    fd = (prob.solve(P + h * d, adjoint=True)[1] - prob.solve(P - h * d, adjoint=True)[1]) / (2 * h)
    assert (dF * d).sum() == pytest.approx(fd, rel=1e-6)


def test_the_objective_depends_only_on_property_ratios_under_prescribed_displacements(rng):
    prob = _cantilever()
    P = rng.uniform(0.05, 0.5, (prob.elements, 4))
    P[:, 1] *= 0.3
    np.testing.assert_allclose(prob.solve(P), prob.solve(7.0 * P), atol=1e-12)


def test_mma_recovers_a_target_made_by_a_known_distribution(rng):
    prob = _cantilever(3, 6)
    lo, hi = np.array([0.02, 0.0, 0.02, 0.005]), np.array([0.6, 0.2, 0.6, 0.15])
    x_true = rng.uniform(0.1, 0.9, (prob.elements, 4))
    to_p = macro.box(lo, hi)
    u_true = prob.solve(to_p(x_true)[0])
    prob.target_values = u_true[prob.target_dofs]
    res = macro.optimize(prob, to_p, np.full((prob.elements, 4), 0.5), max_iter=300)
    start = prob.rrmse(prob.solve(to_p(np.full((prob.elements, 4), 0.5))[0]))
    assert res.rrmse < 0.02 < start
    assert np.all(np.diff(res.history["objective"][:5]) < 0.5)  # no blow-up at the start


def test_the_hpi_constraint_keeps_every_element_inside_the_feasible_set(rng):
    prob = _cantilever(3, 6)
    lo, hi = np.zeros(4), np.array([0.6, 0.3, 0.6, 0.2])
    centre, radius = np.array([0.3, 0.1, 0.3, 0.1]), 0.08

    def ball(P):  # positive inside a ball of properties
        d = np.linalg.norm(P - centre, axis=1)
        return radius - d, -(P - centre) / np.maximum(d, 1e-12)[:, None]

    to_p = macro.box(lo, hi)
    x0 = np.tile((centre - lo) / (hi - lo), (prob.elements, 1))
    free = macro.optimize(prob, to_p, x0, max_iter=200)
    held = macro.optimize(prob, to_p, x0, feasibility=ball, beta=200.0, max_iter=200)
    assert (ball(free.P)[0] < 0).any()  # without it the optimum leaves the ball
    phi = ball(held.P)[0]
    assert (phi > -0.01 * radius).sum() >= prob.elements - 1  # Eq. 11 allows about one element out
    assert held.history["constraint"][-1] <= 1e-3


def test_a_gradation_passes_through_its_members_with_the_right_slope():
    c11 = np.array([0.1, 0.2, 0.4])
    P = np.array([[0.1, 0.01, 0.1, 0.02], [0.2, 0.05, 0.15, 0.03], [0.4, 0.1, 0.3, 0.1]])
    to_p = macro.gradation(c11, P)
    x = (c11 - 0.1) / 0.3
    np.testing.assert_allclose(to_p(x[:, None])[0], P, atol=1e-14)
    xm = np.array([[0.5]])
    h = 1e-7
    fd = (to_p(xm + h)[0] - to_p(xm - h)[0]) / (2 * h)
    np.testing.assert_allclose(to_p(xm)[1][..., 0], fd, rtol=1e-6)


def test_bad_problems_are_refused():
    with pytest.raises(ValueError, match="prescribed"):
        macro.MacroProblem(1, 1, [0, 1], [0, 0], [1], [1.0])
    with pytest.raises(ValueError, match="not all zero"):
        macro.MacroProblem(1, 1, [0, 1], [0, 0], [3], [0.0])
    with pytest.raises(ValueError, match="target_dofs"):
        macro.MacroProblem(1, 1, [0, 1], [0, 0], [99], [1.0])
