"""Uncertainty quantification (Eqs. 6-9 of paper 004), its calibration, the NSGA-II wrapper and the
robust design problem, each against a case with a known answer."""
import numpy as np
import pytest

from pipeline_lib.elasticity import hashin_shtrikman_bulk
from pipeline_lib.latent import uq as U
from pipeline_lib.optim import nsga2
from pipeline_lib.optim.robust import Goal, LatentProblem, latent_box, starting_rows
from pipeline_lib.voxel3d.chain import Voxel3D


class ToyChain(Voxel3D):
    """voxel3d's properties and quantities (E, nu, G -> K) over a toy model: the 'geometry' is the
    latent vector itself, encode gives it back with a fixed sigma, and the 'MDN' is linear in z with
    a known standard deviation; the volume fraction is the first coordinate."""

    def __init__(self, A, b, std, sigma, screen_ok=None):
        self.config, self.model = {}, None
        self.A, self.b, self.std, self.sigma = np.asarray(A, float), np.asarray(b, float), np.asarray(std, float), sigma
        self.screen_ok = screen_ok
        self.screened = 0

    def decode(self, z):
        return {"cells": np.asarray(z, float)}

    def encode(self, samples):
        z = samples["cells"]
        return z, np.full_like(z, 2 * np.log(self.sigma))

    def predict(self, z):
        z = np.asarray(z, float)
        return z @ self.A.T + self.b, np.broadcast_to(self.std, (len(z), len(self.std))).copy()

    def volume_fraction(self, samples):
        return samples["cells"][:, 0]

    def screen(self, samples):
        self.screened += len(samples["cells"])
        ok = np.ones(len(samples["cells"]), bool)
        return ok if self.screen_ok is None else self.screen_ok(samples["cells"])


def _toy(screen_ok=None):
    A = np.array([[1000.0, 0.0], [0.0, 0.01], [300.0, 0.0]])  # E, nu, G linear in z
    return ToyChain(A, b=[5000.0, 0.25, 2000.0], std=[50.0, 0.002, 20.0], sigma=0.1, screen_ok=screen_ok)


def test_uq_gives_back_the_known_aleatoric_and_epistemic_spread_of_a_toy_mdn():
    ch = _toy()
    z = np.array([[0.3, -1.0], [0.1, 2.0]])
    eps = U.draws(2, 400, seed=3)
    u, _ = U.uncertainty(ch, z, U.UQParams(samples=400), seed=3)
    # aleatoric: the MDN's std itself (the same at every latent sample)
    np.testing.assert_allclose(u.aleatoric[:, :3], np.tile(ch.std, (2, 1)), rtol=1e-7)  # through the central differences
    # epistemic: the spread of A (mu + sigma eps) over the draws, i.e. |A| sigma times the draws' std
    spread = eps.std(0)  # population std of each latent coordinate's draws
    expected = np.sqrt(((ch.A * ch.sigma * spread) ** 2).sum(1))
    np.testing.assert_allclose(u.epistemic[:, :3], np.tile(expected, (2, 1)), rtol=1e-7)
    np.testing.assert_allclose(u.mean[:, :3], (z + ch.sigma * eps.mean(0)) @ ch.A.T + ch.b, rtol=1e-12)
    np.testing.assert_allclose(u.total, np.hypot(u.aleatoric, u.epistemic))
    assert u.names == ("E", "nu", "G", "K")


def test_the_bulk_modulus_spread_is_propagated_per_sample_like_a_monte_carlo_of_e_and_nu():
    ch = _toy()
    mean = np.array([[6000.0, 0.2, 2300.0]])
    std = np.array([[60.0, 0.003, 10.0]])
    names, q, qs = U.propagate(ch.quantities, mean, std)
    rng = np.random.default_rng(0)
    E = rng.normal(6000.0, 60.0, 400_000)
    nu = rng.normal(0.2, 0.003, 400_000)
    K = E / (3 * (1 - 2 * nu))
    k = names.index("K")
    assert q[0, k] == pytest.approx(6000.0 / (3 * 0.6))
    assert qs[0, k] == pytest.approx(K.std(), rel=0.02)


