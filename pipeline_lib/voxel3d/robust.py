"""Uncertainty quantification and robust design of voxel3d units (paper 004, sections 2.2 and
4.2, Appendices B and D), each design FE-verified with the nominal material and with material
draws, beside the lookup baselines of the same run.

The methods are chain-generic (:mod:`pipeline_lib.latent.uq`, :mod:`pipeline_lib.optim.robust`,
:mod:`pipeline_lib.optim.nsga2`); this module holds voxel3d's cases and stage entries:

* ``uq``: Eqs. 6-9 at the latent means of the validation and test units; a temperature on the
  MDN's standard deviation fitted on validation (the MDN is overconfident on a small database),
  coverage of the test truths before and after; the FE spread of ``aleatoric.h5`` (independent
  material draws) against the predicted aleatoric spread; the convergence in M (Appendix B).
* ``design_bulk``: case 1, maximize mu_K - lambda sigma_K at volume fraction 0.3 +- 0.001 for each
  lambda (Eq. 18), beside the best database unit in the band and the best decoded reconstruction of
  one; bulk moduli also as K / K_HS.
* ``design_pareto``: case 2, E and nu together in the robust form (Eq. 19), the Pareto front.
* ``design_deterministic``: Appendix D: the same VAE with a plain feed-forward regressor trained on
  its latent means (no MDN), the same NSGA-II on the mean only (Eq. 20), both cases.
* ``design_summary``: Tables 4 and 6, the coefficient of variation under material scatter of
  robust and deterministic designs (Fig. 11), the fronts (Fig. 10c), K / K_HS.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from pipeline_lib import artifacts, atomic
from pipeline_lib import chain as chains
from pipeline_lib.config import build, derive_seed
from pipeline_lib.elasticity import hashin_shtrikman_bulk
from pipeline_lib.latent import uq as U
from pipeline_lib.optim import nsga2
from pipeline_lib.optim.evolution import evolve
from pipeline_lib.optim.robust import Goal, LatentProblem, latent_box, starting_rows
from pipeline_lib.progress import Progress

log = logging.getLogger(__name__)
QUANTITIES = ("E", "nu", "G", "K")


@dataclass
class ConvergenceParams:
    units: int = 3  # validation units (paper: three)
    samples: tuple[int, ...] = (5, 10, 20, 30, 50, 100)  # M values (paper: 10 to 100)
    repeats: int = 10  # independent draws per M: the Monte-Carlo spread at each M


@dataclass
class BulkParams:
    volume_fraction: tuple[float, float] = (0.299, 0.301)  # band of the decoded unit (paper)
    lam: tuple[float, ...] = (0.5, 1.0, 5.0, 10.0, 50.0, 100.0)  # one NSGA-II run each (paper's Table 4)


@dataclass
class ParetoParams:
    volume_fraction: tuple[float, float] = (0.319, 0.321)  # the paper's Table 6 units sit at 0.320-0.321
    lam: float = 5.0  # the paper's choice from case 1
    designs: int = 10  # designs of the front FE-verified, spread along it


@dataclass
class BaselineParams:
    volume_fraction: tuple[float, float] = (0.28, 0.32)  # the lookup's band
    reconstructions: int = 30  # database units in the band (best K first) decoded from their latent means


@dataclass
class RefineParams:
    generations: int = 6  # FE-in-the-loop finishing of case 1's best design (0: none)
    children: int = 8  # latent perturbations FE-verified per generation
    sigma: float = 0.3  # first step, in units of the database's latent std per dimension
    sigma_final: float = 0.1  # last step (linear in between)


@dataclass
class RegressorParams:
    hidden: tuple[int, ...] = (256, 128)  # the MDN's widths (paper: the same architecture)
    epochs: int = 600  # full-batch Adam; the best validation epoch is kept
    lr: float = 1e-3
    weight_decay: float = 1e-5


@dataclass
class DesignParams:
    uq: U.UQParams = field(default_factory=U.UQParams)
    calibrate: str = "coverage"  # the temperature on the MDN's std: fitted on validation by coverage / variance, or none
    convergence: ConvergenceParams = field(default_factory=ConvergenceParams)
    nsga2: nsga2.NSGA2Params = field(default_factory=nsga2.NSGA2Params)
    decode: str = "volume"  # decode at the band's centre ("volume") or at the model's threshold ("threshold")
    margin: float = 0.1  # latent box: the database's latent range widened by this fraction
    start_band: tuple[float, float] = (0.27, 0.33)  # database units the first population is drawn from
    fe_draws: int = 4  # material draws per design for the FE spread (K is linear in E_s: ~1 % CV for any unit)
    verify_top: int = 4  # case 1: the final population's best feasible designs FE-verified per lambda
    bulk: BulkParams = field(default_factory=BulkParams)
    pareto: ParetoParams = field(default_factory=ParetoParams)
    baseline: BaselineParams = field(default_factory=BaselineParams)
    refine: RefineParams = field(default_factory=RefineParams)
    deterministic: RegressorParams = field(default_factory=RegressorParams)


def params(cfg: dict) -> DesignParams:
    return build(DesignParams, cfg, where="voxel3d.design")


# ------------------------------------------------------------------------------------ helpers
class _Run:
    """The chain with its model, the database's latent means, split and properties."""

    def __init__(self, db: Path, model: Path, latent: Path):
        self.db = Path(db)
        self.ch = chains.from_artifact(db).load_model(model)
        if self.ch.name != "voxel3d":
            raise artifacts.ArtifactError(db, f"is a {self.ch.name} artifact, not voxel3d")
        lat = artifacts.read(latent, "voxel3d/latent", ["mu", "split"])
        d = artifacts.read(db, "voxel3d/database", ["E", "nu", "G", "volume_fraction", "E_s", "nu_s"])
        if len(lat["mu"]) != len(d["E"]):
            raise artifacts.ArtifactError(latent, f"{len(lat['mu'])} latent rows for {len(d['E'])} database rows")
        self.mu = lat["mu"].astype(np.float64)
        self.split = lat["split"]
        self.P = self.ch.database_properties(d.arrays)
        self.q = self.ch.quantities(self.P)
        self.vf = d["volume_fraction"]
        m = self.ch.config["material"]
        self.E_s, self.nu_s = float(m["E_mean"]), float(m["nu_mean"])
        # what the first population is ranked by: K as K / K_HS (each unit with its own draw), so a
        # unit is a good start for its efficiency, not for extra material the band takes away again
        self.start_q = dict(self.q, K=self.q["K"] / hashin_shtrikman_bulk(self.vf, d["E_s"], d["nu_s"]))
        self._fe: dict[int, np.ndarray] = {}

    def fe(self, cells: np.ndarray) -> np.ndarray:
        """E, nu, G, K (N, 4) of units by the chain's FE solver with the nominal material; a unit
        already solved in this stage (a candidate that becomes the reported design, the start of
        the FE finish) is not solved again."""
        from pipeline_lib.digest import binary_digests

        keys = [int(k) for k in binary_digests(cells)]
        todo = [i for i, k in enumerate(keys) if k not in self._fe]
        if todo:
            for i, q in zip(todo, _quantities(self.ch, self.ch.homogenize({"cells": cells[todo]}))):
                self._fe[keys[i]] = q
        return np.array([self._fe[k] for k in keys]).reshape(len(keys), len(QUANTITIES))

    def cells(self, rows) -> np.ndarray:
        return self.ch.read(self.db, rows)["cells"]

    def k_hs(self, f) -> np.ndarray:
        return hashin_shtrikman_bulk(f, self.E_s, self.nu_s)


