# Helpers shared by the chains' rule files.
import json


wildcard_constraints:
    shard=r"\d+",


def cfg_json(section, *keys):
    """JSON of a config slice: passed to a stage as --cfg and declared as a param, so a change to
    exactly these keys reruns exactly the rules that read them."""
    node = config[section]
    return json.dumps({k: node[k] for k in keys} if keys else node, sort_keys=True)


def stage(name, args):
    """Shell command running one pipeline_lib stage with its thread count pinned (one BLAS/OpenMP
    thread pool per job; parallelism comes from running shards side by side)."""
    # PYTHONPATH makes the package importable without an install (conda deployment, --directory).
    return (
        f"PYTHONPATH={REPO}${{{{PYTHONPATH:+:$PYTHONPATH}}}} "
        "OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads} OPENBLAS_NUM_THREADS={threads} "
        f"python -m pipeline_lib run {name} {args} --threads {{threads}} > {{log}} 2>&1"
    )


# config sections read only by stages after the database: left out of the database's provenance
# params, so that changing a figure or a model does not rebuild the database
DOWNSTREAM_KEYS = ("figures", "model", "train", "latent_study")
