# Helpers shared by the chains' rule files -- config slices, the stage command, the resource table,
# the report's entries.
import json
import os
import sys

from pipeline_lib.cli import check_stage_args


# config sections read only by stages after the database: left out of the database's provenance
# params, so that changing a figure or a model does not rebuild the database
DOWNSTREAM_KEYS = ("figures", "model", "train", "latent_study", "aleatoric", "latent", "design", "nonlinear")
# keys of a train section that are the job's resources, not the trainer's: changing them does not retrain
LEARN_RESOURCES = ("threads", "gpu", "mem_mb", "runtime")

# Every rule's resources in one place: threads, memory (MB), runtime (minutes).  GPU rules are the
# training ones, whose resources come from the config (<chain>.train.{threads, gpu, mem_mb, runtime}).
RESOURCES = {
    "pixel2d_seeds": (1, 2000, 120),
    "pixel2d_initial_candidates": (1, 2000, 20),
    "pixel2d_perturb": (1, 4000, 60),
    "pixel2d_homogenize": (1, 2000, 120),
    "pixel2d_collect": (1, 2000, 20),
    "pixel2d_database": (1, 8000, 60),
    "pixel2d_figures": (1, 4000, 20),
    "truss3d_library_shard": (1, 1000, 120),
    "truss3d_library": (1, 2000, 20),
    "truss3d_superpose": (1, 2000, 120),
    "truss3d_lattices": (1, 4000, 30),
    "truss3d_homogenize": (1, 2000, 120),
    "truss3d_database": (1, 4000, 30),
    "truss3d_figures": (1, 4000, 20),
    "truss3d_nonlinear_shard": (1, 2000, 120),  # measured: 2.2 lattices/s (compiled element), 0.3 GB
    "truss3d_nonlinear_database": (1, 2000, 10),
    "truss3d_nonlinear_predictor": (1, 3000, 30),
    "voxel3d_generate": (1, 3000, 120),
    "voxel3d_cells": (1, 8000, 60),
    "voxel3d_homogenize": (1, 3000, 240),
    "voxel3d_database": (1, 8000, 60),
    "voxel3d_aleatoric": (1, 3000, 120),
    "voxel3d_figures": (1, 4000, 20),
    "latent": (1, 4000, 30),  # every latent analysis: model inference and FE of the decoded designs
    "latent_summary": (1, 500, 5),
    "pixel2d_feasibility": (1, 2000, 10),
    "pixel2d_design_macro": (1, 2000, 60),
    "pixel2d_design_assemble": (1, 4000, 60),
    "pixel2d_design_verify": (2, 12000, 60),  # memory: design_verify_mem_mb, by the case's size
    "pixel2d_design_summary": (1, 500, 5),
    "design_truss3d": (1, 4000, 30),  # measured: 0.5-2.5 min and 1.1 GB per target on one core
    "design_truss3d_nonlinear": (2, 4000, 60),  # two processes of nonlinear FE verification
    "design_truss3d_summary": (1, 500, 5),
    "uq_voxel3d": (2, 4000, 30),  # decode / encode batches: torch on both cores
    "design_voxel3d_bulk": (2, 6000, 60),
    "design_voxel3d_pareto": (2, 6000, 60),
    "design_voxel3d_deterministic": (2, 6000, 60),
    "design_voxel3d": (1, 1000, 10),
    "report_tables": (1, 500, 5),
}


def threads_of(rule):
    return RESOURCES[rule][0]


def resources_of(rule):
    _, mem_mb, runtime = RESOURCES[rule]
    return dict(mem_mb=mem_mb, runtime=runtime, gpu=0)


def learn_resources(chain):
    t = config[chain]["train"]
    return dict(mem_mb=t["mem_mb"], runtime=t["runtime"], gpu=t["gpu"])


def cfg_json(section, *keys):
    """JSON of a config slice: passed to a stage as --cfg and declared as a param, so a change to
    exactly these keys reruns exactly the rules that read them."""
    node = config[section]
    return json.dumps({k: node[k] for k in keys} if keys else node, sort_keys=True)


