"""Octant conventions, elementary lattices, perturbation, superposition, the released format."""
import numpy as np
import pytest

from pipeline_lib.truss3d import generation as gen
from pipeline_lib.truss3d.frame import build_frame, database_problems, full_degrees
from pipeline_lib.truss3d.octant import BASE, FREE, KIND, R_MAX, REWIRABLE, node_index, offsets_from_positions, positions
from pipeline_lib.truss3d.released import read_released, write_released

Z = np.zeros((27, 3))


def test_node_order_and_offset_conventions():
    assert BASE[13].tolist() == [.5, .5, .5] and BASE[26].tolist() == [1, 1, 1]
    assert [BASE[k, :2].tolist() for k in range(9)] == [[0, 0], [0, .5], [0, 1], [.5, 1], [.5, .5], [.5, 0],
                                                         [1, 0], [1, .5], [1, 1]]
    assert (KIND == "vertex").sum() == 8 and (KIND == "edge").sum() == 12 and (KIND == "face").sum() == 6
    x = np.zeros((27, 3))
    x[node_index(.5, 0, 0), 0] = 0.3  # edge node: 0.5 + r
    x[node_index(.5, .5, 0), :2] = [0.2, -0.4]  # face node: ((1 - s)/2, (1 - t)/2)
    x[13] = [0.5, -0.5, 0.1]  # body node: ((1 - s)/2, (1 - t)/2, (1 - q)/2)
    p = positions(x)
    np.testing.assert_allclose(p[node_index(.5, 0, 0)], [0.8, 0, 0])
    np.testing.assert_allclose(p[node_index(.5, .5, 0)], [0.4, 0.7, 0])
    np.testing.assert_allclose(p[13], [0.25, 0.75, 0.45])
    np.testing.assert_allclose(offsets_from_positions(p), x, atol=1e-15)


@pytest.mark.parametrize("name, node, degree", [
    ("sc", (1, 1, 1), 6), ("sc_half", (0, 0, 0), 6), ("bcc", (0, 0, 0), 8), ("bcc_half", (.5, .5, .5), 8),
    ("octet", (1, 1, 1), 12), ("octet_half", (.5, .5, 0), 12), ("octahedron", (1, 0, 0), 8),
    ("octahedron_half", (.5, .5, 0), 8),
])
def test_elementary_lattices_are_valid_with_their_coordination(name, node, degree):
    A = gen.ELEMENTARY[name]
    assert database_problems(A, Z) == []
    f = build_frame(A, Z)
    k = np.flatnonzero(f.candidate == node_index(*node))[0]
    assert full_degrees(f)[k] == degree


def test_perturbation_chains_stay_valid_and_move_nodes_only_along_free_directions():
    rng = np.random.default_rng(0)
    p = gen.PerturbParams(iterations=10)
    chain = gen.perturbation_chain(rng, gen.ELEMENTARY["octet"], Z, p)
    assert len(chain) == 10
    prev = (gen.ELEMENTARY["octet"], Z)
    for A, x in chain:
        assert database_problems(A, x) == []
        assert (x[~FREE] == 0).all() and (np.abs(x) <= 0.5).all()
        assert (A == A.T).all() and A.diagonal().all()
        assert gen.digest(A, x) != gen.digest(*prev)
        prev = (A, x)
    again = gen.perturbation_chain(np.random.default_rng(0), gen.ELEMENTARY["octet"], Z, p)
    assert all(gen.digest(*a) == gen.digest(*b) for a, b in zip(chain, again))  # seeded: repeatable


def test_new_connections_stay_within_the_rewiring_radius_while_moved_nodes_stretch_beams_past_it():
    # the authors' rule: sqrt(3)/2 bounds which reference nodes may be joined, not beam length
    rng = np.random.default_rng(7)
    lattices = []
    for name in ("bcc", "bcc_half", "octet", "sc"):
        for _ in range(6):
            lattices += gen.perturbation_chain(rng, gen.ELEMENTARY[name], Z, gen.PerturbParams(iterations=10))
    longest, body_moved = [], 0
    for A, x in lattices:
        i, j = np.nonzero(np.triu(A, 1))
        assert REWIRABLE[i, j].all(), "a beam joins reference nodes farther apart than sqrt(3)/2"
        p = positions(x)
        longest.append(np.linalg.norm(p[j] - p[i], axis=1).max())
        body_moved += bool(A[13].sum() > 1 and np.abs(x[13]).max() > 0)
    assert np.mean(np.array(longest) > R_MAX + 1e-9) > 0.3
    assert body_moved > 20
    bcc_chain = gen.perturbation_chain(np.random.default_rng(3), gen.ELEMENTARY["bcc"], Z, gen.PerturbParams(iterations=3))
    assert any(np.abs(x[13]).max() > 0 for _, x in bcc_chain)  # the BCC body node moves like any other


def test_superposition_is_the_union_and_keeps_the_first_lattices_offsets():
    rng = np.random.default_rng(1)
    (A1, x1), = gen.perturbation_chain(rng, gen.ELEMENTARY["bcc_half"], Z, gen.PerturbParams(iterations=1))
    (A2, x2), = gen.perturbation_chain(rng, gen.ELEMENTARY["sc_half"], Z, gen.PerturbParams(iterations=1))
    A, x = gen.superpose(A1, x1, A2, x2)
    np.testing.assert_array_equal(A, A1 | A2)
    act1 = (A1 & ~np.eye(27, dtype=bool)).any(1)
    act2 = (A2 & ~np.eye(27, dtype=bool)).any(1)
    np.testing.assert_array_equal(x[act1], x1[act1])
    np.testing.assert_array_equal(x[act2 & ~act1], x2[act2 & ~act1])
    assert gen.digest(*gen.superpose(A1, x1, A1, x1)) == gen.digest(*gen.canonical(A1, x1))


def test_digest_tells_lattices_apart():
    A = gen.ELEMENTARY["octet"]
    x = np.zeros((27, 3))
    x[13] = [0.1, 0, 0]  # the body node is inactive in the octet: canonical form ignores it
    assert gen.digest(*gen.canonical(A, x)) == gen.digest(*gen.canonical(A, Z))
    y = np.zeros((27, 3))
    y[node_index(1, .5, .5), 1] = 0.1  # an active face node moves
    assert gen.digest(*gen.canonical(A, y)) != gen.digest(*gen.canonical(A, Z))


def test_released_format_round_trips(tmp_path):
    rng = np.random.default_rng(2)
    lats = gen.perturbation_chain(rng, gen.ELEMENTARY["octet_half"], Z, gen.PerturbParams(iterations=5))
    A = np.array([a for a, _ in lats])
    X = np.array([x for _, x in lats])
    C9 = rng.random((len(A), 9))
    write_released(tmp_path, A, X, C9)
    A2, X2, C2 = read_released(tmp_path)
    np.testing.assert_array_equal(A2, A)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_allclose(C2, C9, rtol=1e-15)


def test_released_reader_names_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="adjacency-matrix.npz"):
        read_released(tmp_path)
    write_released(tmp_path, gen.ELEMENTARY["bcc"][None], np.full((1, 27, 3), 0.9))
    with pytest.raises(ValueError, match="node-offset.npz: cell 0"):
        read_released(tmp_path)
