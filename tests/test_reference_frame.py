"""Validate the plain frame-homogenization reference (tests/reference_frame.py) against closed forms.

Closed forms for rigid-jointed circular struts, E = 1, cell [-1, 1]^3 (side 2, volume 8), A = pi r^2,
I = pi r^4 / 4 = A^2 / (4 pi):

* simple cubic (struts on the cell edges, one strut of length 2 per direction per cell,
  rho = 6 A / 8): under e11 only the x struts stretch, so C11 = A / 4 = rho / 3 and C12 = 0 exactly.
  Under a shear gamma_23 the y and z struts are guided-clamped beams (joint rotation zero by
  symmetry) with end offset delta = gamma over L = 2: W = 2 * 6 E I delta^2 / L^3 = 1.5 E I gamma^2,
  C44 = 2 W / (8 gamma^2) = 3 E I / 8 = rho^2 / (6 pi), exact for Euler-Bernoulli; Timoshenko
  divides by (1 + Phi) with Phi = 12 E I / (kappa G A L^2), L = 2.
* BCC (8 half body-diagonals of length sqrt(3), rho = sqrt(3) A): affine stretching gives
  C11 = C12 = C44 = rho / 9.  The deviatoric strain (eps, -eps, 0) does not stretch any strut and
  leaves joints unrotated by mirror symmetry, each strut is a guided-clamped beam with offset
  sqrt(2) eps: (C11 - C12) eps^2 = 8 * 6 E I (2 eps^2) / (sqrt(3)^3 * 8), i.e.
  C11 - C12 = 4 E I / sqrt(3) = rho^2 / (3 sqrt(3) pi) exactly (Euler-Bernoulli), and
  E_100 = (C11 - C12)(C11 + 2 C12)/(C11 + C12) -> 3/2 (C11 - C12) = rho^2 / (2 sqrt(3) pi).
* octet (FCC nearest neighbours, 24 struts of length sqrt(2), rho = 3 sqrt(2) A): affine
  stretching (every node is an inversion centre) gives C11 = rho / 6, C12 = C44 = rho / 12.
"""
import numpy as np
import pytest

from reference_frame import (
    BASE_POSITIONS, beam_global_stiffness, node_positions, periodic_beams,
    reference_relative_density, reference_truss_C,
)

_LAYER_XY = [(0, 0), (0, .5), (0, 1), (.5, 1), (.5, .5), (.5, 0), (1, 0), (1, .5), (1, 1)]
NU = 0.3
KAPPA = 6 * (1 + NU) / (7 + 6 * NU)
G_OVER_E = 1 / (2 * (1 + NU))
EB, TIMO = "euler-bernoulli", "timoshenko"


def node(x, y, z):
    """Index of the candidate node at base position (x, y, z)."""
    return 9 * [0, .5, 1].index(z) + _LAYER_XY.index((x, y))


def lattice(*chains):
    adj = np.eye(27, dtype=bool)
    for chain in chains:
        for p, q in zip(chain[:-1], chain[1:]):
            adj[node(*p), node(*q)] = adj[node(*q), node(*p)] = True
    return adj


SC = lattice([(0, 1, 1), (.5, 1, 1), (1, 1, 1)],
             [(1, 0, 1), (1, .5, 1), (1, 1, 1)],
             [(1, 1, 0), (1, 1, .5), (1, 1, 1)])
BCC = lattice([(0, 0, 0), (.5, .5, .5), (1, 1, 1)])
OCTET = lattice([(1, 1, 1), (1, .5, .5), (1, 0, 0)],
                [(1, 1, 1), (.5, 1, .5), (0, 1, 0)],
                [(1, 1, 1), (.5, .5, 1), (0, 0, 1)],
                [(1, 0, 0), (.5, .5, 0), (0, 1, 0)],
                [(1, 0, 0), (.5, 0, .5), (0, 0, 1)],
                [(0, 1, 0), (0, .5, .5), (0, 0, 1)])
LATTICES = {"sc": SC, "bcc": BCC, "octet": OCTET}
# total strut length in the periodic cell
TOTAL_LENGTH = {"sc": 6.0, "bcc": 8 * np.sqrt(3), "octet": 24 * np.sqrt(2)}
ZERO = np.zeros((27, 3))


def radius_for(name, rho):
    """Strut radius (fraction of the cell side) giving relative density rho."""
    r = np.sqrt(8 * rho / (np.pi * TOTAL_LENGTH[name]))
    return r / 2


_cache = {}


def C_of(name, rho, beam):
    key = (name, rho, beam)
    if key not in _cache:
        _cache[key] = reference_truss_C(LATTICES[name], ZERO, radius_for(name, rho), nu=NU, beam=beam)
    return _cache[key]


def phi(r, L):
    I_over_A = r**2 / 4
    return 12 * I_over_A / (KAPPA * G_OVER_E * L**2)


# ---------------------------------------------------------------- geometry and bookkeeping

