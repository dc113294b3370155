"""2D pixel metamaterials: SIMP seeds, stochastic perturbation, periodic homogenization."""
from pipeline_lib.pixel2d.homogenize import homogenize

__all__ = ["homogenize"]
