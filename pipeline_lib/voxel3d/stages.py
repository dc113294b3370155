"""Entry points of the voxel3d chain (``python -m pipeline_lib run voxel3d.<name>``): each reads its
input artifacts, calls the library and writes one artifact."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from pipeline_lib import artifacts, atomic, shards
from pipeline_lib.config import build, derive_seed
from pipeline_lib.digest import binary_digests
from pipeline_lib.voxel3d import families
from pipeline_lib.voxel3d import homogenization as H
from pipeline_lib.voxel3d.schemas import SOURCES
from pipeline_lib.voxel3d.robust import design_bulk, design_deterministic, design_pareto, design_summary, uq  # noqa: F401
from pipeline_lib.voxel3d.screening import REASONS, screen

log = logging.getLogger(__name__)
# the entry points `python -m pipeline_lib run voxel3d.<name>` runs
STAGES = (
    "generate", "collect", "homogenize_shard", "database", "aleatoric", "figures", "train",
    "latent_study", "uq", "design_bulk", "design_pareto", "design_deterministic", "design_summary")


def generate(out: Path, *, source: str, shard: int, cfg: dict, seed: int) -> None:
    """Cells of one source and shard, screened (volume fraction, cubic, connected, no floating voxels)."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")
    sc = cfg["sources"][source]
    rows = shards.rows(sc["count"], shard, sc["shards"])
    count = rows.stop - rows.start
    rng = np.random.default_rng(derive_seed(seed, "voxel3d", source, shard))
    cells, family, desc = families.generate(source, rng, count, cfg["size"], sc.get("params"))
    keep, reasons = screen(cells, tuple(cfg["volume_fraction"]))
    cells = cells[keep]
    stats = {"made": int(count), "kept": int(keep.sum()), "rejected": reasons}
    log.info("%s shard %d: %s", source, shard, stats)
    artifacts.write(out, "voxel3d/cells", {
        "cells": cells.astype(np.uint8), "source": np.full(len(cells), SOURCES.index(source), np.int8),
        "family": np.asarray(family, np.int64)[keep],
        "description": np.array([d.encode()[:96] for d in np.asarray(desc, dtype=object)[keep]], dtype="S96")
        if len(cells) else np.zeros(0, "S96"),
        "volume_fraction": cells.mean(axis=(1, 2, 3)), "digest": binary_digests(cells)},
        config=cfg, seed=seed, stats=stats)


def collect(parts: list[Path], out: Path) -> None:
    """All sources and shards, deduplicated (first occurrence kept), with the screening counts."""
    read = [artifacts.read(p, "voxel3d/cells") for p in parts]
    cat = shards.concat([a.arrays for a in read])
    keep = shards.fresh(cat["digest"])
    cat = shards.take(cat, keep)
    per_source = {}
    for p, a in zip(parts, read):
        st = a.stats
        src = SOURCES[int(a["source"][0])] if len(a["source"]) else Path(p).stem.rsplit("_", 1)[0]
        agg = per_source.setdefault(src, {"made": 0, "kept": 0, "rejected": dict.fromkeys(REASONS, 0)})
        agg["made"] += st["made"]
        agg["kept"] += st["kept"]
        for r, v in st["rejected"].items():
            agg["rejected"][r] += v
    for s, agg in per_source.items():
        agg["in_database"] = int((cat["source"] == SOURCES.index(s)).sum())
    stats = {"duplicates": int((~keep).sum()), "sources": per_source}
    log.info("cells: %d (%s)", len(cat["digest"]), stats)
    artifacts.write(out, "voxel3d/cells", cat, stats=stats)


def homogenize_shard(cells: Path, out: Path, *, shard: int, cfg: dict, seed: int) -> None:
    """C of one shard of the cells, each simulated with its own draw of E_s and nu_s."""
    material = build(H.Material, cfg["material"], where="voxel3d.material")
    with artifacts.open_artifact(cells, "voxel3d/cells") as h5:
        rows = shards.rows(h5["cells"].shape[0], shard, cfg["homogenize"]["shards"])
        block = h5["cells"][rows]
        dig = h5["digest"][rows]
    res = H.simulate(block, [H.material_draw(seed, (int(d),), material) for d in dig])
    log.info("homogenized %d cells", len(block))
    artifacts.write(out, "voxel3d/stiffness", dict(index=np.arange(rows.start, rows.start + len(block)), **res),
                    config=cfg, seed=seed, stats={"cells": len(block)})


