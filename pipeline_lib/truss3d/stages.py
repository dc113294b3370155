"""Entry points of the truss3d chain (``python -m pipeline_lib run truss3d.<name>``): each reads its
input artifacts, calls the library and writes one artifact."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from pipeline_lib import artifacts, shards
from pipeline_lib.artifacts import ArtifactError
from pipeline_lib.config import build, derive_seed
from pipeline_lib.elasticity import ORTHOTROPIC
from pipeline_lib.progress import Progress
from pipeline_lib.truss3d import generation as gen
from pipeline_lib.truss3d.design import design, design_summary  # noqa: F401  (entry points, in STAGES)

log = logging.getLogger(__name__)
# the entry points `python -m pipeline_lib run truss3d.<name>` runs
STAGES = (
    "library_shard", "library", "superpose_shard", "lattices", "homogenize_shard", "database",
    "figures", "train", "design", "design_summary", "nonlinear_shard", "nonlinear_database", "nonlinear_predictor",
    "nonlinear_design")
_ATTRS = {"elementary_names": list(gen.ELEMENTARY_NAMES)}


def library_shard(out: Path, *, shard: int, cfg: dict, seed: int) -> None:
    """Perturbation chains of one shard: every (elementary lattice, chain) pair the shard owns."""
    lc = cfg["library"]
    jobs = [(e, c) for e in range(len(gen.ELEMENTARY_NAMES)) for c in range(lc["chains_per_lattice"])]
    mine = jobs[shards.rows(len(jobs), shard, lc["shards"])]
    params = build(gen.PerturbParams, lc["perturb"], where="truss3d.library.perturb")
    lattices, origin = gen.library_chains(mine, [derive_seed(seed, "truss3d", "chain", e, c) for e, c in mine], params)
    log.info("library shard %d: %d chains, %d lattices", shard, len(mine), len(lattices))
    artifacts.write(out, "truss3d/library", gen.pack(lattices, origin), config=cfg, seed=seed,
                    stats={"lattices": len(lattices)}, attrs=dict(_ATTRS, parent_rows="local"))


def library(parts: list[Path], out: Path) -> None:
    """The elementary lattices followed by all chains, duplicates removed (children re-pointed to
    the kept copy), parents as global rows."""
    cat, dropped = gen.merge_library([artifacts.read(p, "truss3d/library").arrays for p in parts])
    log.info("library: %d lattices (%d duplicates dropped)", len(cat["digest"]), dropped)
    artifacts.write(out, "truss3d/library", cat, stats={"lattices": len(cat["digest"]), "duplicates": dropped},
                    attrs=dict(_ATTRS, parent_rows="global"))


def superpose_shard(library: Path, out: Path, *, shard: int, cfg: dict, seed: int) -> None:
    """Superpositions of random pairs of library lattices (repetition allowed), valid and new."""
    sc = cfg["superposition"]
    lib = artifacts.read(library, "truss3d/library", ["adjacency", "offsets", "digest"])
    rows = shards.rows(sc["count"], shard, sc["shards"])
    want = rows.stop - rows.start
    rng = np.random.default_rng(derive_seed(seed, "truss3d", "superpose", shard))
    lattices, origin, counts = gen.sample_superpositions(rng, lib["adjacency"], lib["offsets"], want,
                                                         sc["max_tries_factor"] * max(want, 1), set(lib["digest"].tolist()))
    if len(lattices) < want:
        log.warning("superposition shard %d: only %d of %d new valid lattices in %d draws", shard,
                    len(lattices), want, counts["draws"])
    splits = sum(gen.split_count(A, x) > 0 for A, x in lattices)
    log.info("superposition shard %d: %d lattices from %d draws (%d invalid); %d with crossing beams split",
             shard, len(lattices), counts["draws"], counts["invalid"], splits)
    artifacts.write(out, "truss3d/lattices", gen.pack(lattices, origin), config=cfg, seed=seed,
                    stats=dict(counts, made=len(lattices), with_splits=int(splits)), attrs=_ATTRS)


def lattices(library: Path, superposed: list[Path], out: Path) -> None:
    """Library plus superposed shards, deduplicated across shards (library rows unchanged)."""
    parts = [artifacts.read(library, "truss3d/library").arrays]
    parts += [artifacts.read(s, "truss3d/lattices").arrays for s in superposed]
    cat = shards.concat(parts)
    keep = shards.fresh(cat["digest"])
    cat = shards.take(cat, keep)
    n_lib = len(parts[0]["digest"])
    stats = {"library": n_lib, "superposed": int(keep.sum()) - n_lib, "duplicates": int((~keep).sum())}
    log.info("lattices: %s", stats)
    artifacts.write(out, "truss3d/lattices", cat, stats=stats, attrs=_ATTRS)


def homogenize_shard(lattices: Path, out: Path, *, shard: int, cfg: dict) -> None:
    """Effective stiffness of one shard (a contiguous slice) of the lattices at fixed relative density."""
    from pipeline_lib.truss3d.homogenization import checked_frames, homogenize_frames

    hc = cfg["homogenize"]
    with artifacts.open_artifact(lattices, "truss3d/lattices") as h5:
        sl = shards.rows(h5["adjacency"].shape[0], shard, hc["shards"])
        A = h5["adjacency"][sl]
        X = h5["offsets"][sl]
    try:
        frames = checked_frames(A, X, first=sl.start)
    except ValueError as exc:
        raise ArtifactError(lattices, str(exc)) from None
    m = cfg["material"]
    if frames:
        C, r = homogenize_frames(frames, relative_density=cfg["relative_density"], E=m["E"], nu=m["nu"],
                                 beam=cfg["beam"], density=cfg["density"], batch_size=hc["batch_size"])
        rho = np.array([f.strut_volume(ri) for f, ri in zip(frames, r)])
    else:
        C, r, rho = np.zeros((0, 6, 6)), np.zeros(0), np.zeros(0)
    log.info("homogenized %d lattices", len(frames))
    artifacts.write(out, "truss3d/stiffness", {"index": np.arange(sl.start, sl.start + len(frames)), "C": C,
                                               "radius": r / 2.0, "relative_density": rho},
                    config=cfg, stats={"lattices": len(frames)})


def database(lattices: Path, stiffness: list[Path], out: Path, *, cfg: dict, seed: int) -> None:
    """Lattices joined with the stiffness of all shards: the truss3d database."""
    from pipeline_lib.elasticity import orthotropic_components

    lat = artifacts.read(lattices, "truss3d/lattices")
    res = artifacts.join_shards(stiffness, "truss3d/stiffness", len(lat["digest"]), lattices)
    n = len(lat["digest"])
    arrays = dict(lat.arrays, **res, C9=orthotropic_components(res["C"]))
    artifacts.write(out, "truss3d/database", arrays, config=cfg, seed=seed, stats=lat.stats, attrs=_ATTRS)
    log.info("truss3d database: %d lattices", n)


def figures(db: Path, gallery: Path, surfaces: Path, property_space: Path, *, cfg: dict) -> None:
    """Lattices rendered as tubes, elastic surfaces E(d) of extreme lattices, and the property space
    (directional E and G with projections, coloured by bulk modulus; the paper's Fig. 1d)."""
    from pipeline_lib import elasticity as el
    from pipeline_lib.truss3d.frame import build_frame, full_cell
    from pipeline_lib.viz import plots, render3d

    d = artifacts.read(db, "truss3d/database", ["adjacency", "offsets", "C", "radius"])
    C = d["C"]
    eng = el.engineering_constants(C)
    E = np.stack([eng["E1"], eng["E2"], eng["E3"]], 1)
    G = np.stack([eng["G23"], eng["G31"], eng["G12"]], 1)
    K, _ = el.voigt_moduli(C)
    plots.property_space_3d([(E, ["E1", "E2", "E3"]), (G, ["G23", "G31", "G12"])], K, property_space,
                            size=d["radius"], color_label="Voigt bulk modulus K_V [E_s]",
                            title=f"truss3d property space ({len(C)} lattices, moduli in units of E_s)")
    feats = np.log10(np.concatenate([E, G], 1))
    pick = plots.spread_sample(feats, cfg["figures"]["gallery"])

    def frame_of(i):
        nodes, beams = full_cell(build_frame(d["adjacency"][i], d["offsets"][i]))
        return nodes, beams, 2.0 * d["radius"][i]  # radius: fraction of the side-2 cell

    render3d.render_lattices([frame_of(i) for i in pick], gallery,
                             titles=[f"#{i}  E1={E[i, 0]:.2e}  E3={E[i, 2]:.2e}" for i in pick])
    AU = el.universal_anisotropy(C)
    extremes = {"max E1": np.argmax(E[:, 0]), "min E1": np.argmin(E[:, 0]), "max K": np.argmax(K),
                "max A^U": np.argmax(AU), "min A^U": np.argmin(AU), "max G12": np.argmax(G[:, 2]),
                "min E3": np.argmin(E[:, 2]), "max E3": np.argmax(E[:, 2])}
    chosen, seen = [], set()
    for name, i in extremes.items():  # one surface per lattice, even if it holds several records
        if int(i) not in seen and len(chosen) < cfg["figures"]["surfaces"]:
            seen.add(int(i))
            chosen.append((name, int(i)))
    render3d.render_elastic_surfaces(C[[i for _, i in chosen]], surfaces,
                                     titles=[f"{name} (#{i})" for name, i in chosen])


def train(db: Path, model: Path, latent: Path, metrics: Path, curves: Path, *, cfg: dict, seed: int) -> None:
    """Train the graph VAE + property predictor (paper 002, Eqs. 1-5); write the model, the latent
    codes of every lattice, the test metrics and the training curves."""
    from pipeline_lib.learn.run import Phase, build_model, split_rows, train_stage
    from pipeline_lib.truss3d import learning as L

    data = artifacts.read(db, "truss3d/database", ["adjacency", "offsets", "C9"])
    A, X, C9 = data["adjacency"], data["offsets"], data["C9"]
    if not np.isfinite(C9).all():
        raise ArtifactError(db, f"{int((~np.isfinite(C9)).any(1).sum())} lattices have non-finite stiffness")
    tc = cfg["train"]
    rows = split_rows(len(A), tc["split"], derive_seed(seed, "truss3d", "split"))
    net = build_model(L.build, dict(cfg["model"], epochs=tc["epochs"]), derive_seed(seed, "truss3d", "init"))
    L.set_normalization(net, C9[rows["train"]])
    tensors = L.tensors(net, A, X, C9)
    te = rows["test"]
    train_stage(
        chain="truss3d", model=net, tensors=tensors, rows=rows,
        phases=[Phase("train", dict(tc, seed=derive_seed(seed, "truss3d", "train") % 2**31))],
        identity=[cfg, seed, *(t.numpy() for t in tensors)],
        evaluate=lambda m: L.evaluate(m, A[te], X[te], C9[te], tc["samples"], derive_seed(seed, "truss3d", "samples")),
        encode_all=lambda m: L.encode(m, A, X), n_rows=len(A),
        model_path=model, latent_path=latent, metrics_path=metrics, curves_path=curves,
        curve_keys=["adjacency", "offsets", "property", "kl"], config=cfg, seed=seed)


def _nonlinear_rows(n: int, count: int, seed: int) -> np.ndarray:
    """The database rows of the stress-strain database: a seeded random subset, in order."""
    rng = np.random.default_rng(derive_seed(seed, "truss3d", "nonlinear", "rows"))
    return np.sort(rng.choice(n, size=min(count, n), replace=False))


def nonlinear_shard(db: Path, out: Path, *, shard: int, cfg: dict, seed: int) -> None:
    """Large-compression paths of one shard of the selected lattices (paper 002, Fig. 6)."""
    from pipeline_lib.truss3d.homogenization import checked_frames, strut_radii
    from pipeline_lib.truss3d.nonlinear import NonlinearParams, compress_frames

    nc = cfg["nonlinear"]
    with artifacts.open_artifact(db, "truss3d/database") as h5:
        rows = _nonlinear_rows(h5["adjacency"].shape[0], nc["count"], seed)
        mine = rows[shards.rows(len(rows), shard, nc["shards"])]
        A, X = h5["adjacency"][mine], h5["offsets"][mine]
    frames = checked_frames(A, X)
    r = strut_radii(frames, cfg["relative_density"], cfg["density"]) if frames else np.zeros(0)
    params = build(NonlinearParams, {k: nc[k] for k in ("steps", "imperfection", "elements_per_beam")},
                   where="truss3d.nonlinear")
    m = cfg["material"]
    # the log shows each path as it ends (paths take seconds; many are followed in lockstep)
    progress = Progress(f"nonlinear paths of shard {shard}", len(frames), unit="lattices")
    unconverged = []

    def done(i: int, converged: bool) -> None:
        if not converged:
            unconverged.append(int(mine[i]))
            log.warning("database row %d: no converged path", mine[i])
        progress.update(note=f"{len(unconverged)} without a converged path")

    res = compress_frames(frames, r, E=m["E"], nu=m["nu"], beam=cfg["beam"], lateral=nc["lateral"],
                          strain=nc["strain"], points=nc["points"], params=params, on_done=done)
    progress.close()
    res["curve"] = res["curve"] * m["E"]  # stored in units of E_s: compress_frames divides by E
    res["path_stress"] = res["path_stress"] * m["E"]
    failed = int(np.isnan(res["curve"]).any(1).sum())
    log.info("nonlinear shard %d: %d lattices, %d without a converged path, %.1f s", shard, len(mine), failed,
             res["seconds"].sum())
    artifacts.write(out, "truss3d/nonlinear_shard", dict(res, row=mine.astype(np.int64), radius=r / 2.0),
                    config=cfg, seed=seed, stats={"lattices": len(mine), "failed": failed})


def nonlinear_database(parts: list[Path], out: Path, figure: Path) -> None:
    """The shards joined: the stress-strain database, and the spread of its curves."""
    from pipeline_lib.truss3d.nonlinear import join_paths
    from pipeline_lib.viz.plots import plt, save_atomic

    shard_files = [artifacts.read(p, "truss3d/nonlinear_shard") for p in parts]
    cat = join_paths([a.arrays for a in shard_files])
    ok = np.isfinite(cat["curve"]).all(1)
    stats = {"lattices": int(len(ok)), "failed": int((~ok).sum()),
             "buckled": int(np.isfinite(cat["critical_strain"]).sum()), "seconds": float(cat["seconds"].sum())}
    first = shard_files[0]  # every shard ran with the same config slice and seed
    artifacts.write(out, "truss3d/nonlinear", cat, stats=stats, config=first.config, seed=int(first.attrs["seed"]))
    log.info("stress-strain database: %s", stats)
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    eps = 100 * cat["strain"]
    for r in np.flatnonzero(ok):
        ax[0].plot(100 * cat["path_strain"][r], cat["path_stress"][r], lw=0.6, alpha=0.5)
    ax[0].set_xlabel("compressive strain [%]")
    ax[0].set_ylabel("nominal stress / E_s")
    ax[0].set_title(f"{ok.sum()} lattices: full paths")
    if ok.any():
        q = np.percentile(cat["curve"][ok], [10, 50, 90], axis=0)
        ax[1].fill_between(eps, q[0], q[2], alpha=0.3, label="10-90 %")
        ax[1].plot(eps, q[1], "o-", label="median")
        crit = cat["critical_strain"][ok]
        ax[1].set_title(f"label curves; {np.isfinite(crit).sum()} buckle (median at "
                        f"{100 * np.nanmedian(crit) if np.isfinite(crit).any() else float('nan'):.1f} %)")
    ax[1].set_xlabel("compressive strain [%]")
    ax[1].legend(fontsize=8)
    save_atomic(fig, figure)


def _nonlinear_settings(cfg: dict) -> dict:
    """The path settings of the stress-strain database (its own config slice), so every later FE
    verification computes curves exactly the way the database did."""
    from pipeline_lib.truss3d.nonlinear import NonlinearParams, output_strains

    nc = cfg["nonlinear"]
    params = build(NonlinearParams, {k: nc[k] for k in ("steps", "imperfection", "elements_per_beam")},
                   where="truss3d.nonlinear")
    return {"lateral": nc["lateral"], "strain": nc["strain"], "points": nc["points"], "params": params,
            "output_strains": output_strains(nc["strain"], nc["points"])}


def _stress_strain(db: Path, nonlinear: Path):
    """The stress-strain database and its lattices (from the truss3d database)."""
    nl = artifacts.read(nonlinear, "truss3d/nonlinear")
    rows = nl["row"]
    uniq, inv = np.unique(rows, return_inverse=True)
    with artifacts.open_artifact(db, "truss3d/database") as h5:
        n = h5["adjacency"].shape[0]
        if len(uniq) and uniq[-1] >= n:
            raise ArtifactError(nonlinear, f"row {int(uniq[-1])} is beyond the {n} rows of {db}")
        lattices = {"adjacency": h5["adjacency"][uniq][inv], "offsets": h5["offsets"][uniq][inv]}
    return nl, lattices


def nonlinear_predictor(db: Path, nonlinear: Path, model: Path, out: Path, metrics: Path, figure: Path, *,
                        cfg: dict, seed: int) -> None:
    """The curve predictor from the latent space, frozen encoder and fine-tuned, compared on one
    split (paper 002, Fig. 6a; pipeline_lib.truss3d.curves); the figure shows test lattices' FE and
    predicted curves with their deformed cells at the largest strain."""
    from pipeline_lib import atomic
    from pipeline_lib import chain as chains
    from pipeline_lib.learn.run import split_rows
    from pipeline_lib.truss3d import curves as CV
    from pipeline_lib.truss3d import learning as L
    from pipeline_lib.truss3d.homogenization import checked_frames, strut_radii
    from pipeline_lib.truss3d.nonlinear import deformed_cell
    from pipeline_lib.viz import nonlinear as fig

    nl, lattices = _stress_strain(db, nonlinear)
    curves = nl["curve"]
    ok = np.flatnonzero(np.isfinite(curves).all(1))
    if len(ok) < 3:
        raise ArtifactError(nonlinear, f"{len(ok)} converged curves: a predictor needs at least 3")
    pc = cfg["nonlinear"]["predictor"]
    pp = build(CV.PredictorParams, pc, ignore=("examples",), where="truss3d.nonlinear.predictor")
    local = split_rows(len(ok), pp.split, derive_seed(seed, "truss3d", "nonlinear", "split"))
    local = {"train": local["train"], "validation": local["val"], "test": local["test"]}
    rows = {s: ok[r] for s, r in local.items()}
    if not len(rows["validation"]):
        log.warning("no validation curves (%d in all): the training curves choose the predictor", len(ok))
        rows["validation"] = rows["train"]
    ch = chains.from_artifact(db).load_model(model)
    a, x = L.tensors(ch.model, lattices["adjacency"], lattices["offsets"])
    predictor, m, preds = CV.fit(ch.model, a, x, np.nan_to_num(curves), rows, pp,
                                 derive_seed(seed, "truss3d", "nonlinear", "predictor"))
    kept = m["kept"]
    pred = np.where(np.isfinite(curves).all(1)[:, None], preds[kept], np.nan)
    err = CV.nrmse(curves, pred)
    split = np.full(len(curves), -1, np.int8)
    for k, s in enumerate(("train", "validation", "test")):
        split[ok[local[s]]] = k
    history = m.pop("history")
    stats = {**m, "paper_nrmse": 0.045}
    CV.save(out, predictor, {"row": np.arange(len(curves), dtype=np.int64), "database_row": nl["row"].astype(np.int64),
                             "split": split, "strain": nl["strain"], "curve_fe": curves, "curve_pred": pred,
                             "nrmse": err},
            config=cfg, seed=seed, stats=stats, attrs={"history": json.dumps(history)})
    atomic.write_json(metrics, stats)
    t = m["nrmse"][kept]["test"]
    log.info("curve predictor: kept %s, test NRMSE mean %.2f %% (frozen %.2f %%, fine-tuned %.2f %%)", kept,
             100 * t["mean"], 100 * m["nrmse"]["frozen"]["test"]["mean"], 100 * m["nrmse"]["finetune"]["test"]["mean"])

    # Fig. 6a: test lattices spread over how much their curves soften, paths recomputed for the cells
    test = rows["test"]
    c = curves[test]
    soft = (c.max(1) - c[:, -1]) / np.maximum(c.max(1), 1e-300)
    pick = test[np.argsort(soft)][np.unique(np.linspace(0, len(test) - 1, min(pc["examples"], len(test))).astype(int))]
    settings = _nonlinear_settings(nl.config)
    frames = checked_frames(lattices["adjacency"][pick], lattices["offsets"][pick])
    mat, c3 = nl.config["material"], nl.config
    radii = strut_radii(frames, c3["relative_density"], c3["density"]) if len(frames) else np.zeros(0)
    examples = []
    for r, f, rad in zip(pick, frames, radii):
        path, deformed = deformed_cell(f, rad, E=mat["E"], nu=mat["nu"], beam=c3["beam"], lateral=settings["lateral"],
                                       strain=settings["strain"], params=settings["params"])
        examples.append({"row": int(r), "curve": curves[r], "pred": pred[r], "nrmse": float(err[r]),
                         "path_strain": path.strain, "path_stress": path.stress * mat["E"], "end": path.strain[-1],
                         "deformed": (*deformed, float(rad))})
    errors = {k: CV.nrmse(curves[test], v[test]) for k, v in preds.items()}
    fig.predictions(examples, nl["strain"], errors, kept, figure)


def _initial_stiffness(ch, db: Path, arrays: dict, best: int, eps0: float) -> dict:
    """The target's secant modulus at the first output strain against the linear C33 of the whole
    database and of the designs (linear FE): how far beyond every database lattice a target's
    initial stiffness lies, and how far the designs got (a curve's first point is C33 eps0 when
    the lattice has not buckled by then)."""
    with artifacts.open_artifact(db, "truss3d/database") as h5:
        c33 = h5["C"][:, 2, 2]
    out = {"target_secant_first_point": float(arrays["target"][0] / eps0), "database_max_C33": float(c33.max()),
           "database_max_C33_row": int(np.argmax(c33))}
    out["target_over_database_max"] = out["target_secant_first_point"] / out["database_max_C33"]
    picks = {"best": (arrays["adjacency"][best], arrays["offsets"][best])} if best >= 0 else {}
    if np.isfinite(arrays["control/nrmse_fe"]).all():
        picks["control"] = (arrays["control/adjacency"], arrays["control/offsets"])
    for k, (a, x) in picks.items():
        c = float(ch.homogenize({"adjacency": a[None].astype(bool), "offsets": x[None]})[0, ORTHOTROPIC.index("C33")])
        out[f"{k}_C33"] = c
        out[f"{k}_over_database_max"] = c / out["database_max_C33"]
    return out


def nonlinear_design(db: Path, model: Path, nonlinear: Path, predictor: Path, out: Path, summary: Path,
                     figure: Path, *, target: str, cfg: dict, seed: int) -> None:
    """Inverse design to one target stress-strain curve (paper 002, Fig. 6b;
    pipeline_lib.truss3d.curve_design), every result verified by nonlinear FE."""
    import time

    import torch

    from pipeline_lib import atomic
    from pipeline_lib import chain as chains
    from pipeline_lib.truss3d import curve_design as CD
    from pipeline_lib.truss3d import curves as CV
    from pipeline_lib.viz import nonlinear as fig

    t0 = time.perf_counter()
    name = target.removeprefix("nonlinear_")
    p = build(CD.CurveDesignParams, cfg, ignore=("run",), where="truss3d.nonlinear.design")
    ch = chains.from_artifact(db).load_model(model)
    nl, lattices = _stress_strain(db, nonlinear)
    pred_model, part = CV.load(predictor)
    if len(part["split"]) != len(nl["curve"]):
        raise ArtifactError(predictor, f"{len(part['split'])} rows for the {len(nl['curve'])} of {nonlinear}")
    settings = _nonlinear_settings(nl.config)
    curves = np.where(np.isfinite(nl["curve"]), nl["curve"], np.nan)
    result = CD.run(ch, pred_model, lattices, curves, part["split"], name, p, settings, seed,
                    workers=torch.get_num_threads())
    rep, arrays = result["report"], result["arrays"]
    rep["database_match_database_row"] = int(nl["row"][rep["database_match_row"]])
    rep["linear"] = _initial_stiffness(ch, db, arrays, result["best"], settings["output_strains"][0])
    rep["predictor"] = part.attrs["mode"]
    rep["seconds"]["total"] = round(time.perf_counter() - t0, 1)
    c = ch.config
    artifacts.write(out, "truss3d/nonlinear_design", arrays, config={"target": target, **cfg}, seed=seed, stats=rep,
                    attrs={"target": rep["target"], "how": rep["how"], "best": result["best"], "steps": json.dumps(CD.STEPS),
                           "relative_density": c["relative_density"], "material": json.dumps(c["material"]),
                           "beam": c["beam"], "density": c["density"], "lateral": settings["lateral"],
                           "max_strain": settings["strain"], "path_params": json.dumps(vars(settings["params"])),
                           "database": str(db), "stress_strain_database": str(nonlinear)})
    log.info("%s: database match NRMSE %.2f %% -> FE-verified %s (%s), %d/%d valid, %d FE paths; %s", target,
             100 * rep["database_match_nrmse"], rep["best_fe_nrmse"], rep["best_step"], rep["valid_runs"], rep["starts"],
             rep["lattices_fe_verified"], rep["seconds"])
    fig.design(ch, arrays, rep, figure)
    atomic.write_json(summary, rep)
