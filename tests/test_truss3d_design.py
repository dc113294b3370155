"""truss3d gradient inverse design: objectives against closed forms, the gradient through decode ->
re-encode -> predict against finite differences, the latent search on known optima, the FE
refinement and the screening of what is reported."""
import numpy as np
import pytest
import torch

from pipeline_lib import chain as chains
from pipeline_lib import elasticity as el
from pipeline_lib.objectives import QUANTITIES, of_rows, parse
from pipeline_lib.optim.latent import SearchParams, search
from pipeline_lib.truss3d import homogenize
from pipeline_lib.truss3d import learning as L
from pipeline_lib.truss3d.design import _Designs, _evaluator, _search_loss
from pipeline_lib.truss3d.frame import database_problems
from pipeline_lib.truss3d.generation import ELEMENTARY
from pipeline_lib.truss3d.model import LatticeVAE, ModelConfig, serialize
from pipeline_lib.truss3d.refine import RefineParams, refine

Z = np.zeros((27, 3))


def _orthotropic(seed=0):
    """A random positive-definite orthotropic C (the predictor's kind of output)."""
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((3, 3))
    C = np.zeros((6, 6))
    C[:3, :3] = B @ B.T + 0.5 * np.eye(3)
    C[3:, 3:] = np.diag(rng.uniform(0.2, 1.0, 3))
    return C


def test_objectives_give_the_isotropic_closed_forms():
    E, nu = 2.0, 0.3
    C = el.isotropic(E, nu)
    assert parse("max_E22").value(C) == pytest.approx(E)
    assert parse("min_nu21").value(C) == pytest.approx(nu)
    assert parse("max_KV_GV").value(C) == pytest.approx(2 * (1 + nu) / (3 * (1 - 2 * nu)))


def test_nu21_is_minus_s12_over_s22_and_e22_the_inverse_of_s22():
    C = _orthotropic(1)
    S = np.linalg.inv(C)
    assert QUANTITIES["nu21"](C) == pytest.approx(-S[1, 0] / S[1, 1])
    assert QUANTITIES["E22"](C) == pytest.approx(1 / S[1, 1])


def test_objectives_on_torch_match_numpy_and_differentiate_correctly():
    C = _orthotropic(2)
    c9 = torch.tensor(el.orthotropic_components(C), dtype=torch.float64, requires_grad=True)
    for name in ("max_E22", "min_nu21", "max_KV_GV", "min_A_U"):
        obj = parse(name)
        v = obj.value(el.from_orthotropic(c9))
        assert float(v.detach()) == pytest.approx(float(obj.value(C)), rel=1e-12)
        (g,) = torch.autograd.grad(v, c9)
        h = 1e-6
        fd = [(obj.value(el.from_orthotropic(el.orthotropic_components(C) + h * e))
               - obj.value(el.from_orthotropic(el.orthotropic_components(C) - h * e))) / (2 * h) for e in np.eye(9)]
        np.testing.assert_allclose(g.numpy(), fd, rtol=1e-5, atol=1e-8)


def test_an_unknown_target_names_the_known_quantities():
    with pytest.raises(ValueError, match="max_<quantity>.*KV_GV"):
        parse("max_stiffness")
    with pytest.raises(ValueError):
        parse("E22")


def test_of_rows_gives_nan_for_invalid_rows():
    C = np.stack([el.isotropic(1.0, 0.3), np.full((6, 6), np.nan)])
    v = of_rows("E22", C)
    assert v[0] == pytest.approx(1.0) and np.isnan(v[1])


def _small_model(seed=0) -> LatticeVAE:
    torch.manual_seed(seed)
    m = LatticeVAE(ModelConfig(topology=2, shared=2, geometry=2, adjacency_hidden=(16,), offset_hidden=(8,),
                               predictor_hidden=(16,))).double()
    # predictions near an isotropic C (positive definite), varying with z
    m.y_mean.data = torch.as_tensor(el.orthotropic_components(el.isotropic(1.0, 0.3)))
    m.y_std.data = torch.full((9,), 0.02, dtype=torch.float64)
    return m.eval()


