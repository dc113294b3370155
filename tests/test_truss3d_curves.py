"""The stress-strain curve predictor and the choice of curve design targets: the NRMSE convention,
the fit against a known map, fine-tuning never worse than the frozen head on validation, the
targets' rules, and the FE verifier solving each distinct lattice once."""
import numpy as np
import pytest
import torch

from pipeline_lib.truss3d import curve_design as CD
from pipeline_lib.truss3d import curves as CV
from pipeline_lib.truss3d.generation import ELEMENTARY
from pipeline_lib.truss3d.model import LatticeVAE, ModelConfig

EPS = 0.25 * (np.arange(13) + 0.25) / 12.5


def test_nrmse_is_the_rmse_over_the_range_of_the_true_curve():
    true = np.array([0.0, 1.0, 3.0, 2.0])
    pred = true + np.array([0.5, -0.5, 0.5, -0.5])
    assert CV.nrmse(true, pred) == pytest.approx(0.5 / 3.0)
    assert CV.nrmse(2 * true, 2 * pred) == pytest.approx(0.5 / 3.0)  # scale-free
    t = torch.tensor(np.stack([true, 2 * true]))
    p = torch.tensor(np.stack([pred, true]))
    np.testing.assert_allclose(CV.nrmse_tensor(t, p).numpy(), [0.5 / 3.0, np.sqrt(np.mean(true ** 2)) / 6.0])


def _toy(n=160, seed=0):
    """Lattice tensors, and curves that are a smooth function of the encoder's latent mean: what a
    head on the frozen encoder can learn exactly."""
    torch.manual_seed(seed)
    vae = LatticeVAE(ModelConfig(topology=2, shared=2, geometry=2, adjacency_hidden=(32,), offset_hidden=(16,),
                                 predictor_hidden=(16,)))
    rng = np.random.default_rng(seed)
    a = torch.as_tensor((rng.random((n, 378)) < 0.1).astype(np.float32))
    x = torch.as_tensor(rng.uniform(-0.5, 0.5, (n, 27)).astype(np.float32))
    with torch.no_grad():
        mu = vae.encode(a, x)[0].numpy().astype(np.float64)
    mu = (mu - mu.mean(0)) / mu.std(0)
    stiff = np.exp(0.3 * mu[:, 0])[:, None]
    peak = 0.12 + 0.04 * np.tanh(mu[:, 1])[:, None]
    curves = stiff * EPS * np.exp(-(EPS / peak) ** 2 / 2)  # rises, peaks, softens
    idx = rng.permutation(n)
    rows = {"train": idx[: int(0.7 * n)], "validation": idx[int(0.7 * n): int(0.85 * n)], "test": idx[int(0.85 * n):]}
    return vae, a, x, curves, rows


def test_the_head_learns_a_smooth_map_of_the_latent_mean_and_finetuning_never_loses_on_validation():
    vae, a, x, curves, rows = _toy()
    p = CV.PredictorParams(hidden=(32, 32), epochs=600, lr=1e-2, finetune_epochs=50)
    kept, m, preds = CV.fit(vae, a, x, curves, rows, p, seed=1)
    assert m["nrmse"]["frozen"]["test"]["mean"] < 0.03
    assert m["nrmse"]["finetune"]["validation"]["mean"] <= m["nrmse"]["frozen"]["validation"]["mean"] + 1e-9
    assert m["kept"] == kept.mode and kept.mode in ("frozen", "finetune")
    with torch.no_grad():
        np.testing.assert_allclose(kept(a, x).numpy(), preds[kept.mode], rtol=1e-5, atol=1e-9)
    # the VAE handed in is left as it was (the predictor fine-tunes a copy)
    assert all(not q.requires_grad or True for q in vae.parameters())
    fresh = LatticeVAE(vae.cfg)
    fresh.load_state_dict(vae.state_dict())
    with torch.no_grad():
        np.testing.assert_array_equal(fresh.encode(a, x)[0].numpy(), vae.encode(a, x)[0].numpy())


def test_a_saved_predictor_loads_to_the_same_curves(tmp_path):
    vae, a, x, curves, rows = _toy(n=60)
    kept, m, preds = CV.fit(vae, a, x, curves, rows, CV.PredictorParams(hidden=(16,), epochs=20, finetune_epochs=5), 0)
    n = len(curves)
    CV.save(tmp_path / "p.h5", kept, {"row": np.arange(n), "database_row": np.arange(n), "split": np.zeros(n, np.int8),
                                      "strain": EPS, "curve_fe": curves, "curve_pred": preds[kept.mode],
                                      "nrmse": CV.nrmse(curves, preds[kept.mode])}, config={}, seed=0, stats={},
            attrs={})
    back, art = CV.load(tmp_path / "p.h5")
    with torch.no_grad():
        np.testing.assert_allclose(back(a, x).numpy(), preds[kept.mode], rtol=1e-6, atol=1e-12)
    assert art.attrs["mode"] == kept.mode


