"""Artifact kinds of the truss3d chain (see pipeline_lib.artifacts for the common attributes)."""
from pipeline_lib.artifacts import Field, Schema, register

_LATTICE = (
    Field("adjacency", "bool", ("N", 27, 27), "1",
          "beams between the 27 candidate octant nodes (symmetric, true diagonal); node order in "
          "pipeline_lib.truss3d.octant"),
    Field("offsets", "float64", ("N", 27, 3), "natural coordinate",
          "node offsets in [-0.5, 0.5] along each node's free directions, 0 elsewhere"),
)
_ORIGIN = (
    Field("elementary", "int8", ("N",), "code",
          "elementary lattice the cell descends from (index into attribute 'elementary_names'; -1: a superposition)"),
    Field("parent_a", "int64", ("N",), "row", "library row this lattice was perturbed from, or first superposed parent (-1: none)"),
    Field("parent_b", "int64", ("N",), "row", "second superposed parent (-1: none)"),
    Field("iteration", "int32", ("N",), "1", "perturbation step in its chain (0: elementary; -1: superposition)"),
    Field("digest", "uint64", ("N",), "hash", "64-bit BLAKE2b digest of topology and offsets, for deduplication"),
)

LIBRARY = register(Schema("truss3d/library", 1, _LATTICE + _ORIGIN,
                          "elementary lattices and their perturbation chains"))
LATTICES = register(Schema("truss3d/lattices", 1, _LATTICE + _ORIGIN,
                           "library and superposed lattices, valid and deduplicated, not yet homogenized"))
STIFFNESS = register(Schema("truss3d/stiffness", 1, (
    Field("index", "int64", ("N",), "row", "row of the lattices file each result belongs to"),
    Field("C", "float64", ("N", 6, 6), "E (solid Young's modulus)",
          "effective stiffness, Voigt (11, 22, 33, 23, 31, 12), engineering shear strains"),
    Field("radius", "float64", ("N",), "cell side", "strut radius as a fraction of the full cell side"),
    Field("relative_density", "float64", ("N",), "1", "summed strut volume over cell volume (shared struts once)"),
), "homogenized stiffness of one shard of the lattices"))
DATABASE = register(Schema("truss3d/database", 1, _LATTICE + (
    STIFFNESS.field("C"), STIFFNESS.field("radius"), STIFFNESS.field("relative_density"),
    Field("C9", "float64", ("N", 9), "E", "C11, C12, C13, C22, C23, C33, C44, C55, C66 (the paper's nine components)"),
) + _ORIGIN, "the truss3d lattice database"))

# trained model and latent codes (pipeline_lib.learn.schemas)
from pipeline_lib.learn.schemas import register_schemas  # noqa: E402

MODEL, LATENT = register_schemas("truss3d", "lattices")

# latent analyses (pipeline_lib.latent.schemas): decoded designs stored like database rows
from pipeline_lib.latent.schemas import register_latent_schemas  # noqa: E402

LATENT_ANALYSES = register_latent_schemas("truss3d", _LATTICE, "E_s")

