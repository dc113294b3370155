"""Gradient inverse design of truss lattices in the graph VAE's latent space (paper 002, "Gradient-
based optimization in the latent space", Fig. 5), FE-verified, with FE-in-the-loop finishing.

One target per job (``max_E22``, ``min_nu21``, ``max_KV_GV``, any ``pipeline_lib.objectives``
name).  Steps, each reported with what it added:

1. **latent search** (the paper's method): the ``starts`` database lattices with the best FE value
   of the target, encoded; Adam on all of them at once through decode -> re-encode -> predict ->
   objective (:func:`pipeline_lib.optim.latent.search`, relaxation in
   :func:`pipeline_lib.truss3d.learning.relaxed_lattice`); each run's best z is decoded to a hard
   lattice (threshold, floating members dropped), screened and homogenized.
2. **restarts**: the best FE-verified runs restarted from their z plus Gaussian noise.
3. **FE refinement**: the best designs finished by local search with the FE solver in the loop
   (:mod:`pipeline_lib.truss3d.refine`: beam toggles and offset gradient steps).

Beside them, in the same run: the database's extreme (the lookup baseline) and the same FE
refinement started from the database's best lattices without the model (the control: what the
model's starts are worth).  Every stored design is homogenized by the chain's solver at the
database's relative density; the predictor's value -- of the re-encoded stored lattice -- is shown
beside the FE value, never instead of it.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from pipeline_lib import artifacts, atomic
from pipeline_lib import chain as chains
from pipeline_lib.config import build, derive_seed
from pipeline_lib.elasticity import from_orthotropic
from pipeline_lib.latent.verify import verify_samples
from pipeline_lib.objectives import Objective, parse
from pipeline_lib.optim.latent import SearchParams, search
from pipeline_lib.truss3d import learning as L
from pipeline_lib.truss3d.refine import RefineParams, refine

log = logging.getLogger(__name__)
STEPS = ("latent search", "restarts", "FE refinement")


@dataclass
class RestartParams:
    designs: int = 10  # best FE-verified runs restarted
    copies: int = 4  # perturbed restarts of each
    sigma: float = 0.3  # noise added to z (the prior's standard deviation is 1)


@dataclass
class FinishParams(RefineParams):
    designs: int = 4  # best designs refined (and database lattices, for the control)


@dataclass
class DesignParams:
    starts: int = 100
    relaxation: str = "straight_through"
    search: SearchParams = field(default_factory=SearchParams)
    restarts: RestartParams = field(default_factory=RestartParams)
    refine: FinishParams = field(default_factory=FinishParams)
    path_fe_stride: int = 10  # FE-verify every this many steps of each run too (0: the predictor's best only)
    control: bool = True  # FE-refine the database's best too (no model), as a baseline
    path_points: int = 4  # lattices drawn along the best path


class _Designs:
    """One row per start: the current design of each, its FE and predicted objective."""

    def __init__(self, ch, objective: Objective, n: int, d: int):
        self.ch, self.obj = ch, objective
        self.A = np.zeros((n, 27, 27), bool)
        self.X = np.zeros((n, 27, 3))
        self.z = np.full((n, d), np.nan)
        self.C9 = np.full((n, 9), np.nan)
        self.radius = np.full(n, np.nan)
        self.valid = np.zeros(n, bool)
        self.value = np.full(n, np.nan)  # FE objective
        self.stage = np.full(n, -1, np.int8)
        self.history = np.full((n, len(STEPS)), np.nan)  # FE objective after each step

    def score(self) -> np.ndarray:
        """Sense-adjusted FE objective, -inf where not valid (larger is better)."""
        return np.where(self.valid, self.obj.sense * np.nan_to_num(self.value, nan=-np.inf), -np.inf)

    def offer(self, rows, A, X, z, step: int) -> int:
        """Candidates for ``rows``; each replaces its row's design where its FE value is better (or
        the row has none yet).  Returns how many replaced."""
        C9, valid, radius = self.ch.screen_homogenize({"adjacency": A, "offsets": X})
        value = np.where(valid, _values(self.obj, C9), np.nan)
        replaced = 0
        for k, r in enumerate(rows):
            better = valid[k] and (self.stage[r] < 0 or not self.valid[r] or self.obj.better(value[k], self.value[r]))
            if better or self.stage[r] < 0:
                self.A[r], self.X[r], self.z[r] = A[k], X[k], z[k]
                self.C9[r], self.valid[r], self.radius[r], self.value[r] = C9[k], valid[k], radius[k], value[k]
                self.stage[r] = step
                replaced += int(better)
        return replaced

    def close_step(self, step: int) -> None:
        self.history[:, step] = np.where(self.valid, self.value, np.nan)


def _values(obj: Objective, C9: np.ndarray) -> np.ndarray:
    """The objective of FE (or predicted) C9 rows, NaN for NaN rows."""
    return obj.values(from_orthotropic(C9))


def _search_loss(model, obj: Objective, relaxation: str):
    """decode -> re-encode -> predict -> objective.  A predicted C that is not positive definite
    means nothing (and ratios such as K_V / G_V run off to infinity near it), so there the loss is
    a barrier far above every physical one, pushing the smallest eigenvalue back up: the search
    never keeps such a point."""
    def loss(z: torch.Tensor):
        C9 = L.predict_tensor(model, L.reencode(model, z, relaxation))
        C = from_orthotropic(C9.double())
        smallest = torch.linalg.eigvalsh(C)[:, 0]
        ok = smallest > 0
        eye = torch.eye(6, dtype=C.dtype, device=C.device)
        value = obj.loss(torch.where(ok[:, None, None], C, eye))  # no NaN in the unused branch's gradient
        return torch.where(ok, value, _BARRIER * (1.0 - smallest)), C9
    return loss


_BARRIER = 1e6


def _decode(ch, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = ch.decode(z)
    return s["adjacency"], s["offsets"]


def _predicted(ch, A: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The predictor's C9 for stored lattices: at the latent mean of their encoding (what the
    search scored, and defined for refined lattices too)."""
    mu, _ = ch.encode({"adjacency": A, "offsets": X})
    return ch.predict(mu)[0]


