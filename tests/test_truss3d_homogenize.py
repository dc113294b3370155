"""Truss homogenization: closed forms, an independent full-cell solver, symmetries, bad input."""
import numpy as np
import pytest
import reference_frame
from reference_frame import reference_relative_density, reference_truss_C

from pipeline_lib.elasticity import orthotropic_components
from pipeline_lib.fem.beam3d import shear_coefficient
from pipeline_lib.truss3d import homogenize
from pipeline_lib.truss3d.frame import Frame, build_frame
from pipeline_lib.truss3d.generation import ELEMENTARY, PerturbParams, perturbation_chain, superpose
from pipeline_lib.truss3d.homogenization import homogenize_frames
from pipeline_lib.truss3d.octant import BASE, FREE

Z = np.zeros((27, 3))
EB, TIMO = "euler-bernoulli", "timoshenko"


def radius_for(A, rho):
    """Strut radius (fraction of the cell side) at relative density rho, from the reference."""
    return np.sqrt(rho / reference_relative_density(A, Z, 1.0))


@pytest.mark.parametrize("rho", [0.001, 0.15])
def test_simple_cubic_matches_its_closed_forms_exactly(rho):
    A = ELEMENTARY["sc"]
    Ceb = homogenize(A, Z, relative_density=rho, beam=EB)
    Ct = homogenize(A, Z, relative_density=rho, beam=TIMO)
    for C in (Ceb, Ct):
        assert C[0, 0] == pytest.approx(rho / 3, rel=1e-12)
        assert abs(C[0, 1]) < 1e-15
    assert Ceb[3, 3] == pytest.approx(rho**2 / (6 * np.pi), rel=1e-9)
    # Timoshenko: the clamped-guided struts (length 2, half the cell side... = the full strut) soften
    # by 1 / (1 + Phi) with Phi = 12 E I / (kappa G A L^2) = 3 r^2 / (kappa G L^2) for E = 1
    r = 2 * radius_for(A, rho)
    G = 1 / (2 * 1.3)
    phi = 12 * (np.pi * r**4 / 4) / (shear_coefficient(0.3) * G * np.pi * r**2 * 2.0**2)
    assert Ct[3, 3] == pytest.approx(rho**2 / (6 * np.pi) / (1 + phi), rel=1e-9)


def test_bcc_and_octet_approach_their_stretching_limits():
    rho = 1e-3
    bcc = homogenize(ELEMENTARY["bcc"], Z, relative_density=rho, beam=EB)
    for v in (bcc[0, 0], bcc[0, 1], bcc[3, 3]):
        assert v == pytest.approx(rho / 9, rel=5e-3)
    oct_ = homogenize(ELEMENTARY["octet"], Z, relative_density=rho, beam=EB)
    assert oct_[0, 0] == pytest.approx(rho / 6, rel=1e-3)
    assert oct_[0, 1] == pytest.approx(rho / 12, rel=1e-3)
    assert oct_[3, 3] == pytest.approx(rho / 12, rel=1e-3)


def test_bcc_young_modulus_along_an_axis_scales_with_rho_squared():
    for rho in (1e-3, 1e-2):
        C = homogenize(ELEMENTARY["bcc"], Z, relative_density=rho, beam=EB)
        E100 = (C[0, 0] - C[0, 1]) * (C[0, 0] + 2 * C[0, 1]) / (C[0, 0] + C[0, 1])
        assert E100 / rho**2 == pytest.approx(1 / (2 * np.sqrt(3) * np.pi), rel=2e-3 if rho < 5e-3 else 2e-2)
        # C11 - C12 comes from bending alone: exactly 4 E I / sqrt(3) per cell
        r = 2 * radius_for(ELEMENTARY["bcc"], rho)
        assert (C[0, 0] - C[0, 1]) == pytest.approx(rho**2 / (3 * np.sqrt(3) * np.pi), rel=1e-9)
        assert np.pi * r**2 * np.sqrt(3) * 8 / 8 == pytest.approx(rho, rel=1e-12)


@pytest.mark.parametrize("name", sorted(ELEMENTARY))
def test_elementary_lattices_are_cubic_and_positive_definite(name):
    C = homogenize(ELEMENTARY[name], Z, relative_density=0.15)
    assert np.linalg.eigvalsh(C).min() > 0
    np.testing.assert_allclose(np.diag(C)[:3], C[0, 0], rtol=1e-10)
    np.testing.assert_allclose(np.diag(C)[3:], C[3, 3], rtol=1e-10)
    np.testing.assert_allclose(C[:3, 3:], 0, atol=1e-15)


