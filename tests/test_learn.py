"""The shared training machinery: schedules, losses, metrics, the trainer (determinism, resume,
restart on change), model files, and the three models' shapes and exact symmetries."""
import json
import logging
import math

import h5py
import numpy as np
import pytest
import torch
from scipy import stats

from pipeline_lib.artifacts import ArtifactError
from pipeline_lib.learn import losses, metrics, store
from pipeline_lib.learn.run import Phase, fit, split_rows
from pipeline_lib.learn.schedules import beta
from pipeline_lib.learn.trainer import Trainer, TrainConfig


# ------------------------------------------------------------------------------------ schedules
def test_constant_and_linear_beta_schedules():
    assert beta({"kind": "constant", "value": 0.3}, 7.0, 10) == 0.3
    lin = {"kind": "linear", "value": 1.0, "epochs": 4, "delay": 2}
    assert [beta(lin, e, 10) for e in (0, 2, 3, 6, 9)] == [0.0, 0.0, 0.25, 1.0, 1.0]
    assert beta(lin, None, 10) == 1.0  # validation: the schedule's target


def test_cyclical_beta_rises_from_zero_to_value_in_every_cycle():
    cyc = {"kind": "cyclical", "value": 0.5, "cycles": 4, "ratio": 0.5}
    for c in range(4):
        start = c * 25
        assert beta(cyc, start, 100) == 0.0
        assert beta(cyc, start + 6.25, 100) == pytest.approx(0.25)
        assert beta(cyc, start + 12.5, 100) == pytest.approx(0.5)
        assert beta(cyc, start + 24, 100) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="unknown beta schedule"):
        beta({"kind": "exponential"}, 1, 10)


# ------------------------------------------------------------------------------------ losses
def test_kl_is_zero_at_the_prior_and_matches_the_closed_form():
    mu, lv = torch.zeros(3, 4), torch.zeros(3, 4)
    assert float(losses.kl_standard_normal(mu, lv)) == 0.0
    mu, lv = torch.tensor([[1.0, -2.0]]), torch.tensor([[math.log(0.25), 0.0]])
    want = 0.5 * (0.25 + 1 - 1 - math.log(0.25)) + 0.5 * 4
    assert float(losses.kl_standard_normal(mu, lv)) == pytest.approx(want)


def test_bernoulli_nll_is_the_summed_binary_cross_entropy():
    logits, x = torch.tensor([[0.3, -1.2, 2.0]]), torch.tensor([[1.0, 0.0, 0.0]])
    p = torch.sigmoid(logits)[0]
    want = -(math.log(p[0]) + math.log(1 - p[1]) + math.log(1 - p[2]))
    assert float(losses.bernoulli_nll(logits, x)) == pytest.approx(want, rel=1e-6)


def test_one_component_mixture_nll_is_the_gaussian_log_likelihood():
    y = torch.tensor([[0.3, -1.0]])
    mean, log_std = torch.tensor([[[0.1], [0.5]]]), torch.tensor([[[0.2], [-0.4]]])
    got = float(losses.gaussian_mixture_nll(y, torch.zeros(1, 2, 1), mean, log_std))
    want = -(stats.norm.logpdf(0.3, 0.1, math.exp(0.2)) + stats.norm.logpdf(-1.0, 0.5, math.exp(-0.4)))
    assert got == pytest.approx(want, rel=1e-6)


def test_mixture_moments_match_sampling():
    from pipeline_lib.voxel3d.model import mixture_moments

    logits = np.log(np.array([[[0.3, 0.7]]]))
    mean, log_std = np.array([[[-1.0, 2.0]]]), np.log(np.array([[[0.5, 1.0]]]))
    m, s = mixture_moments(logits, mean, log_std)
    rng = np.random.default_rng(0)
    k = rng.random(400_000) < 0.3
    draws = np.where(k, rng.normal(-1, 0.5, k.size), rng.normal(2, 1.0, k.size))
    assert m[0, 0] == pytest.approx(draws.mean(), abs=0.01)
    assert s[0, 0] == pytest.approx(draws.std(), abs=0.01)