def _setup(db: Path, model: Path, latent: Path, uq_path: Path, cfg: dict, seed: int):
    """What every design stage starts from: its parameters, the chain with its model, the
    calibration temperature and the common latent draws of the uncertainty."""
    p = params(cfg)
    run = _Run(db, model, latent)
    eps = U.draws(run.mu.shape[1], p.uq.samples, derive_seed(seed, "voxel3d", "uq"))
    return p, run, _temperature(uq_path, p), eps


def _temperature(uq_path: Path | None, p: DesignParams) -> np.ndarray | None:
    if uq_path is None or p.calibrate == "none":
        return None
    return artifacts.read(uq_path, "voxel3d/uq", ["temperature"])["temperature"]


def _quantities(ch, P: np.ndarray) -> np.ndarray:
    q = ch.quantities(np.atleast_2d(P))
    return np.stack([q[n] for n in QUANTITIES], -1)


def fe_verify(run: _Run, cells: np.ndarray, valid: np.ndarray, draws: int, seed: int, tag: str) -> dict:
    """E, nu, G, K of each valid unit by the chain's FE solver: nominal material, and ``draws``
    independent material draws (the aleatoric spread a built unit would show)."""
    from pipeline_lib.voxel3d import homogenization as H

    n = len(cells)
    fe = np.full((n, 4), np.nan)
    sampled = np.full((n, draws, 4), np.nan)
    E_d, nu_d = np.full((n, draws), np.nan), np.full((n, draws), np.nan)
    rows = np.flatnonzero(valid)
    if len(rows):
        fe[rows] = run.fe(cells[rows])
        material = build(H.Material, run.ch.config["material"], where="voxel3d.material")
        for r in rows:
            d = [H.material_draw(seed, ("design", tag, int(r), k), material) for k in range(draws)]
            res = H.simulate(np.repeat(cells[r:r + 1], draws, axis=0), d)
            sampled[r] = np.stack([res[k] for k in QUANTITIES], -1)
            E_d[r], nu_d[r] = res["E_s"], res["nu_s"]
    return {"fe": fe, "fe_sampled": sampled, "E_s_draws": E_d, "nu_s_draws": nu_d}


def _problem(run: _Run, goals, band, p: DesignParams, eps: np.ndarray, temperature=None, predict=None) -> LatentProblem:
    if p.decode not in ("volume", "threshold"):
        raise ValueError(f"voxel3d.design.decode: {p.decode!r} is neither 'volume' nor 'threshold'")
    return LatentProblem(run.ch, goals, tuple(band), eps=eps, temperature=temperature, predict=predict,
                         batch=p.uq.batch, decode_at=0.5 * (band[0] + band[1]) if p.decode == "volume" else None)