def _evaluator(ch, obj: Objective):
    def evaluate(A: np.ndarray, X: np.ndarray) -> np.ndarray:
        C9, valid, _ = ch.screen_homogenize({"adjacency": A, "offsets": X})
        v = _values(obj, C9)
        return np.where(valid & np.isfinite(v), -obj.sense * np.nan_to_num(v), np.inf)
    return evaluate


def run(ch, db_arrays: dict, mu: np.ndarray, obj: Objective, p: DesignParams, seed: int) -> dict:
    """The design of one target; returns every array the artifact stores and the report."""
    t0 = time.perf_counter()
    seconds = {}
    db_value = _values(obj, db_arrays["C9"])
    order = np.argsort(-obj.sense * np.nan_to_num(db_value, nan=-obj.sense * np.inf))
    order = order[np.isfinite(db_value[order])]
    start_rows = order[: p.starts]
    n, d = len(start_rows), mu.shape[1]
    model = ch.model
    model.eval()
    for q in model.parameters():
        q.requires_grad_(False)
    dev = next(model.parameters()).device

    # 1. the paper's latent search
    res = search(mu[start_rows], _search_loss(model, obj, p.relaxation), p.search, device=dev)
    designs = _Designs(ch, obj, n, d)
    A, X = _decode(ch, res.z)
    designs.offer(np.arange(n), A, X, res.z, 0)  # the paper: each run's predicted best, decoded
    latent_valid = designs.valid.copy()
    paper_value = np.where(designs.valid, designs.value, np.nan)
    if p.path_fe_stride:  # and FE along each path: the predictor's best is not always FE's best
        rows = np.concatenate([np.full(len(range(0, res.steps[r] + 1, p.path_fe_stride)), r) for r in range(n)])
        at = np.concatenate([np.arange(0, res.steps[r] + 1, p.path_fe_stride) for r in range(n)])
        zs = res.path[rows, at].astype(np.float64)
        A, X = _decode(ch, zs)
        designs.offer(rows, A, X, zs, 0)
    designs.close_step(0)
    seconds["latent search"] = time.perf_counter() - t0

    # 2. restarts around the best FE-verified runs
    t = time.perf_counter()
    rp = p.restarts
    top = np.argsort(-designs.score())[: rp.designs]
    top = top[designs.valid[top]]
    restarted = 0
    if len(top) and rp.copies:
        rng = np.random.default_rng(derive_seed(seed, "truss3d", "design", obj.name, "restarts"))
        rows = np.repeat(top, rp.copies)
        z0 = designs.z[rows] + rp.sigma * rng.standard_normal((len(rows), d))
        again = search(z0, _search_loss(model, obj, p.relaxation), p.search, device=dev)
        A, X = _decode(ch, again.z)
        restarted = designs.offer(rows, A, X, again.z, 1)
    designs.close_step(1)
    seconds["restarts"] = time.perf_counter() - t

    # 3. FE-in-the-loop refinement of the best designs
    t = time.perf_counter()
    fp = p.refine
    rparams = build(RefineParams, {k: v for k, v in vars(fp).items() if k != "designs"})
    evaluate = _evaluator(ch, obj)
    top = np.argsort(-designs.score())[: fp.designs]
    top = top[designs.valid[top]]
    traces, evaluations = {}, 0
    for r in top:
        out = refine(designs.A[r], designs.X[r], evaluate, rparams)
        evaluations += out.evaluations
        traces[int(r)] = out.trace
        designs.offer([r], out.adjacency[None], out.offsets[None], np.full((1, d), np.nan), 2)
    designs.close_step(2)
    seconds["FE refinement"] = time.perf_counter() - t

    # the control: the same refinement from the database's best, no model
    t = time.perf_counter()
    control = {"start_row": np.zeros(0, np.int64), "adjacency": np.zeros((0, 27, 27), bool),
               "offsets": np.zeros((0, 27, 3)), "objective_fe": np.zeros(0), "start_objective_fe": np.zeros(0)}
    if p.control and fp.designs:
        cr = order[: fp.designs]
        outs = [refine(db_arrays["adjacency"][r], db_arrays["offsets"][r], evaluate, rparams) for r in cr]
        control = {"start_row": cr.astype(np.int64), "adjacency": np.array([o.adjacency for o in outs]),
                   "offsets": np.array([o.offsets for o in outs]),
                   "objective_fe": np.array([-obj.sense * o.loss if np.isfinite(o.loss) else np.nan for o in outs]),
                   "start_objective_fe": db_value[cr]}
    seconds["control"] = time.perf_counter() - t

    # what is stored is verified the one way every latent result is (screen, then the chain's
    # homogenize); the search's faster path must agree with it exactly
    check = verify_samples(ch, {"adjacency": designs.A, "offsets": designs.X})
    scale = np.abs(designs.C9[designs.valid]).max(1, keepdims=True)  # batches differ: round-off only
    if not (np.array_equal(check.valid, designs.valid)
            and (np.abs(check.fe[check.valid] - designs.C9[designs.valid]) <= 1e-10 * scale).all()):
        raise RuntimeError(f"{obj.name}: the search's FE values differ from latent.verify's on the stored designs")
    # the predictor beside FE, for every stored design
    pred = _predicted(ch, designs.A, designs.X)
    pred_value = _values(obj, pred)
    score = designs.score()
    best = int(np.argmax(score)) if np.isfinite(score).any() else -1
    extreme = float(db_value[order[0]])
    rel_err = np.abs(pred_value - designs.value) / np.abs(designs.value)
    steps_best = [float(np.nanmax(obj.sense * designs.history[:, k]) * obj.sense)
                  if np.isfinite(designs.history[:, k]).any() else None for k in range(len(STEPS))]
    report = {
        "target": obj.name, "quantity": obj.quantity, "sense": "max" if obj.sense > 0 else "min",
        "database_extreme": extreme, "database_row": int(order[0]),
        "best_fe": float(designs.value[best]) if best >= 0 else None,
        "best_predicted": float(pred_value[best]) if best >= 0 else None,
        "best_row": best, "best_step": STEPS[designs.stage[best]] if best >= 0 else None,
        "improvement_percent": obj.improvement(float(designs.value[best]), extreme) if best >= 0 else None,
        "starts": n, "valid_runs_latent_search": int(latent_valid.sum()), "valid_runs": int(designs.valid.sum()),
        "best_fe_at_predicted_best": float(np.nanmax(obj.sense * paper_value) * obj.sense)
        if np.isfinite(paper_value).any() else None,
        "best_after_step": dict(zip(STEPS, steps_best)),
        "improvement_after_step_percent": {s: (obj.improvement(v, extreme) if v is not None else None)
                                           for s, v in zip(STEPS, steps_best)},
        "restarts_improved": restarted,
        "fe_refinement_evaluations": evaluations,
        "predictor_relative_error_median": float(np.nanmedian(rel_err)) if np.isfinite(rel_err).any() else None,
        "predictor_relative_error_best": float(rel_err[best]) if best >= 0 else None,
        "predictor_relative_error_latent_search": _median_error(obj, designs, pred_value, stage=0),
        "control_best_fe": float(np.nanmax(obj.sense * control["objective_fe"]) * obj.sense)
        if np.isfinite(control["objective_fe"]).any() else None,
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
    }
    if report["control_best_fe"] is not None:
        report["control_improvement_percent"] = obj.improvement(report["control_best_fe"], extreme)
    arrays = {
        "adjacency": designs.A.astype(np.uint8), "offsets": designs.X, "radius": designs.radius,
        "valid": designs.valid, "C_fe": np.where(designs.valid[:, None, None], from_orthotropic(np.nan_to_num(designs.C9)),
                                                 np.nan),
        "C9_fe": designs.C9, "C9_pred": pred, "objective_fe": designs.value, "objective_pred": pred_value,
        "z": designs.z, "stage": designs.stage, "step_objective_fe": designs.history,
        "start_row": start_rows.astype(np.int64), "start_objective_fe": db_value[start_rows],
        "path/objective": _values(obj, res.recorded) if res.recorded is not None else -obj.sense * res.history,
        "path/z": res.path,
        "path/predicted": res.recorded if res.recorded is not None else np.full(res.history.shape + (9,), np.nan),
        "path/best_step": res.best_step, "path/steps": res.steps,
        **{f"control/{k}": v for k, v in control.items()},
    }
    arrays["control/adjacency"] = arrays["control/adjacency"].astype(np.uint8)
    return {"arrays": arrays, "report": report, "best": best, "traces": traces}