def test_a_temperature_fitted_on_held_out_residuals_restores_the_gaussian_coverage():
    rng = np.random.default_rng(1)
    n = 20_000
    predicted = rng.uniform(1.0, 3.0, (n, 2))
    epistemic = np.full((n, 2), 0.5)
    true_scale = np.array([2.0, 0.7])  # the model is over- (x2) and under-confident (x0.7)
    resid = rng.normal(0.0, np.sqrt((true_scale * predicted) ** 2 + epistemic ** 2))
    for method in ("variance", "coverage"):  # Gaussian residuals: both fits find the true scale
        t = U.fit_temperature(resid[: n // 2], predicted[: n // 2], epistemic[: n // 2], method)
        np.testing.assert_allclose(t, true_scale, rtol=0.05)
    before = U.coverage(resid[n // 2:], np.hypot(predicted, epistemic)[n // 2:])
    after = U.coverage(resid[n // 2:], np.hypot(t * predicted, epistemic)[n // 2:])
    assert before[0] < 0.5 and before[1] > 0.8
    np.testing.assert_allclose(after, 0.683, atol=0.02)


def test_coverage_calibration_hits_one_std_on_heavy_tailed_residuals_where_variance_matching_overshoots():
    rng = np.random.default_rng(2)
    n = 40_000
    a = np.ones((n, 1))
    e = np.zeros((n, 1))
    resid = rng.standard_t(3, (n, 1))  # heavy tails: the variance is set by a few large residuals
    cov = U.coverage(resid, U.fit_temperature(resid, a, e, "coverage") * a)
    var = U.coverage(resid, U.fit_temperature(resid, a, e, "variance") * a)
    assert cov[0] == pytest.approx(0.683, abs=0.005)
    assert var[0] > 0.75
    with pytest.raises(ValueError, match="calibration method"):
        U.fit_temperature(resid, a, e, "isotonic")


def test_nsga2_through_the_wrapper_finds_the_zdt1_front_and_its_hypervolume_grows():
    from pymoo.indicators.igd import IGD
    from pymoo.problems import get_problem

    zdt = get_problem("zdt1", n_var=8)
    res = nsga2.minimize(lambda X: (zdt.evaluate(X), np.zeros((len(X), 0))), zdt.xl, zdt.xu, n_obj=2, n_ieq=0,
                         p=nsga2.NSGA2Params(population=40, generations=120), seed=0, reference=np.array([1.1, 1.1]))
    assert IGD(zdt.pareto_front())(res.F[res.front]) < 0.02
    hv = [h["hypervolume"] for h in res.history]
    # elitism keeps the front; crowding may trade a sliver of hypervolume for spread
    assert len(hv) == 120 and hv[-1] >= 0.99 * max(hv) and hv[-1] > hv[20] > 0
    assert hv[-1] == pytest.approx(nsga2.hypervolume(zdt.pareto_front(), np.array([1.1, 1.1])), rel=0.02)


def test_nsga2_honours_inequality_constraints_and_starts_from_given_rows():
    res = nsga2.minimize(lambda X: ((X ** 2).sum(1, keepdims=True), 0.5 - X[:, :1]), -np.ones(3), np.ones(3),
                         n_obj=1, n_ieq=1, p=nsga2.NSGA2Params(population=20, generations=40), seed=1,
                         initial=np.full((5, 3), 0.9))
    best = res.X[res.front[0]]
    assert best[0] >= 0.5 and best[0] == pytest.approx(0.5, abs=0.02)
    assert np.abs(best[1:]).max() < 0.05


def test_the_volume_fraction_band_rejects_decoded_units_outside_it_and_only_in_band_units_are_screened():
    ch = _toy(screen_ok=lambda z: z[:, 1] < 1.5)  # the 'database screening' fails where z1 >= 1.5
    eps = U.draws(2, 8, seed=0)
    problem = LatentProblem(ch, [Goal("K", lam=1.0)], (0.299, 0.301), eps=eps)
    Z = np.array([[0.2985, 0.0], [0.2995, 0.0], [0.3005, 0.0], [0.3015, 0.0], [0.30, 2.0]])
    F, G = problem.evaluate(Z)
    feasible = (G <= 0).all(1)
    assert feasible.tolist() == [False, True, True, False, False]
    assert G[0, 0] > 0 and G[3, 1] > 0 and G[4, 2] > 0  # below, above, screening
    assert ch.screened == 3  # out-of-band units are not screened
    e = problem.assess(ch.decode(Z), Z)
    assert np.isnan(e.mean[~e.valid]).all() and np.isfinite(e.mean[e.valid]).all()
    k = e.names.index("K")
    np.testing.assert_allclose(-F[feasible, 0], e.mean[feasible, k] - 1.0 * e.total[feasible, k])
    with pytest.raises(ValueError, match="goal quantity 'A_U'"):
        LatentProblem(ch, [Goal("A_U")], (0.2, 0.3), eps=eps)
    with pytest.raises(ValueError, match="lower bound"):
        LatentProblem(ch, [Goal("K")], (0.3, 0.3), eps=eps)


def test_a_deterministic_predictor_scores_z_with_no_spread():
    ch = _toy()
    problem = LatentProblem(ch, [Goal("E", 5.0)], (0.0, 1.0), eps=U.draws(2, 4, 0), predict=lambda z: ch.predict(z))
    F, G = problem.evaluate(np.array([[0.5, 0.0]]))
    assert -F[0, 0] == pytest.approx(5500.0)  # the mean at z, lambda times a zero spread


def test_robust_design_in_band_maximizes_the_robust_objective_of_the_toy():
    # E grows with z0 (the volume fraction) and z1 does not matter: the optimum sits at the band's top
    ch = _toy()
    problem = LatentProblem(ch, [Goal("E", 1.0)], (0.2, 0.4), eps=U.draws(2, 8, 0))
    res = nsga2.minimize(problem.evaluate, np.array([0.0, -1.0]), np.array([1.0, 1.0]), n_obj=1, n_ieq=3,
                         p=nsga2.NSGA2Params(population=16, generations=40), seed=0)
    assert res.X[res.front[0], 0] == pytest.approx(0.4, abs=0.01)


def test_latent_box_and_starting_rows():
    mu = np.array([[0.0, -2.0], [1.0, 2.0]])
    lo, hi = latent_box(mu, 0.1)
    np.testing.assert_allclose(lo, [-0.1, -2.4])
    np.testing.assert_allclose(hi, [1.1, 2.4])
    q = {"K": np.array([5.0, 9.0, 7.0, 100.0])}
    rows = starting_rows(q, np.array([0.30, 0.29, 0.31, 0.5]), [Goal("K")], (0.27, 0.33), 3)
    assert rows.tolist() == [1, 2, 0]  # in-band units best first; the out-of-band one last


def test_hashin_shtrikman_bulk_bound_closed_forms():
    E, nu = 70e3, 0.33
    K_s = E / (3 * (1 - 2 * nu))
    assert hashin_shtrikman_bulk(1.0, E, nu) == pytest.approx(K_s)
    assert hashin_shtrikman_bulk(0.0, E, nu) == 0.0
    # the reading of the paper: 5954.8 MPa at f = 0.3 is about 0.69 K_HS
    assert 5954.8 / hashin_shtrikman_bulk(0.3, E, nu) == pytest.approx(0.69, abs=0.01)


def test_decoding_at_a_volume_fraction_keeps_the_unit_cubic_and_lands_within_one_orbit():
    from pipeline_lib import mirror
    from pipeline_lib.voxel3d.learning import at_volume_fraction
    from pipeline_lib.voxel3d.symmetry import is_cubic

    rng = np.random.default_rng(4)
    eighth = rng.random((3, 12, 12, 12))
    # the decoder's way to cubic symmetry: the mean over the six axis permutations (rounding and all)
    perms = ((1, 2, 3), (1, 3, 2), (2, 1, 3), (2, 3, 1), (3, 1, 2), (3, 2, 1))
    eighth = np.stack([eighth.transpose(0, *p) for p in perms]).mean(0)
    p = mirror.unfold(eighth, 3)
    for f in (0.1, 0.3, 0.301):
        cells = at_volume_fraction(p, f)
        vf = cells.reshape(3, -1).mean(1)
        assert is_cubic(cells).all()
        assert (vf >= f - 1e-12).all() and (vf <= f + 48 / 24 ** 3 + 1e-12).all()
        # the most probable voxels: every solid voxel at least as probable as every void one
        for c, q in zip(cells, p):
            assert q[c == 1].min() >= q[c == 0].max() - 1e-6