def provenance_cfg(chain):
    """The database's config: the chain's whole config but the downstream sections (figures,
    models, training, studies), whose changes must not rebuild it."""
    return json.dumps({k: v for k, v in config[chain].items() if k not in DOWNSTREAM_KEYS}, sort_keys=True)


def learn_cfg(chain, **extra):
    """What a training stage depends on: the model and the trainer's config (not its resources)."""
    node = config[chain]
    train = {k: v for k, v in node["train"].items() if k not in LEARN_RESOURCES}
    return json.dumps(dict({"model": node["model"], "train": train}, **extra), sort_keys=True)


def latent_cfg(chain, analysis):
    """What one latent analysis depends on (besides the database and the model files)."""
    return json.dumps(config[chain]["latent"][analysis], sort_keys=True)


# The latent analyses each chain runs, and the figures each writes (named after the paper figure
# they reproduce); rules/latent.smk makes one rule per entry.
LATENT_ANALYSES = {
    "pixel2d": ("traversal", "maps", "arrows", "candidates", "families"),
    "truss3d": ("traversal", "samples", "slerp"),
    "voxel3d": ("slerp",),
}
LATENT_FIGURES = {
    ("pixel2d", "traversal"): {"figure": "fig7a_traversal.png"},
    ("pixel2d", "maps"): {"figure": "fig8_pca_map.png"},
    ("pixel2d", "arrows"): {"figure": "fig9b_10b_arrow_curves.png", "gallery": "fig9_10_arrow_paths.png"},
    ("pixel2d", "candidates"): {"figure": "fig11_candidate_sets.png"},
    ("pixel2d", "families"): {"figure": "fig13_families.png", "gallery": "fig12_families.png"},
    ("truss3d", "traversal"): {"figure": "fig3_traversal.png"},
    ("truss3d", "slerp"): {"figure": "fig4_slerp.png", "plot": "fig4_slerp_properties.png"},
    ("voxel3d", "slerp"): {"figure": "fig8_slerp.png", "plot": "fig8_slerp_properties.png"},
}
LATENT_ARTIFACT = {"candidates": "candidates.h5"}  # the rest: <analysis>.h5
# each latent figure's entry in the report: its label there (its caption is <chain>_<file stem>.rst)
LATENT_RESULTS = {
    "fig7a_traversal.png": "Fig. 7a: latent traversal", "fig8_pca_map.png": "Fig. 8: PCA map of the latent space",
    "fig9b_10b_arrow_curves.png": "Figs. 9b, 10b: properties along semantic arrows",
    "fig9_10_arrow_paths.png": "Figs. 9, 10: designs along semantic arrows",
    "fig11_candidate_sets.png": "Fig. 11: candidate sets for targets", "fig12_families.png": "Fig. 12: graded families",
    "fig13_families.png": "Fig. 13: family properties", "fig3_traversal.png": "Fig. 3: latent traversal",
    "fig4_slerp.png": "Fig. 4: slerp between lattices", "fig4_slerp_properties.png": "Fig. 4: properties along the slerp",
    "fig8_slerp.png": "Fig. 8: slerp between units", "fig8_slerp_properties.png": "Fig. 8: properties along the slerp",
}


def latent_outputs(chain, analysis, artifact=True, flagged=False):
    """Output paths of one latent analysis, keyed like its stage's flags; ``flagged``: its figures
    flagged for the report (for the rule's output, not for targets)."""
    d = f"data/{chain}/latent"
    out = {"out": f"{d}/{LATENT_ARTIFACT.get(analysis, f'{analysis}.h5')}"} if artifact else {}
    for k, v in LATENT_FIGURES.get((chain, analysis), {}).items():
        out[k] = reported(f"{d}/{v}", f"{chain}_{Path(v).stem}", chain, "latent", LATENT_RESULTS[v]) if flagged \
            else f"{d}/{v}"
    out["summary"] = f"{d}/{analysis}.json"
    return out


