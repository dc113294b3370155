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

# uncertainty quantification and robust design (paper 004, sections 2.2 and 4.2): pipeline_lib.voxel3d.robust.
# Quantities Q are E [MPa], nu [1], G [MPa], K [MPa] (attribute 'quantities'); standard deviations, not variances.
UQ = register(Schema("voxel3d/uq", 1, (
    Field("rows", "int64", ("N",), "row", "database rows checked (validation, then test)"),
    Field("split", "int8", ("N",), "code", "1 validation (fits the temperature), 2 test (reports coverage)"),
    Field("truth", "float64", ("N", "Q"), "MPa / 1", "the database's FE value of each quantity (its own material draw)"),
    Field("mean", "float64", ("N", "Q"), "MPa / 1", "predicted mean (Eq. 6) at the unit's latent mean"),
    Field("aleatoric", "float64", ("N", "Q"), "MPa / 1", "predicted aleatoric standard deviation (Eq. 7), uncalibrated"),
    Field("epistemic", "float64", ("N", "Q"), "MPa / 1", "predicted epistemic standard deviation (Eq. 8)"),
    Field("aleatoric_calibrated", "float64", ("N", "Q"), "MPa / 1", "aleatoric standard deviation with the temperature"),
    Field("temperature", "float64", ("P",), "1", "factor on the predictor's standard deviation of E, nu, G, fitted on validation"),
    Field("convergence_samples", "int64", ("S",), "1", "latent draws M of the convergence study (Appendix B)"),
    Field("convergence_rows", "int64", ("U",), "row", "database rows of the convergence study"),
    Field("convergence_total", "float64", ("U", "S", "R", "Q"), "MPa / 1",
          "total standard deviation for each unit, M and repeat (independent draws)"),
    Field("convergence_mean", "float64", ("U", "S", "R", "Q"), "MPa / 1", "predicted mean, likewise"),
    Field("spread_rows", "int64", ("A",), "row", "database rows of data/voxel3d/aleatoric.h5 (repeated FE with material draws)"),
    Field("spread_fe", "float64", ("A", "Q"), "MPa / 1", "FE standard deviation over the independent material draws"),
    Field("spread_predicted", "float64", ("A", "Q"), "MPa / 1", "predicted aleatoric standard deviation, uncalibrated"),
    Field("spread_calibrated", "float64", ("A", "Q"), "MPa / 1", "predicted aleatoric standard deviation, calibrated"),
), "uncertainty of the VAE + MDN's predictions (Eqs. 6-9): calibration against FE truth and the convergence in M"))

_DESIGN_ROWS = (
    Field("case", "int8", ("N",), "code", "1: bulk modulus (Eq. 18 / 20 with K), 2: E and nu together (Eq. 19 / 20)"),
    Field("z", "float32", ("N", "d"), "1", "latent vector of the design"),
    Field("cells", "uint8", ("N", "n", "n", "n"), "1", "the decoded unit (1 = solid), what FE verified"),
    Field("volume_fraction", "float64", ("N",), "1", "solid fraction of the decoded unit"),
    Field("valid", "bool", ("N",), "1", "the unit passes the database's screening (connected, cubic, in the window)"),
    Field("lam", "float64", ("N",), "1", "weight of the standard deviation in the objective (0: deterministic)"),
    Field("predicted", "float64", ("N", "Q"), "MPa / 1", "mean of E, nu, G, K by the predictor that drove the search "
          "(robust: Eq. 6 of the MDN; deterministic: the feed-forward regressor at z)"),
    Field("uq_mean", "float64", ("N", "Q"), "MPa / 1", "the uncertainty-aware model's mean at the design (Eq. 6)"),
    Field("predicted_aleatoric", "float64", ("N", "Q"), "MPa / 1", "the uncertainty-aware model's aleatoric standard "
          "deviation at the design (Eq. 7; for deterministic designs: how the robust formulation sees them)"),
    Field("predicted_epistemic", "float64", ("N", "Q"), "MPa / 1", "its epistemic standard deviation (Eq. 8)"),
    Field("fe", "float64", ("N", "Q"), "MPa / 1", "FE with the nominal material (root attributes E_s, nu_s)"),
    Field("fe_sampled", "float64", ("N", "D", "Q"), "MPa / 1", "FE with independent material draws (E_s_draws, nu_s_draws)"),
    Field("E_s_draws", "float64", ("N", "D"), "MPa", "solid Young's modulus of each sampled FE"),
    Field("nu_s_draws", "float64", ("N", "D"), "1", "solid Poisson's ratio of each sampled FE"),
)
BULK = register(Schema("voxel3d/bulk", 1, (
    Field("lam", "float64", ("L",), "1", "lambda of each row: maximize mu_K - lambda sigma_K"),
    Field("z", "float32", ("L", "d"), "1", "latent vector of each lambda's optimum"),
    Field("cells", "uint8", ("L", "n", "n", "n"), "1", "the decoded unit (1 = solid), what FE verified"),
    Field("volume_fraction", "float64", ("L",), "1", "solid fraction of the decoded unit"),
    Field("valid", "bool", ("L",), "1", "the unit passes the database's screening"),
    Field("K_pred_mean", "float64", ("L",), "MPa", "predicted mean bulk modulus (Eq. 6)"),
    Field("K_pred_aleatoric", "float64", ("L",), "MPa", "predicted aleatoric standard deviation of K (Eq. 7)"),
    Field("K_pred_epistemic", "float64", ("L",), "MPa", "predicted epistemic standard deviation of K (Eq. 8)"),
    Field("K_fe", "float64", ("L",), "MPa", "FE bulk modulus with the nominal material (attributes E_s, nu_s)"),
    Field("K_hs", "float64", ("L",), "MPa", "Hashin-Shtrikman upper bound at the unit's volume fraction, nominal material"),
    Field("K_fe_sampled", "float64", ("L", "D"), "MPa", "FE bulk modulus with independent material draws"),
    Field("E_s_draws", "float64", ("L", "D"), "MPa", "solid Young's modulus of each sampled FE"),
    Field("nu_s_draws", "float64", ("L", "D"), "1", "solid Poisson's ratio of each sampled FE"),
    Field("predicted", "float64", ("L", "Q"), "MPa / 1", "predicted mean of E, nu, G, K"),
    Field("fe", "float64", ("L", "Q"), "MPa / 1", "FE E, nu, G, K with the nominal material"),
    Field("baseline_kind", "int8", ("B",), "code", "0: best database unit in the baseline band; 1: best decoded "
          "reconstruction of a database unit in the band"),
    Field("baseline_row", "int64", ("B",), "row", "database row of the baseline unit"),
    Field("baseline_cells", "uint8", ("B", "n", "n", "n"), "1", "the baseline unit"),
    Field("baseline_volume_fraction", "float64", ("B",), "1", "its solid fraction"),
    Field("baseline_K_fe", "float64", ("B",), "MPa", "its FE bulk modulus, nominal material"),
    Field("baseline_K_hs", "float64", ("B",), "MPa", "Hashin-Shtrikman bound at its volume fraction"),
), "robust bulk-modulus design (paper 004 case 1, Eq. 18): one row per lambda at the root, each optimum "
   "FE-verified; root attributes E_s, nu_s (nominal material), best (row of the reported optimum), band"))
DESIGNS = register(Schema("voxel3d/designs", 1, _DESIGN_ROWS,
                          "robust or deterministic latent designs (paper 004 case 2, Eqs. 19-20, and Appendix D), "
                          "every row FE-verified with the nominal material and with material draws"))