def test_node_order_and_offsets():
    assert np.allclose(BASE_POSITIONS[0], 0) and np.allclose(BASE_POSITIONS[13], .5)
    assert np.allclose(BASE_POSITIONS[26], 1)
    assert node(0, 0, 0) == 0 and node(.5, .5, .5) == 13 and node(1, 1, 1) == 26
    off = np.zeros((27, 3))
    e, f, b, v = node(.5, 1, 0), node(1, .5, .5), node(.5, .5, .5), node(1, 0, 1)
    off[e, 0] = 0.2                      # edge node along x
    off[f, 1], off[f, 2] = 0.4, -0.2     # face node in x = 1, free axes y < z
    off[b] = [0.1, -0.3, 0.5]
    pos = node_positions(off)
    assert np.allclose(pos[e], [0.7, 1, 0])
    assert np.allclose(pos[f], [1, 0.3, 0.6])
    assert np.allclose(pos[b], [0.45, 0.65, 0.25])
    assert np.allclose(pos[v], [1, 0, 1])
    untouched = np.setdiff1d(np.arange(27), [e, f, b])
    assert np.array_equal(pos[untouched], BASE_POSITIONS[untouched])


@pytest.mark.parametrize("name, n_nodes, n_beams", [("sc", 10, 12), ("bcc", 10, 16),
                                                     ("octet", 28, 48)])
def test_periodic_cell_counts_and_density(name, n_nodes, n_beams):
    # duplicates (beams in the mirror planes, beams in the identified faces x = +-1) counted once
    n, beams = periodic_beams(LATTICES[name], ZERO)
    assert (n, len(beams)) == (n_nodes, n_beams)
    total = sum(np.linalg.norm(d) for *_, d in beams)
    assert total == pytest.approx(TOTAL_LENGTH[name], rel=1e-12)
    radius = 0.03
    rho = reference_relative_density(LATTICES[name], ZERO, radius)
    assert rho == pytest.approx(np.pi * (2 * radius)**2 * TOTAL_LENGTH[name] / 8, rel=1e-12)


def test_beam_vectors_use_periodic_shift():
    _, beams = periodic_beams(SC, ZERO)
    # every beam vector is a half-length step along one axis; the x = +-1 planes are identified
    for a, b, n, d in beams:
        assert sorted(np.abs(d)) == pytest.approx([0, 0, 0.5])
    shifted = [n for *_, n, _d in beams if np.any(n)]
    assert len(shifted) == 3             # one strut segment per axis wraps around the cell


@pytest.mark.parametrize("beam", [EB, TIMO])
def test_element_stiffness_rigid_modes(beam, rng):
    d = rng.normal(size=3)
    k = beam_global_stiffness(d, 0.1, 1.0, NU, beam)
    assert np.allclose(k, k.T, atol=1e-14)
    x = np.vstack([np.zeros(3), d])
    modes = []
    for i in range(3):                   # translations
        m = np.zeros(12)
        m[[i, 6 + i]] = 1
        modes.append(m)
    for w in np.eye(3):                  # rotations about the first end
        m = np.zeros(12)
        for end in range(2):
            m[6 * end:6 * end + 3] = np.cross(w, x[end])
            m[6 * end + 3:6 * end + 6] = w
        modes.append(m)
    assert np.abs(k @ np.array(modes).T).max() < 1e-12 * np.abs(k).max()
    assert np.sum(np.linalg.eigvalsh(k) > 1e-10 * np.abs(k).max()) == 6


# ---------------------------------------------------------------- closed forms

@pytest.mark.parametrize("rho", [1e-3, 0.15])
@pytest.mark.parametrize("beam", [EB, TIMO])
def test_sc_closed_forms(rho, beam):
    C = C_of("sc", rho, beam)
    assert reference_relative_density(SC, ZERO, radius_for("sc", rho)) == pytest.approx(rho, rel=1e-12)
    assert C[0, 0] == pytest.approx(rho / 3, rel=1e-12)
    assert abs(C[0, 1]) < 1e-12 * C[0, 0]
    c44 = rho**2 / (6 * np.pi)
    if beam == TIMO:
        c44 /= 1 + phi(2 * radius_for("sc", rho), 2.0)
    assert C[3, 3] == pytest.approx(c44, rel=1e-9)


def test_sc_shear_limit():
    # Timoshenko -> Euler-Bernoulli: C44 / rho^2 -> 1 / (6 pi), correction linear in rho
    ratios = [C_of("sc", rho, TIMO)[3, 3] / rho**2 for rho in (1e-3, 1e-2)]
    err = [abs(q * 6 * np.pi - 1) for q in ratios]
    assert err[0] < 1e-3 and err[1] < 1e-2
    assert err[1] / err[0] == pytest.approx(10, rel=1e-2)


@pytest.mark.parametrize("beam", [EB, TIMO])
def test_bcc_closed_forms(beam):
    rho = 1e-3
    C = C_of("bcc", rho, beam)
    for ij in [(0, 0), (0, 1), (3, 3)]:
        assert C[ij] == pytest.approx(rho / 9, rel=2e-3)
    young = (C[0, 0] - C[0, 1]) * (C[0, 0] + 2 * C[0, 1]) / (C[0, 0] + C[0, 1])
    assert young / rho**2 == pytest.approx(1 / (2 * np.sqrt(3) * np.pi), rel=0.02)