def perturbed_library(seed=0, chains=2):
    rng = np.random.default_rng(seed)
    out = []
    for name in sorted(ELEMENTARY):
        for _ in range(chains):
            out += perturbation_chain(rng, ELEMENTARY[name], Z, PerturbParams(iterations=4))
    return out


@pytest.mark.parametrize("beam", [TIMO, EB])
def test_agrees_with_the_independent_full_cell_solver(beam):
    unsplit = [lat for lat in perturbed_library() if len(build_frame(*lat).beams) == np.triu(lat[0], 1).sum()]
    lattices = unsplit[::3]
    assert len(lattices) >= 15
    radius = 0.02
    A = np.array([a for a, _ in lattices])
    X = np.array([x for _, x in lattices])
    C = homogenize(A, X, radius=radius, beam=beam)
    for (a, x), c in zip(lattices, C):
        ref = reference_truss_C(a, x, radius, beam=beam)
        np.testing.assert_allclose(c, ref, rtol=0, atol=1e-9 * np.abs(ref).max())
        assert np.linalg.eigvalsh(c).min() > 0
        assert np.abs(c - c.T).max() < 1e-16 + 1e-13 * np.abs(c).max()


def test_relative_density_counts_shared_struts_once():
    for lat in perturbed_library(seed=3, chains=1)[:10]:
        f = build_frame(*lat)
        _, r = homogenize_frames([f], relative_density=0.1)
        assert reference_relative_density(*lat, r[0] / 2) == pytest.approx(0.1, rel=1e-12)


def test_crossing_beams_are_split_and_solved_as_joined():
    # two beams in the face z = 0 that cross at (0.75, 0.25, 0), plus a frame around them
    lat = superpose(ELEMENTARY["sc_half"], Z, *_crossing_pair())
    frame = build_frame(*lat)
    split = frame.nodes[frame.candidate < 0]
    np.testing.assert_allclose(split, [[0.75, 0.25, 0.0]], atol=1e-12)
    C = homogenize(*lat, radius=0.02)

    def reference_on(segments):
        orig = reference_frame._octant_beams
        reference_frame._octant_beams = lambda a, x: segments
        try:
            return reference_truss_C(*lat, 0.02)
        finally:
            reference_frame._octant_beams = orig

    joined = reference_on([(frame.nodes[i], frame.nodes[j]) for i, j in frame.beams])
    np.testing.assert_allclose(C, joined, rtol=0, atol=1e-9 * np.abs(joined).max())
    unsplit = reference_truss_C(*lat, 0.02)  # beams passing through each other
    assert np.abs(unsplit - joined).max() > 1e-6 * np.abs(joined).max()


def test_the_one_pass_splitter_cuts_beams_where_the_one_crossing_at_a_time_splitter_does(rng):
    from pipeline_lib.truss3d.octant import positions

    checked = 0
    for trial in range(24):
        p = (0.06, 0.08, 0.11)[trial % 3]  # the reference's cost grows steeply with the crossings: up to ~50 beams
        A = np.triu(rng.random((27, 27)) < p, 1)
        A = A | A.T
        np.fill_diagonal(A, True)
        X = np.where(FREE, rng.uniform(-0.5, 0.5, (27, 3)), 0.0) if trial % 2 else Z  # on-grid: many exact hits
        f = build_frame(A, X)
        iu, ju = np.nonzero(np.triu(A, 1))
        if len(iu) < 2:
            continue
        active = np.unique(np.r_[iu, ju])  # inactive candidate nodes are no joints
        ref = reference_frame.split_one_crossing_at_a_time(positions(X)[active], np.searchsorted(active, np.stack([iu, ju], 1)))
        got = {tuple(sorted((tuple(np.round(f.nodes[i], 9)), tuple(np.round(f.nodes[j], 9))))) for i, j in f.beams}
        assert got == ref, trial
        checked += len(f.beams) > len(iu)  # lattices where something was split
    assert checked > 10


def _crossing_pair():
    from pipeline_lib.truss3d.octant import node_index as ni

    A = np.eye(27, dtype=bool)
    for u, v in [((.5, 0, 0), (1, .5, 0)), ((1, 0, 0), (.5, .5, 0)), ((.5, .5, 0), (.5, 1, 0))]:
        A[ni(*u), ni(*v)] = A[ni(*v), ni(*u)] = True
    return A, Z


