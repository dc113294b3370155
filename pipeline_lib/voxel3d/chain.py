"""voxel3d through the chain protocol (pipeline_lib.chain): 48^3 cubic units, the 3D VAE + MDN
(which predicts a standard deviation), hex8 homogenization; properties E [MPa], nu, G [MPa]."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from pipeline_lib.chain import Chain, Samples, register
from pipeline_lib.voxel3d.homogenization import PROPERTIES, property_columns


@register
class Voxel3D(Chain):
    name = "voxel3d"
    geometry = ("cells",)
    properties = PROPERTIES
    units = ("MPa", "1", "MPa")
    property_datasets = PROPERTIES

    def homogenize(self, samples: Samples) -> np.ndarray:
        """E, nu, G with the database's nominal material (the means of its E_s, nu_s draws): the
        deterministic FE value a design is judged by; the database itself draws per cell."""
        from pipeline_lib.voxel3d.homogenization import effective_properties, homogenize_cells

        m = self.config["material"]
        cells = samples["cells"]
        if len(cells) == 0:
            return np.zeros((0, len(PROPERTIES)))
        props = effective_properties(homogenize_cells(cells, E=m["E_mean"], nu=m["nu_mean"]).reshape(-1, 6, 6))
        return property_columns(props)

    def screen(self, samples: Samples) -> np.ndarray:
        """The database's rule: volume fraction in the window, cubic, one connected solid, no
        floating voxels (pipeline_lib.voxel3d.screening)."""
        from pipeline_lib.voxel3d.screening import screen

        return screen(samples["cells"], tuple(self.config["volume_fraction"]))[0]

    def volume_fraction(self, samples: Samples) -> np.ndarray:
        cells = np.asarray(samples["cells"])
        return cells.reshape(len(cells), -1).mean(1, dtype=np.float64)

    def render(self, samples: Samples, out: str | os.PathLike, *, titles: Sequence[str] | None = None,
               ncol: int | None = None, properties: np.ndarray | None = None) -> Path:
        from pipeline_lib.viz.render3d import render_voxels

        one = len(samples["cells"]) == 1
        return render_voxels(samples["cells"], out, titles=titles, ncol=1 if one else (ncol or 4),
                             window=640 if one else 320)

    def export(self, samples: Samples, out: str | os.PathLike) -> Path:
        """``.stl``: the closed marching-cubes surface; ``.vti`` / ``.vtu``: the voxels, for ParaView."""
        from pipeline_lib.viz.render3d import export_voxels

        return export_voxels(samples["cells"][0], out)

    def database_properties(self, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        return property_columns(arrays)

    def quantities(self, P: np.ndarray) -> dict[str, np.ndarray]:
        """E, nu, G and the bulk modulus K = E / (3 (1 - 2 nu)) of a cubic unit."""
        out = super().quantities(P)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["K"] = out["E"] / (3 * (1 - 2 * out["nu"]))
        return out
