"""Entry points of the truss3d chain (``python -m pipeline_lib run truss3d.<name>``): each reads its
input artifacts, calls the library and writes one artifact."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from pipeline_lib import artifacts
from pipeline_lib.artifacts import ArtifactError
from pipeline_lib.config import derive_seed
from pipeline_lib.truss3d import generation as gen

log = logging.getLogger(__name__)
_ORIGIN = ("elementary", "parent_a", "parent_b", "iteration")


def _shard_rows(n: int, shard: int, shards: int) -> np.ndarray:
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is outside 0..{shards - 1}")
    return np.arange(n * shard // shards, n * (shard + 1) // shards)


def _pack(lattices, origin) -> dict[str, np.ndarray]:
    n = len(lattices)
    A = np.array([a for a, _ in lattices], dtype=bool).reshape(n, 27, 27)
    X = np.array([x for _, x in lattices], dtype=float).reshape(n, 27, 3)
    out = {"adjacency": A, "offsets": X, "digest": np.array([gen.digest(a, x) for a, x in lattices], dtype=np.uint64)}
    for k, dtype in zip(_ORIGIN, (np.int8, np.int64, np.int64, np.int32)):
        out[k] = np.array([o[k] for o in origin], dtype=dtype).reshape(n)
    return out


def _perturb_params(cfg: dict) -> gen.PerturbParams:
    return gen.PerturbParams(**cfg["library"]["perturb"])


def library_shard(out: Path, *, shard: int, cfg: dict, seed: int) -> None:
    """Perturbation chains of one shard: every (elementary lattice, chain) pair the shard owns."""
    lc = cfg["library"]
    jobs = [(e, c) for e in range(len(gen.ELEMENTARY_NAMES)) for c in range(lc["chains_per_lattice"])]
    params = _perturb_params(cfg)
    lattices, origin = [], []
    zero = np.zeros((27, 3))
    for j in _shard_rows(len(jobs), shard, lc["shards"]):
        e, c = jobs[j]
        rng = np.random.default_rng(derive_seed(seed, "truss3d", "chain", e, c))
        chain = gen.perturbation_chain(rng, gen.ELEMENTARY[gen.ELEMENTARY_NAMES[e]], zero, params)
        for step, lat in enumerate(chain, start=1):
            # parent: the previous state (a row of this shard), or the elementary lattice (step 1)
            parent = -1 - e if step == 1 else len(lattices) - 1
            lattices.append(lat)
            origin.append({"elementary": e, "parent_a": parent, "parent_b": -1, "iteration": step})
    log.info("library shard %d: %d chains, %d lattices", shard, len(_shard_rows(len(jobs), shard, lc["shards"])),
             len(lattices))
    artifacts.write(out, "truss3d/library", _pack(lattices, origin), config=cfg, seed=seed,
                    stats={"lattices": len(lattices)},
                    attrs={"elementary_names": list(gen.ELEMENTARY_NAMES), "parent_rows": "local"})


def _dedupe_rows(digest: np.ndarray, known: set[int] | None = None) -> np.ndarray:
    """Index of each row's first occurrence (itself if new); -1 where already in ``known``."""
    first: dict[int, int] = {}
    out = np.empty(len(digest), dtype=np.int64)
    for i, d in enumerate(digest.tolist()):
        if known is not None and d in known:
            out[i] = -1
        else:
            out[i] = first.setdefault(d, i)
    return out


def library(shards: list[Path], out: Path) -> None:
    """The elementary lattices followed by all chains, duplicates removed (children re-pointed to
    the kept copy), parents as global rows."""
    zero = np.zeros((27, 3))
    names = gen.ELEMENTARY_NAMES
    elem = _pack([gen.canonical(gen.ELEMENTARY[n], zero) for n in names],
                 [{"elementary": e, "parent_a": -1, "parent_b": -1, "iteration": 0} for e in range(len(names))])
    parts = [elem]
    offset = len(names)
    for s in shards:
        a = artifacts.read(s, "truss3d/library").arrays
        local = a["parent_a"]
        a["parent_a"] = np.where(local < 0, -1 - local, local + offset)  # -1-e: elementary row e
        parts.append(a)
        offset += len(local)
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    first = _dedupe_rows(cat["digest"])
    keep = first == np.arange(len(first))
    newrow = np.cumsum(keep) - 1
    pa = cat["parent_a"]
    cat["parent_a"] = np.where(pa >= 0, newrow[first[np.maximum(pa, 0)]], -1)
    cat = {k: v[keep] for k, v in cat.items()}
    log.info("library: %d lattices (%d duplicates dropped)", keep.sum(), (~keep).sum())
    artifacts.write(out, "truss3d/library", cat, stats={"lattices": int(keep.sum()), "duplicates": int((~keep).sum())},
                    attrs={"elementary_names": list(names), "parent_rows": "global"})


