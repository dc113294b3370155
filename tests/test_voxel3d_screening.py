"""Which units enter the voxel3d database, and how their material is drawn."""
import numpy as np
import pytest

from pipeline_lib import mirror
from pipeline_lib.voxel3d.homogenization import Material, material_draw
from pipeline_lib.voxel3d.screening import rejection, screen
from pipeline_lib.voxel3d.symmetry import OPERATIONS, apply, is_cubic, symmetrize_permutations

W = (0.05, 0.4)


def frame(n=16, w=2, offset=0):
    """Bars along the three axes through the cell corners (or shifted by offset), cubic."""
    a = (np.arange(n) - offset) % n < w
    a = a | a[::-1]
    x, y, z = a[:, None, None], a[None, :, None], a[None, None, :]
    return (x & y) | (x & z) | (y & z)


def test_a_connected_cubic_frame_is_accepted():
    c = frame()
    assert is_cubic(c) and W[0] <= c.mean() <= W[1]
    assert rejection(c, W) is None


def test_every_operation_of_the_cubic_group_leaves_symmetrized_units_unchanged(rng):
    e = symmetrize_permutations(rng.random((6, 6, 6)) - 0.7) > 0
    u = mirror.unfold(e, 3)
    for op in OPERATIONS:
        np.testing.assert_array_equal(apply(u, op), u)
    assert len(OPERATIONS) == 48 and len({(p, f) for p, f in OPERATIONS}) == 48


@pytest.mark.parametrize("make, reason", [
    (lambda: frame(w=5), "volume_fraction"),
    (lambda: _with_x_bar(frame()), "not_cubic"),
    (lambda: _sphere(16, 0.3), "disconnected"),  # a ball in the middle: no load path
    (lambda: frame() | _sphere(16, 0.15, centre=True), "floating_voxels"),
    (lambda: frame(16, 2, 0) | frame(16, 2, 8), "disconnected"),  # two interwoven separate frames
])
def test_bad_units_are_rejected_for_the_right_reason(make, reason):
    c = make()
    assert rejection(c, W) == reason


def _with_x_bar(c):
    c = c.copy()
    c[:, 7:9, 7:9] = True  # mirror-symmetric, but x is now special
    return c


def _sphere(n, r, centre=True):
    g = (np.arange(n) + 0.5) / n
    X, Y, Z = np.meshgrid(g, g, g, indexing="ij")
    return (X - 0.5) ** 2 + (Y - 0.5) ** 2 + (Z - 0.5) ** 2 < r * r


def test_screen_counts_each_reason():
    keep, counts = screen(np.stack([frame(), frame(w=5), _sphere(16, 0.3)]), W)
    assert keep.tolist() == [True, False, False]
    assert counts["volume_fraction"] == 1 and counts["disconnected"] == 1


def test_material_draws_depend_on_the_unit_not_the_shard():
    mat = Material(E_mean=70e3, E_std=3.5e3, nu_mean=0.33, nu_std=0.01)
    a = material_draw(1, (12345,), mat)
    assert a == material_draw(1, (12345,), mat)
    assert a != material_draw(1, (12346,), mat)
    draws = np.array([material_draw(1, (k,), mat) for k in range(2000)])
    assert draws[:, 0].mean() == pytest.approx(70e3, rel=0.01) and draws[:, 0].std() == pytest.approx(3.5e3, rel=0.1)
    with pytest.raises(ValueError, match="not admissible"):
        material_draw(1, (0,), Material(nu_mean=0.6))