def _optimize(run: _Run, problem: LatentProblem, p: DesignParams, seed: int, what: str,
              first: np.ndarray | None = None):
    """NSGA-II from ``first`` (latent vectors), then the encoded database units of the start band."""
    lo, hi = latent_box(run.mu, p.margin)
    start = starting_rows(run.start_q, run.vf, problem.goals, p.start_band, p.nsga2.population)
    initial = run.mu[start] if first is None else np.concatenate([first, run.mu[start]])
    prog = Progress(what, p.nsga2.generations, unit="generations")
    res = nsga2.minimize(problem.evaluate, lo, hi, n_obj=problem.n_obj, n_ieq=problem.n_ieq, p=p.nsga2, seed=seed,
                         initial=initial, on_generation=lambda g, rec: prog.update(
                             1, f"feasible {rec['feasible']:.0%}, best {rec['best']}"))
    prog.close()
    return res


def _least_violating(res: nsga2.NSGA2Result) -> int:
    return int(np.argmin(np.maximum(res.G, 0).sum(1)))


def _rows(run: _Run, problem: LatentProblem, Z: np.ndarray, case: int, lam: float, p: DesignParams, seed: int,
          tag: str, robust_problem: LatentProblem | None = None) -> dict:
    """The design rows of latent vectors: decoded unit, screening, predictions, FE nominal and
    sampled.  ``robust_problem`` scores deterministic designs with the uncertainty-aware model."""
    Z = np.atleast_2d(np.asarray(Z, float))
    samples = problem.decode(Z)
    e = problem.assess(samples, Z)
    scored = e if robust_problem is None else robust_problem.assess(samples, Z)
    fe = fe_verify(run, samples["cells"], e.valid, p.fe_draws, seed, tag)
    return {"case": np.full(len(Z), case, np.int8), "z": Z.astype(np.float32), "cells": samples["cells"],
            "volume_fraction": e.volume_fraction, "valid": e.valid, "lam": np.full(len(Z), float(lam)),
            "predicted": e.mean, "uq_mean": scored.mean, "predicted_aleatoric": scored.aleatoric,
            "predicted_epistemic": scored.epistemic, **fe}


def _cat(parts: list[dict]) -> dict:
    return {k: np.concatenate([q[k] for q in parts]) for k in parts[0]}


def _attrs(run: _Run, p: DesignParams, extra: dict | None = None) -> dict:
    return {"E_s": run.E_s, "nu_s": run.nu_s, "quantities": json.dumps(QUANTITIES),
            "material": json.dumps(run.ch.config["material"]), "database": str(run.db), **(extra or {})}


def _table(rows: dict, i: int, run: _Run) -> dict:
    """One design's row of Tables 4 / 6: predicted and FE side by side, FE spread, K / K_HS."""
    out = {"volume_fraction": round(float(rows["volume_fraction"][i]), 5), "valid": bool(rows["valid"][i])}
    for k, name in enumerate(QUANTITIES):
        fe, pred = float(rows["fe"][i, k]), float(rows["predicted"][i, k])
        s = rows["fe_sampled"][i, :, k]
        out[name] = {"predicted": pred, "aleatoric": float(rows["predicted_aleatoric"][i, k]),
                     "epistemic": float(rows["predicted_epistemic"][i, k]), "fe": fe,
                     "fe_sampled_std": float(np.nanstd(s, ddof=1)) if np.isfinite(s).sum() > 1 else None,
                     "fe_cv_percent": float(100 * np.nanstd(s, ddof=1) / abs(np.nanmean(s)))
                     if np.isfinite(s).sum() > 1 else None,
                     "error_percent": float(100 * abs(pred - fe) / abs(fe)) if np.isfinite(fe) and fe else None}
    out["K"]["fe_over_hs"] = float(rows["fe"][i, 3] / run.k_hs(rows["volume_fraction"][i]))
    return out


def _clean(o):
    """JSON-safe: NaN -> None."""
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, float) and not np.isfinite(o):
        return None
    return o


