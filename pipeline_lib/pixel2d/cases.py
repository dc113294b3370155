"""Design cases of the pixel2d multiscale design, as config data: an H x W block of unit cells, the
prescribed displacements and the tracked displacements with their targets.

A case (``pixel2d.design.cases.<name>``)::

    rows: 4                      # H cells from top to bottom
    cols: 30                     # W cells from left to right
    space: database              # or family: what stage 1 may choose from
    fixed:                       # prescribed displacements, on every node where `where` holds
      - {where: "x == 0", ux: 0, uy: 0}
      - {where: "x == W", ux: -0.3, uy: 0}
    track:                       # tracked displacement components and their targets
      - {where: "y == H", component: uy, target: "0.1 * (1 - cos(2 * pi * x / W)) / 2"}

Coordinates are in cell sides: x = 0..W from the left, y = 0..H from the bottom.  ``where`` and
the values are numpy expressions of x, y, W and H (a number is a constant).  Prescribed
displacements apply to every node of the mesh at hand (macro nodes at the cell corners, fine nodes
every pixel); tracked ones are the macro nodes, so the macro and the fine-scale RRMSE compare the
same points.  A tracked DOF that is also prescribed is dropped: it does not depend on the design.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline_lib.pixel2d.macro import MacroProblem

_NAMES = {k: getattr(np, k) for k in ("sin", "cos", "tan", "exp", "log", "sqrt", "abs", "pi", "where",
                                      "minimum", "maximum", "clip", "logical_and", "logical_or", "isclose")}
COMPONENTS = {"ux": 0, "uy": 1}


def evaluate(expr, x: np.ndarray, y: np.ndarray, H: int, W: int, what: str) -> np.ndarray:
    """A number or a numpy expression of x, y, W, H, broadcast to x's shape."""
    if isinstance(expr, (int, float)) and not isinstance(expr, bool):
        return np.full(np.shape(x), float(expr))
    if not isinstance(expr, str):
        raise ValueError(f"{what}: expected a number or an expression string, got {expr!r}")
    try:
        out = eval(compile(expr, what, "eval"), {"__builtins__": {}}, dict(_NAMES, x=x, y=y, W=W, H=H))
    except Exception as exc:  # a user's expression: any failure is a config error, named
        raise ValueError(f"{what}: cannot evaluate {expr!r}: {exc}") from None
    return np.broadcast_to(np.asarray(out), np.shape(x))


@dataclass
class Case:
    name: str
    rows: int
    cols: int
    space: str = "database"
    fixed: list = field(default_factory=list)
    track: list = field(default_factory=list)
    family: int = -1

    def __post_init__(self):
        if self.rows < 1 or self.cols < 1:
            raise ValueError(f"case {self.name}: rows and cols must be positive, got {self.rows} x {self.cols}")
        if self.space not in ("database", "family"):
            raise ValueError(f"case {self.name}: space must be 'database' or 'family', got {self.space!r}")
        if not self.fixed or not self.track:
            raise ValueError(f"case {self.name}: needs prescribed ('fixed') and tracked ('track') displacements")

    @classmethod
    def from_config(cls, name: str, cfg: dict) -> Case:
        return cls(name=name, **cfg)

    def _nodes(self, n: int):
        """Node coordinates of the mesh with n pixels per cell side, i from the top, j from the left."""
        i, j = np.meshgrid(np.arange(self.rows * n + 1), np.arange(self.cols * n + 1), indexing="ij")
        return i.ravel(), j.ravel(), j.ravel() / n, (self.rows * n - i.ravel()) / n

    def prescribed(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(fixed DOFs, values) on the mesh of n pixels per cell (n = 1: the macro mesh); DOF
        2 (i (n W + 1) + j) + c.  A DOF named twice keeps its last value."""
        i, j, x, y = self._nodes(n)
        dofs, vals = [], []
        for k, spec in enumerate(self.fixed):
            what = f"case {self.name}: fixed[{k}]"
            unknown = set(spec) - {"where", "ux", "uy"}
            if unknown or "where" not in spec:
                raise ValueError(f"{what}: needs 'where' and any of ux, uy; unknown keys {sorted(unknown)}")
            on = np.asarray(evaluate(spec["where"], x, y, self.rows, self.cols, what), bool)
            if not on.any():
                raise ValueError(f"{what}: 'where: {spec['where']}' selects no node")
            for comp, c in COMPONENTS.items():
                if comp in spec:
                    dofs.append(2 * (i[on] * (self.cols * n + 1) + j[on]) + c)
                    vals.append(evaluate(spec[comp], x, y, self.rows, self.cols, what)[on].astype(float))
        d, v = np.concatenate(dofs)[::-1], np.concatenate(vals)[::-1]
        d, last = np.unique(d, return_index=True)  # the first in reverse order: the last named
        return d.astype(np.int64), v[last]

    def tracked(self, n: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(DOFs on the mesh of n pixels per cell, targets, macro DOFs) of the tracked macro nodes,
        less those prescribed."""
        i, j, x, y = self._nodes(1)
        fixed = self.prescribed(1)[0]
        macro, target = [], []
        for k, spec in enumerate(self.track):
            what = f"case {self.name}: track[{k}]"
            if set(spec) != {"where", "component", "target"} or spec["component"] not in COMPONENTS:
                raise ValueError(f"{what}: needs exactly where, component (ux or uy) and target")
            on = np.flatnonzero(np.asarray(evaluate(spec["where"], x, y, self.rows, self.cols, what), bool))
            t = evaluate(spec["target"], x, y, self.rows, self.cols, what)
            dof = 2 * (i[on] * (self.cols + 1) + j[on]) + COMPONENTS[spec["component"]]
            keep = ~np.isin(dof, fixed)
            macro.append(dof[keep])
            target.append(t[on][keep])
        macro_dofs, target = np.concatenate(macro), np.concatenate(target)
        if len(macro_dofs) == 0:
            raise ValueError(f"case {self.name}: no tracked DOF is left free")
        node, c = np.divmod(macro_dofs, 2)
        ii, jj = np.divmod(node, self.cols + 1)
        fine = 2 * (n * ii * (self.cols * n + 1) + n * jj) + c
        return fine, target, macro_dofs

    def macro_problem(self) -> MacroProblem:
        fixed, values = self.prescribed(1)
        _, target, dofs = self.tracked(1)
        return MacroProblem(self.rows, self.cols, fixed, values, dofs, target)
