"""Entry points of the pixel2d chain: each reads its input artifacts, calls the library, writes one
artifact.  They take the config slice they depend on (validated by the workflow) and know nothing
of Snakemake; ``python -m pipeline_lib run pixel2d.<name>`` calls them.
"""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np

from pipeline_lib import artifacts, mirror, shards
from pipeline_lib.artifacts import ArtifactError
from pipeline_lib.config import build, derive_seed
from pipeline_lib.digest import binary_digests as digests
from pipeline_lib.fem.quad4 import elasticity_matrix
from pipeline_lib.pixel2d import perturb as pt
from pipeline_lib.pixel2d.defects import COUNTERS, fix_defects
from pipeline_lib.pixel2d.multiscale import (  # noqa: F401  (entry points of the multiscale design)
    design_assemble, design_macro, design_summary, design_verify, feasibility)
from pipeline_lib.pixel2d.properties import PROPERTIES, properties

# torch (through simp and homogenize) is imported inside the two stages that solve, not here:
# it costs 1.6 s per job, and most jobs of a perturbation iteration only shuffle arrays.

log = logging.getLogger(__name__)
# the entry points `python -m pipeline_lib run pixel2d.<name>` runs
STAGES = (
    "seeds", "initial_candidates", "perturb", "homogenize_shard", "collect_iteration", "database",
    "figures", "train", "feasibility", "design_macro", "design_assemble", "design_verify", "design_summary")


def seeds(out: Path, *, shard: int, cfg: dict, seed: int) -> None:
    """SIMP seeds of one shard: targets, optimized designs, binary cells with defects fixed."""
    from pipeline_lib.pixel2d import simp

    sc = cfg["seeds"]
    mat = build(simp.Material, cfg["material"], where="pixel2d.material")
    D = elasticity_matrix(mat.E, mat.nu, mat.plane)
    # Targets come from one stream for all shards, so the seed set does not depend on sharding.
    targets, volumes = simp.sample_targets(np.random.default_rng(derive_seed(seed, "pixel2d", "targets")),
                                           sc["count"], D, sc["volume_fraction"], sc["c12_ratio"])
    rows = shards.rows(sc["count"], shard, sc["shards"])
    ids = np.arange(sc["count"])[rows]
    rng = np.random.default_rng(derive_seed(seed, "pixel2d", "seeds", shard))
    params = build(simp.SimpParams, sc["simp"], where="pixel2d.seeds.simp")
    if len(ids):
        res = simp.optimize(targets[rows], volumes[rows], cfg["size"], mat, params, rng)
        cells, keep, counts = fix_defects(res["cells"])
    else:
        n = cfg["size"]
        res = {"density": np.zeros((0, n, n)), "objective": np.zeros(0)}
        cells, keep, counts = np.zeros((0, n, n), np.uint8), np.zeros(0, bool), dict.fromkeys(COUNTERS, 0)
    log.info("seeds shard %d: %d designs, %d kept; defects %s", shard, len(ids), keep.sum(), counts)
    artifacts.write(out, "pixel2d/seeds", {
        "cells": cells, "target": targets[rows], "volume_target": volumes[rows],
        "density": res["density"].astype(np.float32), "objective": res["objective"], "kept": keep,
        "seed_id": ids.astype(np.int64)}, config=cfg, seed=seed, stats={"defects": counts})


def _candidates(out: Path, cells, parent, seed_id, iteration: int, operator, known: np.ndarray, stats: dict,
                cfg: dict, seed: int | None) -> None:
    dig = digests(cells)
    fresh = shards.fresh(dig, known)
    stats = dict(stats, duplicates=int((~fresh).sum()), new=int(fresh.sum()))
    log.info("iteration %d: %d new cells, %d duplicates dropped", iteration, fresh.sum(), (~fresh).sum())
    artifacts.write(out, "pixel2d/candidates", {
        "cells": cells[fresh], "parent": parent[fresh].astype(np.int64), "seed_id": seed_id[fresh].astype(np.int64),
        "iteration": np.full(fresh.sum(), iteration, np.int32), "operator": operator[fresh].astype(np.int8),
        "digest": dig[fresh]}, config=cfg, seed=seed, stats=stats)


