"""Entry points of the latent analyses (``python -m pipeline_lib run latent.<name> --chain C``), one
implementation for every chain: each reads the database, the model and the latent codes, runs one
analysis of ``pipeline_lib.latent``, FE-verifies every decoded design through
:func:`pipeline_lib.latent.verify.verify`, and writes an artifact (``<chain>/<analysis>``), its
figure(s) and a JSON part of ``data/<chain>/latent/summary.json``."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from pipeline_lib import artifacts, atomic
from pipeline_lib import chain as chains
from pipeline_lib.config import derive_seed
from pipeline_lib.latent import cluster, paths
from pipeline_lib.latent import families as fam
from pipeline_lib.latent.verify import Verified, concat, relative_error, verify, verify_samples

log = logging.getLogger(__name__)
# the entry points `python -m pipeline_lib run latent.<name>` runs
STAGES = ("traversal", "maps", "arrows", "candidates", "families", "slerp", "samples", "summary")
SPLIT_CODES = {"train": 0, "val": 1, "test": 2}


class _Context:
    """A chain with its model, the database's property columns and every row's latent mean."""

    def __init__(self, name: str, db: Path, model: Path | None, latent: Path | None):
        self.db = Path(db)
        self.chain = chains.from_artifact(db)
        if self.chain.name != name:
            raise artifacts.ArtifactError(db, f"is a {self.chain.name} artifact, the stage was asked for {name}")
        if model is not None:
            self.chain.load_model(model)
        with artifacts.open_artifact(db, f"{name}/database") as h5:
            self.P = self.chain.database_properties({k: h5[k][()] for k in self.chain.property_datasets})
        if latent is not None:
            lat = artifacts.read(latent, f"{name}/latent", ["mu", "split"])
            if len(lat["mu"]) != len(self.P):
                raise artifacts.ArtifactError(latent, f"{len(lat['mu'])} latent rows for {len(self.P)} database rows")
            self.mu = lat["mu"].astype(np.float64)
            self.split = lat["split"]
        self.t0 = time.perf_counter()

    def rows(self, *splits: str) -> np.ndarray:
        return np.flatnonzero(np.isin(self.split, [SPLIT_CODES[s] for s in splits]))

    def samples(self, rows) -> chains.Samples:
        return self.chain.read(self.db, rows)

    def seconds(self) -> float:
        return round(time.perf_counter() - self.t0, 1)


def _write(out: Path, ctx: _Context, kind: str, v: Verified, *, group, step, row, extra=None, cfg=None,
           seed=None, stats=None) -> None:
    n = len(v.valid)
    arrays = dict(v.arrays(), group=np.broadcast_to(np.asarray(group, np.int64), (n,)),
                  step=np.broadcast_to(np.asarray(step, float), (n,)),
                  row=np.broadcast_to(np.asarray(row, np.int64), (n,)), **(extra or {}))
    ch = ctx.chain
    artifacts.write(out, f"{ch.name}/{kind}", arrays, config=cfg, seed=seed, stats=stats,
                    attrs={"properties": json.dumps(list(ch.properties)), "units": json.dumps(list(ch.units)),
                           "material": json.dumps(ch.config.get("material", {})), "database": str(ctx.db)})


def _part(path: Path, data: dict, ctx: _Context) -> None:
    atomic.write_json(path, dict(data, seconds=ctx.seconds()))


def _mean(x) -> float | None:
    x = np.asarray(x, float)
    return float(np.nanmean(x)) if np.isfinite(x).any() else None


def _errors(ch, v: Verified, names) -> dict:
    """Median relative predictor-vs-FE error of named quantities over the valid rows."""
    if not v.valid.any() or not np.isfinite(v.predicted).any():
        return {}
    qf, qp = ch.quantities(v.fe[v.valid]), ch.quantities(v.predicted[v.valid])
    return {k: float(np.nanmedian(relative_error(qp[k], qf[k]))) for k in names}


def _start_row(ctx: _Context, seed: int, tag: str, tries: int = 256) -> int:
    """A test design drawn at random (seeded) among those whose decoded latent mean passes the
    database's rules: a traversal from a design the model cannot reproduce says nothing about the
    axes (a truss3d geometry-only axis cannot repair a topology, so every step would fail)."""
    test = ctx.rows("test") if len(ctx.rows("test")) else np.arange(len(ctx.P))
    order = np.random.default_rng(derive_seed(seed, ctx.chain.name, "latent", tag)).permutation(test)[:tries]
    ok = np.flatnonzero(ctx.chain.screen(ctx.chain.decode(ctx.mu[order])))
    return int(order[ok[0]] if len(ok) else order[0])


# ----------------------------------------------------------------------------------- traversal
def traversal(db: Path, model: Path, latent: Path, out: Path, figure: Path, summary: Path, *, chain: str,
              cfg: dict, seed: int) -> None:
    """Every latent axis moved on its own from one test design, decoded and FE-verified (paper 000
    Fig. 7a; paper 002 Fig. 3 by topology-only, shared and geometry-only axes)."""
    from pipeline_lib.viz import latent as fig

    ctx = _Context(chain, db, model, latent)
    ch = ctx.chain
    start = _start_row(ctx, seed, "traversal")
    offsets = cfg["step"] * np.arange(-cfg["steps"], cfg["steps"] + 1)
    z, axes, off = paths.axis_traversal(ctx.mu[start], offsets)
    v = verify(ch, z)
    groups = ch.latent_groups()
    per_group = {g: {"valid_fraction": float(v.valid[np.isin(axes, dims)].mean()),
                     "predictor_relative_error": _errors(ch, v.take(np.isin(axes, dims)), ch.properties)}
                 for g, dims in groups.items()}
    _write(out, ctx, "traversal", v, group=axes, step=off, row=-1, cfg=cfg, seed=seed,
           stats={"start_row": start, "groups": {g: d.tolist() for g, d in groups.items()}})
    shown = [int(d[0]) for d in groups.values()] if len(groups) > 1 else list(range(min(len(ctx.mu[start]), 16)))
    fig.traversal(ch, v, axes, off, shown, figure)
    _part(summary, {"start_row": start, "offsets": offsets.tolist(), "valid_fraction": float(v.valid.mean()),
                    "groups": per_group}, ctx)


# ---------------------------------------------------------------------------------------- maps
def maps(db: Path, latent: Path, figure: Path, summary: Path, *, chain: str, cfg: dict, seed: int) -> None:
    """PCA of the test split's latent means coloured by properties (paper 000, Fig. 8)."""
    from pipeline_lib.viz import latent as fig

    ctx = _Context(chain, db, None, latent)
    rows = ctx.rows("test")
    model, scores = cluster.pca(ctx.mu[rows], 2, seed)
    q = ctx.chain.quantities(ctx.P[rows])
    unknown = [k for k in cfg["quantities"] if k not in q]
    if unknown:
        raise ValueError(f"{chain}.latent.maps.quantities: unknown {unknown}; known: {', '.join(q)}")
    fig.latent_map(scores, {k: q[k] for k in cfg["quantities"]}, figure,
                   title=f"{chain}: PCA of the test split's latent means ({len(rows)} designs)")
    _part(summary, {"explained_variance_ratio": model.explained_variance_ratio_.tolist(), "points": int(len(rows))}, ctx)