def test_gradient_through_decode_reencode_predict_matches_finite_differences():
    m = _small_model()
    for q in m.parameters():
        q.requires_grad_(False)
    obj = parse("max_E22")
    loss = _search_loss(m, obj, "soft")
    z = torch.randn(3, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    zz = z.clone().requires_grad_(True)
    value, _ = loss(zz)
    assert (value < 1e5).all(), "the test point must be away from the barrier"
    (g,) = torch.autograd.grad(value.sum(), zz)
    h = 1e-6
    fd = np.zeros((3, 6))
    for k in range(6):
        e = torch.zeros(6, dtype=torch.float64)
        e[k] = h
        fd[:, k] = ((loss(z + e)[0] - loss(z - e)[0]) / (2 * h)).numpy()
    np.testing.assert_allclose(g.numpy(), fd, rtol=1e-5, atol=1e-9)


def test_straight_through_scores_exactly_the_lattice_decode_makes():
    m = _small_model(3).float()
    z = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    a, x = L.relaxed_lattice(m, torch.as_tensor(z))
    A, X = L.decode(m, z, clean=False)
    a_ref, x_ref = serialize(A, X)
    np.testing.assert_array_equal(a.detach().numpy(), a_ref)
    np.testing.assert_allclose(x.detach().numpy(), x_ref, atol=1e-7)
    zz = torch.as_tensor(z).requires_grad_(True)
    L.predict_tensor(m, L.reencode(m, zz)).sum().backward()
    assert torch.isfinite(zz.grad).all() and (zz.grad.abs().sum(1) > 0).all()  # the gradient passes the threshold


def test_the_latent_search_reaches_a_known_optimum_through_the_objective():
    # a toy "predictor": isotropic C with E(z) = 2 - |z - z*|^2; max_E22 is at z*, E = 2
    target = torch.tensor([0.5, -1.0, 2.0])
    obj = parse("max_E22")

    def loss(z):
        E = 2.0 - ((z - target) ** 2).sum(1)
        lam, mu = E * 0.3 / (1.3 * 0.4), E / 2.6
        c9 = torch.stack([lam + 2 * mu, lam, lam, lam + 2 * mu, lam, lam + 2 * mu, mu, mu, mu], 1)
        return obj.loss(el.from_orthotropic(c9.double()))

    z0 = np.random.default_rng(0).uniform(-1, 1, (6, 3))
    res = search(z0, loss, SearchParams(steps=2000, lr=0.05, patience=50, tol=1e-9))
    np.testing.assert_allclose(res.z, np.tile(target.numpy(), (6, 1)), atol=2e-3)
    assert np.allclose(-res.loss, 2.0, atol=1e-5)
    # each run keeps its best point, whatever it did after it
    assert (res.loss <= res.history[:, 0]).all()
    assert (res.steps < 2000).all()  # early stop on no improvement


def test_search_keeps_the_best_point_of_a_run_that_gets_worse():
    # loss decreases for 5 steps along +z, then rises: Adam keeps going, the best is at z ~ 1
    res = search(np.zeros((1, 1)), lambda z: (z[:, 0] - 1.0).abs() - 0.0 * z[:, 0],
                 SearchParams(steps=200, lr=0.3, patience=20))
    assert abs(res.z[0, 0] - 1.0) <= 0.3 and res.loss[0] == pytest.approx(abs(res.z[0, 0] - 1.0), abs=1e-6)
    assert np.nanmin(res.history) == pytest.approx(res.loss[0], abs=1e-6)


@pytest.fixture(scope="module")
def truss():
    return chains.get("truss3d")


def test_refinement_improves_by_fe_and_returns_a_valid_lattice(truss):
    obj = parse("max_E22")
    evaluate = _evaluator(truss, obj)
    A = ELEMENTARY["bcc"].astype(bool)
    out = refine(A, Z, evaluate, RefineParams(rounds=4, offset_steps=2))
    assert out.loss < out.trace[0][1]  # better than the start
    assert [v for _, v in out.trace] == sorted([v for _, v in out.trace], reverse=True)  # never worse
    assert not database_problems(out.adjacency, out.offsets)
    C = homogenize(out.adjacency, out.offsets, relative_density=truss.config["relative_density"])
    assert obj.value(C) == pytest.approx(-out.loss, rel=1e-10)
    assert out.evaluations > 10


def test_refinement_leaves_an_invalid_start_alone(truss):
    A = np.eye(27, dtype=bool)
    A[0, 1] = A[1, 0] = True  # one beam: touches too few faces
    out = refine(A, Z, _evaluator(truss, parse("max_E22")), RefineParams(rounds=3))
    assert np.isinf(out.loss) and (out.adjacency == A).all() and out.trace == [("start", np.inf)]


def test_a_lattice_that_fails_screening_is_never_the_reported_design(truss):
    obj = parse("max_E22")
    designs = _Designs(truss, obj, 3, 2)
    good = ELEMENTARY["sc"].astype(bool)
    dangling = good.copy()
    dangling[13, 12] = dangling[12, 13] = True  # the body node hangs on one beam
    assert database_problems(dangling, Z)
    broken = np.eye(27, dtype=bool)  # no beams at all
    A = np.stack([dangling, good, broken])
    designs.offer(np.arange(3), A, np.zeros((3, 27, 3)), np.zeros((3, 2)), 0)
    assert designs.valid.tolist() == [False, True, False]
    assert np.isnan(designs.value[[0, 2]]).all() and np.isnan(designs.C9[[0, 2]]).all()
    assert int(np.argmax(designs.score())) == 1
    # a later step replaces a row only with a valid, better design
    designs.offer([1], dangling[None], Z[None], np.zeros((1, 2)), 1)
    assert designs.valid[1] and designs.stage[1] == 0
    C = homogenize(good, Z, relative_density=truss.config["relative_density"])
    np.testing.assert_allclose(designs.C9[1], el.orthotropic_components(C), rtol=1e-12)


def test_a_design_run_stores_only_fe_verified_values_beside_its_baselines(truss):
    from pipeline_lib.config import build
    from pipeline_lib.truss3d.design import DesignParams, run

    names = ["sc", "bcc", "octet", "sc"]
    A = np.stack([ELEMENTARY[n].astype(bool) for n in names])
    X = np.zeros((len(A), 27, 3))
    X[3, 13] = [0.1, -0.2, 0.05]  # the body node moves (sc does not use it: offsets stay zero)
    C9 = el.orthotropic_components(homogenize(A, np.zeros_like(X), relative_density=0.15))
    db = {"adjacency": A, "offsets": np.zeros_like(X), "C9": C9, "radius": np.full(len(A), 0.05)}
    ch = chains.get("truss3d")
    ch.model = _small_model(5).float()
    p = build(DesignParams, {"starts": 3, "search": {"steps": 5, "patience": 3}, "restarts": {"designs": 1, "copies": 1},
                             "refine": {"designs": 1, "rounds": 1, "offset_steps": 1, "topology": False}})
    obj = parse("max_E22")
    out = run(ch, db, np.random.default_rng(0).standard_normal((len(A), 6)), obj, p, seed=0)
    a, rep = out["arrays"], out["report"]
    v = a["valid"]
    assert np.isnan(a["C_fe"][~v]).all() and np.isnan(a["objective_fe"][~v]).all()
    for r in np.flatnonzero(v):
        C = homogenize(a["adjacency"][r].astype(bool), a["offsets"][r], relative_density=0.15)
        np.testing.assert_allclose(a["C_fe"][r], C, rtol=1e-10, atol=1e-14)
        assert not database_problems(a["adjacency"][r].astype(bool), a["offsets"][r])
    # the Voigt bound of the beam model: no directional modulus above rho E_s
    E = el.engineering_constants(a["C_fe"][v])
    assert max(E["E1"].max(), E["E2"].max(), E["E3"].max()) <= 0.15 + 1e-12
    assert rep["database_extreme"] == pytest.approx(obj.values(el.from_orthotropic(C9)).max())
    assert out["best"] == -1 or (v[out["best"]] and a["objective_fe"][out["best"]] == np.nanmax(a["objective_fe"]))
    # the control starts from the database's best and never gets worse
    assert (a["control/objective_fe"] >= a["control/start_objective_fe"] - 1e-12).all()
    assert a["path/objective"].shape[0] == 3 and np.isfinite(a["objective_pred"]).all()
