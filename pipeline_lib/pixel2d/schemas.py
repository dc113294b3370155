"""Artifact kinds of the pixel2d chain (see pipeline_lib.artifacts for the common attributes)."""
from pipeline_lib.artifacts import Field, Schema, register

_CELLS = Field("cells", "uint8", ("N", "H", "W"), "1",
               "binary cells, 1 = solid; row 0 is the top of the cell (y up, x along columns)")
_C = Field("C", "float64", ("N", 3, 3), "E (solid Young's modulus)",
           "effective stiffness, Voigt order (xx, yy, xy), engineering shear strain; C11, C12, C22, C33 "
           "are C[0,0], C[0,1], C[1,1], C[2,2]")
_ORIGIN = (
    Field("parent", "int64", ("N",), "row", "database row of the cell this one was perturbed from (-1: a seed)"),
    Field("seed_id", "int64", ("N",), "id", "SIMP seed the cell descends from"),
    Field("iteration", "int32", ("N",), "1", "perturbation iteration that made the cell (0: seeds)"),
    Field("operator", "int8", ("N",), "code", "perturbation operator: -1 seed, 0 levelset, 1 blob"),
    Field("digest", "uint64", ("N",), "hash", "64-bit BLAKE2b digest of the packed cell, for deduplication"),
)

SEEDS = register(Schema("pixel2d/seeds", 1, (
    _CELLS,
    Field("target", "float64", ("N", 4), "E", "target (C11, C12, C22, C33) given to SIMP"),
    Field("volume_target", "float64", ("N",), "1", "solid fraction bound of the SIMP problem"),
    Field("density", "float32", ("N", "H", "W"), "1", "final filtered and projected SIMP densities"),
    Field("objective", "float64", ("N",), "C11_solid^2", "final squared error of the gray design to its target"),
    Field("kept", "bool", ("N",), "1", "cell survived thresholding and defect fixing"),
    Field("seed_id", "int64", ("N",), "id", "global seed number"),
), "SIMP seed designs of one shard, before deduplication"))

CANDIDATES = register(Schema("pixel2d/candidates", 1, (_CELLS,) + _ORIGIN,
                             "new, defect-free, deduplicated cells of one iteration, not yet homogenized"))

STIFFNESS = register(Schema("pixel2d/stiffness", 1, (
    Field("index", "int64", ("N",), "row", "row of the candidates file each stiffness belongs to"),
    _C,
), "homogenized stiffness of one shard of an iteration's candidates"))

CELLS = register(Schema("pixel2d/cells", 1, (_CELLS, _C) + _ORIGIN,
                        "homogenized cells of one iteration"))

DATABASE = register(Schema("pixel2d/database", 1, (_CELLS, _C) + _ORIGIN,
                           "the pixel2d metamaterial database: all iterations, in order"))

# trained model and latent codes (pipeline_lib.learn.schemas); registered here so that `inspect`
# finds them by their chain
from pipeline_lib.learn.schemas import register_schemas  # noqa: E402

MODEL, LATENT = register_schemas("pixel2d", "cells")

# latent analyses (pipeline_lib.latent.schemas): decoded designs stored like database rows
from pipeline_lib.latent.schemas import register_latent_schemas  # noqa: E402

LATENT_ANALYSES = register_latent_schemas("pixel2d", (_CELLS,), "E")