def latent_all(chain):
    """Every file the latent analyses of a chain make."""
    return [f"data/{chain}/latent/summary.json"] + [
        p for a in LATENT_ANALYSES[chain] for p in latent_outputs(chain, a, a != "maps").values()]


def p2_iteration(k):
    return f"data/pixel2d/iterations/{int(k):03d}"


def _jobs_find_this_python():
    """Jobs run `python -m pipeline_lib` (the shell text is the rules' code to Snakemake: an
    interpreter's path in it would rerun every job on another machine or virtual environment).
    So that `.venv/bin/snakemake` works without activating the environment, the directory of the
    interpreter running Snakemake goes first on the PATH jobs inherit, where its `python` is that
    interpreter (or the same virtual environment's, copied).  A deployed conda environment still
    wins: its activation puts its own first."""
    here = Path(sys.executable).parent
    python = here / "python"
    path = os.environ.get("PATH", "")
    same = python.exists() and (os.path.samefile(python, sys.executable) or (here.parent / "pyvenv.cfg").exists())
    if same and path.split(os.pathsep)[0] != str(here):
        os.environ.update(PATH=str(here) + (os.pathsep + path if path else ""))  # PATH is no input of the workflow


_jobs_find_this_python()


def stage(name, *args, check=True):
    """Shell command running one pipeline_lib stage with its thread count pinned (one BLAS/OpenMP
    thread pool per job; parallelism comes from running shards side by side).  The flags are
    checked against the stage's signature now, so a wrong one fails `snakemake -n`, not the job
    (``check=False`` where the name is a template: the caller checks)."""
    args = " ".join(args)
    if check:
        check_stage_args(name, args)
    # PYTHONPATH makes the package importable without an install (conda deployment, --directory).
    return (
        f"PYTHONPATH={REPO}${{{{PYTHONPATH:+:$PYTHONPATH}}}} "
        "OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} OPENBLAS_NUM_THREADS={threads} "
        f"python -m pipeline_lib run {name} {args} --threads {{threads}} > {{log}} 2>&1"
    )


# voxel3d's robust design (rules/design.smk): each stage reads the named sections of voxel3d.design.
V3D_DESIGN = "data/voxel3d/design"
V3D_MODEL = dict(db="data/voxel3d/database.h5", model="data/voxel3d/model/model.h5",
                 latent="data/voxel3d/model/latent.h5")
V3D_SEARCH = ("uq", "calibrate", "nsga2", "decode", "margin", "start_band", "fe_draws")


def v3_design_cfg(*keys):
    """What one voxel3d design stage depends on: the named sections of voxel3d.design."""
    d = config["voxel3d"]["design"]
    return json.dumps({k: d[k] for k in keys}, sort_keys=True)


def v3_design_resources(rule):
    """The design jobs decode and predict with the model: they ask for the GPU its training asks for."""
    return dict(resources_of(rule), gpu=config["voxel3d"]["train"]["gpu"])


# The multiscale design (rules/design.smk): one set of rules per case, cases are config data.
DESIGN = "data/pixel2d/design"


def design_cfg(case, *sections):
    """What one stage of one case depends on: the case and the named design sections."""
    d = config["pixel2d"]["design"]
    if case not in d["cases"]:
        raise WorkflowError(f"pixel2d.design.cases has no case {case!r}; known: {', '.join(sorted(d['cases']))}")
    return json.dumps(dict({"case": d["cases"][case]}, **{s: d[s] for s in sections}), sort_keys=True)


def design_space(case):
    return config["pixel2d"]["design"]["cases"][case].get("space", "database")


def design_all():
    run = config["pixel2d"]["design"]["run"]
    for case in run:
        design_cfg(case)  # an unknown case fails the parse, naming it
    return [f"{DESIGN}/summary.json"] + [
        f"{DESIGN}/{c}/{f}" for c in run for f in ("design.h5", "structure.png", "fig16c_deformed.png",
                                                    "fig16d_properties.png", "mrf_convergence.png")]


