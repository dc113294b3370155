"""Grid MRF solvers against exhaustive search, brute-force chains and an exact MILP."""
import itertools

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import lil_matrix

from pipeline_lib.optim import mrf


def random_mrf(rng, H, W, L, coupling=1.0) -> mrf.GridMRF:
    """Unary in [0, 1]; edge costs in [0, coupling], cheaper on a random 'compatible' pairing so the
    instance is frustrated the way mismatching cell boundaries are."""
    U = rng.random((H, W, L))
    Ph = coupling * rng.random((H, W - 1, L, L))
    Pv = coupling * rng.random((H - 1, W, L, L))
    return mrf.GridMRF(U, Ph, Pv)


def naive_energy(m: mrf.GridMRF, x) -> float:
    H, W, _ = m.shape
    e = sum(m.unary[i, j, x[i][j]] for i in range(H) for j in range(W))
    e += sum(m.horizontal[i, j, x[i][j], x[i][j + 1]] for i in range(H) for j in range(W - 1))
    e += sum(m.vertical[i, j, x[i][j], x[i + 1][j]] for i in range(H - 1) for j in range(W))
    return float(e)


def exhaustive(m: mrf.GridMRF) -> float:
    H, W, L = m.shape
    all_x = np.array(list(itertools.product(range(L), repeat=H * W))).reshape(-1, H, W)
    return float(m.energy(all_x).min())


def exact_milp(m: mrf.GridMRF) -> float:
    """The standard integer program: node indicators, edge indicators with marginal constraints."""
    H, W, L = m.shape
    node = lambda i, j: (i * W + j) * L  # noqa: E731
    edges = [((i, j), (i, j + 1), m.horizontal[i, j]) for i in range(H) for j in range(W - 1)]
    edges += [((i, j), (i + 1, j), m.vertical[i, j]) for i in range(H - 1) for j in range(W)]
    n_nodes = H * W * L
    n = n_nodes + len(edges) * L * L
    c = np.concatenate([m.unary.ravel()] + [P.ravel() for _, _, P in edges])
    rows = H * W + len(edges) * 2 * L
    A = lil_matrix((rows, n))
    b = np.zeros(rows)
    r = 0
    for i in range(H):
        for j in range(W):
            A[r, node(i, j):node(i, j) + L] = 1
            b[r] = 1
            r += 1
    for k, (p, q, _) in enumerate(edges):
        base = n_nodes + k * L * L
        for a in range(L):  # sum_b y[a, b] = x_p[a]
            A[r, [base + a * L + bb for bb in range(L)]] = 1
            A[r, node(*p) + a] = -1
            r += 1
        for bb in range(L):  # sum_a y[a, b] = x_q[b]
            A[r, [base + a * L + bb for a in range(L)]] = 1
            A[r, node(*q) + bb] = -1
            r += 1
    res = milp(c, constraints=LinearConstraint(A.tocsr(), b, b), integrality=np.ones(n), bounds=Bounds(0, 1))
    assert res.success
    return float(res.fun)


def test_the_vectorized_energy_equals_the_sum_written_term_by_term(rng):
    m = random_mrf(rng, 3, 4, 5)
    for _ in range(10):
        x = rng.integers(5, size=(3, 4))
        assert m.energy(x) == pytest.approx(naive_energy(m, x.tolist()), rel=1e-12)


def test_viterbi_finds_the_minimum_of_every_chain_in_the_batch(rng):
    B, n, L = 6, 5, 3
    U, P = rng.random((B, n, L)), rng.random((B, n - 1, L, L))
    x, best = mrf.viterbi(U, P)
    for b in range(B):
        energies = {s: U[b, range(n), s].sum() + sum(P[b, t, s[t], s[t + 1]] for t in range(n - 1))
                    for s in itertools.product(range(L), repeat=n)}
        s_min = min(energies, key=energies.get)
        assert best[b] == pytest.approx(energies[s_min], abs=1e-12)
        assert energies[tuple(x[b])] == pytest.approx(best[b], abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_solve_equals_exhaustive_search_on_3x3_with_4_labels_and_bounds_it(seed):
    m = random_mrf(np.random.default_rng(seed), 3, 3, 4, coupling=1.5)
    exact = exhaustive(m)
    r = mrf.solve(m)
    assert r.energy == pytest.approx(exact, abs=1e-9)
    assert m.energy(r.labels) == pytest.approx(r.energy, abs=1e-12)
    assert np.isfinite(r.lower_bound) and r.lower_bound <= exact + 1e-9


def test_a_chain_shaped_grid_is_solved_exactly_by_dual_decomposition_with_a_closed_gap(rng):
    m = random_mrf(rng, 1, 7, 4)  # one row: the row chain is the whole problem
    r = mrf.dual_decomposition(m)
    assert r.energy == pytest.approx(exhaustive(m), abs=1e-9)
    assert r.gap <= 1e-6


@pytest.mark.parametrize("seed", range(3))
def test_solve_is_within_one_percent_of_the_exact_milp_on_6x6_with_5_labels(seed):
    m = random_mrf(np.random.default_rng(100 + seed), 6, 6, 5, coupling=1.0)
    exact = exact_milp(m)
    r = mrf.solve(m, dd_iterations=1000)
    assert exact - 1e-9 <= r.energy <= exact * 1.01 + 1e-9
    assert np.isfinite(r.lower_bound) and r.lower_bound <= exact + 1e-9


def test_icm_never_raises_the_energy(rng):
    m = random_mrf(rng, 5, 6, 4)
    for _ in range(5):
        x = rng.integers(4, size=(5, 6))
        assert m.energy(mrf.icm(m, x)) <= m.energy(x) + 1e-12


def test_costs_of_the_wrong_shape_or_not_finite_are_refused_by_name(rng):
    U = rng.random((2, 3, 4))
    with pytest.raises(ValueError, match="horizontal edge costs must have shape"):
        mrf.GridMRF(U, rng.random((2, 3, 4, 4)), rng.random((1, 3, 4, 4)))
    with pytest.raises(ValueError, match="vertical costs must be finite"):
        mrf.GridMRF(U, rng.random((2, 2, 4, 4)), np.full((1, 3, 4, 4), np.nan))
