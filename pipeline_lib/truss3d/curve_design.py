"""Inverse design of truss lattices to target stress-strain curves in the graph VAE's latent space
(paper 002, "Design for tailored nonlinear mechanical response", Fig. 6b), every result verified
by the nonlinear FE solver (:mod:`pipeline_lib.truss3d.nonlinear`).

Targets (``truss3d.nonlinear.design.run``), both picked from the stress-strain database by rule:

* ``stiff``: ``factor`` (1.3) x the stiffest curve of the predictor's training split (largest mean
  stress), beyond every response the model was trained on;
* ``softening``: a real lattice's curve from the splits the predictor never trained on (validation
  and test), with pronounced softening (the stress falls by at least ``drop`` of its peak after
  the peak) and far from every training curve (best training match NRMSE >= ``min_match_nrmse``,
  0.09 as in the paper): of those, the one that softens most.  It is a response some lattice has,
  so an exact design exists; the question is whether the search finds one the training data does
  not hold.

"Database" below is the predictor's training split (the paper's "training dataset").  Steps:

1. **latent search** (the paper's method): the ``starts`` training lattices whose curves are
   closest to the target (NRMSE), encoded; Adam on all of them through decode -> re-encode ->
   curve predictor -> NRMSE to the target (:func:`pipeline_lib.optim.latent.search`); each run's
   best z is decoded, screened by the database's rules and its curve computed by nonlinear FE.
2. **restarts**: the best FE-verified runs restarted from their z plus noise, verified the same way.
3. **refit search** (not in the paper): the predictor is most wrong where the search takes it, and
   the lattices just verified are exactly those.  ``refit.rounds`` times, a copy of the predictor is
   trained further on every lattice FE has verified so far beside its training curves
   (:func:`pipeline_lib.truss3d.curves.refit`), and the search runs again from each run's current
   z, verified as step 1.  The predictor stays a search shortcut that FE corrects; the stored
   predictor, and the curves it predicts for the stored lattices, are the stage's own.
4. **FE refinement** (the finish, as the linear designs end with FE in the loop): the ``designs``
   best distinct FE-verified lattices improved by a (1 + ``children``) evolution strategy
   (:func:`pipeline_lib.optim.evolution.evolve`) whose children are random beam toggles and offset
   perturbations of the parent (:func:`pipeline_lib.truss3d.refine.mutants`), every child's curve
   by the nonlinear FE solver and its NRMSE to the target the loss.  The predictor is off its data
   at the designs (a quarter off), and a finite-difference gradient would cost a solve per free
   offset; random neighbours scored by FE in batches do not need it.

Beside them, in the same run and the same artifact: the best database match (the lookup baseline:
its lattice, its FE curve and NRMSE), and the **control**: the same FE refinement, with the same
budget, started from that match instead of the model's designs -- what the finish achieves without
the generative model.  The predictor's curve of each stored lattice is stored beside
its FE curve, never instead of it.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from pipeline_lib.config import derive_seed
from pipeline_lib.optim.evolution import evolve
from pipeline_lib.optim.latent import SearchParams, search
from pipeline_lib.truss3d import learning as L
from pipeline_lib.truss3d.curves import CurvePredictor, nrmse, nrmse_tensor
from pipeline_lib.truss3d.refine import mutants

log = logging.getLogger(__name__)
TARGETS = ("stiff", "softening")
STEPS = ("latent search", "restarts", "refit search", "FE refinement")


@dataclass
class StiffParams:
    factor: float = 1.3  # the paper's: 30 % above the stiffest training response


@dataclass
class SofteningParams:
    min_match_nrmse: float = 0.09  # the paper's target is 9.1 % from its best training match
    drop: float = 0.1  # (peak - final) / peak at least: "pronounced softening"


@dataclass
class CurveRestartParams:
    designs: int = 5  # best FE-verified runs restarted
    copies: int = 4  # restarts of each
    sigma: float = 0.3  # noise added to z (the prior's standard deviation is 1)


@dataclass
class CurveRefitParams:
    rounds: int = 3  # searches again with the predictor refitted to every FE-verified lattice so far (0: none); measured: softening 14.0 -> 7.6 % before the finish, 1.6 % after it
    epochs: int = 300  # full-batch steps of each refit
    lr: float = 3e-4
    train: bool = True  # the predictor's training curves in every refit beside the verified lattices


@dataclass
class CurveRefineParams:
    designs: int = 2  # best distinct FE-verified designs finished by FE in the loop (0: no finish)
    generations: int = 60  # measured without the refit search: softening 5.4 % after 30, 2.0 % after 60 (4.4 % on a re-run); stiff 15.8 % after either
    children: int = 16  # mutants per design and generation, all FE-verified in one batch
    sigma: float = 0.05  # offset perturbation of the first generation (natural coordinates, offsets in [-0.5, 0.5])
    sigma_final: float = 0.005  # of the last (geometric in between)
    toggle: float = 0.3  # probability that a mutant also toggles one beam
    nodes: int = 2  # used nodes whose offsets a mutant moves
    control: bool = True  # the same finish from the best database match (no model), in the same run


@dataclass
class CurveDesignParams:
    starts: int = 100  # the paper's
    relaxation: str = "straight_through"
    search: SearchParams = field(default_factory=lambda: SearchParams(steps=200))
    restarts: CurveRestartParams = field(default_factory=CurveRestartParams)
    refit: CurveRefitParams = field(default_factory=CurveRefitParams)
    refine: CurveRefineParams = field(default_factory=CurveRefineParams)
    path_fe_stride: int = 100  # also FE-verify the lattice decoded every this many steps of each run (0: none)
    stiff: StiffParams = field(default_factory=StiffParams)
    softening: SofteningParams = field(default_factory=SofteningParams)


def pick_target(name: str, curves: np.ndarray, split: np.ndarray, p: CurveDesignParams) -> dict:
    """The target curve and how it was chosen; ``split`` is the predictor's code per curve (0
    train, 1 validation, 2 test, -1 not used)."""
    pool = np.flatnonzero(split == 0)
    if not len(pool):
        raise ValueError("the curve predictor has no training curves")
    source, how, met = -1, "", True
    if name == "stiff":
        i = int(pool[np.argmax(curves[pool].mean(1))])
        target = p.stiff.factor * curves[i]
        how = f"{p.stiff.factor} x the stiffest training curve (largest mean stress: stress-strain row {i})"
    elif name == "softening":
        held = np.flatnonzero(split > 0)
        if not len(held):
            held = pool  # a database too small to hold any back: the target is then a training curve
        c = curves[held]
        peak = c.max(1)
        drop = (peak - c[:, -1]) / np.where(peak > 0, peak, np.inf)
        soft = (c.argmax(1) < c.shape[1] - 1) & (drop >= p.softening.drop)
        match = np.array([nrmse(np.broadcast_to(ck, curves[pool].shape), curves[pool])
                          [pool != held[k]].min(initial=np.inf) for k, ck in enumerate(c)])
        eligible = soft & (match >= p.softening.min_match_nrmse)
        if eligible.any():
            k = int(np.flatnonzero(eligible)[np.argmax(drop[eligible])])
        else:  # said in the report: the database holds no curve that meets both criteria
            met = False
            k = int(np.flatnonzero(soft)[np.argmax(match[soft])]) if soft.any() else int(np.argmax(drop))
            log.warning("softening: no held-out curve softens by %.0f %% and is %.0f %% from every training curve;"
                        " took row %d (drop %.1f %%, match %.1f %%)", 100 * p.softening.drop,
                        100 * p.softening.min_match_nrmse, held[k], 100 * drop[k], 100 * match[k])
        source = int(held[k])
        target = curves[source].copy()
        rule = (f"the most softening held-out curve with a drop >= {100 * p.softening.drop:.0f} % and a match >= "
                f"{100 * p.softening.min_match_nrmse:.0f} %" if met else
                f"no held-out curve has a drop >= {100 * p.softening.drop:.0f} % and a match >= "
                f"{100 * p.softening.min_match_nrmse:.0f} %: the softening one with the farthest match")
        how = (f"held-out stress-strain row {source}: softens by {100 * drop[k]:.1f} % after its peak, best training "
               f"match NRMSE {100 * match[k]:.1f} % ({rule})")
    else:
        raise ValueError(f"unknown nonlinear design target {name!r}; known: {', '.join(TARGETS)}")
    errors = nrmse(np.broadcast_to(target, curves[pool].shape), curves[pool])
    errors[pool == source] = np.inf  # the target's own lattice is not a database match
    best = int(np.argmin(errors))
    return {"target": np.asarray(target, float), "source_row": source, "how": how, "criteria_met": met,
            "match_row": int(pool[best]), "match_nrmse": float(errors[best]), "pool": pool, "pool_nrmse": errors}


def _search_loss(predictor: CurvePredictor, target: np.ndarray, relaxation: str):
    t = torch.as_tensor(target, dtype=torch.float32)

    def loss(z: torch.Tensor):
        a, x = L.relaxed_lattice(predictor.vae, z, relaxation)
        c = predictor(a, x)
        return nrmse_tensor(t.to(c.device).expand_as(c), c), c
    return loss


def lattice_key(adjacency: np.ndarray, offsets: np.ndarray) -> bytes:
    """What makes two lattices the same one: their beams and their offsets (to 1e-12)."""
    return np.asarray(adjacency, bool).tobytes() + np.round(offsets, 12).tobytes()


class Verifier:
    """Nonlinear FE of decoded lattices, each distinct lattice once: screened by the database's
    rules, strut radius at the database's relative density, the database's path settings."""

    def __init__(self, ch, settings: dict, workers: int = 1):
        self.ch, self.s, self.workers = ch, settings, workers
        self.cache: dict[bytes, dict] = {}
        self.lattices: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
        self.solved = 0

    def __call__(self, A: np.ndarray, X: np.ndarray) -> list[dict]:
        from pipeline_lib.truss3d.homogenization import checked_frames, strut_radii
        from pipeline_lib.truss3d.nonlinear import compress_frames

        keys = [lattice_key(a, x) for a, x in zip(A, X)]
        new = {}
        for k, a, x in zip(keys, A, X):
            if k not in self.cache and k not in new:
                new[k] = (a, x)
        if new:
            ks = list(new)
            valid = self.ch.screen({"adjacency": np.array([new[k][0] for k in ks]),
                                    "offsets": np.array([new[k][1] for k in ks])})
            for k, v in zip(ks, valid):
                if not v:
                    self.cache[k] = {"valid": False}
            todo = [k for k, v in zip(ks, valid) if v]
            if todo:
                frames = checked_frames(np.array([new[k][0] for k in todo]), np.array([new[k][1] for k in todo]))
                c, m = self.ch.config, self.ch.config["material"]
                r = strut_radii(frames, c["relative_density"], c["density"])
                s = self.s
                res = compress_frames(frames, r, E=m["E"], nu=m["nu"], beam=c["beam"], lateral=s["lateral"],
                                      strain=s["strain"], points=s["points"], params=s["params"],
                                      workers=self.workers)
                self.solved += len(todo)
                for i, k in enumerate(todo):
                    ok = bool(np.isfinite(res["curve"][i]).all())
                    self.lattices[k] = new[k]
                    self.cache[k] = {"valid": ok, "curve": res["curve"][i] * m["E"], "radius": r[i] / 2.0,
                                     "critical_strain": res["critical_strain"][i],
                                     "path_strain": res["path_strain"][i], "path_stress": res["path_stress"][i] * m["E"]}
        return [self.cache[k] for k in keys]

    def verified(self, exclude: set | frozenset = frozenset()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every lattice with a converged FE curve so far (but those keyed in ``exclude``):
        adjacency, offsets, curve."""
        ks = [k for k in self.lattices if self.cache[k]["valid"] and k not in exclude]
        if not ks:
            return np.zeros((0, 27, 27), bool), np.zeros((0, 27, 3)), np.zeros((0, self.s["points"]))
        return (np.array([self.lattices[k][0] for k in ks]), np.array([self.lattices[k][1] for k in ks]),
                np.array([self.cache[k]["curve"] for k in ks]))