def design_verify_mem_mb(case):
    """Memory of a case's fine-scale solves: 2 GB plus 2.2 kB per pixel, above what was measured
    (bridge 0.3 M pixels 2.05 GB, graded 1.5 M 3.2 GB, smiley 6.25 M 12.4 GB)."""
    c = config["pixel2d"]["design"]["cases"][case]
    n = config["pixel2d"]["size"]
    return int(2000 + 2.2e-3 * c["rows"] * c["cols"] * n * n)


# Gradient inverse design of truss3d lattices (rules/design.smk): one job per target.
T3D_DESIGN = "data/truss3d/design"
T3D_DESIGN_FILES = {"out": "{t}.h5", "summary": "{t}.json", "path_figure": "{t}_fig5_path.png",
                    "space_figure": "{t}_fig5_property_space.png", "surface_figure": "{t}_surface.png",
                    "vtp": "{t}.vtp", "stl": "{t}.stl"}
# its figures' entries in the report: caption, label
T3D_DESIGN_REPORT = {"path_figure": ("truss3d_design_path", "Fig. 5: search path"),
                     "space_figure": ("truss3d_design_property_space", "Fig. 5: designs in the property space"),
                     "surface_figure": ("truss3d_design_surface", "best design: elastic surface")}


def truss_design_outputs():
    """The outputs of one target's design job (wildcard ``target``), its figures flagged for the report."""
    out = {k: f"{T3D_DESIGN}/{v.format(t='{target}')}" for k, v in T3D_DESIGN_FILES.items()}
    for k, (caption, result) in T3D_DESIGN_REPORT.items():
        out[k] = reported(out[k], caption, "truss3d", "design", result, target="{target}")
    return out


def truss_design_cfg():
    """What every target's job depends on: the design section but the list of targets, so adding
    a target reruns nothing else."""
    return json.dumps({k: v for k, v in config["truss3d"]["design"].items() if k != "run"}, sort_keys=True)


def truss_design_parts():
    """The reports data/truss3d/design/summary.json gathers: every target of truss3d.design.run,
    and the curve targets when the nonlinear stages are part of the default run."""
    nl = config["truss3d"]["nonlinear"]
    return [f"{T3D_DESIGN}/{t}.json" for t in config["truss3d"]["design"]["run"]] + (
        [f"{T3D_DESIGN}/nonlinear_{t}.json" for t in nl["design"]["run"]] if nl["in_default_run"] else [])


def truss_design_all():
    return [f"{T3D_DESIGN}/summary.json"] + [
        f"{T3D_DESIGN}/{f.format(t=t)}" for t in config["truss3d"]["design"]["run"] for f in T3D_DESIGN_FILES.values()]


def truss_nonlinear_cfg():
    """What a stress-strain shard depends on: the material, beam and density and the path settings
    (not the predictor's or the design's sections)."""
    c = config["truss3d"]
    nl = {k: v for k, v in c["nonlinear"].items() if k not in ("predictor", "design", "in_default_run")}
    return json.dumps({"material": c["material"], "beam": c["beam"], "relative_density": c["relative_density"],
                       "density": c["density"], "nonlinear": nl}, sort_keys=True)


T3D_NONLINEAR_FILES = {"out": "nonlinear_{t}.h5", "summary": "nonlinear_{t}.json", "figure": "nonlinear_{t}_fig6b.png"}


def truss_predictor_cfg():
    return json.dumps({"nonlinear": {"predictor": config["truss3d"]["nonlinear"]["predictor"]}}, sort_keys=True)


def truss_nonlinear_design_cfg():
    return json.dumps({k: v for k, v in config["truss3d"]["nonlinear"]["design"].items() if k != "run"},
                      sort_keys=True)


def truss_nonlinear_all():
    """The stress-strain database, the curve predictor and the designs to target curves."""
    t3 = "data/truss3d/nonlinear"
    return [f"{t3}/database.h5", f"{t3}/curves.png", f"{t3}/predictor.h5", f"{t3}/predictor.json",
            f"{t3}/fig6a_predictions.png"] + [
        f"{T3D_DESIGN}/{f.format(t=t)}" for t in config["truss3d"]["nonlinear"]["design"]["run"]
        for f in T3D_NONLINEAR_FILES.values()]


