"""2D pixel metamaterials: SIMP seeds, stochastic perturbation, periodic homogenization."""

__all__ = ["homogenize"]


def __getattr__(name):  # import torch only when the solver is asked for (PEP 562)
    if name == "homogenize":
        from pipeline_lib.pixel2d.homogenization import homogenize

        return homogenize
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