class _Runs:
    """One row per start: its current design, FE curve and NRMSE."""

    def __init__(self, n: int, d: int, points: int, target: np.ndarray):
        self.target = target
        self.A = np.zeros((n, 27, 27), bool)
        self.X = np.zeros((n, 27, 3))
        self.z = np.full((n, d), np.nan)
        self.valid = np.zeros(n, bool)
        self.curve = np.full((n, points), np.nan)
        self.radius = np.full(n, np.nan)
        self.critical = np.full(n, np.nan)
        self.paths: list[tuple[np.ndarray, np.ndarray]] = [(np.zeros(0), np.zeros(0))] * n
        self.error = np.full(n, np.inf)
        self.stage = np.full(n, -1, np.int8)
        self.history = np.full((n, len(STEPS)), np.nan)

    def offer(self, rows, A, X, z, results: list[dict], step: int) -> int:
        replaced = 0
        for k, r in enumerate(rows):
            res = results[k]
            e = float(nrmse(self.target, res["curve"])) if res["valid"] else np.inf
            if self.stage[r] < 0 or e < self.error[r]:
                self.A[r], self.X[r], self.z[r], self.valid[r], self.error[r] = A[k], X[k], z[k], res["valid"], e
                if res["valid"]:
                    self.curve[r], self.radius[r], self.critical[r] = res["curve"], res["radius"], res["critical_strain"]
                    self.paths[r] = (res["path_strain"], res["path_stress"])
                replaced += int(self.stage[r] >= 0)
                self.stage[r] = step
        return replaced

    def close_step(self, step: int) -> None:
        self.history[:, step] = np.where(self.valid, self.error, np.nan)


