"""pixel2d through the chain protocol (pipeline_lib.chain): 50x50 binary cells, the conv VAE +
regressor, periodic Q4 homogenization; properties C11, C12, C22, C33 in units of the solid's E."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from pipeline_lib import mirror
from pipeline_lib.chain import Chain, Samples, register
from pipeline_lib.pixel2d.defects import fix_defects
from pipeline_lib.pixel2d.properties import PROPERTIES, properties


@register
class Pixel2D(Chain):
    name = "pixel2d"
    geometry = ("cells",)
    properties = PROPERTIES
    units = ("E",) * len(PROPERTIES)
    property_datasets = ("C",)

    def homogenize(self, samples: Samples) -> np.ndarray:
        from pipeline_lib.pixel2d.homogenization import homogenize_cells

        m = self.config["material"]
        C = homogenize_cells(samples["cells"], E=m["E"], nu=m["nu"], plane=m["plane"], void=m["void"],
                             batch_size=self.config["homogenize"]["batch_size"])
        return properties(C)

    def volume_fraction(self, samples: Samples) -> np.ndarray:
        cells = np.asarray(samples["cells"])
        return cells.reshape(len(cells), -1).mean(1, dtype=np.float64)

    def screen(self, samples: Samples) -> np.ndarray:
        """The database's rule: binary and mirror-symmetric, and nothing for the defect fixer to do
        (no isolated pixel, no checkerboard, one load-bearing solid with nothing floating)."""
        cells = np.asarray(samples["cells"])
        binary = np.isin(cells, (0, 1)).all(axis=(1, 2))
        fixed, keep, _ = fix_defects(np.where(binary[:, None, None], cells, 0))
        unchanged = (fixed == cells).all(axis=(1, 2))
        return binary & keep & unchanged & mirror.is_mirror_symmetric(cells, 2)

    def render(self, samples: Samples, out: str | os.PathLike, *, titles: Sequence[str] | None = None,
               ncol: int | None = None, properties: np.ndarray | None = None) -> Path:
        from pipeline_lib.viz import plots
        from pipeline_lib.viz.cells import render_pixel_cell

        cells = samples["cells"]
        if len(cells) == 1:
            return render_pixel_cell(cells[0], out, title=titles[0] if titles else "")
        titles = titles if titles is not None else [f"#{i}" for i in range(len(cells))]
        return plots.image_gallery(cells, titles, out, ncol=ncol or 6)

    def export(self, samples: Samples, out: str | os.PathLike) -> Path:
        """``.csv``: the 0/1 matrix as stored (row 0 at the top); ``.stl``, ``.vti``, ``.vtu``: the
        cell extruded by one cell side (x along columns, y up), for CAD and ParaView."""
        from pipeline_lib import atomic
        from pipeline_lib.viz.render3d import export_voxels

        cell = np.asarray(samples["cells"][0])
        out = Path(out)
        if out.suffix.lower() == ".csv":
            with atomic.output(out) as tmp:
                np.savetxt(tmp, cell, fmt="%d", delimiter=",")
            return out
        return export_voxels(cell[::-1, :].T[:, :, None], out)  # v[x, y, 0], y = H - 1 - row

    def database_properties(self, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        return properties(np.asarray(arrays["C"]))

    def quantities(self, P: np.ndarray) -> dict[str, np.ndarray]:
        """C11, C12, C22, C33, the anisotropy C11/C22 and Poisson's ratio C12/C11 (paper 000, Fig. 8)."""
        out = super().quantities(P)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["C11/C22"] = out["C11"] / out["C22"]
            out["C12/C11"] = out["C12"] / out["C11"]
        return out