def database(cells: Path, stiffness: list[Path], out: Path, *, cfg: dict, seed: int) -> None:
    """Cells joined with the stiffness of all shards: the voxel3d database."""
    u = artifacts.read(cells, "voxel3d/cells")
    n = len(u["digest"])
    props = artifacts.join_shards(stiffness, "voxel3d/stiffness", n, cells)
    artifacts.write(out, "voxel3d/database", dict(u.arrays, **props), config=cfg, seed=seed, stats=u.stats)
    log.info("voxel3d database: %d cells", n)


def aleatoric(db: Path, out: Path, *, cfg: dict, seed: int) -> None:
    """Repeat the simulation of a few cells with independent material draws: the true aleatoric
    spread of their properties (the paper's Table 3 check)."""
    ac = cfg["aleatoric"]
    material = build(H.Material, cfg["material"], where="voxel3d.material")
    with artifacts.open_artifact(db, "voxel3d/database") as h5:
        n = h5["cells"].shape[0]
        k = min(ac["cells"], n)
        rows = np.unique(np.linspace(0, n - 1, k).astype(int)) if k else np.zeros(0, int)
        cells = h5["cells"][rows] if len(rows) else np.zeros((0,) + h5["cells"].shape[1:], np.uint8)
    unit = np.repeat(rows, ac["draws"])
    reps = np.repeat(cells, ac["draws"], axis=0)
    draws = [H.material_draw(seed, ("repeat", int(r), d), material) for r in rows for d in range(ac["draws"])]
    res = H.simulate(reps, draws)
    summary = {}
    for r in rows:
        sel = unit == r
        summary[int(r)] = {p: {"mean": float(res[p][sel].mean()), "std": float(res[p][sel].std(ddof=1))}
                           for p in ("E", "G", "nu", "K")} if ac["draws"] > 1 else {}
    log.info("aleatoric spread: %s", summary)
    artifacts.write(out, "voxel3d/aleatoric", dict(unit=unit.astype(np.int64), **res), config=cfg, seed=seed,
                    stats={"spread": summary})


def figures(db: Path, histograms: Path, gallery: Path, *, cfg: dict) -> None:
    """Histograms of E and nu per source (the paper's Fig. 4) and a gallery of cells spread over
    the property space."""
    from pipeline_lib.viz import plots, render3d

    d = artifacts.read(db, "voxel3d/database", ["source", "E", "nu", "volume_fraction"])
    plots.histograms_by_group({"E [MPa]": d["E"], "nu": d["nu"]}, d["source"], list(SOURCES), histograms,
                              title=f"voxel3d: {len(d['E'])} cells", log_first=True)
    P = np.stack([np.log10(d["E"]), d["nu"], d["volume_fraction"]], 1)
    pick = np.sort(plots.spread_sample(P, cfg["figures"]["gallery"]))
    with artifacts.open_artifact(db, "voxel3d/database") as h5:
        cells = h5["cells"][pick] if len(pick) else np.zeros((0, 2, 2, 2), np.uint8)
    titles = [f"#{i} {SOURCES[d['source'][i]]}\nE={d['E'][i]:.3g} nu={d['nu'][i]:.2f}" for i in pick]
    render3d.render_voxels(cells, gallery, titles=titles)


def _training_data(db: Path, cfg: dict, seed: int):
    from pipeline_lib.learn.run import split_rows
    from pipeline_lib.voxel3d import learning as L

    data = artifacts.read(db, "voxel3d/database", ["cells", "E", "nu", "G"])
    cells = data["cells"]
    if cells.shape[1] % 2 or len(set(cells.shape[1:])) != 1:
        raise artifacts.ArtifactError(db, f"cells of shape {cells.shape[1:]}: the model needs cubes of even side")
    y = H.property_columns(data.arrays)
    if not np.isfinite(y).all():
        raise artifacts.ArtifactError(db, f"{int((~np.isfinite(y)).any(1).sum())} cells have non-finite properties")
    tc = cfg["train"]
    rows = split_rows(len(cells), tc["split"], derive_seed(seed, "voxel3d", "split"))
    # down-selection of the positive-nu majority, in the training rows only (section 4.1.1)
    rows["train"] = L.down_select(rows["train"], y[:, 1], tc["down_select"],
                                  np.random.default_rng(derive_seed(seed, "voxel3d", "down_select")))
    return cells, y, rows


