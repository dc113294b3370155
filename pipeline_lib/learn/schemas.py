"""Artifact kinds of training: the trainer's checkpoints (pipeline_lib.learn.trainer) and each
chain's model and latent files (pipeline_lib.learn.store).  No torch here: registering a kind must
stay cheap for every reader."""
from pipeline_lib.artifacts import Field, Schema, register

SPLITS = ("train", "val", "test")

CHECKPOINT = register(Schema("learn/checkpoint", 1, (),
                             "per-epoch training checkpoint: weights, best weights and optimizer state in groups, "
                             "run_id and history in attrs; a restarted job resumes from it"))


def register_schemas(chain: str, what: str) -> tuple[Schema, Schema]:
    """The model and latent artifact kinds of a chain (``what`` names the rows: cells, lattices...)."""
    model = register(Schema(f"{chain}/model", 1, tuple(
        Field(f"{s}_rows", "int64", (f"N_{s}",), "row", f"database rows of the {s} split") for s in SPLITS),
        f"trained generative model of {what}: weights in group 'weights', config and history in attrs"))
    latent = register(Schema(f"{chain}/latent", 1, (
        Field("mu", "float32", ("N", "D"), "1", f"latent mean of every database row ({what})"),
        Field("logvar", "float32", ("N", "D"), "1", "latent log variance (log sigma^2)"),
        Field("split", "int8", ("N",), "code", "0 train, 1 validation, 2 test"),
    ), f"latent codes of the {what} database under the trained model"))
    return model, latent