def superpose_shard(library: Path, out: Path, *, shard: int, cfg: dict, seed: int) -> None:
    """Superpositions of random pairs of library lattices (repetition allowed), valid and new."""
    sc = cfg["superposition"]
    lib = artifacts.read(library, "truss3d/library", ["adjacency", "offsets", "digest"])
    n_lib = len(lib["digest"])
    want = len(_shard_rows(sc["count"], shard, sc["shards"]))
    rng = np.random.default_rng(derive_seed(seed, "truss3d", "superpose", shard))
    known = set(lib["digest"].tolist())
    lattices, origin, tries, invalid = [], [], 0, 0
    while len(lattices) < want and tries < sc["max_tries_factor"] * max(want, 1):
        tries += 1
        i, j = rng.integers(n_lib, size=2)
        A, x = gen.superpose(lib["adjacency"][i], lib["offsets"][i], lib["adjacency"][j], lib["offsets"][j])
        if not gen.is_valid(A, x):
            invalid += 1
            continue
        d = gen.digest(A, x)
        if d in known:
            continue
        known.add(d)
        lattices.append((A, x))
        origin.append({"elementary": -1, "parent_a": i, "parent_b": j, "iteration": -1})
    if len(lattices) < want:
        log.warning("superposition shard %d: only %d of %d new valid lattices in %d draws", shard,
                    len(lattices), want, tries)
    splits = sum(gen.split_count(A, x) > 0 for A, x in lattices)
    log.info("superposition shard %d: %d lattices from %d draws (%d invalid); %d with crossing beams split",
             shard, len(lattices), tries, invalid, splits)
    artifacts.write(out, "truss3d/lattices", _pack(lattices, origin), config=cfg, seed=seed,
                    stats={"draws": tries, "invalid": invalid, "made": len(lattices), "with_splits": int(splits)},
                    attrs={"elementary_names": list(gen.ELEMENTARY_NAMES)})


def lattices(library: Path, superposed: list[Path], out: Path) -> None:
    """Library plus superposed shards, deduplicated across shards (library rows unchanged)."""
    parts = [artifacts.read(library, "truss3d/library").arrays]
    parts += [artifacts.read(s, "truss3d/lattices").arrays for s in superposed]
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    first = _dedupe_rows(cat["digest"])
    keep = first == np.arange(len(first))
    cat = {k: v[keep] for k, v in cat.items()}
    n_lib = len(parts[0]["digest"])
    stats = {"library": n_lib, "superposed": int(keep.sum()) - n_lib, "duplicates": int((~keep).sum())}
    log.info("lattices: %s", stats)
    artifacts.write(out, "truss3d/lattices", cat, stats=stats, attrs={"elementary_names": list(gen.ELEMENTARY_NAMES)})


def homogenize_shard(lattices: Path, out: Path, *, shard: int, cfg: dict) -> None:
    """Effective stiffness of one shard (a contiguous slice) of the lattices at fixed relative density."""
    from pipeline_lib.truss3d.frame import build_frame, lattice_problems
    from pipeline_lib.truss3d.homogenization import homogenize_frames

    hc = cfg["homogenize"]
    with artifacts.open_artifact(lattices, "truss3d/lattices") as h5:
        n = h5["adjacency"].shape[0]
        rows = _shard_rows(n, shard, hc["shards"])
        sl = slice(int(rows[0]), int(rows[-1]) + 1) if len(rows) else slice(0, 0)
        A = h5["adjacency"][sl]
        X = h5["offsets"][sl]
    frames = []
    for k, (a, x) in enumerate(zip(A, X)):
        f = build_frame(a, x)
        problems = lattice_problems(a, x, f)
        if problems:
            raise ArtifactError(lattices, f"lattice {sl.start + k}: " + "; ".join(problems))
        frames.append(f)
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
    artifacts.write(out, "truss3d/database", arrays, config=cfg, seed=seed, stats=lat.stats,
                    attrs={"elementary_names": list(gen.ELEMENTARY_NAMES)})
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
    from pipeline_lib.learn.run import Phase, split_rows, train_stage
    from pipeline_lib.truss3d import learning as L

    data = artifacts.read(db, "truss3d/database", ["adjacency", "offsets", "C9"])
    A, X, C9 = data["adjacency"], data["offsets"], data["C9"]
    if not np.isfinite(C9).all():
        raise ArtifactError(db, f"{int((~np.isfinite(C9)).any(1).sum())} lattices have non-finite stiffness")
    tc = cfg["train"]
    rows = split_rows(len(A), tc["split"], derive_seed(seed, "truss3d", "split"))
    net = L.build(dict(cfg["model"], epochs=tc["epochs"]))
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