def _finish(ch, runs: _Runs, verify: Verifier, lattices: dict, tg: dict, rp: CurveRefineParams, seed: int) -> dict:
    """Step 3: the evolution strategy on the ``rp.designs`` best distinct valid rows (a row takes
    its refined lattice where it is better) and, with ``rp.control``, on the database match; the
    report and the control's arrays."""
    target = runs.target

    def evaluate(cands):
        res = verify(np.array([c[0] for c in cands]), np.array([c[1] for c in cands]))
        return np.array([float(nrmse(target, r["curve"])) if r["valid"] else np.inf for r in res]), {}

    def mutate(parent, sigma, k, rng):
        return mutants(parent[0], parent[1], sigma, k, rng, toggle=rp.toggle, nodes=rp.nodes)

    rows, seen = [], set()
    for r in np.argsort(runs.error, kind="stable"):
        key = lattice_key(runs.A[r], runs.X[r])
        if len(rows) < rp.designs and runs.valid[r] and key not in seen:
            seen.add(key)
            rows.append(int(r))
    parents = [(runs.A[r], runs.X[r]) for r in rows]
    losses = list(runs.error[rows])
    mrow = tg["match_row"]
    match = (lattices["adjacency"][mrow].astype(bool), np.asarray(lattices["offsets"][mrow], float))
    if rp.control:
        parents.append(match)
        losses.append(float(evaluate([match])[0][0]))
    P = runs.curve.shape[1]
    arrays = {"control/adjacency": match[0].astype(np.uint8), "control/offsets": match[1],
              "control/curve_fe": np.full(P, np.nan), "control/nrmse_fe": np.array([np.nan]),
              "control/start_nrmse_fe": np.array([losses[-1] if rp.control else np.nan])}
    report = {"rows": rows, "start_nrmse_fe": [float(v) for v in losses[:len(rows)]], "nrmse_fe": [],
              "control_start_nrmse_fe": losses[-1] if rp.control else None, "control_nrmse_fe": None,
              "evaluations": 0, "traces": []}
    if not parents or rp.generations == 0:
        return {"arrays": arrays, "report": report}
    ev = evolve(parents, losses, mutate, evaluate, np.geomspace(rp.sigma, max(rp.sigma_final, 1e-12), rp.generations),
                rp.children, np.random.default_rng(seed), label="curve FE refinement")
    report.update(evaluations=ev.evaluations, traces=[[t["loss"] for t in tr] for tr in ev.trace],
                  nrmse_fe=[float(v) for v in ev.loss[:len(rows)]])
    better = [i for i, r in enumerate(rows) if ev.loss[i] < runs.error[r]]
    if better:
        A = np.array([ev.best[i][0] for i in better])
        X = np.array([ev.best[i][1] for i in better])
        z, _ = ch.encode({"adjacency": A, "offsets": X})
        runs.offer([rows[i] for i in better], A, X, np.asarray(z, float), verify(A, X), STEPS.index("FE refinement"))
    if rp.control:
        a, x = ev.best[-1]
        res = verify(a[None], x[None])[0]
        arrays.update({"control/adjacency": a.astype(np.uint8), "control/offsets": x,
                       "control/curve_fe": res["curve"] if res["valid"] else np.full(P, np.nan),
                       "control/nrmse_fe": np.array([ev.loss[-1]])})
        report["control_nrmse_fe"] = float(ev.loss[-1]) if np.isfinite(ev.loss[-1]) else None
    return {"arrays": arrays, "report": report}