# -------------------------------------------------------------------------------------- arrows
def arrows(db: Path, model: Path, latent: Path, out: Path, figure: Path, gallery: Path, summary: Path, *,
           chain: str, cfg: dict, seed: int) -> None:
    """Semantic arrows (bottom to top fraction of a quantity; the anisotropy arrow between the two
    anisotropic sets) and walks along them from test designs, FE-verified step by step (paper 000,
    section 4.1).  A path is monotone when the Spearman rho of its FE quantity against the step
    reaches ``monotone``."""
    from scipy.stats import spearmanr

    from pipeline_lib.viz import latent as fig

    ctx = _Context(chain, db, model, latent)
    ch = ctx.chain
    train = ctx.rows("train")
    q = ch.quantities(ctx.P[train])
    defs = []  # (name, measured quantity, arrow)
    for name in cfg["quantities"]:
        hi, lo = paths.top_bottom(q[name], cfg["fraction"])
        defs.append((name, name, paths.arrow(ctx.mu[train], hi, lo)))
    if "C11/C22" in q:
        r = cfg["anisotropy"]
        stiff_x, stiff_y = q["C11/C22"] > r, q["C11/C22"] < 1 / r
        if stiff_x.any() and stiff_y.any():
            defs.insert(1, ("anisotropy", "C11/C22", paths.arrow(ctx.mu[train], stiff_x, stiff_y)))
    rng = np.random.default_rng(derive_seed(seed, chain, "latent", "arrows"))
    test = ctx.rows("test")
    starts = rng.choice(test, size=min(cfg["paths"], len(test)), replace=False)
    zs, group, step = [], [], []
    for a, (_, _, direction) in enumerate(defs):
        pts, k = paths.walk(ctx.mu[starts], direction, cfg["step"], cfg["steps"])
        zs.append(pts.reshape(-1, pts.shape[-1]))
        group.append(a * len(starts) + np.repeat(np.arange(len(starts)), len(k)))
        step.append(np.tile(k, len(starts)))
    v = verify(ch, np.concatenate(zs))
    group, step = np.concatenate(group), np.concatenate(step)
    report, curves = {}, {}
    for a, (name, measured, _) in enumerate(defs):
        fe_q = ch.quantities(v.fe)[measured]
        pr_q = ch.quantities(v.predicted)[measured]
        rhos = []
        for p in range(len(starts)):
            sel = group == a * len(starts) + p
            ok = sel & np.isfinite(fe_q)
            rho = spearmanr(step[ok], fe_q[ok]).statistic if ok.sum() >= 5 else np.nan
            rhos.append(rho)
        rhos = np.array(rhos, float)
        sel = (group >= a * len(starts)) & (group < (a + 1) * len(starts))
        report[name] = {"measured": measured, "monotone_fraction": float(np.mean(np.nan_to_num(rhos, nan=-1) >= cfg["monotone"])),
                        "mean_spearman": _mean(rhos), "valid_fraction": float(v.valid[sel].mean()),
                        "predictor_relative_error": float(np.nanmedian(relative_error(pr_q[sel], fe_q[sel])))
                        if np.isfinite(fe_q[sel]).any() else None}
        curves[name] = (measured, step[sel], group[sel] - a * len(starts), fe_q[sel], pr_q[sel])
    _write(out, ctx, "arrows", v, group=group, step=step, row=-1,
           extra={"arrow": np.array([d for _, _, d in defs])}, cfg=cfg, seed=seed,
           stats={"arrows": [n for n, _, _ in defs], "start_rows": starts.tolist(), "report": report})
    fig.arrows(curves, figure)
    fig.arrow_paths(ch, v, group, step, [n for n, _, _ in defs], [m for _, m, _ in defs], len(starts), gallery)
    _part(summary, {"arrows": report, "paths": int(len(starts)), "steps_each_way": cfg["steps"], "step": cfg["step"]}, ctx)