def test_renumbering_the_frame_nodes_changes_nothing():
    lat = perturbed_library(seed=5, chains=1)[7]
    f = build_frame(*lat)
    perm = np.random.default_rng(1).permutation(len(f.nodes))
    inv = np.argsort(perm)
    g = Frame(f.nodes[perm], np.sort(inv[f.beams], axis=1), f.weights, f.candidate[perm])
    Cf, _ = homogenize_frames([f], radius=0.03)
    Cg, _ = homogenize_frames([g], radius=0.03)
    np.testing.assert_allclose(Cg, Cf, rtol=1e-12, atol=1e-18)


def test_swapping_x_and_y_relabels_nodes_and_permutes_C():
    lat = perturbed_library(seed=6, chains=1)[9]
    A, X = lat
    swapped = BASE[:, [1, 0, 2]]
    perm = np.array([np.flatnonzero((BASE == p).all(1))[0] for p in swapped])  # node k -> perm[k]
    A2 = np.zeros_like(A)
    A2[np.ix_(perm, perm)] = A
    X2 = np.zeros_like(X)
    X2[perm] = X[:, [1, 0, 2]]
    assert (X2[~FREE] == 0).all()
    C = homogenize(A, X, radius=0.03)
    C2 = homogenize(A2, X2, radius=0.03)
    P = [1, 0, 2, 4, 3, 5]  # 11 <-> 22, 23 <-> 31
    np.testing.assert_allclose(C2, C[np.ix_(P, P)], rtol=1e-11, atol=1e-16)


def test_a_lattice_superposed_with_itself_is_unchanged():
    for A, X in perturbed_library(seed=7, chains=1)[:6]:
        S = superpose(A, X, A, X)
        np.testing.assert_allclose(homogenize(*S, radius=0.03), homogenize(A, X, radius=0.03), rtol=1e-13)


def test_nine_components_are_the_released_order():
    C = homogenize(ELEMENTARY["octet"], Z, relative_density=0.1)
    c9 = orthotropic_components(C)
    assert c9.tolist() == [C[0, 0], C[0, 1], C[0, 2], C[1, 1], C[1, 2], C[2, 2], C[3, 3], C[4, 4], C[5, 5]]


def test_solid_fraction_mode_needs_thinner_struts_than_the_strut_sum():
    f = build_frame(ELEMENTARY["octet"], Z)
    _, r_sum = homogenize_frames([f], relative_density=0.15)
    _, r_solid = homogenize_frames([f], relative_density=0.15, density="solid")
    assert r_solid[0] > r_sum[0]  # overlaps at the nodes are counted once, so more radius is needed
    assert r_solid[0] < 1.3 * r_sum[0]


@pytest.mark.parametrize("mutate, message", [
    (lambda A, X: (A[:, :26], X), "shape"),
    (lambda A, X: (np.eye(27, dtype=bool), X), "no beams"),
    (lambda A, X: (_disconnected(), X), "disconnected"),
    (lambda A, X: (A, X + FREE * 0.7), "outside"),
    (lambda A, X: (A, X + 0.1), "fixed axis"),
    (lambda A, X: (_nontiling(), X), "does not touch"),
    (lambda A, X: (_asymmetric(A), X), "not symmetric"),
])
def test_bad_lattices_are_refused_with_their_index(mutate, message):
    A, X = mutate(ELEMENTARY["octet"].copy(), Z.copy())
    with pytest.raises(ValueError, match=message):
        homogenize(np.stack([ELEMENTARY["bcc"], A]) if A.shape == (27, 27) else A,
                   np.stack([Z, X]) if A.shape == (27, 27) else X, radius=0.02)
    if A.shape == (27, 27):
        with pytest.raises(ValueError, match="lattice 1"):
            homogenize(np.stack([ELEMENTARY["bcc"], A]), np.stack([Z, X]), radius=0.02)


def test_exactly_one_of_radius_and_density():
    with pytest.raises(ValueError, match="exactly one"):
        homogenize(ELEMENTARY["bcc"], Z)
    with pytest.raises(ValueError, match="exactly one"):
        homogenize(ELEMENTARY["bcc"], Z, radius=0.1, relative_density=0.1)


def _asymmetric(A):
    A = A.copy()
    A[0, 13] = True  # beam from node 0 to the body node, recorded one way only
    return A


def _disconnected():
    return ELEMENTARY["bcc"] | ELEMENTARY["octahedron_half"]


def _nontiling():
    from pipeline_lib.truss3d.octant import node_index as ni

    A = np.eye(27, dtype=bool)
    ring = [(0, 0, 0), (.5, 0, 0), (.5, .5, 0), (0, .5, 0), (0, 0, 0)]
    for u, v in zip(ring[:-1], ring[1:]):
        A[ni(*u), ni(*v)] = A[ni(*v), ni(*u)] = True
    return A