# ------------------------------------------------------------------------------------ metrics
def test_metrics_on_known_cases():
    y = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 9.0]])
    assert np.allclose(metrics.r2(y, y), 1.0)
    assert np.allclose(metrics.r2(y, np.repeat(y.mean(0, keepdims=True), 3, 0)), 0.0)
    assert metrics.nrmse(y[:, :1], y[:, :1] + 0.5)[0] == pytest.approx(0.25)
    t = np.array([1, 1, 0, 0, 0, 0, 0, 0], bool)
    p = np.array([1, 0, 1, 0, 0, 0, 0, 0], bool)
    assert metrics.f1(t, p) == pytest.approx(0.5)
    assert metrics.binary_accuracy(t, p) == pytest.approx(0.75)


def test_split_rows_partition_the_database_and_reject_bad_fractions():
    rows = split_rows(101, [0.8, 0.1, 0.1], 3)
    allrows = np.concatenate(list(rows.values()))
    assert sorted(allrows) == list(range(101))
    again = split_rows(101, [0.8, 0.1, 0.1], 3)
    assert all(np.array_equal(rows[k], again[k]) for k in rows)
    assert [len(rows[k]) for k in ("train", "val", "test")] == [81, 10, 10]
    with pytest.raises(ValueError, match="summing to 1"):
        split_rows(10, [0.8, 0.3, 0.1], 0)
    with pytest.raises(ValueError, match="too small"):
        split_rows(2, [0.4, 0.3, 0.3], 0)