def _refit_rounds(predictor: CurvePredictor, runs: _Runs, verify: Verifier, verify_search, lattices: dict,
                  curves: np.ndarray, pool: np.ndarray, target: np.ndarray, p: CurveDesignParams) -> list[dict]:
    """``p.refit.rounds`` times: the predictor refitted to every FE-verified lattice so far (and the
    training curves), then the latent search from each run's current z with it, verified as
    step 1.  Per round: how far the refitted predictor is from FE on the lattices the round newly
    verified (before they join the data: its error where the search took it) and the best NRMSE."""
    from pipeline_lib.truss3d.curves import refit

    q = p.refit
    out = []
    model = predictor
    keep = pool[np.isfinite(curves[pool]).all(1)] if q.train else pool[:0]
    for _ in range(q.rounds):
        A, X, Y = verify.verified()
        model = refit(model, np.concatenate([lattices["adjacency"][keep].astype(bool), A]),
                      np.concatenate([lattices["offsets"][keep], X]),
                      np.concatenate([curves[keep], Y]), epochs=q.epochs, lr=q.lr)
        before = set(verify.lattices)
        res = search(runs.z.copy(), _search_loss(model, target, p.relaxation), p.search)
        verify_search(res, STEPS.index("refit search"))
        An, Xn, Yn = verify.verified(exclude=before)
        err = nrmse(Yn, predicted_curves(model, An, Xn)) if len(Yn) else np.array([])
        out.append({"trained_on_verified": int(len(A)), "newly_verified": int(len(Yn)),
                    "predictor_nrmse_new_median": float(np.median(err)) if len(err) else None,
                    "best_fe_nrmse": float(runs.error.min()) if np.isfinite(runs.error).any() else None})
        log.info("refit round %d: %d verified lattices in the refit, %d new; predictor median NRMSE on them %s; "
                 "best FE NRMSE %.4f", len(out), len(A), len(Yn), out[-1]["predictor_nrmse_new_median"],
                 runs.error.min())
    return out


