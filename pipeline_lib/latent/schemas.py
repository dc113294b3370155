"""Artifact kinds of the latent analyses, the same for every chain: one row per decoded (or database)
design with its latent vector, its geometry as the database stores it, whether it passed the
database's rules, its FE properties (NaN where it did not) and the predictor's beside them, and
where it sits in the analysis (group: the path, arrow, family or target; step: its position;
row: its database row, -1 when decoded).  Each chain registers them with its own geometry fields
(pipeline_lib.<chain>.schemas); kinds with more to say add fields."""
from __future__ import annotations

from typing import Sequence

from pipeline_lib.artifacts import Field, Schema, register

ANALYSES = {
    "traversal": ("latent axes moved one at a time from a test design (group: axis, step: offset)", ()),
    "arrows": ("walks along semantic arrows from database designs (group: arrow * paths + path, step: k)", (
        Field("arrow", "float64", ("A", "D"), "1", "unit latent direction of each arrow (attribute 'arrows' names them)"),)),
    "candidate_sets": ("diverse (latent-clustered) and greedy candidate sets of database designs per target "
                       "(group: target, step: rank in its set)", (
        Field("target", "float64", ("T", "P"), "properties", "target property vector of each group"),
        Field("set", "int8", ("N",), "code", "0: clustered (diverse) set, 1: greedy nearest set"),)),
    "families": ("graded families: database members along a property curve and designs decoded between "
                 "and beyond them (group: family, step: position along the family)", (
        Field("interpolated", "bool", ("N",), "1", "decoded from an interpolated/extrapolated latent vector"),
        Field("curve_distance", "float64", ("N",), "1", "FE distance to the target curve, normalized property space"),
        Field("c11_range", "float64", ("F", 2), "E", "C11 range each family's members cover"),)),
    "slerp": ("spherical interpolation between pairs of database designs (group: pair, step: t in [0, 1])", (
        Field("endpoints", "int64", ("S", 2), "row", "database rows of each pair's two ends"),)),
    "samples": ("decoded random latent vectors z ~ N(0, I) (group 0, step: sample number)", ()),
}


def register_latent_schemas(chain: str, geometry: Sequence[Field], property_units: str) -> dict[str, Schema]:
    """Register ``<chain>/<analysis>`` for every analysis, with the chain's geometry fields."""
    common = (
        Field("z", "float64", ("N", "D"), "1", "latent vector decoded (0 columns when the design came from geometry)"),
        *geometry,
        Field("valid", "bool", ("N",), "1", "passed the database's rules and the FE solve"),
        Field("fe", "float64", ("N", "P"), property_units,
              "properties by the chain's FE solver on the stored geometry (NaN where not valid); columns: attribute 'properties'"),
        Field("predicted", "float64", ("N", "P"), property_units, "the model's predictor at z, beside the FE value"),
        Field("predicted_std", "float64", ("N", "P"), property_units, "the predictor's standard deviation (MDN)",
              optional=True),
        Field("group", "int64", ("N",), "id", "path, arrow, family or target the row belongs to"),
        Field("step", "float64", ("N",), "1", "position of the row in its group"),
        Field("row", "int64", ("N",), "row", "database row of the design (-1: decoded)"),
    )
    return {name: register(Schema(f"{chain}/{name}", 1, common + extra, f"{chain} latent analysis: {text}"))
            for name, (text, extra) in ANALYSES.items()}