@pytest.mark.parametrize("rho", [1e-3, 0.15])
@pytest.mark.parametrize("beam", [EB, TIMO])
def test_bcc_deviatoric_exact(rho, beam):
    # C11 - C12 = 4 E I / sqrt(3) (pure bending of guided-clamped half diagonals), any rho
    C = C_of("bcc", rho, beam)
    expected = rho**2 / (3 * np.sqrt(3) * np.pi)
    if beam == TIMO:
        expected /= 1 + phi(2 * radius_for("bcc", rho), np.sqrt(3))
    assert C[0, 0] - C[0, 1] == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize("beam", [EB, TIMO])
def test_octet_closed_forms(beam):
    rho = 1e-3
    C = C_of("octet", rho, beam)
    assert C[0, 0] == pytest.approx(rho / 6, rel=1e-3)
    assert C[0, 1] == pytest.approx(rho / 12, rel=1e-3)
    assert C[3, 3] == pytest.approx(rho / 12, rel=1e-3)


@pytest.mark.parametrize("name", ["sc", "bcc", "octet"])
def test_beam_theories_agree_as_rho_vanishes(name):
    diffs = []
    for rho in (1e-3, 1e-2):
        ce, ct = C_of(name, rho, EB), C_of(name, rho, TIMO)
        diffs.append(np.abs(ce - ct).max() / np.abs(ce).max())
    assert diffs[0] < 1e-3
    assert diffs[0] < diffs[1]


@pytest.mark.parametrize("name", ["sc", "bcc", "octet"])
@pytest.mark.parametrize("rho", [1e-2, 0.15])
@pytest.mark.parametrize("beam", [EB, TIMO])
def test_symmetric_positive_definite_cubic(name, rho, beam):
    C = C_of(name, rho, beam)
    scale = np.abs(C).max()
    assert np.abs(C - C.T).max() < 1e-10 * scale
    assert np.linalg.eigvalsh(0.5 * (C + C.T)).min() > 0
    d = np.diag(C)
    assert d[1] == pytest.approx(d[0], rel=1e-9) and d[2] == pytest.approx(d[0], rel=1e-9)
    assert d[4] == pytest.approx(d[3], rel=1e-9) and d[5] == pytest.approx(d[3], rel=1e-9)
    assert C[0, 2] == pytest.approx(C[0, 1], rel=1e-9) and C[1, 2] == pytest.approx(C[0, 1], rel=1e-9)
    mask = np.ones((6, 6), dtype=bool)
    mask[:3, :3] = False
    mask[[3, 4, 5], [3, 4, 5]] = False
    assert np.abs(C[mask]).max() < 1e-10 * scale


# ---------------------------------------------------------------- offsets

def test_collinear_node_moves_leave_C_unchanged():
    """Sliding the intermediate nodes along their straight struts changes nothing."""
    cases = []
    off = np.zeros((27, 3))
    off[node(.5, 1, 1), 0] = 0.2
    off[node(1, .5, 1), 1] = -0.3
    off[node(1, 1, .5), 2] = 0.1
    cases.append(("sc", off))
    off = np.zeros((27, 3))
    off[node(.5, .5, .5)] = 0.3
    cases.append(("bcc", off))
    off = np.zeros((27, 3))
    off[node(1, .5, .5), [1, 2]] = 0.2       # stays on the line y = z of the x = 1 face
    off[node(.5, .5, 0), [0, 1]] = [-0.3, 0.3]   # the face diagonal x + y = 1 needs s = -t
    cases.append(("octet", off))
    for name, off in cases:
        radius = radius_for(name, 0.05)
        rho0 = reference_relative_density(LATTICES[name], ZERO, radius)
        assert reference_relative_density(LATTICES[name], off, radius) == pytest.approx(rho0, rel=1e-12)
        for beam in (EB, TIMO):
            c0 = reference_truss_C(LATTICES[name], ZERO, radius, nu=NU, beam=beam)
            c1 = reference_truss_C(LATTICES[name], off, radius, nu=NU, beam=beam)
            assert np.allclose(c1, c0, rtol=1e-9, atol=1e-12 * np.abs(c0).max())


def test_kinked_bcc_is_softer():
    off = np.zeros((27, 3))
    off[node(.5, .5, .5)] = [0.3, -0.3, 0.0]
    radius = radius_for("bcc", 0.01)
    assert reference_relative_density(BCC, off, radius) > reference_relative_density(BCC, ZERO, radius)
    c0 = reference_truss_C(BCC, ZERO, radius, beam=EB)
    c1 = reference_truss_C(BCC, off, radius, beam=EB)
    assert c1[0, 0] < c0[0, 0]
    assert np.linalg.eigvalsh(0.5 * (c1 + c1.T)).min() > 0