# ------------------------------------------------------------------------------------ trainer
class Tiny(torch.nn.Module):
    """A linear regression with a noisy 'latent', so that the RNG state matters."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 1)

    def loss(self, batch, epoch):
        x, y = batch
        noise = 0.01 * torch.randn_like(y)
        err = ((self.lin(x) + noise - y) ** 2).mean()
        return err, {"mse": err.detach()}


def _data(n=64):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, generator=g)
    return [x, x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3]


def _fit(state, epochs=6, stop_at=None, run_id="run"):
    torch.manual_seed(123)
    model = Tiny()
    data = _data()

    def kill(epoch, record):
        if stop_at is not None and epoch == stop_at:
            raise KeyboardInterrupt

    trainer = Trainer(model, [t[:48] for t in data], [t[48:] for t in data],
                      TrainConfig(epochs=epochs, batch_size=8, lr=0.05, seed=5), state, run_id, on_epoch=kill)
    hist = trainer.fit()
    return model, hist


def test_training_is_deterministic_on_cpu(tmp_path):
    a, ha = _fit(tmp_path / "a.h5")
    b, hb = _fit(tmp_path / "b.h5")
    assert torch.equal(a.lin.weight, b.lin.weight)
    assert [e["val_loss"] for e in ha.epochs] == [e["val_loss"] for e in hb.epochs]
    assert ha.epochs[-1]["val_loss"] < 0.5 * ha.epochs[0]["val_loss"]  # and it learns


def test_a_killed_training_resumes_where_it_stopped_and_ends_where_an_unbroken_one_does(tmp_path):
    ref, href = _fit(tmp_path / "ref.h5")
    state = tmp_path / "state.h5"
    with pytest.raises(KeyboardInterrupt):
        _fit(state, stop_at=3)
    with h5py.File(state) as h5:  # the checkpoint of epoch 2 (the kill came before epoch 3's)
        assert len(json.loads(h5.attrs["history"])["epochs"]) == 2
    got, hist = _fit(state)
    assert len(hist.epochs) == 6
    assert torch.equal(got.lin.weight, ref.lin.weight)
    assert [e["val_loss"] for e in hist.epochs] == [e["val_loss"] for e in href.epochs]
    assert not list(tmp_path.glob("*.tmp"))


def test_a_changed_run_or_a_damaged_checkpoint_starts_over(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    state = tmp_path / "state.h5"
    _fit(state, epochs=2)
    _, hist = _fit(state, epochs=4, run_id="other")
    assert len(hist.epochs) == 4 and "another run" in caplog.text
    state.write_bytes(state.read_bytes()[:200])
    _, hist = _fit(state, epochs=3, run_id="other")
    assert len(hist.epochs) == 3 and "could not resume" in caplog.text


def test_early_stopping_keeps_the_best_weights(tmp_path):
    torch.manual_seed(0)
    model = Tiny()
    data = _data()
    # a validation set the model cannot fit: validation loss stops improving quickly
    val = [data[0][48:], -data[1][48:]]
    cfg = TrainConfig(epochs=40, batch_size=8, lr=0.05, patience=3, seed=1)
    hist = Trainer(model, [t[:48] for t in data], val, cfg, tmp_path / "s.h5", "r").fit()
    assert hist.stopped_early and len(hist.epochs) < 40
    assert len(hist.epochs) - hist.best_epoch == 3


def test_phases_start_from_the_previous_phase_weights(tmp_path):
    model = Tiny()
    data = _data()
    seen = []
    phases = [Phase("a", {"epochs": 2, "batch_size": 8, "lr": 0.05}),
              Phase("b", {"epochs": 1, "batch_size": 8, "lr": 1e-9},
                    setup=lambda m: seen.append(m.lin.weight.detach().clone()))]
    rows = {"train": np.arange(48), "val": np.arange(48, 64), "test": np.arange(0)}
    records = fit(model, data, rows, phases, tmp_path, ["id"])
    assert [r["phase"] for r in records] == ["a", "a", "b"]
    assert torch.allclose(seen[0], model.lin.weight, atol=1e-6)  # phase b barely moved them
    assert (tmp_path / "train_state_1_a.h5").exists() and (tmp_path / "train_state_2_b.h5").exists()


# ------------------------------------------------------------------------------------ model files
def test_a_saved_model_reloads_to_the_same_outputs_and_a_damaged_one_is_named(tmp_path):
    from pipeline_lib.pixel2d import learning as L

    net = L.build({"latent": 3, "channels": [4, 4, 8], "hidden": 8, "regressor": [8], "side": 6})
    rows = {"train": np.arange(5), "val": np.arange(5, 7), "test": np.arange(7, 9)}
    path = store.save_model(tmp_path / "model.h5", "pixel2d", net, rows=rows, config={"a": 1}, seed=4,
                            history=[], metrics={"r2": {"C11": 0.5}}, model_config=net.config_dict())
    back, art = store.load_model(path, "pixel2d", L.build)
    cells = (np.random.default_rng(0).random((4, 12, 12)) > 0.5).astype(np.uint8)
    assert np.array_equal(L.encode(net, cells)[0], L.encode(back, cells)[0])
    assert art.stats["r2"]["C11"] == 0.5 and np.array_equal(art["test_rows"], [7, 8])
    with h5py.File(path, "a") as h5:
        del h5["weights/regressor.0.weight"]
    with pytest.raises(ArtifactError, match="model.h5.*weights do not fit"):
        store.load_model(path, "pixel2d", L.build)


def test_a_model_built_from_a_seed_starts_from_the_same_weights_and_leaves_torch_random_alone():
    from pipeline_lib.learn.run import build_model
    from pipeline_lib.truss3d.learning import build

    torch.manual_seed(123)
    a = build_model(build, {"topology": 2, "shared": 2, "geometry": 2}, seed=7)
    after = torch.rand(1)
    torch.manual_seed(999)
    b = build_model(build, {"topology": 2, "shared": 2, "geometry": 2}, seed=7)
    c = build_model(build, {"topology": 2, "shared": 2, "geometry": 2}, seed=8)
    for (k, x), y, z in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        assert torch.equal(x, y), k
    assert any(not torch.equal(x, z) for x, z in zip(a.state_dict().values(), c.state_dict().values()))
    torch.manual_seed(123)
    assert torch.equal(torch.rand(1), after)  # building drew nothing from the caller's stream