# ---------------------------------------------------------------------------------------- uq
def uq(db: Path, model: Path, latent: Path, aleatoric: Path, out: Path, calibration_figure: Path,
       convergence_figure: Path, *, cfg: dict, seed: int) -> None:
    """Calibration of Eqs. 6-9 against FE truth on validation and test units, and the
    convergence of the total standard deviation in the number of latent draws M."""
    from pipeline_lib.viz import robust as fig

    t0 = time.perf_counter()
    p = params(cfg)
    run = _Run(db, model, latent)
    ch = run.ch
    rows = np.concatenate([np.flatnonzero(run.split == 1), np.flatnonzero(run.split == 2)])
    eps = U.draws(run.mu.shape[1], p.uq.samples, derive_seed(seed, "voxel3d", "uq"))
    dec = ch.decode(run.mu[rows])
    u = U.of_samples(ch, dec, eps, None, p.uq.batch)
    truth = np.stack([run.q[n] for n in QUANTITIES], 1)[rows]
    split = run.split[rows]
    cols = [u.names.index(n) for n in QUANTITIES]
    mean, alea, epi = u.mean[:, cols], u.aleatoric[:, cols], u.epistemic[:, cols]
    val = split == 1
    P = len(ch.properties)
    method = p.calibrate if p.calibrate != "none" else "coverage"  # fitted and reported either way
    temperature = U.fit_temperature((truth - mean)[val][:, :P], alea[val][:, :P], epi[val][:, :P], method)
    uc = U.of_samples(ch, dec, eps, temperature, p.uq.batch)
    alea_c = uc.aleatoric[:, cols]
    test = split == 2
    resid = truth - mean
    cov = {}
    for name, a in (("before", alea), ("after", alea_c)):
        tot = np.sqrt(a ** 2 + epi ** 2)
        cov[name] = {f"within_{k}_std": dict(zip(QUANTITIES, map(float, U.coverage(resid[test], tot[test], k))))
                     for k in (1, 2)}
        cov[name]["aleatoric_only_within_1_std"] = dict(zip(QUANTITIES, map(float, U.coverage(resid[test], a[test]))))
    # the FE spread of repeated simulations with independent material draws
    al = artifacts.read(aleatoric, "voxel3d/aleatoric", ["unit", "E", "nu", "G", "K"])
    srows = np.unique(al["unit"])
    spread_fe = np.array([[np.std(al[n][al["unit"] == r], ddof=1) if (al["unit"] == r).sum() > 1 else np.nan
                           for n in QUANTITIES] for r in srows]).reshape(len(srows), 4)
    sdec = ch.decode(run.mu[srows])
    su = U.of_samples(ch, sdec, eps, None, p.uq.batch)
    sc = U.of_samples(ch, sdec, eps, temperature, p.uq.batch)
    spread_pred, spread_cal = su.aleatoric[:, cols], sc.aleatoric[:, cols]
    # Appendix B: the total std against M, repeated with independent draws
    cp = p.convergence
    vrows = np.flatnonzero(run.split == 1)[:cp.units]
    dec = ch.decode(run.mu[vrows])
    mu_e, logvar_e = ch.encode(dec)
    Ms = np.asarray(cp.samples, np.int64)
    conv_t = np.full((len(vrows), len(Ms), cp.repeats, 4), np.nan)
    conv_m = np.full_like(conv_t, np.nan)
    for i, M in enumerate(Ms):
        for r in range(cp.repeats):
            e = U.draws(run.mu.shape[1], int(M), derive_seed(seed, "voxel3d", "uq", "convergence", int(M), r))
            cu = U.from_encoding(ch, np.asarray(mu_e, float), np.asarray(logvar_e, float), e,
                                 temperature if p.calibrate != "none" else None)
            conv_t[:, i, r] = cu.total[:, cols]
            conv_m[:, i, r] = cu.mean[:, cols]
    stats = {"coverage": cov, "temperature": dict(zip(ch.properties, map(float, temperature))),
             "calibration_method": method, "applied_by_designs": p.calibrate != "none",
             "units": {"validation": int(val.sum()), "test": int(test.sum())},
             "aleatoric_check": {str(int(r)): {n: {"fe": float(spread_fe[i, k]), "predicted": float(spread_pred[i, k]),
                                                   "calibrated": float(spread_cal[i, k])}
                                               for k, n in enumerate(QUANTITIES)} for i, r in enumerate(srows)},
             "samples": p.uq.samples, "seconds": round(time.perf_counter() - t0, 1)}
    artifacts.write(out, "voxel3d/uq", {
        "rows": rows, "split": split.astype(np.int8), "truth": truth, "mean": mean, "aleatoric": alea,
        "epistemic": epi, "aleatoric_calibrated": alea_c, "temperature": temperature,
        "convergence_samples": Ms, "convergence_rows": vrows.astype(np.int64), "convergence_total": conv_t,
        "convergence_mean": conv_m, "spread_rows": srows.astype(np.int64), "spread_fe": spread_fe,
        "spread_predicted": spread_pred, "spread_calibrated": spread_cal},
        config=cfg, seed=seed, stats=_clean(stats), attrs={"quantities": json.dumps(QUANTITIES)})
    log.info("uq: temperature %s; test coverage within 1 std before %s after %s", stats["temperature"],
             cov["before"]["within_1_std"], cov["after"]["within_1_std"])
    fig.calibration(truth, mean, alea, alea_c, epi, split, spread_fe, spread_pred, spread_cal, QUANTITIES,
                    cov, calibration_figure)
    fig.convergence(Ms, conv_t, QUANTITIES, convergence_figure, vrows)


