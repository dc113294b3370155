"""Feasibility field of the stage-1 property cloud: signed distance on a grid, closing as inside rule."""
import h5py
import numpy as np
import pytest

from pipeline_lib.pixel2d.feasibility import FeasibilityField, build

# per-axis ranges as different as C11, C12, C22, C33: distances must be measured in scaled units
RANGES = np.array([1.0, 0.3, 0.8, 0.2])
CENTRE = np.array([2.0, -1.0, 0.0, 5.0])


def _ball_field(rng, m=40_000, res=24):
    """A 4-D ellipsoid that is a ball of radius 0.5 in scaled units: the 2d axis tips are included,
    so the span (the scale) is exactly 2 * RANGES."""
    d = RANGES.size
    u = rng.normal(size=(m, d))
    u *= rng.random((m, 1)) ** (1 / d) / np.linalg.norm(u, axis=1, keepdims=True)
    u = np.concatenate([u, np.eye(d), -np.eye(d)])
    return build(CENTRE + RANGES * u, res)


def _h(field):
    return (field.spacing / field.scale).max()


def _in_box(field, rng, n):
    lo, hi = field.bounds
    return lo + (hi - lo) * rng.random((n, lo.size))


def test_ball_cloud_gives_its_true_signed_distance_in_scaled_units(rng):
    f = _ball_field(rng)
    np.testing.assert_allclose(f.scale, 2 * RANGES)
    q = _in_box(f, rng, 5000)
    phi, _ = f(q)
    true = 0.5 - np.linalg.norm((q - CENTRE) / f.scale, axis=1)
    h = _h(f)
    assert np.abs(phi - true).max() < 1.5 * h
    # no systematic offset: a union of balls (dilation alone) would sit ~radius = 1.5 h outside
    assert abs((phi - true).mean()) < 0.5 * h
    far = np.abs(true) > 2 * h
    assert (np.sign(phi[far]) == np.sign(true[far])).all()
    assert (true > 2 * h).sum() > 100 and (true < -2 * h).sum() > 100  # both sides were probed


def test_ball_gradient_points_inward_with_unit_length_in_scaled_units(rng):
    f = _ball_field(rng)
    q = _in_box(f, rng, 5000)
    _, g = f(q)
    r = np.linalg.norm((q - CENTRE) / f.scale, axis=1)
    # away from the boundary and from the centre, where the distance has a ridge
    ok = (np.abs(0.5 - r) > 2 * _h(f)) & (r > 0.15)
    assert (np.einsum("nd,nd->n", g[ok], CENTRE - q[ok]) > 0).all()
    length = np.linalg.norm(g[ok] * f.scale, axis=1)  # d phi / d(P / scale)
    assert 0.9 < np.median(length) < 1.05
    assert np.percentile(length, 1) > 0.7


def _annulus_and_l(rng, n=20_000):
    rho = np.sqrt(rng.uniform(0.3**2, 0.5**2, n))
    t = rng.uniform(0, 2 * np.pi, n)
    tips = np.array([[0.5, 0.0], [-0.5, 0.0], [0.0, 0.5], [0.0, -0.5]])
    annulus = np.r_[tips, np.c_[rho * np.cos(t), rho * np.sin(t)]]
    square = np.r_[[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], rng.random((2 * n, 2))]
    ell = square[(square[:, 0] < 0.5) | (square[:, 1] < 0.5)]
    return annulus, ell  # both with a span (scale) of exactly 1 on each axis


def test_l_shaped_cloud_keeps_its_notch_outside_even_within_the_convex_hull(rng):
    _, ell = _annulus_and_l(rng)
    f = build(ell, 41)
    h = _h(f)
    notch = 0.5 + 0.5 * rng.random((2000, 2))
    depth = (notch - 0.5).min(1)  # distance to the L from inside the notch (span is 1)
    notch, depth = notch[depth > 2 * h], depth[depth > 2 * h]
    phi, _ = f(notch)
    assert (phi < 0).all()
    assert np.abs(phi + depth).max() < 1.5 * h
    hull = notch.sum(1) < 1.5  # inside the L's convex hull, so a convex rule would call it feasible
    assert hull.sum() > 50 and (phi[hull] < 0).all()
    phi_arm, _ = f(np.array([[0.25, 0.75], [0.75, 0.25], [0.25, 0.25]]))
    np.testing.assert_allclose(phi_arm, 0.25, atol=1.5 * h)


def test_annulus_hole_much_wider_than_the_closing_ball_is_not_filled(rng):
    annulus, _ = _annulus_and_l(rng)
    f = build(annulus, 41)
    h = _h(f)
    r = 0.3 * rng.random(2000)
    t = rng.uniform(0, 2 * np.pi, 2000)
    hole = np.c_[r * np.cos(t), r * np.sin(t)]
    true = r - 0.3
    phi, _ = f(hole)
    deep = true < -2 * h
    assert (phi[deep] < 0).all()
    assert np.abs(phi - true).max() < 1.5 * h
    band, _ = f(np.array([[0.4, 0.0], [0.0, -0.4], [-0.28, 0.28]]))
    assert (band > 0).all()


