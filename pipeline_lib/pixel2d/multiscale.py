"""Entry points of the pixel2d two-stage multiscale design (paper 000, section 5), one per stage of a
case (``python -m pipeline_lib run pixel2d.<name>``):

- ``feasibility``: the database's signed distance field (once per database);
- ``design_macro``: stage 1, the macro property distribution (:mod:`pipeline_lib.pixel2d.macro`);
- ``design_assemble``: stage 2, candidate cells per element and the MRF choice among them
  (:mod:`pipeline_lib.optim.mrf`, costs of :mod:`pipeline_lib.pixel2d.compatibility`), or, for a
  family case, cells decoded along the family's latent path at the optimized C11;
- ``design_verify``: stage 3, the assembled structure solved at the fine scale
  (:mod:`pipeline_lib.pixel2d.structure`), beside the nodal-only baseline;
- ``design_summary``: every case's figures of merit in one JSON.

Each writes an artifact that holds what it needs to be re-checked without the code; the design
artifact carries the structure, the boundary conditions on the fine node grid, the targets and the
material.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from pipeline_lib import artifacts, atomic
from pipeline_lib import chain as chains
from pipeline_lib.config import derive_seed
from pipeline_lib.pixel2d import macro as mc
from pipeline_lib.pixel2d.cases import Case
from pipeline_lib.pixel2d.properties import properties

log = logging.getLogger(__name__)


def _db_properties(db: Path) -> np.ndarray:
    return properties(artifacts.read(db, "pixel2d/database", ["C"])["C"])


def _material(db: Path) -> dict:
    m = artifacts.read(db, "pixel2d/database", []).config.get("material")
    if not m:
        raise artifacts.ArtifactError(db, "no material in the database's config")
    return m


# ------------------------------------------------------------------------------ feasibility field
def feasibility(db: Path, out: Path, figure: Path, *, cfg: dict) -> None:
    """The signed distance field of the database's property cloud (Eqs. 11-12), with a figure."""
    from pipeline_lib.pixel2d import feasibility as fz
    from pipeline_lib.viz import design as fig

    t0 = time.perf_counter()
    P = _db_properties(db)
    field = fz.build(P, cfg["resolution"], radius=cfg["radius"], margin=cfg["margin"])
    phi_points = field(P)[0]
    stats = {"points": int(len(P)), "inside_nodes": float((field.phi > 0).mean()),
             "points_inside": float((phi_points > 0).mean()), "seconds": round(time.perf_counter() - t0, 2)}
    log.info("feasibility: %s", stats)
    artifacts.write(out, "pixel2d/feasibility", dict(field.to_arrays(), points=P), config=cfg, stats=stats,
                    attrs={"database": str(db)})
    fig.feasibility_slices(field, P, figure)


def _field(path: Path):
    from pipeline_lib.pixel2d.feasibility import FeasibilityField

    a = artifacts.read(path, "pixel2d/feasibility")
    return FeasibilityField.from_arrays({k: a[k] for k in ("lower", "spacing", "scale", "phi", "grad")})


def _family(families: Path, which: int) -> dict:
    """Members of one family of the latent analysis (C11-sorted, distinct C11): FE properties,
    latent means, cells.  ``which`` < 0: the family spanning the widest C11 range."""
    a = artifacts.read(families, "pixel2d/families")
    members = a["valid"] & ~a["interpolated"]
    groups = np.unique(a["group"][members])
    if not len(groups):
        raise artifacts.ArtifactError(families, "no valid family member to design with")
    if which < 0:
        spans = [np.ptp(a["fe"][members & (a["group"] == g), 0]) for g in groups]
        which = int(groups[int(np.argmax(spans))])
    sel = np.flatnonzero(members & (a["group"] == which))
    if len(sel) < 2:
        raise artifacts.ArtifactError(families, f"family {which} has {len(sel)} valid members; a gradation needs 2")
    sel = sel[np.argsort(a["fe"][sel, 0], kind="stable")]
    _, first = np.unique(a["fe"][sel, 0], return_index=True)
    sel = sel[np.sort(first)]
    return {"index": which, "c11": a["fe"][sel, 0], "P": a["fe"][sel], "z": a["z"][sel], "cells": a["cells"][sel]}


def _case(case: str, cfg: dict) -> Case:
    return Case.from_config(case, cfg["case"])


