"""Artifact kinds of the voxel3d chain (see pipeline_lib.artifacts for the common attributes).

Cells (voxel units) are stored as uint8 (0/1) with gzip + shuffle, chunked a few cells at a time: h5py slices
give voxels directly, and compression of these smooth binary volumes comes within a small factor
of bit-packing."""
from pipeline_lib.artifacts import Field, Schema, register

SOURCES = ("templates", "skeletons", "levelsets")

_CELLS = (
    Field("cells", "uint8", ("N", "n", "n", "n"), "1",
          "binary cells (voxel units), 1 = solid; cells[i, j, k] is the voxel at x = i, y = j, z = k"),
    Field("source", "int8", ("N",), "code", "generator: 0 templates, 1 skeletons, 2 levelsets"),
    Field("family", "int64", ("N",), "id", "family within its source and shard (cells sweeping one parameter)"),
    Field("description", "S96", ("N",), "text", "what the generator made, e.g. 'schwarz_p shell t=0.42'"),
    Field("volume_fraction", "float64", ("N",), "1", "solid fraction"),
    Field("digest", "uint64", ("N",), "hash", "64-bit BLAKE2b digest of the packed unit, for deduplication"),
)
_PROPS = (
    Field("C", "float64", ("N", 6, 6), "MPa", "effective stiffness, Voigt (11, 22, 33, 23, 31, 12), engineering shear"),
    Field("E_s", "float64", ("N",), "MPa", "solid Young's modulus drawn for this simulation (aleatoric uncertainty)"),
    Field("nu_s", "float64", ("N",), "1", "solid Poisson's ratio drawn for this simulation"),
    Field("E", "float64", ("N",), "MPa", "effective Young's modulus along x, 1 / S11"),
    Field("G", "float64", ("N",), "MPa", "effective shear modulus G23 = 1 / S44"),
    Field("nu", "float64", ("N",), "1", "effective Poisson's ratio nu12 = -S12 / S11"),
    Field("K", "float64", ("N",), "MPa", "effective bulk modulus 1 / sum_{i,j<=3} S_ij"),
)

CELLS = register(Schema("voxel3d/cells", 1, _CELLS, "generated cells that passed screening"))
STIFFNESS = register(Schema("voxel3d/stiffness", 1, (
    Field("index", "int64", ("N",), "row", "row of the cells file each result belongs to"),) + _PROPS,
    "homogenized stiffness of one shard of the cells, each with its own material draw"))
DATABASE = register(Schema("voxel3d/database", 1, _CELLS + _PROPS, "the voxel3d database of cubic voxel units"))
ALEATORIC = register(Schema("voxel3d/aleatoric", 1, (
    Field("unit", "int64", ("N",), "row", "database row of the unit simulated"),) + _PROPS,
    "repeated simulations of a few cells with independent material draws (true aleatoric spread)"))

# trained model and latent codes (pipeline_lib.learn.schemas)
from pipeline_lib.learn.schemas import register_schemas  # noqa: E402

MODEL, LATENT = register_schemas("voxel3d", "cells")

# latent analyses (pipeline_lib.latent.schemas): decoded designs stored like database rows
from pipeline_lib.latent.schemas import register_latent_schemas  # noqa: E402

LATENT_ANALYSES = register_latent_schemas("voxel3d", (_CELLS[0],), "MPa (E, G) / 1 (nu)")
