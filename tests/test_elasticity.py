"""Derived elastic properties: engineering constants, Voigt/Reuss moduli, A^U, E(d)."""
import numpy as np
import pytest

from pipeline_lib import elasticity as el


def test_isotropic_stiffness_gives_back_its_constants():
    C = el.isotropic(3.0, 0.25)
    eng = el.engineering_constants(C)
    for k in ("E1", "E2", "E3"):
        assert eng[k] == pytest.approx(3.0)
    for k in ("G23", "G31", "G12"):
        assert eng[k] == pytest.approx(3.0 / 2.5)
    assert eng["nu12"] == pytest.approx(0.25) and eng["nu31"] == pytest.approx(0.25)
    KV, GV = el.voigt_moduli(C)
    KR, GR = el.reuss_moduli(C)
    assert KV == pytest.approx(3.0 / 1.5) == KR
    assert GV == pytest.approx(GR)
    assert el.universal_anisotropy(C) == pytest.approx(0.0, abs=1e-12)
    d, _ = el.sphere_directions(7, 9)
    np.testing.assert_allclose(el.directional_young(C, d), 3.0)


def test_cubic_directional_modulus_matches_the_closed_form():
    C = el.from_orthotropic([1.0, 0.4, 0.4, 1.0, 0.4, 1.0, 0.15, 0.15, 0.15])
    S = np.linalg.inv(C)
    d = np.array([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=float)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    J = S[0, 0] - S[0, 1] - S[3, 3] / 2
    expected = 1 / (S[0, 0] - 2 * J * ((d[:, 0] * d[:, 1]) ** 2 + (d[:, 1] * d[:, 2]) ** 2 + (d[:, 2] * d[:, 0]) ** 2))
    np.testing.assert_allclose(el.directional_young(C, d), expected, rtol=1e-12)
    assert el.universal_anisotropy(C) > 0


def test_voigt_bounds_reuss_for_any_stiffness():
    rng = np.random.default_rng(0)
    M = rng.standard_normal((50, 6, 6))
    C = M @ M.transpose(0, 2, 1) + 0.1 * np.eye(6)
    KV, GV = el.voigt_moduli(C)
    KR, GR = el.reuss_moduli(C)
    assert (KV >= KR - 1e-12).all() and (GV >= GR - 1e-12).all()
    assert (el.universal_anisotropy(C) >= -1e-12).all()
    np.testing.assert_allclose(el.from_orthotropic(el.orthotropic_components(el.isotropic(1, .3))),
                               el.isotropic(1, .3))