# ---------------------------------------------------------------------------------- case 1
def design_bulk(db: Path, model: Path, latent: Path, uq_path: Path, out: Path, summary: Path, units_figure: Path,
                lambda_figure: Path, stl: Path, *, cfg: dict, seed: int) -> None:
    """Case 1 (Eq. 18): for each lambda, NSGA-II on mu_K - lambda sigma_K at the band, FE choosing
    among its best and its start; the best lambda's design finished by FE in the loop; every row
    decoded and FE-verified; the lookup baselines of the same run beside them."""
    from pipeline_lib.viz import robust as fig

    t0 = time.perf_counter()
    p, run, temperature, eps = _setup(db, model, latent, uq_path, cfg, seed)
    band = tuple(p.bulk.volume_fraction)
    Z, histories, seconds, candidates = [], {}, {}, {}
    kq = QUANTITIES.index("K")
    base = _baselines(run, p, seed)
    # the search starts from the lookup: the latent means of the best decoded reconstructions (by
    # FE K / K_HS), then the start band's encoded units; the best of them, decoded as the search
    # decodes, is a candidate too, so the report says whether the search added anything
    seeds = run.mu[base["seeds"]]
    for lam in p.bulk.lam:
        t = time.perf_counter()
        problem = _problem(run, [Goal("K", lam)], band, p, eps, temperature)
        res = _optimize(run, problem, p, derive_seed(seed, "voxel3d", "bulk", lam), f"bulk lambda={lam:g}",
                        first=seeds[:p.nsga2.population // 2])
        z, cand = _select(run, problem, res, lam, p.verify_top, kq, seeds[:1])
        Z.append(z)
        candidates[f"{lam:g}"] = cand
        histories[f"{lam:g}"] = res.history
        seconds[f"{lam:g}"] = round(time.perf_counter() - t, 1)
    refined = None
    chosen = [next((c["K_fe"] for c in candidates[f"{lam:g}"] if c["reported"]), np.nan) for lam in p.bulk.lam]
    if p.refine.generations > 0 and np.isfinite(chosen).any():
        i = int(np.nanargmax(chosen))
        lam = float(p.bulk.lam[i])
        t = time.perf_counter()
        Z[i], refined = _refine(run, _problem(run, [Goal("K", lam)], band, p, eps, temperature), Z[i], lam,
                                p.refine, derive_seed(seed, "voxel3d", "bulk", "refine"))
        refined.update(lam=lam, seconds=round(time.perf_counter() - t, 1))
    problem = _problem(run, [Goal("K", 0.0)], band, p, eps, temperature)
    rows = _rows(run, problem, np.array(Z), 1, 0.0, p, seed, "bulk")
    rows["lam"] = np.asarray(p.bulk.lam, float)
    k_hs = run.k_hs(rows["volume_fraction"])
    score = np.where(rows["valid"] & np.isfinite(rows["fe"][:, kq]), rows["fe"][:, kq], -np.inf)
    best = int(np.argmax(score)) if np.isfinite(score).any() else -1
    arrays = {"lam": rows["lam"], "z": rows["z"], "cells": rows["cells"], "volume_fraction": rows["volume_fraction"],
              "valid": rows["valid"], "K_pred_mean": rows["predicted"][:, kq],
              "K_pred_aleatoric": rows["predicted_aleatoric"][:, kq],
              "K_pred_epistemic": rows["predicted_epistemic"][:, kq], "K_fe": rows["fe"][:, kq], "K_hs": k_hs,
              "K_fe_sampled": rows["fe_sampled"][:, :, kq], "E_s_draws": rows["E_s_draws"],
              "nu_s_draws": rows["nu_s_draws"], "predicted": rows["predicted"], "fe": rows["fe"], **base["arrays"]}
    table = [dict(lam=float(lam), **_table(rows, i, run)) for i, lam in enumerate(rows["lam"])]
    rep = {"case": "bulk", "band": list(band), "lam": list(map(float, p.bulk.lam)), "table": table,
           "best": best, "best_lam": float(rows["lam"][best]) if best >= 0 else None,
           "best_K_fe": float(rows["fe"][best, kq]) if best >= 0 else None,
           "best_K_over_hs": float(rows["fe"][best, kq] / k_hs[best]) if best >= 0 else None,
           "baselines": base["report"], "temperature": None if temperature is None else list(map(float, temperature)),
           "material": {"E_s": run.E_s, "nu_s": run.nu_s}, "candidates": candidates, "refinement": refined,
           "history": histories,
           "seconds": {"per_lambda": seconds, "total": round(time.perf_counter() - t0, 1)}}
    ref = max(base["report"]["database"]["K_over_hs"] or -np.inf, base["report"]["reconstruction"]["K_over_hs"] or -np.inf)
    rep["beats_lookup"] = bool(best >= 0 and rep["best_K_over_hs"] >= ref)  # by K / K_HS: the bands differ
    artifacts.write(out, "voxel3d/bulk", arrays, config=cfg, seed=seed, stats=_clean(rep),
                    attrs=_attrs(run, p, {"best": best, "band": json.dumps(list(band))}))
    atomic.write_json(summary, _clean(rep))
    log.info("bulk: best lambda %s K_fe %s (%.3f K_HS); database %s, reconstruction %s", rep["best_lam"],
             rep["best_K_fe"], rep["best_K_over_hs"] or np.nan, base["report"]["database"]["K_fe"],
             base["report"]["reconstruction"]["K_fe"])
    fig.bulk_units(run.ch, arrays, rep, units_figure)
    fig.bulk_lambda(arrays, rep, lambda_figure)
    if best >= 0:
        run.ch.export({"cells": rows["cells"][best:best + 1]}, stl)
    else:
        atomic.write_text(stl, "solid no_valid_design\nendsolid no_valid_design\n")


def _select(run: _Run, problem: LatentProblem, res: nsga2.NSGA2Result, lam: float, k: int, kq: int,
            start: np.ndarray):
    """Case 1's reported design of one lambda: the final population's ``k`` best distinct feasible
    designs by the predicted objective, and the search's best start (``start``: latent vectors),
    FE-verified with the nominal material; the one with the best FE-corrected objective
    K_FE - lambda sigma_K (the predictor's spread, FE's mean) is reported.  Returns its z and the
    candidates' predicted and FE values, each marked search or start."""
    feas = np.flatnonzero(res.feasible)
    if len(feas) == 0 and len(start) == 0:
        return res.X[_least_violating(res)], []
    order = feas[np.argsort(res.F[feas, 0], kind="stable")]
    Z = np.concatenate([res.X[order], start])
    source = ["search"] * len(order) + ["start"] * len(start)
    dec = problem.decode(Z)["cells"]
    _, first = np.unique(dec.reshape(len(dec), -1), axis=0, return_index=True)  # distinct decoded units
    first = np.sort(first)
    keep = np.r_[first[first < len(order)][:max(k, 1)], first[first >= len(order)]].astype(int)
    samples = {"cells": dec[keep]}
    e = problem.assess(samples, Z[keep])
    fe = np.full(len(keep), np.nan)
    ok = np.flatnonzero(e.valid)
    if len(ok):
        fe[ok] = run.fe(samples["cells"][ok])[:, kq]
    score = np.where(np.isfinite(fe), fe - lam * e.total[:, kq], -np.inf)
    pick = int(np.argmax(score)) if np.isfinite(score).any() else 0
    cand = [{"source": source[j], "K_pred_mean": float(e.mean[i, kq]), "K_pred_total": float(e.total[i, kq]),
             "K_fe": float(fe[i]), "reported": i == pick} for i, j in enumerate(keep)]
    return Z[keep[pick]], cand


def _refine(run: _Run, problem: LatentProblem, z: np.ndarray, lam: float, rp: RefineParams, seed: int):
    """FE in the loop (as truss3d's inverse designs finish): a (1 + children) evolution strategy
    (:func:`pipeline_lib.optim.evolution.evolve`) in the latent space from ``z``, each child decoded
    as the search decodes, screened and scored by the FE-corrected objective K_FE - lambda sigma_K;
    never worse than the start.  Returns the final z and the trace."""
    kq = QUANTITIES.index("K")
    scale = run.mu.std(0)

    def score(Z):
        Z = np.asarray(Z)
        samples = problem.decode(Z)
        e = problem.assess(samples, Z)
        K = np.full(len(Z), np.nan)
        ok = np.flatnonzero(e.valid)
        if len(ok):
            K[ok] = run.fe(samples["cells"][ok])[:, kq]
        return np.where(np.isfinite(K), -(K - lam * e.total[:, kq]), np.inf), {"K_fe": K}

    def mutate(zp, sigma, k, rng):
        return list(zp + sigma * scale * rng.standard_normal((k, len(zp))))

    l0, i0 = score(z[None])
    res = evolve([z], l0, mutate, score, np.linspace(rp.sigma, rp.sigma_final, rp.generations), rp.children,
                 np.random.default_rng(seed), start_info=[{"K_fe": float(i0["K_fe"][0])}], label="bulk FE refinement")
    trace = [{**{k: v for k, v in t.items() if k != "loss"}, "objective_fe": -t["loss"]} for t in res.trace[0]]
    return res.best[0], {"start_K_fe": float(i0["K_fe"][0]), "K_fe": trace[-1]["K_fe"], "trace": trace,
                         "evaluations": res.evaluations}


def _baselines(run: _Run, p: DesignParams, seed: int) -> dict:
    """The lookup: the best database unit with volume fraction in the baseline band (its top five by
    stored K / K_HS re-homogenized with the nominal material), and the best decoded reconstruction
    of the band's best ``reconstructions`` units.  "Best" is by K / K_HS: the band is wider than the
    design's, and a unit at 0.32 would otherwise win by its extra material alone."""
    lo, hi = p.baseline.volume_fraction
    inside = np.flatnonzero((run.vf >= lo) & (run.vf <= hi))
    order = inside[np.argsort(-np.nan_to_num(run.start_q["K"][inside], nan=-np.inf))]
    kq = QUANTITIES.index("K")
    out_rows, rep = [], {}
    n = run.ch.config["size"]
    empty = np.zeros((0, n, n, n), np.uint8)
    top = order[:5]
    if len(top):
        cells = run.cells(top)
        K = run.fe(cells)[:, kq]
        j = int(np.argmax(K / run.k_hs(run.vf[top])))
        out_rows.append((0, int(top[j]), cells[j], float(run.vf[top[j]]), float(K[j])))
    rec = order[:p.baseline.reconstructions]
    seeds = np.zeros(0, np.int64)
    if len(rec):
        dec = run.ch.decode(run.mu[rec])
        ok = run.ch.screen(dec)
        ok &= (run.ch.volume_fraction(dec) >= lo) & (run.ch.volume_fraction(dec) <= hi)
        if ok.any():
            idx = np.flatnonzero(ok)
            K = run.fe(dec["cells"][idx])[:, kq]
            f = run.ch.volume_fraction({"cells": dec["cells"][idx]})
            j = int(np.argmax(K / run.k_hs(f)))
            out_rows.append((1, int(rec[idx[j]]), dec["cells"][idx[j]], float(f[j]), float(K[j])))
            seeds = rec[idx[np.argsort(-(K / run.k_hs(f)), kind="stable")]]
        rep["reconstructions_valid"] = f"{int(ok.sum())}/{len(rec)}"
    for kind, name in ((0, "database"), (1, "reconstruction")):
        r = [x for x in out_rows if x[0] == kind]
        rep[name] = ({"row": r[0][1], "volume_fraction": r[0][3], "K_fe": r[0][4], "K_over_hs": r[0][4] / float(
            run.k_hs(r[0][3]))} if r else {"row": None, "K_fe": None, "K_over_hs": None})
    rep["band"] = [lo, hi]
    rep["units_in_band"] = int(len(inside))
    arrays = {"baseline_kind": np.array([x[0] for x in out_rows], np.int8),
              "baseline_row": np.array([x[1] for x in out_rows], np.int64),
              "baseline_cells": np.array([x[2] for x in out_rows], np.uint8) if out_rows else empty,
              "baseline_volume_fraction": np.array([x[3] for x in out_rows], float),
              "baseline_K_fe": np.array([x[4] for x in out_rows], float)}
    arrays["baseline_K_hs"] = run.k_hs(arrays["baseline_volume_fraction"])
    return {"arrays": arrays, "report": rep, "seeds": seeds}


# ---------------------------------------------------------------------------------- case 2
def _front_designs(problem: LatentProblem, res: nsga2.NSGA2Result, k: int) -> np.ndarray:
    """Up to ``k`` rows of the feasible front with distinct decoded units, spread evenly along it
    (sorted by the first goal)."""
    front = res.front
    if len(front) == 0:
        return np.array([_least_violating(res)])
    front = front[np.argsort(res.F[front, 0], kind="stable")]
    dec = problem.decode(res.X[front])["cells"]
    _, first = np.unique(dec.reshape(len(dec), -1), axis=0, return_index=True)
    front = front[np.sort(first)]
    return front[np.unique(np.linspace(0, len(front) - 1, min(k, len(front))).round().astype(int))]


def design_pareto(db: Path, model: Path, latent: Path, uq_path: Path, out: Path, summary: Path, units_figure: Path,
                  hypervolume_figure: Path, *, cfg: dict, seed: int) -> None:
    """Case 2 (Eq. 19): E and nu together, each as mean - lambda std, NSGA-II's Pareto front; the
    front's designs FE-verified; the hypervolume per generation."""
    from pipeline_lib.viz import robust as fig

    t0 = time.perf_counter()
    p, run, temperature, eps = _setup(db, model, latent, uq_path, cfg, seed)
    lam = float(p.pareto.lam)
    problem = _problem(run, [Goal("E", lam), Goal("nu", lam)], p.pareto.volume_fraction, p, eps, temperature)
    res = _optimize(run, problem, p, derive_seed(seed, "voxel3d", "pareto"), "pareto")
    pick = _front_designs(problem, res, p.pareto.designs)
    rows = _rows(run, problem, res.X[pick], 2, lam, p, seed, "pareto")
    rep = {"case": "pareto", "lam": lam, "band": list(p.pareto.volume_fraction),
           "front_size": int(len(res.front)), "table": [_table(rows, i, run) for i in range(len(pick))],
           "predicted_front": (-res.F[res.front]).tolist(), "history": res.history,
           "reference": res.reference.tolist() if res.reference is not None else None,
           "seconds": {"total": round(time.perf_counter() - t0, 1)}}
    artifacts.write(out, "voxel3d/designs", rows, config=cfg, seed=seed, stats=_clean(rep),
                    attrs=_attrs(run, p, {"robust": 1, "band": json.dumps(list(p.pareto.volume_fraction))}))
    atomic.write_json(summary, _clean(rep))
    log.info("pareto: %d designs on the front, %d verified; %s s", len(res.front), len(pick), rep["seconds"])
    fig.design_units(run.ch, rows, f"robust (lambda={lam:g})", units_figure)
    fig.hypervolume({"robust": res.history}, hypervolume_figure)


# ---------------------------------------------------------------------------- deterministic
def design_deterministic(db: Path, model: Path, latent: Path, uq_path: Path, out: Path, summary: Path,
                         units_figure: Path, *, cfg: dict, seed: int) -> None:
    """Appendix D: a feed-forward regressor on the VAE's latent means (the same split; no MDN), and
    the same NSGA-II on its mean only (Eq. 20) for both cases; every design FE-verified and also
    scored by the uncertainty-aware model (Fig. 11c)."""
    from pipeline_lib.learn import metrics as M
    from pipeline_lib.learn import regressor as R
    from pipeline_lib.viz import robust as fig

    t0 = time.perf_counter()
    p, run, temperature, eps = _setup(db, model, latent, uq_path, cfg, seed)
    rows_of = {s: np.flatnonzero(run.split == k) for k, s in enumerate(("train", "val", "test"))}
    net, record = R.fit(run.mu, run.P, rows_of["train"], rows_of["val"], **asdict(p.deterministic),
                        seed=derive_seed(seed, "voxel3d", "deterministic") % 2**31)
    test = rows_of["test"]
    pred_ff = net.predict(run.mu[test])[0]
    pred_mdn = run.ch.predict(run.mu[test])[0]
    accuracy = {name: {"r2": dict(zip(run.ch.properties, map(float, M.r2(run.P[test], pr)))),
                       "nrmse": dict(zip(run.ch.properties, map(float, M.nrmse(run.P[test], pr))))}
                for name, pr in (("regressor", pred_ff), ("mdn", pred_mdn))} if len(test) else {}
    parts, reps = [], {}
    for case, goals, band in ((1, [Goal("K")], p.bulk.volume_fraction),
                              (2, [Goal("E"), Goal("nu")], p.pareto.volume_fraction)):
        det = _problem(run, goals, band, p, eps, predict=net.predict)
        robust = _problem(run, goals, band, p, eps, temperature)
        res = _optimize(run, det, p, derive_seed(seed, "voxel3d", "deterministic", case), f"deterministic case {case}")
        pick = (np.array([res.front[0] if len(res.front) else _least_violating(res)]) if case == 1
                else _front_designs(det, res, p.pareto.designs))
        rows = _rows(run, det, res.X[pick], case, 0.0, p, seed, f"deterministic{case}", robust_problem=robust)
        parts.append(rows)
        reps[f"case{case}"] = {"band": list(band), "front_size": int(len(res.front)), "history": res.history,
                               "table": [_table(rows, i, run) for i in range(len(pick))]}
    rows = _cat(parts)
    rep = {"regressor": {**asdict(p.deterministic), **record}, "accuracy_test": accuracy, **reps,
           "seconds": {"total": round(time.perf_counter() - t0, 1)}}
    artifacts.write(out, "voxel3d/designs", rows, config=cfg, seed=seed, stats=_clean(rep),
                    attrs=_attrs(run, p, {"robust": 0}))
    atomic.write_json(summary, _clean(rep))
    log.info("deterministic: regressor test %s; %s s", accuracy.get("regressor"), rep["seconds"])
    fig.design_units(run.ch, rows, "deterministic", units_figure)


# ---------------------------------------------------------------------------------- summary
def design_summary(bulk: Path, pareto: Path, deterministic: Path, uq_path: Path, out: Path, fronts_figure: Path,
                   cv_figure: Path) -> None:
    """Tables 4 and 6 (predicted and FE, robust and deterministic), the FE coefficient of
    variation under material scatter and the predictor-vs-FE error of both (Fig. 11), the fronts
    (Fig. 10c), K / K_HS against the lookup, the calibration coverage, wall times."""
    from pipeline_lib.viz import robust as fig

    b = artifacts.read(bulk, "voxel3d/bulk")
    r = artifacts.read(pareto, "voxel3d/designs")
    d = artifacts.read(deterministic, "voxel3d/designs")
    u = artifacts.read(uq_path, "voxel3d/uq", ["temperature"])
    bs, rs, ds, us = b.stats, r.stats, d.stats, u.stats

    def cv(a, case):
        sel = (a["case"] == case) & a["valid"]
        s = a["fe_sampled"][sel]
        with np.errstate(invalid="ignore", divide="ignore"):
            c = 100 * np.nanstd(s, axis=1, ddof=1) / np.abs(np.nanmean(s, axis=1))
            err = 100 * np.abs(a["predicted"][sel] - a["fe"][sel]) / np.abs(a["fe"][sel])
        with np.errstate(invalid="ignore", divide="ignore"):
            pc = 100 * np.hypot(a["predicted_aleatoric"][sel], a["predicted_epistemic"][sel]) / np.abs(a["uq_mean"][sel])
        return {"cv_percent_median": dict(zip(QUANTITIES, map(float, np.nanmedian(c, 0)))) if len(c) else None,
                "predicted_cv_percent_median": dict(zip(QUANTITIES, map(float, np.nanmedian(pc, 0)))) if len(c)
                else None,
                "error_percent_median": dict(zip(QUANTITIES, map(float, np.nanmedian(err, 0)))) if len(c) else None,
                "designs": int(sel.sum())}

    det_bulk = ds.get("case1", {}).get("table", [None])[0]
    rep = {
        "table4": bs["table"], "table4_deterministic": det_bulk,
        "best": {"lam": bs["best_lam"], "K_fe": bs["best_K_fe"], "K_over_hs": bs["best_K_over_hs"]},
        "baselines": bs["baselines"], "beats_lookup": bs["beats_lookup"],
        "table6_robust": rs["table"], "table6_deterministic": ds.get("case2", {}).get("table"),
        "cv": {"robust": cv(r, 2), "deterministic": cv(d, 2)},
        "calibration": us["coverage"], "temperature": us["temperature"], "aleatoric_check": us["aleatoric_check"],
        "regressor_accuracy_test": ds.get("accuracy_test"),
        "hypervolume_final": {"robust": (rs["history"] or [{}])[-1].get("hypervolume"),
                              "deterministic": (ds.get("case2", {}).get("history") or [{}])[-1].get("hypervolume")},
        "seconds": {"uq": us.get("seconds"), "bulk": bs["seconds"]["total"], "pareto": rs["seconds"]["total"],
                    "deterministic": ds["seconds"]["total"]},
    }
    rep["seconds"]["total"] = round(sum(v for v in rep["seconds"].values() if v), 1)
    atomic.write_json(out, _clean(rep))
    fig.fronts(r, d, fronts_figure)
    fig.cv_bars(r, d, cv_figure)