def test_a_refit_learns_the_curves_it_got_wrong_and_leaves_the_predictor_it_started_from():
    from pipeline_lib.truss3d.learning import tensors

    vae, a, x, curves, rows = _toy()
    kept, _, preds = CV.fit(vae, a, x, curves, rows, CV.PredictorParams(hidden=(32, 32), epochs=300, lr=1e-2,
                                                                        finetune_epochs=20, mode="finetune"), seed=1)
    # lattices whose FE curves the predictor gets wrong (what a search finds), as stored lattices
    rng = np.random.default_rng(3)
    A = (rng.random((12, 27, 27)) < 0.1)
    A = np.triu(A, 1) | np.triu(A, 1).transpose(0, 2, 1)
    X = rng.uniform(-0.5, 0.5, (12, 27, 3))
    an, xn = tensors(kept.vae, A, X)
    with torch.no_grad():
        before = kept(an, xn).numpy().astype(np.float64)
    truth = 1.6 * before + 0.01 * EPS
    tr = rows["train"]
    old = CV.nrmse(truth, before).mean()
    new = CV.refit(kept, A, X, truth, epochs=200, lr=3e-3)
    with torch.no_grad():
        after = new(an, xn).numpy().astype(np.float64)
        np.testing.assert_array_equal(kept(an, xn).numpy(), before.astype(np.float32))
        np.testing.assert_allclose(kept(a[tr], x[tr]).numpy(), preds["finetune"][tr], rtol=1e-5, atol=1e-9)
    assert CV.nrmse(truth, after).mean() < 0.3 * old
    assert new.mode == "finetune" and not any(q.requires_grad for q in new.parameters())


def _curves():
    """Training curves that all harden, and held-out ones: one softening far from them all, one
    softening that a training curve matches, one that hardens."""
    k = np.linspace(0.5, 1.5, 20)[:, None]
    train = k * EPS * (1 + 2 * EPS)
    far = 0.6 * EPS * np.exp(-(EPS / 0.06) ** 2 / 2) * 8  # an early peak, then a large drop
    near = train[10] * (1 - 0.5 * (EPS > 0.2) * (EPS - 0.2))  # softens a little at the very end
    curves = np.vstack([train, far, near, 1.1 * train[3]])
    split = np.array([0] * 20 + [2, 2, 1], np.int8)
    return curves, split


def test_the_stiff_target_is_the_stiffest_training_curve_scaled():
    curves, split = _curves()
    t = CD.pick_target("stiff", curves, split, CD.CurveDesignParams())
    np.testing.assert_allclose(t["target"], 1.3 * curves[19])
    assert t["match_row"] == 19 and t["source_row"] == -1
    assert t["match_nrmse"] == pytest.approx(CV.nrmse(1.3 * curves[19], curves[19]))


def test_the_softening_target_is_a_held_out_curve_that_softens_and_no_training_curve_matches():
    curves, split = _curves()
    p = CD.CurveDesignParams()
    t = CD.pick_target("softening", curves, split, p)
    assert t["source_row"] == 20 and t["criteria_met"]
    errors = CV.nrmse(np.broadcast_to(curves[20], (20, 13)), curves[:20])
    assert t["match_nrmse"] == pytest.approx(errors.min()) and t["match_nrmse"] >= 0.09
    assert t["match_row"] == int(np.argmin(errors))
    # nothing held out meets both rules: said, and the most distant softening curve is taken
    p.softening.min_match_nrmse = 10.0
    t = CD.pick_target("softening", curves, split, p)
    assert not t["criteria_met"] and t["source_row"] == 20
    with pytest.raises(ValueError, match="unknown nonlinear design target"):
        CD.pick_target("wobbly", curves, split, p)


class _Screen:
    def screen(self, s):
        return np.ones(len(s["adjacency"]), bool)

    config = {"relative_density": 0.15, "density": "struts", "beam": "timoshenko", "material": {"E": 2.0, "nu": 0.3}}


def test_the_verifier_solves_each_distinct_lattice_once_and_in_units_of_E(monkeypatch):
    from pipeline_lib.truss3d import nonlinear

    calls = []
    real = nonlinear.compress_frames

    def counting(frames, radii, **kw):
        calls.append(len(frames))
        return real(frames, radii, **kw)

    monkeypatch.setattr(nonlinear, "compress_frames", counting)
    A = np.array([ELEMENTARY["sc"], ELEMENTARY["sc"], ELEMENTARY["bcc"]])
    X = np.zeros((3, 27, 3))
    settings = {"lateral": "strain", "strain": 0.02, "points": 3, "params": nonlinear.NonlinearParams(steps=6)}
    v = CD.Verifier(_Screen(), settings)
    out = v(A, X)
    assert calls == [2] and v.solved == 2 and out[0] is out[1]
    again = v(A[2:], X[2:])
    assert calls == [2] and again[0] is out[2]
    ref = nonlinear.compress(A[2], X[2], relative_density=0.15, strain=0.02, points=3)
    np.testing.assert_allclose(out[2]["curve"], 2.0 * ref, rtol=1e-6)  # other step sizes: Newton's tolerance
    # what the refit search trains on: each verified lattice once, with its curve
    VA, VX, VY = v.verified()
    assert len(VA) == 2
    bcc = [k for k in range(2) if np.array_equal(VA[k], A[2])]
    assert len(bcc) == 1 and np.array_equal(VA[1 - bcc[0]], A[0])
    np.testing.assert_array_equal(VY[bcc[0]], out[2]["curve"])
    assert len(v.verified(exclude=set(v.lattices))[0]) == 0