def initial_candidates(seed_shards: list[Path], out: Path) -> None:
    """Iteration 0: the kept SIMP seeds of all shards, deduplicated."""
    parts = [artifacts.read(p, "pixel2d/seeds", ["cells", "kept", "seed_id"]) for p in seed_shards]
    first = artifacts.read(seed_shards[0], "pixel2d/seeds", []) if seed_shards else None
    defects = Counter()
    for p in seed_shards:
        defects.update(artifacts.read(p, "pixel2d/seeds", []).stats["defects"])
    cells = np.concatenate([a["cells"][a["kept"]] for a in parts])
    seed_id = np.concatenate([a["seed_id"][a["kept"]] for a in parts])
    n = len(cells)
    _candidates(out, cells, np.full(n, -1), seed_id, 0, np.full(n, -1), None,
                {"defects": dict(defects), "made": n}, first.config if first else {},
                int(first.attrs["seed"]) if first else None)


def perturb(results: list[Path], out: Path, *, iteration: int, cfg: dict, seed: int) -> None:
    """Candidates of one iteration, perturbed from cells drawn toward extreme and sparse properties."""
    if len(results) != iteration:
        raise ValueError(f"iteration {iteration} needs the results of iterations 0..{iteration - 1}, "
                         f"got {len(results)} files")
    p = build(pt.PerturbParams, cfg["perturb"], ignore=("iterations",), where="pixel2d.perturb")
    rng = np.random.default_rng(derive_seed(seed, "pixel2d", "perturb", iteration))
    prior = [artifacts.read(r, "pixel2d/cells", ["C", "digest", "seed_id"]) for r in results]
    sizes = np.array([len(a["C"]) for a in prior])
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    C = np.concatenate([a["C"] for a in prior])
    if len(C) == 0:
        raise ArtifactError(results[-1], "no cells in the database so far: nothing to perturb")
    scores = pt.selection_scores(C, p.extreme_weight, p.neighbours)
    n_parents = -(-p.cells_per_iteration // p.children_per_parent)
    chosen = pt.select_parents(rng, scores, n_parents, p.greed)
    # Read only the chosen parents' cells, file by file.
    parents = np.empty((len(chosen),) + _cell_shape(results[0]), dtype=np.uint8)
    file_of = np.searchsorted(offsets, chosen, side="right") - 1
    for f in np.unique(file_of):
        sel = np.flatnonzero(file_of == f)
        rows, inverse = np.unique(chosen[sel] - offsets[f], return_inverse=True)
        with artifacts.open_artifact(results[f], "pixel2d/cells") as h5:
            parents[sel] = h5["cells"][rows][inverse]  # h5py reads increasing, unique rows
    children, ops = pt.make_children(rng, parents, p)
    children = children[: p.cells_per_iteration]
    ops = ops[: p.cells_per_iteration]
    parent_rows = np.repeat(chosen, p.children_per_parent)[: len(children)]
    seed_ids = np.concatenate([a["seed_id"] for a in prior])[parent_rows]
    fixed, keep, defects = fix_defects(children)
    known = np.concatenate([a["digest"] for a in prior])
    _candidates(out, fixed[keep], parent_rows[keep], seed_ids[keep], iteration, ops[keep], known,
                {"defects": defects, "made": len(children),
                 "selected_score_mean": float(scores[chosen].mean()), "score_mean": float(scores.mean())},
                cfg, seed)


def _cell_shape(path: Path) -> tuple[int, int]:
    with artifacts.open_artifact(path) as h5:
        return tuple(h5["cells"].shape[1:])


def homogenize_shard(candidates: Path, out: Path, *, shard: int, cfg: dict) -> None:
    """Effective stiffness of one shard (a contiguous slice) of an iteration's candidates."""
    from pipeline_lib.pixel2d.homogenization import homogenize_cells

    with artifacts.open_artifact(candidates, "pixel2d/candidates") as h5:
        n = h5["cells"].shape[0]
        rows = shards.rows(n, shard, cfg["homogenize"]["shards"])
        cells = h5["cells"][rows]
    bad = np.flatnonzero(~np.isin(cells, (0, 1)).all(axis=(1, 2)))
    if len(bad):
        raise ArtifactError(candidates, f"cell {rows.start + bad[0]} is not binary")
    m = cfg["material"]
    C = homogenize_cells(cells, E=m["E"], nu=m["nu"], plane=m["plane"], void=m["void"],
                         batch_size=cfg["homogenize"]["batch_size"])
    sym = int(mirror.is_mirror_symmetric(cells, 2).sum())
    log.info("homogenized %d cells (%d on the quarter cell)", len(cells), sym)
    artifacts.write(out, "pixel2d/stiffness", {"index": np.arange(rows.start, rows.start + len(cells)), "C": C},
                    config=cfg, stats={"cells": len(cells), "quarter_solves": sym})


def collect_iteration(candidates: Path, stiffness: list[Path], out: Path) -> None:
    """Join an iteration's candidates with the stiffness of all its shards."""
    cand = artifacts.read(candidates, "pixel2d/candidates")
    C = artifacts.join_shards(stiffness, "pixel2d/stiffness", len(cand["cells"]), candidates)["C"]
    arrays = dict(cand.arrays, C=C)
    cfg = dict(cand.config, **artifacts.read(stiffness[0], "pixel2d/stiffness", []).config) if stiffness else cand.config
    artifacts.write(out, "pixel2d/cells", arrays, config=cfg, seed=int(cand.attrs["seed"]), stats=cand.stats)


def database(results: list[Path], out: Path, *, cfg: dict, seed: int) -> None:
    """All iterations, in order, as one self-contained file, with defect and dedup counts summed."""
    per_iteration = []
    defects = Counter()
    for r in results:
        st = artifacts.read(r, "pixel2d/cells", []).stats
        defects.update(st.get("defects", {}))
        per_iteration.append({k: st.get(k) for k in ("made", "new", "duplicates")})
    artifacts.gather(results, out, "pixel2d/cells", out_kind="pixel2d/database", config=cfg, seed=seed,
                     stats={"defects": dict(defects), "iterations": per_iteration})
    log.info("database: %d iterations, defects fixed %s", len(results), dict(defects))


def figures(db: Path, property_space: Path, gallery: Path, *, cfg: dict) -> None:
    """The property space (pairwise C11, C12, C22, C33 by iteration, the paper's Fig. 4) and a
    gallery of cells spread over it."""
    from pipeline_lib.viz import plots

    with artifacts.open_artifact(db, "pixel2d/database") as h5:
        C = h5["C"][()]
        it = h5["iteration"][()]
        P = properties(C)
        plots.pairwise_scatter(P, list(PROPERTIES), it, property_space, color_label="iteration",
                               title=f"pixel2d property space ({len(P)} cells)", units="E")
        pick = np.sort(plots.spread_sample(P, cfg["figures"]["gallery"]))
        cells = h5["cells"][pick] if len(pick) else np.zeros((0, 1, 1))
    titles = [f"#{i} it{it[i]}\nC11={P[i, 0]:.3f} C33={P[i, 3]:.3f}" for i in pick]
    plots.image_gallery(cells, titles, gallery, title="pixel2d cells spread over the property space")


def train(db: Path, model: Path, latent: Path, metrics: Path, curves: Path, *, cfg: dict, seed: int) -> None:
    """Train the conv VAE + property regressor on the database (paper 000, Eq. 6); write the model,
    the latent codes of every cell, the test metrics and the training curves."""

    from pipeline_lib.learn.inference import set_normalization, standardize
    from pipeline_lib.learn.run import Phase, build_model, split_rows, train_stage
    from pipeline_lib.pixel2d import learning as L

    data = artifacts.read(db, "pixel2d/database", ["cells", "C"])
    cells, C = data["cells"], data["C"]
    if cells.shape[1] != cells.shape[2] or cells.shape[1] % 2:
        raise ArtifactError(db, f"cells of shape {cells.shape[1:]}: the model needs square cells of even side")
    tc = cfg["train"]
    rows = split_rows(len(cells), tc["split"], derive_seed(seed, "pixel2d", "split"))
    net = build_model(L.build, dict(cfg["model"], epochs=tc["epochs"], side=cells.shape[1] // 2),
                      derive_seed(seed, "pixel2d", "init"))
    y = properties(C)
    set_normalization(net, y[rows["train"]])
    tensors = [L.to_input(cells), standardize(net, y)]
    te = rows["test"]
    train_stage(
        chain="pixel2d", model=net, tensors=tensors, rows=rows,
        phases=[Phase("train", dict(tc, seed=derive_seed(seed, "pixel2d", "train") % 2**31))],
        identity=[cfg, seed, tensors[0].numpy(), y],
        evaluate=lambda m: L.evaluate(m, cells[te], C[te], tc["samples"], derive_seed(seed, "pixel2d", "samples")),
        encode_all=lambda m: L.encode(m, cells), n_rows=len(cells),
        model_path=model, latent_path=latent, metrics_path=metrics, curves_path=curves,
        curve_keys=["recon", "kl", "regression"], config=cfg, seed=seed)