# gradient inverse design (paper 002, Fig. 5): pipeline_lib.truss3d.design; one row per start
_U = "E_s"
DESIGN = register(Schema("truss3d/design", 1, (
    Field("adjacency", "uint8", ("N", 27, 27), "1", "each start's reported lattice: beams between the 27 octant nodes"),
    Field("offsets", "float64", ("N", 27, 3), "natural coordinate", "its node offsets (pipeline_lib.truss3d.octant)"),
    Field("radius", "float64", ("N",), "cell side",
          "strut radius at the database's relative density (attribute 'relative_density'), fraction of the cell side"),
    Field("valid", "bool", ("N",), "1", "passed the database's rules (frame.database_problems) and the FE solve"),
    Field("C_fe", "float64", ("N", 6, 6), _U,
          "stiffness by the chain's FE solver (Voigt 11, 22, 33, 23, 31, 12, engineering shear); NaN where not valid"),
    Field("objective_fe", "float64", ("N",), "1", "the target quantity of C_fe (attribute 'target'); NaN where not valid"),
    Field("objective_pred", "float64", ("N",), "1", "the predictor's value of it, at the encoding of the stored lattice"),
    Field("C9_fe", "float64", ("N", 9), _U, "C11 .. C66 of C_fe"),
    Field("C9_pred", "float64", ("N", 9), _U, "the predictor's C11 .. C66 at the encoding of the stored lattice"),
    Field("z", "float64", ("N", "D"), "1", "latent vector the lattice was decoded from (NaN: made by FE refinement)"),
    Field("stage", "int8", ("N",), "code", "step that made the row's design (attribute 'steps')"),
    Field("step_objective_fe", "float64", ("N", "K"), "1", "FE objective of the row's design after each step"),
    Field("start_row", "int64", ("N",), "row", "database row the run started from"),
    Field("start_objective_fe", "float64", ("N",), "1", "its FE objective (from the database)"),
    Field("path/objective", "float64", ("N", "S"), "1", "predicted objective along each latent run (NaN after it stopped)"),
    Field("path/z", "float32", ("N", "S", "D"), "1", "latent vector along each run"),
    Field("path/predicted", "float64", ("N", "S", 9), _U, "predicted C11 .. C66 along each run"),
    Field("path/best_step", "int64", ("N",), "step", "step of each run's best point (the decoded one)"),
    Field("path/steps", "int64", ("N",), "step", "steps each run took"),
    Field("control/start_row", "int64", ("M",), "row", "database lattices FE-refined without the model (the control)"),
    Field("control/adjacency", "uint8", ("M", 27, 27), "1", "their refined lattices"),
    Field("control/offsets", "float64", ("M", 27, 3), "natural coordinate", "their refined offsets"),
    Field("control/objective_fe", "float64", ("M",), "1", "FE objective after refinement"),
    Field("control/start_objective_fe", "float64", ("M",), "1", "FE objective before"),
), "gradient inverse design of one target in the latent space, every result FE-verified (root attribute 'best': "
   "the reported row)"))

# nonlinear compression (paper 002, Fig. 6): pipeline_lib.truss3d.nonlinear, one row per lattice
_NONLINEAR = (
    Field("row", "int64", ("N",), "row", "database row of the lattice"),
    Field("strain", "float64", ("P",), "1", "compressive strains of the curve (paper: 0.5 %, 2.5 %, ..., 24.5 %)"),
    Field("curve", "float64", ("N", "P"), "E_s", "nominal compressive stress -P33 at those strains (NaN: no converged path)"),
    Field("critical_strain", "float64", ("N",), "1", "first bifurcation of the path (NaN: none)"),
    Field("path_strain", "float64", ("N", "S"), "1", "every converged step's strain (NaN-padded)"),
    Field("path_stress", "float64", ("N", "S"), "E_s", "its nominal compressive stress"),
    Field("radius", "float64", ("N",), "cell side", "strut radius at the database's relative density"),
    Field("seconds", "float64", ("N",), "s", "wall time of the lattice's path"),
)
NONLINEAR_SHARD = register(Schema("truss3d/nonlinear_shard", 1, _NONLINEAR,
                                  "large-compression stress-strain paths of one shard of the selected lattices"))
NONLINEAR = register(Schema("truss3d/nonlinear", 1, _NONLINEAR,
                            "the stress-strain database: large-compression paths of a subset of the truss3d database"))