# The report (`snakemake --report report.html`): every figure is an output flagged by `reported`, with
# its caption workflow/report/<caption>.rst; categories are the chains, subcategories the stages in
# pipeline order (the report sorts both by name, hence the numbers).
REPORT_CAPTIONS = Path(workflow.basedir) / "report"
REPORT_STAGES = {"database": "1 database", "model": "2 model", "latent": "3 latent analysis", "design": "4 design"}


def reported(path, caption, chain, step, result, **wildcards):
    """``path`` flagged for the report under ``chain`` / ``step`` with the caption
    workflow/report/<caption>.rst, its entry labelled ``result`` (plus the named wildcards, e.g.
    ``case="{case}"``).  A missing caption fails the parse (`snakemake -n`), not the report."""
    rst = REPORT_CAPTIONS / f"{caption}.rst"
    if not rst.is_file():
        raise WorkflowError(f"caption {rst} of report entry {path} does not exist: write it, or fix the name")
    return report(path, caption=str(rst), category=chain, subcategory=REPORT_STAGES[step],
                  labels=dict({"result": result}, **wildcards))


# The report's tables (rules/report.smk): the databases' sizes and screening counts, the models' test
# metrics, the latent analyses' and the designs' summaries, each a CSV beside the HTML page the
# report shows.  A source named "*" contributes its own items (cases, targets, analyses).
REPORT_TABLES = "data/report"


def report_tables():
    """name -> chain, step, title, what a row is, sources[, the key holding the items of a "*"
    source]; the caption is table_<name>.rst."""
    nl = config["truss3d"]["nonlinear"]["in_default_run"]
    t = {}
    for c in ("pixel2d", "truss3d", "voxel3d"):
        t[f"{c}_database"] = (c, "database", f"{c} database: size and screening counts", "database",
                              {c: f"data/{c}/database.h5"})
        if c == "truss3d" and nl:
            t["truss3d_nonlinear_database"] = (c, "database", "truss3d stress-strain database: size and failures",
                                               "database", {"nonlinear": "data/truss3d/nonlinear/database.h5"})
        t[f"{c}_metrics"] = (c, "model", f"{c} model: test metrics", "model", {c: f"data/{c}/model/metrics.json"})
        if c == "truss3d" and nl:
            t["truss3d_predictor_metrics"] = (c, "model", "truss3d curve predictor: test metrics", "predictor",
                                              {"predictor": "data/truss3d/nonlinear/predictor.json"})
        t[f"{c}_latent"] = (c, "latent", f"{c} latent analyses: figures of merit", "analysis",
                            {"*": f"data/{c}/latent/summary.json"})
    t["pixel2d_design"] = ("pixel2d", "design", "pixel2d multiscale designs: every case side by side", "case",
                           {"*": f"{DESIGN}/summary.json"})
    t["voxel3d_design"] = ("voxel3d", "design", "voxel3d robust designs: Tables 4 and 6, baselines, coverage",
                           "design", {"design": "data/voxel3d/design/summary.json"})
    t["truss3d_design"] = ("truss3d", "design", "truss3d inverse designs: every target", "target",
                           {"*": f"{T3D_DESIGN}/summary.json"}, "targets")
    return t


def report_table_spec():
    """The tables stage's --spec: every table's files, title and sources."""
    return json.dumps({name: {"csv": f"{REPORT_TABLES}/{name}.csv", "html": f"{REPORT_TABLES}/{name}.html",
                              "title": title, "item": item, "sources": sources, "key": key[0] if key else None}
                       for name, (_, _, title, item, sources, *key) in report_tables().items()}, sort_keys=True)


def report_table_outputs():
    """The tables rule's outputs: each table's HTML page flagged for the report, its CSV beside it."""
    out = {}
    for name, (chain, step, title, *_) in report_tables().items():
        out[name] = reported(f"{REPORT_TABLES}/{name}.html", f"table_{name}", chain, step, f"table: {title}")
        out[f"{name}_csv"] = f"{REPORT_TABLES}/{name}.csv"
    return out