# ---------------------------------------------------------------------------------- candidates
def candidates(db: Path, model: Path, latent: Path, out: Path, figure: Path, summary: Path, *, chain: str,
               cfg: dict, seed: int) -> None:
    """Diverse candidate sets (paper 000, section 4.2): for each target (the properties of a test
    design; candidates come from the other splits), the best design of each latent cluster of the
    nearest ``pool`` against the greedy nearest ``size``; MSE by FE, diversity in latent space and
    in geometry (mean pairwise Hamming distance)."""
    from pipeline_lib.viz import latent as fig

    ctx = _Context(chain, db, model, latent)
    ch = ctx.chain
    rng = np.random.default_rng(derive_seed(seed, chain, "latent", "candidates"))
    test, pool = ctx.rows("test"), ctx.rows("train", "val")
    target_rows = np.sort(rng.choice(test, size=min(cfg["targets"], len(test)), replace=False))
    targets = ctx.P[target_rows]
    chosen, sets, group, step = [], [], [], []
    for t, target in enumerate(targets):
        cs = cluster.candidate_sets(target, ctx.P[pool], ctx.mu[pool], size=cfg["size"], pool=cfg["pool"],
                                    seed=derive_seed(seed, chain, "kmeans", t) % 2**31)
        for code, idx in ((0, cs.clustered), (1, cs.greedy)):
            chosen.append(pool[idx])
            sets.append(np.full(len(idx), code, np.int8))
            group.append(np.full(len(idx), t))
            step.append(np.arange(len(idx)))
    rows = np.concatenate(chosen)
    v = verify_samples(ch, ctx.samples(rows), ctx.mu[rows])
    sets, group, step = np.concatenate(sets), np.concatenate(group), np.concatenate(step)
    per_target = []
    for t, target in enumerate(targets):
        entry = {"target_row": int(target_rows[t]), "target": target.tolist()}
        for code, label in ((0, "clustered"), (1, "greedy")):
            sel = (group == t) & (sets == code)
            geometry = np.concatenate([v.samples[k][sel].reshape(sel.sum(), -1).astype(float) for k in ch.geometry], 1)
            entry[label] = {"mse": float(np.nanmean((v.fe[sel] - target) ** 2)),
                            "latent_diversity": cluster.mean_pairwise_distance(ctx.mu[rows[sel]]),
                            "geometry_diversity": cluster.mean_pairwise_distance(geometry, "hamming"),
                            "size": int(sel.sum())}
        per_target.append(entry)
    c = [e["clustered"] for e in per_target]
    g = [e["greedy"] for e in per_target]
    report = {
        "targets": len(per_target),
        "clustered_mse_mean": _mean([e["mse"] for e in c]), "clustered_mse_max": float(np.nanmax([e["mse"] for e in c])),
        "greedy_mse_mean": _mean([e["mse"] for e in g]), "greedy_mse_max": float(np.nanmax([e["mse"] for e in g])),
        "clustered_mse_below_target": int(sum(e["mse"] < cfg["mse"] for e in c)), "mse_target": cfg["mse"],
        "more_diverse_in_latent": int(sum(a["latent_diversity"] > b["latent_diversity"] for a, b in zip(c, g))),
        "more_diverse_in_geometry": int(sum(a["geometry_diversity"] > b["geometry_diversity"] for a, b in zip(c, g))),
        "latent_diversity": {"clustered": _mean([e["latent_diversity"] for e in c]), "greedy": _mean([e["latent_diversity"] for e in g])},
        "geometry_diversity": {"clustered": _mean([e["geometry_diversity"] for e in c]), "greedy": _mean([e["geometry_diversity"] for e in g])},
    }
    _write(out, ctx, "candidate_sets", v, group=group, step=step, row=rows,
           extra={"target": targets, "set": sets}, cfg=cfg, seed=seed, stats={"report": report, "per_target": per_target})
    fig.candidate_sets(ch, v, group, sets, targets, figure)
    _part(summary, dict(report, per_target=per_target), ctx)


