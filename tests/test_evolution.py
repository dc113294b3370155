"""The FE-in-the-loop evolution strategy (pipeline_lib.optim.evolution) and the lattice mutation
it uses for truss3d (pipeline_lib.truss3d.refine.mutants)."""
import numpy as np

from pipeline_lib.optim.evolution import evolve
from pipeline_lib.truss3d.generation import ELEMENTARY
from pipeline_lib.truss3d.model import FREE_INDEX
from pipeline_lib.truss3d.refine import mutants, used_nodes


def _gauss_mutate(x, sigma, k, rng):
    return list(x + sigma * rng.standard_normal((k, len(x))))


def test_evolution_reaches_the_minimum_of_a_quadratic_and_never_gets_worse():
    centre = np.array([0.3, -0.2, 0.5])
    calls = []

    def evaluate(c):
        c = np.asarray(c)
        calls.append(len(c))
        return ((c - centre) ** 2).sum(1), {"first": c[:, 0]}

    starts = [np.zeros(3), np.ones(3)]
    l0 = evaluate(starts)[0]
    res = evolve(starts, l0, _gauss_mutate, evaluate, np.geomspace(0.3, 0.01, 40), 8, np.random.default_rng(0))
    assert calls[1:] == [16] * 40  # every parent's children in one batched call per generation
    assert res.evaluations == 640
    for tr, b, l in zip(res.trace, res.best, res.loss):
        losses = [t["loss"] for t in tr]
        assert all(a >= b_ for a, b_ in zip(losses, losses[1:]))  # a parent is only ever replaced by a better child
        assert np.isclose(l, ((b - centre) ** 2).sum()) and l < 1e-3
        assert tr[-1]["first"] == b[0]  # the traced values are the best candidate's


def test_evolution_keeps_a_start_that_no_child_beats():
    res = evolve([np.zeros(2)], [0.0], _gauss_mutate, lambda c: (np.full(len(c), np.inf), {}), [0.1, 0.1], 4,
                 np.random.default_rng(1))
    assert np.array_equal(res.best[0], np.zeros(2)) and res.loss[0] == 0.0
    assert [t["children_valid"] for t in res.trace[0][1:]] == [0, 0]


def test_lattice_mutants_toggle_at_most_one_beam_and_move_only_used_nodes_free_offsets():
    a = (ELEMENTARY["octet"].astype(bool) | ELEMENTARY["sc"].astype(bool)) & ~np.eye(27, dtype=bool)
    x = np.zeros((27, 3))
    rng = np.random.default_rng(3)
    kids = mutants(a, x, 0.1, 200, rng, toggle=0.5, nodes=2)
    free = np.zeros((27, 3), bool)
    free[FREE_INDEX[:, 0], FREE_INDEX[:, 1]] = True
    toggled = 0
    for ak, xk in kids:
        changed = np.triu(ak != a, 1).sum()
        assert changed <= 1 and (ak == ak.T).all()
        toggled += changed
        assert np.all(xk[~used_nodes(ak)] == 0)  # unused nodes keep zero offsets, as the database stores them
        assert np.all(xk[~free] == 0)  # constrained components (mirror planes) never move
        assert np.abs(xk).max() <= 0.5
        assert (np.abs(xk).sum(1) > 0).sum() <= 2  # two nodes moved at most
    assert 60 < toggled < 140  # about half the mutants toggle a beam
