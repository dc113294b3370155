"""3D voxel metamaterial units: cubic-symmetric generation, hex8 homogenization with material
uncertainty."""

__all__ = ["homogenize"]


def __getattr__(name):  # the solver stack is imported only when asked for (PEP 562)
    if name == "homogenize":
        from pipeline_lib.voxel3d.homogenization import homogenize

        return homogenize
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