# the curve predictor (paper 002, Fig. 6a): pipeline_lib.truss3d.curves; one row per stress-strain row
CURVE_PREDICTOR = register(Schema("truss3d/curve_predictor", 1, (
    Field("row", "int64", ("N",), "row", "row of the stress-strain database"),
    Field("database_row", "int64", ("N",), "row", "its lattice's row of the truss3d database"),
    Field("split", "int8", ("N",), "code", "0 train, 1 validation, 2 test, -1 not used (no converged path)"),
    Field("strain", "float64", ("P",), "1", "compressive strains of the curves"),
    Field("curve_fe", "float64", ("N", "P"), "E_s", "the FE curve (the label)"),
    Field("curve_pred", "float64", ("N", "P"), "E_s", "the kept predictor's curve at the lattice's encoding"),
    Field("nrmse", "float64", ("N",), "1", "RMSE over the range of the FE curve"),
), "stress-strain curve predictor from the latent space (weights in group 'weights'; attribute 'mode': "
   "frozen encoder or fine-tuned)"))

# inverse design to a target curve (paper 002, Fig. 6b): pipeline_lib.truss3d.curve_design; one row per start
NONLINEAR_DESIGN = register(Schema("truss3d/nonlinear_design", 1, (
    DESIGN.field("adjacency"), DESIGN.field("offsets"), DESIGN.field("radius"),
    Field("valid", "bool", ("N",), "1", "passed the database's rules and the nonlinear FE path converged"),
    Field("curve_fe", "float64", ("N", "P"), _U, "nominal compressive stress by nonlinear FE at the strains 'strain'"),
    Field("curve_pred", "float64", ("N", "P"), _U, "the curve predictor's, at the encoding of the stored lattice"),
    Field("nrmse_fe", "float64", ("N",), "1", "NRMSE of curve_fe to the target (RMSE over the target's range)"),
    Field("nrmse_pred", "float64", ("N",), "1", "NRMSE of curve_pred to the target"),
    Field("critical_strain", "float64", ("N",), "1", "first bifurcation of the FE path (NaN: none)"),
    Field("path_strain", "float64", ("N", "S"), "1", "the FE path: every converged step's strain (NaN-padded)"),
    Field("path_stress", "float64", ("N", "S"), _U, "its nominal compressive stress"),
    Field("z", "float64", ("N", "D"), "1", "latent vector the lattice was decoded from"),
    Field("stage", "int8", ("N",), "code", "step that made the row's design (attribute 'steps')"),
    Field("step_nrmse_fe", "float64", ("N", "K"), "1", "FE NRMSE of the row's design after each step"),
    Field("start_row", "int64", ("N",), "row", "stress-strain row the run started from"),
    Field("start_nrmse_fe", "float64", ("N",), "1", "its FE curve's NRMSE to the target"),
    Field("target", "float64", ("P",), _U, "the target curve"),
    Field("strain", "float64", ("P",), "1", "compressive strains of the curves"),
    Field("match/adjacency", "uint8", (27, 27), "1", "the best database match's lattice (the lookup baseline)"),
    Field("match/offsets", "float64", (27, 3), "natural coordinate", "its offsets"),
    Field("match/curve_fe", "float64", ("P",), _U, "its FE curve (from the stress-strain database)"),
    Field("match/curve_pred", "float64", ("P",), _U, "the predictor's curve of it"),
    Field("control/adjacency", "uint8", (27, 27), "1", "the control: the database match after the same FE refinement"),
    Field("control/offsets", "float64", (27, 3), "natural coordinate", "its offsets"),
    Field("control/curve_fe", "float64", ("P",), _U, "its FE curve (NaN: no control)"),
    Field("control/nrmse_fe", "float64", (1,), "1", "its NRMSE to the target"),
    Field("control/start_nrmse_fe", "float64", (1,), "1", "the match's NRMSE by the same solver, before refinement"),
    Field("search/nrmse", "float64", ("N", "T"), "1", "predicted NRMSE along each latent run (NaN after it stopped)"),
    Field("search/z", "float32", ("N", "T", "D"), "1", "latent vector along each run"),
    Field("search/best_step", "int64", ("N",), "step", "step of each run's best point (the decoded one)"),
    Field("search/steps", "int64", ("N",), "step", "steps each run took"),
), "inverse design to a target stress-strain curve, every result verified by nonlinear FE (root attribute "
   "'best': the reported row)"))