# ------------------------------------------------------------------------------------ families
def families(db: Path, model: Path, latent: Path, out: Path, figure: Path, gallery: Path, summary: Path, *,
             chain: str, cfg: dict, seed: int) -> None:
    """Graded families along the curve of paper 000, Eq. 7 (section 4.3): database designs within
    ``delta`` of the curve (properties over the material's C11), ranked by C11, joined by a latent
    kNN graph from low to high rank; each family a shortest source-sink path, later ones without
    the nodes used; then designs decoded between and beyond the members.  Every member and every
    decoded design is FE-verified and measured against the curve."""
    from pipeline_lib.fem.quad4 import elasticity_matrix
    from pipeline_lib.viz import latent as fig

    ctx = _Context(chain, db, model, latent)
    ch = ctx.chain
    m = ch.config["material"]
    D = elasticity_matrix(m["E"], m["nu"], m["plane"])
    c11m, num = float(D[0, 0]), float(D[0, 1] / D[0, 0])
    curve = fam.gradation_curve(np.linspace(0, c11m, cfg["curve_points"]), c11m, num)
    scale = np.full(4, c11m)
    dist = fam.distance_to_curve(ctx.P, curve, scale)
    band = np.flatnonzero(dist < cfg["delta"])
    band = band[np.argsort(ctx.P[band, 0], kind="stable")]
    log.info("families: %d designs within %g of the curve", len(band), cfg["delta"])
    edges = fam.rank_knn_edges(ctx.mu[band], cfg["k"])
    fams = fam.shortest_families(len(band), edges, ends=cfg["ends"], count=cfg["count"])
    member_rows = [band[f] for f in fams]
    # members: the database's own designs, FE-verified like everything else
    all_members = np.concatenate(member_rows) if member_rows else np.zeros(0, np.int64)
    vm = verify_samples(ch, ctx.samples(all_members), ctx.mu[all_members]) if len(all_members) else None
    # decoded designs between and beyond the members, at uniform positions along each family
    zs, grp, pos = [], [], []
    for f, rows in enumerate(member_rows):
        s, z = fam.positions_along(ctx.mu[rows], cfg["between"], cfg["beyond"])
        zs.append(z)
        grp.append(np.full(len(s), f))
        pos.append(s)
    vi = verify(ch, np.concatenate(zs)) if zs and sum(map(len, zs)) else None
    parts, group, step, row, interp = [], [], [], [], []
    if vm is not None:
        parts.append(vm)
        group += [np.full(len(r), f) for f, r in enumerate(member_rows)]
        step += [np.arange(len(r), dtype=float) for r in member_rows]
        row.append(all_members)
        interp.append(np.zeros(len(all_members), bool))
    if vi is not None:
        parts.append(vi)
        group += grp
        step += pos
        row.append(np.full(len(vi.valid), -1))
        interp.append(np.ones(len(vi.valid), bool))
    v = concat(parts) if parts else verify_samples(ch, ctx.samples(np.zeros(0, np.int64)))
    group = np.concatenate(group) if group else np.zeros(0, np.int64)
    step = np.concatenate(step) if step else np.zeros(0)
    row = np.concatenate(row) if row else np.zeros(0, np.int64)
    interp = np.concatenate(interp) if interp else np.zeros(0, bool)
    cdist = fam.distance_to_curve(v.fe, curve, scale)
    c11_range = np.array([[v.fe[(group == f) & ~interp, 0].min(), v.fe[(group == f) & ~interp, 0].max()]
                          for f in range(len(member_rows))]).reshape(-1, 2)
    rms = (lambda d: float(np.sqrt(np.nanmean(d ** 2))) if np.isfinite(d).any() else None)
    report = {"band": int(len(band)), "delta": cfg["delta"], "families": []}
    for f in range(len(member_rows)):
        mem, dec = (group == f) & ~interp, (group == f) & interp
        report["families"].append({
            "members": int(mem.sum()), "c11_range": c11_range[f].tolist(),
            "rms_curve_distance_members": rms(cdist[mem]), "rms_curve_distance_decoded": rms(cdist[dec]),
            "decoded": int(dec.sum()), "decoded_valid_fraction": float(v.valid[dec].mean()) if dec.any() else None})
    report["rms_curve_distance_members"] = rms(cdist[~interp])
    report["rms_curve_distance_decoded"] = rms(cdist[interp])
    report["decoded_valid_fraction"] = float(v.valid[interp].mean()) if interp.any() else None
    _write(out, ctx, "families", v, group=group, step=step, row=row,
           extra={"interpolated": interp, "curve_distance": cdist, "c11_range": c11_range}, cfg=cfg, seed=seed,
           stats={"report": report, "material_c11": c11m, "material_nu": num})
    fig.families(ch, v, group, interp, curve, figure)
    fig.family_members(ch, v, group, interp, gallery)
    _part(summary, report, ctx)


