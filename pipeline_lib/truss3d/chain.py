"""truss3d through the chain protocol (pipeline_lib.chain): octant lattices (adjacency, offsets),
the graph VAE + predictor, octant-symmetric Timoshenko-beam homogenization at the database's
relative density; properties the nine orthotropic components C11 .. C66 in units of E_s."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from pipeline_lib.chain import Chain, Samples, register
from pipeline_lib.elasticity import ORTHOTROPIC


@register
class Truss3D(Chain):
    name = "truss3d"
    geometry = ("adjacency", "offsets")
    properties = ORTHOTROPIC
    units = ("E_s",) * len(ORTHOTROPIC)
    property_datasets = ("C9",)

    def homogenize(self, samples: Samples) -> np.ndarray:
        """C9 at the database's relative density, material, beam theory and density measure; a
        lattice that breaks a rule is a ValueError naming it (screen first)."""
        from pipeline_lib.elasticity import orthotropic_components
        from pipeline_lib.truss3d.homogenization import checked_frames, homogenize_frames

        frames = checked_frames(samples["adjacency"], samples["offsets"])
        if not frames:
            return np.zeros((0, len(ORTHOTROPIC)))
        c, m = self.config, self.config["material"]
        C, _ = homogenize_frames(frames, relative_density=c["relative_density"], E=m["E"], nu=m["nu"],
                                 beam=c["beam"], density=c["density"], batch_size=c["homogenize"]["batch_size"])
        return orthotropic_components(C)

    def screen(self, samples: Samples) -> np.ndarray:
        """The database's rules: ``pipeline_lib.truss3d.frame.database_problems`` finds nothing
        (the physical problems homogenization refuses, and no dangling node)."""
        from pipeline_lib.truss3d.frame import is_valid

        return np.array([is_valid(a, x) for a, x in zip(samples["adjacency"], samples["offsets"])], dtype=bool)

    def screen_homogenize(self, samples: Samples) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`screen` and :meth:`homogenize` with one frame per lattice (the design search
        scores thousands of neighbours): C9 (N, 9) NaN where not valid, valid (N,) -- False too
        for a mechanism the solver refuses -- and the strut radius (N,) as a fraction of the cell
        side (NaN where not valid)."""
        from pipeline_lib.elasticity import orthotropic_components
        from pipeline_lib.latent.verify import by_halves
        from pipeline_lib.truss3d.frame import build_frame, database_problems
        from pipeline_lib.truss3d.homogenization import homogenize_frames

        A, X = np.asarray(samples["adjacency"]).astype(bool), np.asarray(samples["offsets"], float)
        n = len(A)
        frames = [None] * n
        for i in range(n):
            if (A[i] == A[i].T).all() and np.isfinite(X[i]).all():
                f = build_frame(A[i], X[i])
                frames[i] = None if database_problems(A[i], X[i], f) else f
        P, radius = np.full((n, len(ORTHOTROPIC)), np.nan), np.full(n, np.nan)
        c, m = self.config, self.config["material"]

        def solve(idx):
            C, r = homogenize_frames([frames[i] for i in idx], relative_density=c["relative_density"], E=m["E"],
                                     nu=m["nu"], beam=c["beam"], density=c["density"],
                                     batch_size=c["homogenize"]["batch_size"])
            P[idx], radius[idx] = orthotropic_components(C), r / 2.0

        by_halves(solve, np.array([i for i in range(n) if frames[i] is not None], dtype=np.int64))
        return P, np.isfinite(P).all(1), radius

    def _tubes(self, samples: Samples) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """Full-cell nodes, beams and tube radius (cell side 2) at the database's relative density."""
        from pipeline_lib.truss3d.frame import build_frame, full_cell
        from pipeline_lib.truss3d.homogenization import strut_radii

        out = []
        for a, x in zip(samples["adjacency"], samples["offsets"]):
            f = build_frame(a, x)
            with np.errstate(divide="ignore"):
                r = float(strut_radii([f], self.config["relative_density"], self.config["density"])[0]) \
                    if len(f.beams) else np.inf
            out.append((*full_cell(f), r if np.isfinite(r) else 0.04))
        return out

    def render(self, samples: Samples, out: str | os.PathLike, *, titles: Sequence[str] | None = None,
               ncol: int | None = None, properties: np.ndarray | None = None) -> Path:
        from pipeline_lib.elasticity import from_orthotropic
        from pipeline_lib.viz.render3d import render_lattices, render_lattices_with_surfaces

        tubes = self._tubes(samples)
        if properties is not None:
            return render_lattices_with_surfaces(tubes, from_orthotropic(properties), out, titles=titles,
                                                 ncol=ncol or len(tubes))
        one = len(tubes) == 1
        return render_lattices(tubes, out, titles=titles, ncol=1 if one else (ncol or 4), window=640 if one else 320)

    def export(self, samples: Samples, out: str | os.PathLike) -> Path:
        """``.vtp``: beams as lines with a point field 'radius'; ``.stl``: closed tubes."""
        from pipeline_lib.viz.render3d import export_lattice

        return export_lattice(*self._tubes({k: v[:1] for k, v in samples.items()})[0], out)

    def database_properties(self, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.asarray(arrays["C9"])

    def quantities(self, P: np.ndarray) -> dict[str, np.ndarray]:
        """The nine components, directional moduli E1..E3, G23, G31, G12, Poisson's ratios nu_ij =
        -S_ij / S_ii (nu21 the paper's), Voigt K_V, G_V, K_V / G_V and the universal anisotropy
        A^U (paper 002, Eqs. 8-12); NaN for NaN rows."""
        from pipeline_lib import elasticity as el

        P = np.asarray(P, float)
        out = super().quantities(P)
        ok = np.isfinite(P).all(1)
        C = el.from_orthotropic(np.where(ok[:, None], P, 1.0))
        C[~ok] = np.eye(6)  # placeholders, set to NaN below
        derived = dict(el.engineering_constants(C))
        derived["K_V"], derived["G_V"] = el.voigt_moduli(C)
        derived["K_V/G_V"] = derived["K_V"] / derived["G_V"]
        derived["A^U"] = el.universal_anisotropy(C)
        for k, v in derived.items():
            out[k] = np.where(ok, v, np.nan)
        return out

    def latent_groups(self) -> dict[str, np.ndarray]:
        """Topology-only, shared and geometry-only dimensions (paper 002, Eq. 3)."""
        c = self._need_model().cfg
        t, s = c.topology, c.shared
        return {"topology": np.arange(t), "shared": np.arange(t, t + s), "geometry": np.arange(t + s, c.latent)}
