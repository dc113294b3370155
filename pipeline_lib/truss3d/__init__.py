"""3D beam lattices on a 27-node octant: elementary lattices, perturbation and superposition,
Timoshenko-beam periodic homogenization."""

__all__ = ["homogenize"]


def __getattr__(name):  # torch is imported only when the solver is asked for (PEP 562)
    if name == "homogenize":
        from pipeline_lib.truss3d.homogenization import homogenize

        return homogenize
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