def _phases(tc: dict, seed: int):
    from pipeline_lib.learn.run import Phase

    common = {k: v for k, v in tc.items() if k not in ("phases", "split", "down_select", "samples")}
    out = []
    for k, ph in enumerate(tc["phases"]):
        train = dict(common, epochs=ph["epochs"], seed=derive_seed(seed, "voxel3d", "train", k) % 2**31)
        out.append(Phase(ph["name"], train, setup=lambda m, ph=ph: m.set_phase(ph["weights"], ph["epochs"]),
                         describe=ph))
    return out


def train(db: Path, model: Path, latent: Path, metrics: Path, curves: Path, *, cfg: dict, seed: int) -> None:
    """Train the 3D conv VAE + MDN by the progressive schedule (paper 004, section 2.1.4): each
    phase starts from the previous phase's weights; write the model, the latent codes of every
    unit, validation and test metrics and the training curves."""
    from pipeline_lib.learn.inference import set_normalization, standardize
    from pipeline_lib.learn.run import build_model, train_stage
    from pipeline_lib.voxel3d import learning as L

    cells, y, rows = _training_data(db, cfg, seed)
    net = build_model(L.build, dict(cfg["model"], side=cells.shape[1] // 2), derive_seed(seed, "voxel3d", "init"))
    set_normalization(net, y[rows["train"]])
    tensors = [L.to_input(cells), standardize(net, y)]

    def evaluate(m):
        out = L.evaluate(m, cells[rows["test"]], y[rows["test"]])
        out["validation"] = L.evaluate(m, cells[rows["val"]], y[rows["val"]])
        return out

    train_stage(
        chain="voxel3d", model=net, tensors=tensors, rows=rows, phases=_phases(cfg["train"], seed),
        identity=[cfg["model"], {k: v for k, v in cfg["train"].items() if k != "phases"}, seed,
                  tensors[0].numpy(), y],
        evaluate=evaluate, encode_all=lambda m: L.encode(m, cells), n_rows=len(cells),
        model_path=model, latent_path=latent, metrics_path=metrics, curves_path=curves,
        curve_keys=["recon", "kl", "mdn"], config=cfg, seed=seed)


def latent_study(db: Path, out: Path, plot: Path, *, cfg: dict, seed: int) -> None:
    """Reconstruction against latent size (the paper's Table C1): the first (reconstruction-only)
    phase trained for each size of ``latent_study.sizes``, scored on the validation rows."""
    import torch

    from pipeline_lib.learn.inference import set_normalization, standardize
    from pipeline_lib.learn.run import build_model, fit
    from pipeline_lib.viz import plots
    from pipeline_lib.voxel3d import learning as L

    cells, y, rows = _training_data(db, cfg, seed)
    study = cfg["latent_study"]
    first = _phases(dict(cfg["train"], phases=cfg["train"]["phases"][:1]), seed)[0]
    first.train["epochs"] = study["epochs"]
    results = []
    for size in study["sizes"]:
        net = build_model(L.build, dict(cfg["model"], latent=size, side=cells.shape[1] // 2),
                          derive_seed(seed, "voxel3d", "init", size))
        set_normalization(net, y[rows["train"]])
        tensors = [L.to_input(cells), standardize(net, y)]
        records = fit(net, tensors, rows, [first], Path(out).parent / f"latent_study_{size}",
                      [cfg["model"], size, first.train, seed, tensors[0].numpy()])
        acc = L.evaluate(net.eval(), cells[rows["val"]], y[rows["val"]])["voxel_accuracy"]
        results.append({"latent": size, "val_voxel_accuracy": acc, "val_recon": records[-1].get("val_recon"),
                        "train_recon": records[-1].get("train_recon"), "seconds": sum(r["seconds"] for r in records)})
        log.info("latent %d: validation voxel accuracy %.4f", size, acc)
        del net, tensors
        torch.set_grad_enabled(True)
    atomic.write_json(out, {"epochs": study["epochs"], "results": results})
    plots.latent_size_study(results, plot, epochs=study["epochs"])