# --------------------------------------------------------------------------------------- slerp
def slerp(db: Path, model: Path, latent: Path, out: Path, figure: Path, plot: Path, summary: Path, *,
          chain: str, cfg: dict, seed: int) -> None:
    """Spherical interpolation between pairs of database designs (paper 002 Fig. 4: the extremes of
    each quantity; paper 004 Fig. 8: a design of one source and the design of another with the
    nearest volume fraction), decoded and FE-verified along the path.  Where the model predicts a
    spread, how often the FE value falls inside the predicted 2-sigma band."""
    from pipeline_lib.viz import latent as fig

    ctx = _Context(chain, db, model, latent)
    ch = ctx.chain
    pairs, labels = _slerp_pairs(ctx, cfg, seed)
    t = np.linspace(0, 1, cfg["points"])
    z = np.concatenate([paths.slerp(ctx.mu[a], ctx.mu[b], t) for a, b in pairs])
    v = verify(ch, z)
    group = np.repeat(np.arange(len(pairs)), len(t))
    step = np.tile(t, len(pairs))
    report = {"pairs": [{"label": lab, "rows": [int(a), int(b)], "valid_fraction": float(v.valid[group == k].mean())}
                        for k, (lab, (a, b)) in enumerate(zip(labels, pairs))],
              "valid_fraction": float(v.valid.mean())}
    names = cfg.get("quantities") or list(ch.properties)
    report["predictor_relative_error"] = _errors(ch, v, names)
    if v.predicted_std is not None and v.valid.any():
        inside = np.abs(v.fe - v.predicted) <= 2 * v.predicted_std
        report["fe_inside_2sigma"] = {p: float(inside[v.valid, k].mean()) for k, p in enumerate(ch.properties)}
    _write(out, ctx, "slerp", v, group=group, step=step, row=-1, extra={"endpoints": np.array(pairs, np.int64)},
           cfg=cfg, seed=seed, stats={"report": report, "labels": labels})
    fig.slerp(ch, v, group, step, labels, figure)
    fig.slerp_properties(ch, v, group, step, labels, names, plot)
    _part(summary, report, ctx)