# --------------------------------------------------------------------------------------- stage 1
def design_macro(db: Path, out: Path, figure: Path, *, case: str, cfg: dict, feasibility: Path | None = None,
                 families: Path | None = None) -> None:
    """Stage 1: the macro property distribution that best makes the tracked DOFs follow their
    targets (Eq. 11), over the database's feasible set or along a family's gradation."""
    from pipeline_lib.viz import design as fig

    t0 = time.perf_counter()
    c = _case(case, cfg)
    prob = c.macro_problem()
    mcfg = cfg["macro"]
    extra, phi = {}, None
    if c.space == "database":
        if feasibility is None:
            raise ValueError(f"case {case}: a full-database design needs --feasibility")
        field = _field(feasibility)
        P = _db_properties(db)
        lo, hi = P.min(0), P.max(0)
        to_p = mc.box(lo, hi)
        deepest = P[np.argmax(field(P)[0])]  # start every element at the most central database cell
        x0 = np.tile((deepest - lo) / (hi - lo), (prob.elements, 1))
        res = mc.optimize(prob, to_p, x0, feasibility=field, beta=mcfg["beta"], max_iter=mcfg["max_iter"],
                          tol=mcfg["tol"], move=mcfg["move"])
        phi = field(res.P)[0]
    else:
        if families is None:
            raise ValueError(f"case {case}: a family design needs --families")
        fam = _family(families, c.family)
        to_p = mc.gradation(fam["c11"], fam["P"])
        res = mc.optimize(prob, to_p, np.full((prob.elements, 1), 0.5), max_iter=mcfg["max_iter"], tol=mcfg["tol"],
                          move=mcfg["move"])
        extra = {"family_c11": fam["c11"], "family_P": fam["P"], "family_z": fam["z"],
                 "family_cells": fam["cells"].astype(np.uint8)}
    H, W = c.rows, c.cols
    stats = {"rrmse_macro": res.rrmse, "iterations": res.iterations,
             "evaluations": int(res.history["evaluations"].sum()), "seconds": round(time.perf_counter() - t0, 2),
             "elements_outside": int((phi < 0).sum()) if phi is not None else None}
    log.info("design %s stage 1: %s", case, stats)
    artifacts.write(out, "pixel2d/design_macro", dict(
        fixed_dofs=prob.fixed_dofs, fixed_values=prob.fixed_values, target_dofs=prob.target_dofs,
        target_values=prob.target_values, C_target=res.P.reshape(H, W, 4), u=res.u,
        phi=(phi if phi is not None else np.full(H * W, np.nan)).reshape(H, W),
        objective=res.history["objective"], constraint=res.history["constraint"], change=res.history["change"],
        **extra), config=cfg, stats=stats, attrs={"case": case, "space": c.space, "database": str(db)})
    fig.property_maps(res.P.reshape(H, W, 4), figure, history=res.history,
                      title=f"{case}: optimized properties (macro RRMSE {res.rrmse:.4f}, {res.iterations} MMA iterations)")


# --------------------------------------------------------------------------------------- stage 2
def _tractions(cells: np.ndarray, m: dict) -> np.ndarray:
    from pipeline_lib.pixel2d.homogenization import boundary_tractions

    return boundary_tractions(cells, E=m["E"], nu=m["nu"], plane=m["plane"], void=m["void"])


