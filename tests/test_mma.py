"""Batched MMA against problems with known optima."""
import numpy as np
import pytest

from pipeline_lib.optim.mma import init_state, mma_step


def _separable(B, n):
    """min sum c_j / x_j  s.t.  sum x_j <= V, 0.01 <= x <= 1  ->  x_j = V sqrt(c_j) / sum sqrt(c)."""
    rng = np.random.default_rng(3)
    c = rng.uniform(0.5, 2.0, (B, n))
    V = rng.uniform(0.2, 0.4, B) * n
    return c, V, V[:, None] * np.sqrt(c) / np.sqrt(c).sum(1, keepdims=True)


def test_reaches_the_analytic_optimum_of_a_constrained_separable_problem():
    B, n = 5, 200
    c, V, x_opt = _separable(B, n)
    assert x_opt.max() < 1 and x_opt.min() > 0.01  # optimum is interior to the bounds
    s = init_state(np.full((B, n), 0.5))
    for _ in range(60):
        x = s.x
        s = mma_step(s, -c / x**2, x.sum(1) - V, np.ones_like(x), 0.01, 1.0)
    f = (c / s.x).sum(1)
    f_opt = (c / x_opt).sum(1)
    np.testing.assert_allclose(f, f_opt, rtol=1e-6)
    assert (s.x.sum(1) - V <= 1e-6 * n).all()


@pytest.mark.parametrize("asymin, tol", [(0.01, 0.01), (1e-4, 1e-4)])
def test_interior_minimum_is_found_to_the_asymptote_floor(asymin, tol):
    # min sum (x - a)^2 with a slack constraint: x -> a, to within about asymin * span
    rng = np.random.default_rng(4)
    a = rng.uniform(0.2, 0.8, (3, 50))
    s = init_state(np.full_like(a, 0.5))
    for _ in range(300):
        x = s.x
        s = mma_step(s, 2 * (x - a), x.sum(1) - 1e3, np.ones_like(x), 0.0, 1.0, asymin=asymin)
    np.testing.assert_allclose(s.x, a, atol=tol)


def test_inactive_problems_are_left_alone():
    x0 = np.full((2, 4), 0.5)
    s = init_state(x0)
    s = mma_step(s, np.ones((2, 4)), np.zeros(2), np.ones((2, 4)), 0.0, 1.0, active=np.array([True, False]))
    assert not np.allclose(s.x[0], 0.5)
    np.testing.assert_array_equal(s.x[1], 0.5)


def test_gcmma_descends_monotonically_to_the_minimum_of_a_strongly_coupled_function():
    from pipeline_lib.optim.mma import gcmma_step

    rng = np.random.default_rng(5)
    Q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    A = Q @ np.diag(np.geomspace(1, 100, 6)) @ Q.T  # far from separable
    a = rng.uniform(0.3, 0.7, 6)

    def f(x):
        r = x - a
        return np.einsum("bi,ij,bj->b", r, A, r), 2 * r @ A

    s, rho = init_state(np.array([np.full(6, 0.05), np.full(6, 0.95)])), None
    g = np.full(2, -1.0)
    seen = []
    for _ in range(200):
        val, grad = f(s.x)
        seen.append(val)
        s, rho, _ = gcmma_step(s, val, grad, g, np.zeros_like(grad), lambda x: (f(x)[0], g), 0.0, 1.0, rho=rho)
    assert (np.diff(np.array(seen), axis=0) <= 1e-12).all()  # each outer iteration lowers the objective
    np.testing.assert_allclose(s.x, np.broadcast_to(a, s.x.shape), atol=1e-3)


def test_gcmma_finds_the_same_constrained_optimum_as_mma():
    from pipeline_lib.optim.mma import gcmma_step

    B, n = 3, 40
    c, V, x_opt = _separable(B, n)
    s, rho = init_state(np.full((B, n), 0.5)), None
    for _ in range(80):
        x = s.x
        s, rho, _ = gcmma_step(s, (c / x).sum(1), -c / x**2, x.sum(1) - V, np.ones_like(x),
                               lambda y: ((c / y).sum(1), y.sum(1) - V), 0.01, 1.0, rho=rho)
    np.testing.assert_allclose((c / s.x).sum(1), (c / x_opt).sum(1), rtol=1e-5)
    assert (s.x.sum(1) - V <= 1e-5 * n).all()