def _slerp_pairs(ctx: _Context, cfg: dict, seed: int) -> tuple[list[tuple[int, int]], list[str]]:
    if "quantities" in cfg:  # extremes of each quantity over the database
        q = ctx.chain.quantities(ctx.P)
        pairs, labels = [], []
        for name in cfg["quantities"]:
            if name not in q:
                raise ValueError(f"{ctx.chain.name}.latent.slerp.quantities: unknown {name!r}; known: {', '.join(q)}")
            pairs.append((int(np.nanargmin(q[name])), int(np.nanargmax(q[name]))))
            labels.append(f"min {name} -> max {name}")
        return pairs, labels
    from pipeline_lib.voxel3d.schemas import SOURCES

    with artifacts.open_artifact(ctx.db) as h5:
        source, vf = h5["source"][()], h5["volume_fraction"][()]
    a_rows = np.flatnonzero(source == SOURCES.index(cfg["from_source"]))
    b_rows = np.flatnonzero(source == SOURCES.index(cfg["to_source"]))
    if not len(a_rows) or not len(b_rows):
        raise ValueError(f"no {cfg['from_source']} or no {cfg['to_source']} cells in {ctx.db}")
    rng = np.random.default_rng(derive_seed(seed, ctx.chain.name, "latent", "slerp"))
    starts = rng.choice(a_rows, size=min(cfg["pairs"], len(a_rows)), replace=False)
    pairs = [(int(a), int(b_rows[np.argmin(np.abs(vf[b_rows] - vf[a]))])) for a in starts]
    return pairs, [f"{cfg['from_source']} #{a} -> {cfg['to_source']} #{b}" for a, b in pairs]


# ------------------------------------------------------------------------------------- samples
def samples(db: Path, model: Path, out: Path, summary: Path, *, chain: str, cfg: dict, seed: int) -> None:
    """Decoded z ~ N(0, I): how many pass the database's rules, and the FE values of those that do."""
    ctx = _Context(chain, db, model, None)
    ch = ctx.chain
    z = np.random.default_rng(derive_seed(seed, chain, "latent", "samples")).standard_normal(
        (cfg["count"], ch.latent_size()))
    v = verify(ch, z)
    report = {"count": int(len(z)), "valid_fraction": float(v.valid.mean()),
              "predictor_relative_error": _errors(ch, v, ch.properties)}
    _write(out, ctx, "samples", v, group=0, step=np.arange(len(z)), row=-1, cfg=cfg, seed=seed, stats={"report": report})
    _part(summary, report, ctx)


# ------------------------------------------------------------------------------------- summary
def summary(parts: list[Path], out: Path) -> None:
    """The parts of one chain's latent analyses, keyed by analysis, as one summary.json."""
    merged = {Path(p).stem: json.loads(Path(p).read_text()) for p in parts}
    atomic.write_json(out, merged)

