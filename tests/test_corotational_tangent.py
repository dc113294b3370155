"""The closed-form corotational tangent (analytic_tangent) against the autograd one (Beams.tangent)."""
import numpy as np
import pytest
import torch

from pipeline_lib.fem import corotational_jit
from pipeline_lib.fem.corotational import Beams, analytic_tangent, so3_exp

T64 = torch.float64
THEORIES = ["timoshenko", "euler-bernoulli"]


def _random_rotations(m, max_angle, gen):
    v = torch.randn(m, 3, dtype=T64, generator=gen)
    v = v / v.norm(dim=-1, keepdim=True) * max_angle * torch.rand(m, 1, dtype=T64, generator=gen)
    return so3_exp(v)


def _beams(theory, m=40, seed=0):
    gen = torch.Generator().manual_seed(seed)
    D0 = torch.randn(m, 3, dtype=T64, generator=gen)
    D0 = D0 * ((0.5 + 1.5 * torch.rand(m, 1, dtype=T64, generator=gen)) / D0.norm(dim=-1, keepdim=True))
    r = 0.05 + 0.15 * torch.rand(m, dtype=T64, generator=gen)
    return Beams(D0, r, 1.0, 0.3, theory), gen


def _state(beams, gen, kind):
    """Chords and end rotations: 'large' = rotated and stretched chords (factor 0.8-1.1) with noise and
    end rotations up to 1.5 rad; 'small' = local rotations small enough for the series branches."""
    D0, m = beams.D0, beams.D0.shape[0]
    L = beams.L0[:, None]
    if kind == "large":
        R = _random_rotations(1, 1.5, gen)[0]
        s = 0.8 + 0.3 * torch.rand(m, 1, dtype=T64, generator=gen)
        d = s * D0 @ R.T + 0.05 * L * torch.randn(m, 3, dtype=T64, generator=gen)
        return d, _random_rotations(m, 1.5, gen), _random_rotations(m, 1.5, gen)
    d = D0 * (1 + 1e-3 * torch.randn(m, 1, dtype=T64, generator=gen)) + 1e-3 * L * torch.randn(m, 3, dtype=T64, generator=gen)
    return d, _random_rotations(m, 0.1, gen), _random_rotations(m, 0.1, gen)


def _max_rel(a, ref):
    scale = ref.flatten(1).abs().amax(-1)
    return ((a - ref).flatten(1).abs().amax(-1) / scale).max().item()


@pytest.mark.parametrize("theory", THEORIES)
@pytest.mark.parametrize("kind", ["large", "small"])
def test_analytic_gradient_and_hessian_equal_autograd_in_deformed_states(theory, kind):
    for seed in range(3):
        beams, gen = _beams(theory, seed=seed)
        d, Ra, Rb = _state(beams, gen, kind)
        g0, H0 = beams.tangent(d, Ra, Rb)
        g1, H1 = analytic_tangent(beams, d, Ra, Rb)
        assert g1.shape == (40, 9) and H1.shape == (40, 9, 9) and H1.dtype == T64
        assert _max_rel(g1, g0) < 1e-9
        assert _max_rel(H1, H0) < 1e-9


@pytest.mark.parametrize("theory", THEORIES)
def test_analytic_tangent_at_rest_is_autograd_with_zero_gradient(theory):
    beams, _ = _beams(theory, seed=5)
    eye = torch.eye(3, dtype=T64).expand(40, 3, 3)
    g0, H0 = beams.tangent(beams.D0, eye, eye)
    g1, H1 = beams.tangent_analytic(beams.D0, eye, eye)
    assert _max_rel(H1, H0) < 1e-9
    scale = (H0.flatten(1).abs().amax(-1) * beams.L0)[:, None]
    assert (g1.abs() / scale).max() < 1e-13


@pytest.mark.parametrize("theory", THEORIES)
def test_analytic_hessian_is_symmetric_under_large_rotations(theory):
    beams, gen = _beams(theory, seed=7)
    d, Ra, Rb = _state(beams, gen, "large")
    _, H = analytic_tangent(beams, d, Ra, Rb)
    assert _max_rel(H.mT, H) < 1e-12


@pytest.mark.parametrize("theory", THEORIES)
@pytest.mark.parametrize("kind", ["large", "small"])
def test_the_numpy_path_gives_the_torch_path_and_the_energy_of_the_reference(theory, kind):
    """The solver calls analytic_tangent on numpy arrays (and for its line-search energies): the same
    expressions as the torch path, and the energy of the autograd reference's _energy."""
    beams, gen = _beams(theory, seed=3)
    d, Ra, Rb = _state(beams, gen, kind)
    g, H = analytic_tangent(beams, d, Ra, Rb)
    gn, Hn = analytic_tangent(beams, d.numpy(), Ra.numpy(), Rb.numpy())
    assert _max_rel(torch.as_tensor(gn), g) < 1e-13 and _max_rel(torch.as_tensor(Hn), H) < 1e-13
    e = analytic_tangent(beams, d.numpy(), Ra.numpy(), Rb.numpy(), energy_only=True)
    ref = beams.energy(d, Ra, Rb).numpy()
    assert abs(e - ref).max() <= 1e-13 * abs(ref).max()


@pytest.mark.skipif(not corotational_jit.available(), reason="numba not installed")
@pytest.mark.parametrize("theory", THEORIES)
@pytest.mark.parametrize("kind", ["large", "small"])
def test_the_compiled_kernel_gives_the_numpy_expressions(theory, kind):
    """The solver's compiled element (numba) is the numpy closed form beam by beam: energy, gradient
    and Hessian to round-off, the series branches ('small') included."""
    beams, gen = _beams(theory, m=60, seed=11)
    d, Ra, Rb = (t.numpy() for t in _state(beams, gen, kind))
    g, H = analytic_tangent(beams, d, Ra, Rb, compiled=False)
    gc, Hc = analytic_tangent(beams, d, Ra, Rb, compiled=True)
    assert _max_rel(torch.as_tensor(gc), torch.as_tensor(g)) < 1e-13
    assert _max_rel(torch.as_tensor(Hc), torch.as_tensor(H)) < 1e-13
    gg = analytic_tangent(beams, d, Ra, Rb, gradient_only=True, compiled=True)
    assert np.array_equal(gg, gc)
    e = analytic_tangent(beams, d, Ra, Rb, energy_only=True, compiled=False)
    ec = analytic_tangent(beams, d, Ra, Rb, energy_only=True, compiled=True)
    assert abs(ec - e).max() <= 1e-13 * abs(e).max()


@pytest.mark.skipif(not corotational_jit.available(), reason="numba not installed")
def test_the_compiled_rotation_update_is_so3_exp():
    gen = torch.Generator().manual_seed(2)
    phi = torch.cat([torch.randn(20, 3, dtype=T64, generator=gen), 1e-5 * torch.randn(20, 3, dtype=T64, generator=gen)])
    R = _random_rotations(40, 2.0, gen)
    ref = (so3_exp(phi) @ R).numpy()
    assert abs(corotational_jit.rotate(phi.numpy(), R.numpy()) - ref).max() < 1e-14