def predicted_curves(predictor: CurvePredictor, A: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The predictor's curve of stored lattices (at their encoding, what the search scores)."""
    if not len(A):
        return np.zeros((0, int(predictor.head.y_mean.numel())))
    a, x = L.tensors(predictor.vae, A, X)
    with torch.no_grad():
        return predictor(a, x).numpy().astype(np.float64)


def run(ch, predictor: CurvePredictor, lattices: dict, curves: np.ndarray, split: np.ndarray, name: str,
        p: CurveDesignParams, settings: dict, seed: int, workers: int = 1) -> dict:
    """One target: every array the artifact stores and the report.  ``lattices`` holds the
    adjacency and offsets of every stress-strain row, ``curves`` their FE curves."""
    t0 = time.perf_counter()
    seconds = {}
    tg = pick_target(name, curves, split, p)
    target = tg["target"]
    pool = tg["pool"]
    order = pool[np.argsort(tg["pool_nrmse"], kind="stable")]
    order = order[order != tg["source_row"]]
    start_rows = order[: p.starts]
    mu, _ = ch.encode({"adjacency": lattices["adjacency"][start_rows], "offsets": lattices["offsets"][start_rows]})
    n, d, points = len(start_rows), mu.shape[1], len(target)
    predictor.eval()
    for q in predictor.parameters():
        q.requires_grad_(False)
    verify = Verifier(ch, settings, workers)
    runs = _Runs(n, d, points, target)

    def verify_search(res, step: int) -> list[dict]:
        """Each run's best z decoded and FE-verified, and (``path_fe_stride``) the lattice decoded
        every so many steps along it: the predictor's best point is not always FE's best."""
        s = ch.decode(res.z)
        out = verify(s["adjacency"], s["offsets"])
        runs.offer(np.arange(n), s["adjacency"], s["offsets"], res.z, out, step)
        if p.path_fe_stride:
            rows = np.concatenate([np.full(len(range(0, res.steps[r] + 1, p.path_fe_stride)), r) for r in range(n)])
            at = np.concatenate([np.arange(0, res.steps[r] + 1, p.path_fe_stride) for r in range(n)])
            zs = res.path[rows, at].astype(np.float64)
            s = ch.decode(zs)
            out = out + verify(s["adjacency"], s["offsets"])
            runs.offer(rows, s["adjacency"], s["offsets"], zs, out[n:], step)
        return out

    # 1. the paper's latent search
    loss = _search_loss(predictor, target, p.relaxation)
    res = search(mu.astype(np.float64), loss, p.search)
    verify_search(res, 0)
    runs.close_step(0)
    latent_valid = int(runs.valid.sum())
    seconds["latent search"] = time.perf_counter() - t0

    # 2. restarts around the best FE-verified runs
    t = time.perf_counter()
    rp = p.restarts
    top = np.argsort(runs.error, kind="stable")[: rp.designs]
    top = top[runs.valid[top]]
    restarted = 0
    if len(top) and rp.copies:
        rng = np.random.default_rng(derive_seed(seed, "truss3d", "nonlinear_design", name, "restarts"))
        rows = np.repeat(top, rp.copies)
        z0 = runs.z[rows] + rp.sigma * rng.standard_normal((len(rows), d))
        again = search(z0, loss, p.search)
        s = ch.decode(again.z)
        restarted = runs.offer(rows, s["adjacency"], s["offsets"], again.z, verify(s["adjacency"], s["offsets"]), 1)
    runs.close_step(1)
    seconds["restarts"] = time.perf_counter() - t

    # 3. the search again, the predictor refitted to every lattice FE has verified so far: the
    # predictor is most wrong where the search goes, and those are the lattices just verified
    t = time.perf_counter()
    refits = _refit_rounds(predictor, runs, verify, verify_search, lattices, curves, pool, target, p)
    runs.close_step(2)
    seconds["refit search"] = time.perf_counter() - t

    # 4. FE in the loop on the best distinct designs, and on the database match (the control)
    t = time.perf_counter()
    refined = _finish(ch, runs, verify, lattices, tg, p.refine, derive_seed(seed, "truss3d", "nonlinear_design", name,
                                                                           "refine"))
    runs.close_step(3)
    seconds["FE refinement"] = time.perf_counter() - t

    pred = predicted_curves(predictor, runs.A, runs.X)
    pred_error = nrmse(np.broadcast_to(target, pred.shape), pred)
    best = int(np.argmin(runs.error)) if runs.valid.any() else -1
    mrow = tg["match_row"]
    match_pred = predicted_curves(predictor, lattices["adjacency"][mrow:mrow + 1], lattices["offsets"][mrow:mrow + 1])[0]
    same_as_source = bool(best >= 0 and tg["source_row"] >= 0
                          and np.array_equal(runs.A[best], lattices["adjacency"][tg["source_row"]])
                          and np.allclose(runs.X[best], lattices["offsets"][tg["source_row"]], atol=1e-9))
    report = {
        "target": f"nonlinear_{name}", "kind": "stress-strain curve", "how": tg["how"],
        "criteria_met": tg["criteria_met"], "source_row": tg["source_row"],
        "database_match_row": mrow, "database_match_nrmse": tg["match_nrmse"],
        "best_fe_nrmse": float(runs.error[best]) if best >= 0 else None,
        "best_predicted_nrmse": float(pred_error[best]) if best >= 0 else None,
        "best_row": best, "best_step": STEPS[runs.stage[best]] if best >= 0 else None,
        "beats_database_match": bool(best >= 0 and runs.error[best] < tg["match_nrmse"]),
        "best_is_target_source": same_as_source,
        "best_after_step": {s_: (float(np.nanmin(runs.history[:, k])) if np.isfinite(runs.history[:, k]).any()
                                 else None) for k, s_ in enumerate(STEPS)},
        "starts": n, "valid_runs_latent_search": latent_valid, "valid_runs": int(runs.valid.sum()),
        "restarts_improved": restarted, "refit": refits, "refinement": refined["report"],
        "control_nrmse_fe": refined["report"]["control_nrmse_fe"],
        "beats_control": bool(best >= 0 and refined["report"]["control_nrmse_fe"] is not None
                              and runs.error[best] < refined["report"]["control_nrmse_fe"]),
        "lattices_fe_verified": verify.solved,
        "predictor_nrmse_at_designs_median": float(np.median(nrmse(runs.curve[runs.valid], pred[runs.valid])))
        if runs.valid.any() else None,
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
    }
    S = max([len(a) for a, _ in runs.paths] + [1])
    ps, pt = np.full((n, S), np.nan), np.full((n, S), np.nan)
    for i, (a, b) in enumerate(runs.paths):
        ps[i, :len(a)], pt[i, :len(b)] = a, b
    arrays = {
        "adjacency": runs.A.astype(np.uint8), "offsets": runs.X, "radius": runs.radius, "valid": runs.valid,
        "curve_fe": runs.curve, "curve_pred": pred, "nrmse_fe": np.where(runs.valid, runs.error, np.nan),
        "nrmse_pred": pred_error, "critical_strain": runs.critical, "path_strain": ps, "path_stress": pt,
        "z": runs.z, "stage": runs.stage, "step_nrmse_fe": runs.history,
        "start_row": start_rows.astype(np.int64), "start_nrmse_fe": tg["pool_nrmse"][np.searchsorted(pool, start_rows)],
        "target": target, "strain": settings["output_strains"],
        "match/adjacency": lattices["adjacency"][mrow].astype(np.uint8), "match/offsets": lattices["offsets"][mrow],
        "match/curve_fe": curves[mrow], "match/curve_pred": match_pred,
        **refined["arrays"],
        "search/nrmse": res.history, "search/z": res.path, "search/best_step": res.best_step, "search/steps": res.steps,
    }
    return {"arrays": arrays, "report": report, "best": best}