# ------------------------------------------- the authors' design space: beam length is no rule
_PHYSICAL = ("not symmetric", "outside", "fixed axis", "no beams", "zero length", "disconnected",
             "does not touch", "singular stiffness")


def _longest_beam(a, x):
    from pipeline_lib.truss3d.octant import positions

    i, j = np.nonzero(np.triu(a, 1))
    p = positions(x)
    return np.linalg.norm(p[j] - p[i], axis=1).max()


def _homogenize_each_or_refuse(A, X):
    """C of every lattice that homogenizes, and the refusal message of every other one."""
    from pipeline_lib.truss3d.frame import lattice_problems

    out, refused = {}, {}
    ok = []
    for i, (a, x) in enumerate(zip(A, X)):
        problems = lattice_problems(a, x)
        if problems:
            refused[i] = "; ".join(problems)
        else:
            ok.append(i)
    todo = [ok]
    while todo:
        idx = todo.pop()
        try:
            C = homogenize(A[idx], X[idx], relative_density=0.15)
            out.update(zip(idx, C))
        except ValueError as exc:  # a mechanism: find it by halving
            if len(idx) == 1:
                refused[idx[0]] = str(exc)
            else:
                todo += [idx[: len(idx) // 2], idx[len(idx) // 2:]]
    return out, refused


@pytest.mark.parametrize("name", sorted(ELEMENTARY))
def test_every_elementary_lattice_moved_by_the_authors_rule_homogenizes_or_is_refused_for_a_physical_reason(name):
    from pipeline_lib.truss3d.generation import canonical, move_nodes
    from pipeline_lib.truss3d.octant import R_MAX

    rng = np.random.default_rng(sorted(ELEMENTARY).index(name))
    lattices = [canonical(ELEMENTARY[name], move_nodes(rng, Z, 0.5)) for _ in range(300)]
    A = np.array([a for a, _ in lattices])
    X = np.array([x for _, x in lattices])
    C, refused = _homogenize_each_or_refuse(A, X)
    assert len(C) + len(refused) == 300
    for why in refused.values():
        assert "longer" not in why and any(p in why for p in _PHYSICAL), why
    for c in C.values():
        np.testing.assert_allclose(c, c.T, rtol=0, atol=1e-13 * np.abs(c).max())
        assert np.linalg.eigvalsh(c).min() > 0
    long = [i for i in range(300) if _longest_beam(A[i], X[i]) > R_MAX + 1e-9]
    assert len(long) > 30, f"{name}: moving nodes should often stretch a beam past sqrt(3)/2"
    assert all(i in C for i in long)  # long beams are homogenized, never refused


def test_a_long_beam_of_the_authors_design_space_round_trips_through_their_format_and_homogenize(tmp_path):
    from pipeline_lib.truss3d.octant import R_MAX, positions
    from pipeline_lib.truss3d.released import read_released, write_released

    X = Z.copy()
    X[13] = [0.3, 0.3, 0.3]  # the BCC body node moved by the authors' rule: one beam 1.1258 long
    p = positions(X)
    assert np.linalg.norm(p[26] - p[13]) == pytest.approx(1.1258330249197703) and np.linalg.norm(p[26] - p[13]) > R_MAX
    write_released(tmp_path, ELEMENTARY["bcc"][None], X[None])
    A2, X2, _ = read_released(tmp_path)
    C = homogenize(A2, X2, relative_density=0.15)[0]
    np.testing.assert_allclose(C, homogenize(ELEMENTARY["bcc"], X, relative_density=0.15), rtol=1e-14)
    assert np.linalg.eigvalsh(C).min() > 0
    assert C[0, 0] < homogenize(ELEMENTARY["bcc"], Z, relative_density=0.15)[0, 0]  # bent BCC: softer


def test_a_dangling_strut_is_homogenized_but_kept_out_of_the_database():
    from pipeline_lib.truss3d.frame import database_problems, is_valid, lattice_problems
    from pipeline_lib.truss3d.octant import node_index as ni

    A = ELEMENTARY["sc_half"].copy()
    A[ni(.5, .5, .5), ni(.5, 0, 0)] = A[ni(.5, 0, 0), ni(.5, .5, .5)] = True  # body node on a stub
    assert lattice_problems(A, Z) == [] and "dangling" in database_problems(A, Z)[0] and not is_valid(A, Z)
    with_stub = homogenize(A, Z, radius=0.02)
    without = homogenize(ELEMENTARY["sc_half"], Z, radius=0.02)
    np.testing.assert_allclose(with_stub, without, rtol=1e-6, atol=1e-12)  # a stub carries no load
