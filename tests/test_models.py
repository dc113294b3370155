"""The three generative models: shapes, the symmetries they build in, decoding and its checks."""
import numpy as np
import pytest
import torch

from pipeline_lib.pixel2d import learning as P
from pipeline_lib.truss3d import learning as T
from pipeline_lib.truss3d.generation import ELEMENTARY
from pipeline_lib.truss3d.model import deserialize, serialize
from pipeline_lib.voxel3d import learning as V


def _pixel_model(side=25):
    return P.build({"latent": 4, "channels": [4, 8, 8], "hidden": 16, "regressor": [8], "side": side})


@pytest.mark.parametrize("cell_side", [50, 24, 10])
def test_pixel_vae_decodes_mirror_symmetric_cells_of_the_input_size(cell_side):
    m = _pixel_model(cell_side // 2)
    prob = P.decode_probabilities(m, np.random.default_rng(0).standard_normal((3, 4)))
    assert prob.shape == (3, cell_side, cell_side)
    assert np.array_equal(prob, prob[:, ::-1, :]) and np.array_equal(prob, prob[:, :, ::-1])
    mu, lv = P.encode(m, np.zeros((5, cell_side, cell_side), np.uint8))
    assert mu.shape == lv.shape == (5, 4)


def test_pixel_augmentation_transposes_cells_and_swaps_c11_with_c22():
    m = _pixel_model()
    m.cfg.augment = "none"
    assert m.augment([1, 2], None) == [1, 2]
    m.cfg.augment = "all"
    m.y_mean.copy_(torch.tensor([0.3, 0.1, 0.2, 0.05]))
    m.y_std.copy_(torch.tensor([0.1, 0.05, 0.1, 0.02]))
    x = torch.rand(64, 1, 25, 25)
    y_raw = torch.tensor([0.5, 0.1, 0.2, 0.07]).repeat(64, 1)
    y = (y_raw - m.y_mean) / m.y_std
    xa, ya = m.augment([x, y], torch.Generator().manual_seed(0))
    back = ya * m.y_std + m.y_mean
    for i in range(64):
        transposed = any(torch.equal(xa[i, 0], t) for t in
                         (x[i, 0].T, x[i, 0].T.flip(0), x[i, 0].T.flip(1), x[i, 0].T.flip(0).flip(1)))
        want = [0.2, 0.1, 0.5, 0.07] if transposed else [0.5, 0.1, 0.2, 0.07]
        assert torch.allclose(back[i], torch.tensor(want), atol=1e-6)
    m.cfg.augment = "transpose"  # transposes only, no shifts
    xa, _ = m.augment([x, y], torch.Generator().manual_seed(0))
    assert all(torch.equal(xa[i, 0], x[i, 0]) or torch.equal(xa[i, 0], x[i, 0].T) for i in range(64))


def test_pixel_decoding_thresholds_and_removes_isolated_pixels():
    prob = np.zeros((1, 8, 8))
    prob[0, 2:6, :] = 0.95  # a bar through the cell (connected when tiled in x)
    prob[0, 0, 0] = 0.99  # an isolated solid pixel
    prob[0, 3, 3] = 0.5  # below the paper's threshold: a hole
    cell = P.postprocess(prob, 0.9)[0]
    assert cell[0, 0] == 0 and cell[2, 0] == 1
    assert cell[3, 3] == 1  # a one-pixel hole is an isolated void pixel: filled
    bar = np.zeros((8, 8), np.uint8)
    bar[2:6, :] = 1
    assert not P.is_clean(bar)  # carries load in x only
    frame = bar.copy()
    frame[:, 2:6] = 1
    assert P.is_clean(frame)


def test_truss_serialization_round_trips_lattices():
    A = np.stack(list(ELEMENTARY.values()))
    X = np.zeros((len(A), 27, 3))
    a, x = serialize(A, X)
    assert a.shape == (len(A), 378) and x.shape == (len(A), 27)
    A2, X2 = deserialize(a, x)
    assert np.array_equal(A2, A | np.eye(27, dtype=bool))
    active = (A & ~np.eye(27, dtype=bool)).any(2)
    assert np.allclose(X2[active], X[active])
    assert all(T.tiles_connected(a_, x_) for a_, x_ in zip(A, X))


def test_truss_validity_rejects_disconnected_and_non_tiling_lattices():
    A = next(iter(ELEMENTARY.values()))
    X = np.zeros((27, 3))
    iu, ju = np.nonzero(np.triu(A, 1))
    one_edge = np.eye(27, dtype=bool)
    one_edge[iu[0], ju[0]] = one_edge[ju[0], iu[0]] = True
    assert not T.tiles_connected(one_edge, X)
    assert not T.tiles_connected(np.eye(27, dtype=bool), X)


def test_truss_decoding_drops_floating_members_and_keeps_connected_lattices_intact():
    lattices = np.stack(list(ELEMENTARY.values()))
    A = lattices[0] | np.eye(27, dtype=bool)
    X = np.random.default_rng(0).uniform(-0.2, 0.2, (27, 3))
    active = (A & ~np.eye(27, dtype=bool)).any(1)
    X[~active] = 0.0
    spare = np.flatnonzero(~active)[:2]
    assert len(spare) == 2, "the test needs two nodes the lattice does not use"
    broken = A.copy()
    broken[spare[0], spare[1]] = broken[spare[1], spare[0]] = True  # a floating strut
    X_broken = X.copy()
    X_broken[spare] = 0.1
    assert not T.tiles_connected(broken, X_broken)
    (A2,), (X2,) = T.drop_floating(broken[None], X_broken[None])
    assert np.array_equal(A2, A) and np.array_equal(X2, X * active[:, None])
    assert T.tiles_connected(A2, X2)
    # connected lattices pass through unchanged, and the inputs are not modified
    A3, X3 = T.drop_floating(lattices, np.zeros((len(lattices), 27, 3)))
    assert np.array_equal(A3, lattices) and broken[spare[0], spare[1]]


def test_truss_latent_merges_the_two_encoders_as_in_eq3():
    m = T.build({"topology": 2, "shared": 3, "geometry": 4, "adjacency_hidden": [8], "offset_hidden": [8],
                 "predictor_hidden": [8]})
    a, x = torch.rand(5, 378), torch.rand(5, 27) - 0.5
    muA, _ = m.enc_A(a).chunk(2, -1)
    mux, _ = m.enc_x(x).chunk(2, -1)
    mu, _ = m.encode(a, x)
    assert mu.shape == (5, 9)
    assert torch.allclose(mu[:, :2], muA[:, :2])
    assert torch.allclose(mu[:, 2:5], 0.5 * (muA[:, 2:] + mux[:, :3]))
    assert torch.allclose(mu[:, 5:], mux[:, 3:])
    logits, xr = m.decode(mu)
    assert logits.shape == (5, 378) and xr.abs().max() <= 0.5


def test_truss_log_properties_invert_exactly_and_keep_signs():
    m = T.build({"log_properties": True})
    C9 = np.array([[0.02, -0.001, 0.0, 0.01, 3e-4, 0.05, 1e-3, 2e-3, 5e-4]])
    T.set_normalization(m, np.repeat(C9, 2, 0) * [[1], [2]])
    t = T.targets(m, C9)
    assert np.all(np.sign(t) == np.sign(C9))
    assert np.allclose(T.from_targets(m, t), C9)


def _voxel_model():
    return V.build({"latent": 3, "channels": [4, 8], "hidden": [16], "mdn_hidden": [8], "side": 8, "components": 2})


def test_voxel_vae_decodes_cubic_symmetric_units_and_the_mdn_gives_positive_spread():
    m = _voxel_model()
    z = np.random.default_rng(1).standard_normal((2, 3))
    prob = V.decode_probabilities(m, z)
    assert prob.shape == (2, 16, 16, 16)
    for axis in (1, 2, 3):
        assert np.array_equal(prob, np.flip(prob, axis))
    for perm in ((0, 2, 1, 3), (0, 3, 2, 1), (0, 1, 3, 2), (0, 2, 3, 1)):
        assert np.allclose(prob, prob.transpose(perm), atol=1e-6)
    mean, std = V.predict(m, z)
    assert mean.shape == std.shape == (2, 3) and (std > 0).all()


def test_voxel_phases_switch_the_loss_terms():
    m = _voxel_model()
    batch = [torch.rand(4, 1, 8, 8, 8).round(), torch.randn(4, 3)]
    m.set_phase({"reconstruction": 1}, 5)
    _, logs = m.loss(batch, 0.0)
    assert "mdn" not in logs and logs["kl_weight"] == 0
    m.set_phase({"reconstruction": 1, "kl": {"kind": "linear", "value": 1, "epochs": 4}, "mdn": 2}, 4)
    _, logs = m.loss(batch, 1.0)
    assert logs["kl_weight"] == pytest.approx(0.25) and "mdn" in logs
    _, logs = m.loss(batch, None)  # validation: the schedule's target
    assert logs["kl_weight"] == 1.0


def test_voxel_augmentation_shifts_along_the_body_diagonal_and_keeps_the_properties():
    m = _voxel_model()
    x, y = torch.rand(16, 1, 8, 8, 8), torch.randn(16, 3)
    xa, ya = m.augment([x, y], torch.Generator().manual_seed(2))
    assert torch.equal(ya, y)
    flipped = [torch.equal(xa[i], x[i].flip((1, 2, 3))) for i in range(16)]
    assert all(f or torch.equal(xa[i], x[i]) for i, f in enumerate(flipped))
    assert 0 < sum(flipped) < 16
    # the shift of a full unit by half a period along the diagonal is the flip of its eighth
    unit = np.random.default_rng(0).random((16, 16, 16)) > 0.5
    unit = unit | unit[::-1] ; unit = unit | unit[:, ::-1] ; unit = unit | unit[:, :, ::-1]
    shifted = np.roll(unit, (8, 8, 8), axis=(0, 1, 2))
    assert np.array_equal(shifted[:8, :8, :8], unit[:8, :8, :8][::-1, ::-1, ::-1])


def test_down_selection_thins_only_the_positive_poisson_majority():
    nu = np.array([0.3] * 80 + [-0.2] * 20)
    rows = np.arange(100)
    kept = V.down_select(rows, nu, 0.6, np.random.default_rng(0))
    assert (nu[kept] < 0).sum() == 20 and (nu[kept] > 0).sum() == 48
    assert np.array_equal(V.down_select(rows, nu, 1.0, np.random.default_rng(0)), rows)


def test_truss_axis_relabeling_is_an_exact_symmetry_of_the_homogenized_stiffness():
    from pipeline_lib.elasticity import orthotropic_components
    from pipeline_lib.truss3d import generation as gen
    from pipeline_lib.truss3d import homogenize
    from pipeline_lib.truss3d.model import PERM_ADJ, PERM_OFF, PERM_PROP

    rng = np.random.default_rng(4)
    chain = gen.perturbation_chain(rng, gen.ELEMENTARY["octet"], np.zeros((27, 3)), gen.PerturbParams(iterations=6))
    A, X = chain[-1]
    a, x = serialize(A[None], X[None])
    A0, X0 = deserialize(a, x)  # offsets pass through float32 here
    C9 = orthotropic_components(homogenize(A0[0], X0[0], relative_density=0.1))
    assert len(np.unique(np.round(C9[:6], 6))) >= 4  # not so symmetric that the test is void
    for k in range(6):
        A2, X2 = deserialize(a[:, PERM_ADJ[k]], x[:, PERM_OFF[k]])
        assert T.tiles_connected(A2[0], X2[0])
        C9k = orthotropic_components(homogenize(A2[0], X2[0], relative_density=0.1))
        assert np.allclose(C9k, C9[PERM_PROP[k]], rtol=1e-8, atol=1e-12), k


def test_truss_augmentation_moves_properties_with_the_lattice():
    from pipeline_lib.truss3d.model import PERM_ADJ, PERM_PROP

    m = T.build({"adjacency_hidden": [8], "offset_hidden": [8], "predictor_hidden": [8]})
    m.y_mean.copy_(torch.linspace(0.1, 0.9, 9))
    m.y_std.copy_(torch.linspace(0.5, 1.5, 9))
    a, x, y = torch.rand(32, 378), torch.rand(32, 27) - 0.5, torch.randn(32, 9)
    a2, x2, y2 = m.augment([a, x, y], torch.Generator().manual_seed(0))
    raw, raw2 = y * m.y_std + m.y_mean, y2 * m.y_std + m.y_mean
    for i in range(32):
        k = next(k for k in range(6) if torch.equal(a2[i], a[i, PERM_ADJ[k]]))
        assert torch.allclose(raw2[i], raw[i, PERM_PROP[k]], atol=1e-5)