def design_assemble(db: Path, model: Path, latent: Path, macro: Path, out: Path, figure: Path, *, case: str,
                    cfg: dict, seed: int) -> None:
    """Stage 2: candidates for each element and the MRF labelling that trades their property match
    (Eq. 16) against the incompatibility of neighbours (Eq. 17); for a family case, the cells
    decoded along the family's latent path at each element's C11."""
    from pipeline_lib.latent import cluster
    from pipeline_lib.latent.verify import verify
    from pipeline_lib.optim import mrf
    from pipeline_lib.pixel2d.compatibility import edge_costs
    from pipeline_lib.viz import design as fig

    t0 = time.perf_counter()
    c = _case(case, cfg)
    H, W = c.rows, c.cols
    m_art = artifacts.read(macro, "pixel2d/design_macro")
    target = m_art["C_target"].reshape(-1, 4)
    mat = _material(db)
    acfg = cfg["assembly"]
    stats = {}
    if c.space == "database":
        P = _db_properties(db)
        mu = artifacts.read(latent, "pixel2d/latent", ["mu"])["mu"].astype(float)
        if len(mu) != len(P):
            raise artifacts.ArtifactError(latent, f"{len(mu)} latent rows for {len(P)} database rows")
        L = acfg["candidates"]
        rows = np.empty((H * W, L), np.int64)
        for e, t in enumerate(target):
            cs = cluster.candidate_sets(t, P, mu, size=L, pool=acfg["pool"],
                                        seed=derive_seed(seed, "pixel2d", "design", case, e) % 2**31)
            pick = list(cs.clustered) + [r for r in cs.greedy if r not in set(cs.clustered)]
            rows[e] = (pick + [pick[0]] * L)[:L]  # fewer clusters than L: pad (duplicates cost the same)
        uniq, inv = np.unique(rows, return_inverse=True)
        cells_u = _db_cells(db, uniq)  # uniq is sorted: h5py reads rows in increasing order
        cand_C = P[rows]
        cand = cells_u[inv.reshape(rows.shape)]
    else:
        ch = chains.from_artifact(db).load_model(model)
        z, Pm = m_art["family_z"], m_art["family_P"]
        c11 = m_art["family_c11"]
        t = np.clip(target[:, 0], c11[0], c11[-1])
        k = np.clip(np.searchsorted(c11, t) - 1, 0, len(c11) - 2)
        w = ((t - c11[k]) / (c11[k + 1] - c11[k]))[:, None]
        v = verify(ch, (1 - w) * z[k] + w * z[k + 1])
        nearest = np.where(w[:, 0] < 0.5, k, k + 1)
        cells = np.where(v.valid[:, None, None], v.samples["cells"], m_art["family_cells"][nearest])
        C = np.where(v.valid[:, None], v.fe, Pm[nearest])
        stats.update(decoded_valid=float(v.valid.mean()),
                     predicted_vs_fe_c11=float(np.median(np.abs(v.predicted[v.valid, 0] - v.fe[v.valid, 0])
                                                         / np.abs(v.fe[v.valid, 0]))) if v.valid.any() else None)
        L = 1
        rows = np.where(v.valid, -1, -2 - nearest)[:, None]  # -1: decoded; -2 - k: family member k
        cand, cand_C = cells[:, None], C[:, None]
    n = cand.shape[-1]
    cand = cand.reshape(H, W, L, n, n).astype(np.uint8)
    unary = np.abs(cand_C - target[:, None, :]).max(-1).reshape(H, W, L)  # Eq. 16
    flat = cand.reshape(-1, n, n)
    uniq_cells, inv = np.unique(flat.reshape(len(flat), -1), axis=0, return_inverse=True)
    t_uniq = _tractions(uniq_cells.reshape(-1, n, n), mat)
    tractions = t_uniq[inv.ravel()].reshape(H, W, L, *t_uniq.shape[1:])
    mcfg = cfg["mrf"]
    h, v_ = edge_costs(cand, tractions, mcfg["geometric"], mcfg["mechanical"])
    field = mrf.GridMRF(mcfg["nodal"] * unary, h, v_)
    if L > 1:
        res = mrf.solve(field, dd_iterations=mcfg["dd_iterations"], bp_iterations=mcfg["bp_iterations"],
                        damping=mcfg["damping"])
        labels, hist = res.labels, res.history
        stats.update(mrf_energy=res.energy, mrf_lower_bound=res.lower_bound, mrf_gap=res.gap, mrf_method=res.method,
                     dd_iterations=int(len(hist["dd_energy"])))
    else:
        labels = np.zeros((H, W), np.int64)
        hist = {"dd_energy": np.zeros(0), "dd_lower_bound": np.zeros(0), "bp_energy": np.zeros(0)}
        stats.update(mrf_energy=float(field.energy(labels)), mrf_lower_bound=float("nan"), mrf_gap=float("nan"))
    nodal = unary.argmin(-1)
    stats.update(nodal_energy=float(field.energy(nodal)), candidates=L, unique_cells=int(len(uniq_cells)),
                 seconds=round(time.perf_counter() - t0, 2))
    log.info("design %s stage 2: %s", case, stats)
    artifacts.write(out, "pixel2d/design_assembly", dict(
        candidates=cand, candidate_rows=rows.reshape(H, W, L), candidate_C=cand_C.reshape(H, W, L, 4), unary=unary,
        horizontal=h, vertical=v_, labels=labels.astype(np.int64), nodal_labels=nodal.astype(np.int64),
        dd_energy=np.asarray(hist["dd_energy"], float), dd_lower_bound=np.asarray(hist["dd_lower_bound"], float),
        bp_energy=np.asarray(hist.get("bp_energy", np.zeros(0)), float)),
        config=cfg, seed=seed, stats=stats, attrs={"case": case, "space": c.space, "database": str(db)})
    fig.mrf_convergence(hist, figure, title=f"{case}: MRF assembly (energy {stats['mrf_energy']:.4g}, "
                                            f"nodal-only {stats['nodal_energy']:.4g})")


