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

# multiscale design (paper 000, section 5): pipeline_lib.pixel2d.multiscale
FEASIBILITY = register(Schema("pixel2d/feasibility", 1, (
    Field("lower", "float64", (4,), "E", "property (C11, C12, C22, C33) of grid node (0, 0, 0, 0)"),
    Field("spacing", "float64", (4,), "E", "grid spacing along each property"),
    Field("scale", "float64", (4,), "E", "unit of each axis in which distances are measured (the cloud's span)"),
    Field("phi", "float64", ("n1", "n2", "n3", "n4"), "1 (fractions of the span)",
          "signed distance to the boundary of the database's property cloud, positive inside"),
    Field("grad", "float64", ("n1", "n2", "n3", "n4", 4), "1/E", "finite-difference gradient of phi"),
    Field("points", "float64", ("N", 4), "E", "the database properties the field was built from"),
), "signed L2 distance field of the database's property cloud (Eqs. 11-12 feasibility)"))

_CASE_FIELDS = (
    Field("fixed_dofs", "int64", ("F",), "dof", "prescribed DOFs on the mesh (2 (i (W' + 1) + j) + c, c = 0: x, 1: y)"),
    Field("fixed_values", "float64", ("F",), "cell side", "prescribed displacements"),
    Field("target_dofs", "int64", ("T",), "dof", "tracked DOFs on the mesh"),
    Field("target_values", "float64", ("T",), "cell side", "target displacements of the tracked DOFs"),
)

DESIGN_MACRO = register(Schema("pixel2d/design_macro", 1, _CASE_FIELDS + (
    Field("C_target", "float64", ("H", "W", 4), "E", "optimized (C11, C12, C22, C33) of each macro element"),
    Field("u", "float64", ("D",), "cell side", "macro displacement of the optimized distribution (unit-cell mesh)"),
    Field("phi", "float64", ("H", "W"), "1", "feasibility of each element's properties (positive inside; NaN for a family)"),
    Field("objective", "float64", ("I",), "1", "squared RRMSE per iteration"),
    Field("constraint", "float64", ("I",), "1", "HPI constraint (Eq. 11) per iteration, <= 0 when met"),
    Field("change", "float64", ("I",), "1", "largest change of a normalized variable per iteration"),
    Field("family_c11", "float64", ("M",), "E", "C11 of the family members the gradation follows", optional=True),
    Field("family_P", "float64", ("M", 4), "E", "properties of those members", optional=True),
    Field("family_z", "float64", ("M", "Z"), "1", "latent means of those members", optional=True),
    Field("family_cells", "uint8", ("M", "n", "n"), "1", "those members' cells", optional=True),
), "stage 1 of a multiscale design case: the macro property distribution (on the H x W unit-cell mesh)"))

DESIGN_ASSEMBLY = register(Schema("pixel2d/design_assembly", 1, (
    Field("candidates", "uint8", ("H", "W", "L", "n", "n"), "1", "candidate cells of each element"),
    Field("candidate_rows", "int64", ("H", "W", "L"), "row", "database row of each candidate (-1: decoded)"),
    Field("candidate_C", "float64", ("H", "W", "L", 4), "E", "FE properties of each candidate"),
    Field("unary", "float64", ("H", "W", "L"), "E", "nodal cost, Eq. 16"),
    Field("horizontal", "float64", ("H", "W1", "L", "L"), "1", "edge cost to the right neighbour, Eq. 17"),
    Field("vertical", "float64", ("H1", "W", "L", "L"), "1", "edge cost to the lower neighbour, Eq. 17"),
    Field("labels", "int64", ("H", "W"), "label", "the assembly's choice (MRF)"),
    Field("nodal_labels", "int64", ("H", "W"), "label", "the nodal-only baseline: best property match, compatibility ignored"),
    Field("dd_energy", "float64", ("K",), "1", "DD-MRF best energy per iteration"),
    Field("dd_lower_bound", "float64", ("K",), "1", "DD-MRF lower bound per iteration"),
    Field("bp_energy", "float64", ("B",), "1", "loopy BP best energy per iteration"),
), "stage 2 of a multiscale design case: candidates, MRF costs and labellings"))

DESIGN = register(Schema("pixel2d/design", 1, _CASE_FIELDS + (
    Field("structure", "uint8", ("Y", "X"), "1", "assembled structure, 1 = solid, row 0 at the top (50H x 50W for 50-pixel cells)"),
    Field("labels", "int64", ("H", "W"), "label", "candidate chosen for each element"),
    Field("C_target", "float64", ("H", "W", 4), "E", "stage-1 properties (C11, C12, C22, C33)"),
    Field("C_assembled", "float64", ("H", "W", 4), "E", "properties of the chosen cells, homogenized again"),
    Field("u_target_dofs", "float64", ("T",), "cell side", "fine-scale displacement at the tracked DOFs"),
    Field("u_macro_target_dofs", "float64", ("T",), "cell side", "macro (homogenized) displacement at the tracked DOFs"),
    Field("baseline_structure", "uint8", ("Y", "X"), "1", "the nodal-only baseline's structure"),
    Field("baseline_u_target_dofs", "float64", ("T",), "cell side", "its fine-scale displacement at the tracked DOFs"),
), "a verified multiscale design: the structure, its boundary conditions, targets, material and fine-scale response"))