@pytest.mark.parametrize("radius, bridged", [(1.5, False), (2.5, True)])
def test_closing_bridges_gaps_narrower_than_twice_the_radius_only(rng, radius, bridged):
    # 1-D, res 41 over [-0.1, 1.1]: nodes every 0.03; the gap (0.45, 0.55) empties the nodes at
    # 0.47, 0.50, 0.53, so the occupied nodes around it are 4 spacings apart
    x = rng.random(5000)
    x = np.r_[0.0, 1.0, x[(x < 0.45) | (x > 0.55)]][:, None]
    f = build(x, 41, radius=radius)
    phi, _ = f(np.array([[0.5], [0.2], [0.8]]))
    assert (phi[1:] > 0).all()
    assert (phi[0] > 0) == bridged


def test_interpolation_reproduces_a_multilinear_field_and_its_gradient_exactly(rng):
    lower, spacing, shape = np.array([-1.0, 2.0, 0.5]), np.array([0.1, 0.25, 0.05]), (5, 7, 6)
    axes = np.meshgrid(*[lower[a] + spacing[a] * np.arange(shape[a]) for a in range(3)], indexing="ij")
    x = np.stack(axes, -1)
    a, b, c = np.array([0.3, -2.0, 1.5]), 0.7, 4.0
    field = lambda x: x @ a + b + c * x[..., 0] * x[..., 1] * x[..., 2]  # noqa: E731
    grad = lambda x: a + c * np.stack([x[..., 1] * x[..., 2], x[..., 0] * x[..., 2], x[..., 0] * x[..., 1]], -1)  # noqa: E731
    f = FeasibilityField(lower, spacing, np.ones(3), field(x), grad(x))
    lo, hi = f.bounds
    np.testing.assert_allclose(hi, lower + spacing * (np.array(shape) - 1))
    q = np.r_[lo + (hi - lo) * rng.random((500, 3)), lo[None], hi[None], x.reshape(-1, 3)]
    phi, g = f(q)
    np.testing.assert_allclose(phi, field(q), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g, grad(q), rtol=1e-12, atol=1e-12)


def test_points_outside_the_grid_box_are_infeasible_and_pushed_back(rng):
    f = _ball_field(rng, m=5000, res=12)
    lo, hi = f.bounds
    pc = _in_box(f, rng, 500)
    face = rng.integers(0, 4, 500)
    pc[np.arange(500), face] = np.where(rng.random(500) < 0.5, lo[face], hi[face])
    outward = np.where(pc == hi, 1.0, np.where(pc == lo, -1.0, 0.0)) * rng.random((500, 4)) * f.scale
    p = pc + outward
    phi_c, g_c = f(pc)
    phi, g = f(p)
    dist = np.linalg.norm(outward / f.scale, axis=1)
    np.testing.assert_allclose(phi, phi_c - dist, rtol=1e-12)
    assert (phi < 0).all()
    assert (np.einsum("nd,nd->n", g, pc - p) > 0).all()
    np.testing.assert_allclose(g, g_c - outward / (dist[:, None] * f.scale**2), rtol=1e-12, atol=1e-12)


def test_arrays_round_trip_through_hdf5(rng, tmp_path):
    f = _ball_field(rng, m=3000, res=10)
    with h5py.File(tmp_path / "feasibility.h5", "w") as h5:
        for k, v in f.to_arrays().items():
            h5[k] = v
    with h5py.File(tmp_path / "feasibility.h5", "r") as h5:
        g = FeasibilityField.from_arrays({k: h5[k][()] for k in h5})
    for k, v in f.to_arrays().items():
        np.testing.assert_array_equal(v, getattr(g, k))
    q = _in_box(f, rng, 100) * 1.1
    for u, v in zip(f(q), g(q)):
        np.testing.assert_array_equal(u, v)
    with pytest.raises(ValueError, match="lack"):
        FeasibilityField.from_arrays({"phi": f.phi})


_GOOD = np.random.default_rng(0).random((50, 4))


@pytest.mark.parametrize(
    "points, kwargs, match",
    [
        (_GOOD[:, 0], {}, "2-D"),
        (_GOOD[:1], {}, "at least 2 points"),
        (np.where(np.arange(200).reshape(50, 4) == 7, np.nan, _GOOD), {}, "non-finite"),
        (np.c_[_GOOD[:, :3], np.ones(50)], {}, "zero span along axis \\[3\\]"),
        (_GOOD, {"resolution": 3}, "resolution"),
        (_GOOD, {"resolution": (8, 8)}, "resolution"),
        (_GOOD, {"radius": 0.0}, "radius"),
    ],
)
def test_bad_inputs_raise_value_errors_naming_the_problem(points, kwargs, match):
    with pytest.raises(ValueError, match=match):
        build(points, **{"resolution": 8, **kwargs})


def test_evaluating_points_of_the_wrong_dimension_raises(rng):
    f = _ball_field(rng, m=2000, res=8)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        f(np.zeros((3, 2)))