def _db_cells(db: Path, rows: np.ndarray) -> np.ndarray:
    with artifacts.open_artifact(db, "pixel2d/database") as h5:
        return h5["cells"][rows] if len(rows) else h5["cells"][:0]


# --------------------------------------------------------------------------------------- stage 3
def assemble(cells: np.ndarray) -> np.ndarray:
    """(H, W, n, n) cells -> the (H n, W n) structure, cell (i, j) at rows i n.. and columns j n.."""
    H, W, n, _ = cells.shape
    return cells.transpose(0, 2, 1, 3).reshape(H * n, W * n)


def design_verify(db: Path, macro: Path, assembly: Path, out: Path, structure_figure: Path, deformed_figure: Path,
                  summary: Path, *, case: str, cfg: dict) -> None:
    """Stage 3: the assembled structure and the nodal-only baseline's solved by fine-scale Q4 FE
    with the case's boundary conditions on every fine node; RRMSE of the tracked DOFs."""
    from pipeline_lib.pixel2d import structure as st
    from pipeline_lib.pixel2d.homogenization import homogenize_cells
    from pipeline_lib.viz import design as fig

    t0 = time.perf_counter()
    c = _case(case, cfg)
    H, W = c.rows, c.cols
    m_art = artifacts.read(macro, "pixel2d/design_macro")
    a_art = artifacts.read(assembly, "pixel2d/design_assembly")
    mat = _material(db)
    cand = a_art["candidates"]
    n = cand.shape[-1]
    ii, jj = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    chosen = cand[ii, jj, a_art["labels"]]
    baseline = cand[ii, jj, a_art["nodal_labels"]]
    structure, base_structure = assemble(chosen), assemble(baseline)
    fixed, values = c.prescribed(n)
    tdofs, tvals, mdofs = c.tracked(n)
    kw = dict(E=mat["E"], nu=mat["nu"], plane=mat["plane"], void=mat["void"], solver=cfg["solver"], h=1.0 / n)
    timings, info = {}, {}
    s = time.perf_counter()
    u = st.solve(structure, fixed, values, info=info, **kw)
    timings["fine_solve"] = round(time.perf_counter() - s, 2)
    s = time.perf_counter()
    same = np.array_equal(structure, base_structure)  # a family case: nothing to choose between
    u_base = u if same else st.solve(base_structure, fixed, values, **kw)
    timings["baseline_solve"] = round(time.perf_counter() - s, 2)
    C_assembled = properties(homogenize_cells(chosen.reshape(-1, n, n), E=mat["E"], nu=mat["nu"], plane=mat["plane"],
                                              void=mat["void"])).reshape(H, W, 4)
    prob = c.macro_problem()
    u_macro = m_art["u"]
    u_macro_assembled = prob.solve(C_assembled.reshape(-1, 4))
    rr = (lambda x: float(np.linalg.norm(x - tvals) / np.linalg.norm(tvals)))
    figures = {
        "rrmse_macro": rr(u_macro[mdofs]), "rrmse_fine": rr(u[tdofs]),
        "rrmse_macro_assembled": rr(u_macro_assembled[mdofs]), "rrmse_fine_baseline": rr(u_base[tdofs]),
        "mrf_energy": float(a_art.stats.get("mrf_energy", np.nan)),
    }
    a_stats, m_stats = a_art.stats, m_art.stats
    figures.update(mrf_lower_bound=a_stats.get("mrf_lower_bound"), mrf_gap=a_stats.get("mrf_gap"),
                   nodal_energy=a_stats.get("nodal_energy"))
    timings["verify"] = round(time.perf_counter() - t0, 2)
    seconds = {"macro": m_stats.get("seconds"), "assembly": a_stats.get("seconds"), "verify": timings["verify"]}
    report = dict(figures, case=case, rows=H, cols=W, cell_pixels=int(n), space=c.space,
                  fine_dofs=int(info.get("ndof", 0)), solver=info.get("solver"), timings=timings, seconds=seconds,
                  total_seconds=round(sum(v for v in seconds.values() if v is not None), 2),
                  macro_iterations=m_stats.get("iterations"), elements_outside=m_stats.get("elements_outside"))
    log.info("design %s stage 3: %s", case, report)
    attrs = {"case": case, "E": float(mat["E"]), "nu": float(mat["nu"]), "void": float(mat["void"]),
             "plane": str(mat["plane"]), "pixel": 1.0 / n, "cell_pixels": int(n), "units": "lengths in cell sides",
             "rrmse_macro": figures["rrmse_macro"], "rrmse_fine": figures["rrmse_fine"],
             "rrmse_fine_baseline": figures["rrmse_fine_baseline"],
             "mrf_energy": figures["mrf_energy"], "mrf_lower_bound": float(figures["mrf_lower_bound"] if figures["mrf_lower_bound"] is not None else np.nan),
             "case_config": json.dumps(cfg["case"], sort_keys=True), "database": str(db)}
    artifacts.write(out, "pixel2d/design", dict(
        fixed_dofs=fixed, fixed_values=values, target_dofs=tdofs, target_values=tvals,
        structure=structure.astype(np.uint8), labels=a_art["labels"], C_target=m_art["C_target"], C_assembled=C_assembled,
        u_target_dofs=u[tdofs], u_macro_target_dofs=u_macro[mdofs], baseline_structure=base_structure.astype(np.uint8),
        baseline_u_target_dofs=u_base[tdofs]), config=cfg, stats=report, attrs=attrs)
    fig.structure({f"{case}: MRF assembly (fine RRMSE {figures['rrmse_fine']:.4f})": structure,
                   f"nodal-only baseline (fine RRMSE {figures['rrmse_fine_baseline']:.4f})": base_structure},
                  structure_figure, title=f"{case}: assembled structures ({H} x {W} cells of {n} x {n} pixels)", cell=n)
    node = tdofs // 2
    points = ((node % (W * n + 1)) / n, (H * n - node // (W * n + 1)) / n, tdofs % 2)
    fig.deformed(structure, u, n, points, {"target": tvals, "macro (homogenized)": u_macro[mdofs],
                                           "fine-scale FE": u[tdofs], "baseline (nodal-only) FE": u_base[tdofs]},
                 deformed_figure, title=f"{case}: deformed structure and tracked points")
    atomic.write_json(summary, report)


def export_structure(path: str | Path, out: str | Path, thickness: float = 1.0) -> Path:
    """A design's assembled structure for fabrication: ``.png`` one image pixel per structure pixel
    (black = solid, row 0 at the top), ``.stl`` the solid extruded by ``thickness`` (cell sides;
    x along columns, y up, a pixel 1/n wide)."""
    a = artifacts.read(path, "pixel2d/design", ["structure"])
    s = np.asarray(a["structure"]).astype(bool)
    out = Path(out)
    if out.suffix.lower() == ".png":
        import matplotlib.pyplot as plt

        with atomic.output(out) as tmp:
            plt.imsave(tmp, (~s).astype(np.uint8), cmap="gray", vmin=0, vmax=1, format="png")
        return out
    if out.suffix.lower() == ".stl":
        from pipeline_lib.viz.render3d import export_voxels

        if not thickness > 0:
            raise ValueError(f"thickness must be positive, got {thickness}")
        h = float(a.attrs["pixel"])
        return export_voxels(s[::-1, :].T[:, :, None], out, spacing=(h, h, thickness))
    raise ValueError(f"{out}: a design exports to .png or .stl")


def design_summary(parts: list[Path], out: Path) -> None:
    """Every case's figures of merit and wall times, keyed by case."""
    atomic.write_json(out, {Path(p).parent.name: json.loads(Path(p).read_text()) for p in parts})