def _median_error(obj, designs: _Designs, pred_value, stage: int):
    sel = designs.valid & (designs.stage == stage)
    e = np.abs(pred_value[sel] - designs.value[sel]) / np.abs(designs.value[sel])
    return float(np.median(e)) if len(e) else None


# ------------------------------------------------------------------------------- stage entries
def design(db: Path, model: Path, latent: Path, out: Path, summary: Path, path_figure: Path, space_figure: Path,
           surface_figure: Path, vtp: Path, stl: Path, *, target: str, cfg: dict, seed: int) -> None:
    """One target: the design artifact, its JSON report, the figures of paper 002 Fig. 5 and the
    best lattice for printing (.vtp, .stl)."""
    from pipeline_lib.viz import inverse_design as fig

    t0 = time.perf_counter()
    obj = parse(target)
    p = build(DesignParams, cfg, ignore=("run",), where="truss3d.design")
    ch = chains.from_artifact(db).load_model(model)
    if ch.name != "truss3d":
        raise artifacts.ArtifactError(db, f"is a {ch.name} artifact, not truss3d")
    db_arrays = artifacts.read(db, "truss3d/database", ["adjacency", "offsets", "C9", "radius"]).arrays
    mu = artifacts.read(latent, "truss3d/latent", ["mu"])["mu"].astype(np.float64)
    if len(mu) != len(db_arrays["C9"]):
        raise artifacts.ArtifactError(latent, f"{len(mu)} latent rows for {len(db_arrays['C9'])} database rows")
    result = run(ch, db_arrays, mu, obj, p, seed)
    rep, best, arrays = result["report"], result["best"], result["arrays"]
    rep["seconds"]["total"] = round(time.perf_counter() - t0, 1)
    c = ch.config
    artifacts.write(out, "truss3d/design", arrays, config={"target": target, **cfg}, seed=seed, stats=rep,
                    attrs={"target": target, "quantity": obj.quantity, "sense": rep["sense"], "best": best,
                           "steps": json.dumps(STEPS), "relative_density": c["relative_density"],
                           "material": json.dumps(c["material"]), "beam": c["beam"], "density": c["density"],
                           "database": str(db), "database_extreme": rep["database_extreme"],
                           "refinement_traces": json.dumps(result["traces"])})
    log.info("%s: database %.4g -> FE %s (%s, %s %%), %d/%d valid; %s", target, rep["database_extreme"],
             rep["best_fe"], rep["best_step"], rep["improvement_percent"], rep["valid_runs"], rep["starts"],
             rep["seconds"])
    fig.objective_path(ch, obj, arrays, rep, path_figure, points=p.path_points)
    fig.property_space(ch, obj, arrays, db_arrays, rep, space_figure)
    if best >= 0:
        best_sample = {"adjacency": arrays["adjacency"][best:best + 1].astype(bool),
                       "offsets": arrays["offsets"][best:best + 1]}
        ch.render(best_sample, surface_figure, properties=arrays["C9_fe"][best:best + 1],
                  titles=[f"{target}: FE {rep['best_fe']:.4g} (predicted {rep['best_predicted']:.4g})"])
        for path in (vtp, stl):
            ch.export(best_sample, path)
    else:  # an honest result too: the files say there is no design
        log.warning("%s: no run gave a valid lattice; the exports are empty", target)
        fig.nothing(surface_figure, f"{target}: no run gave a valid lattice")
        atomic.write_text(stl, "solid no_valid_design\nendsolid no_valid_design\n")
        atomic.write_text(vtp, '<?xml version="1.0"?>\n<VTKFile type="PolyData" version="0.1"><PolyData><Piece '
                               'NumberOfPoints="0" NumberOfVerts="0" NumberOfLines="0" NumberOfStrips="0" '
                               'NumberOfPolys="0"></Piece></PolyData></VTKFile>\n')
    atomic.write_json(summary, rep)


def design_summary(parts: list[Path], out: Path) -> None:
    """Every target's report in one JSON (data/truss3d/design/summary.json)."""
    reports = {}
    for part in parts:
        r = json.loads(Path(part).read_text())
        reports[r["target"]] = r
    atomic.write_json(out, {"targets": reports, "seconds": round(sum(r["seconds"]["total"] for r in reports.values()), 1)})
