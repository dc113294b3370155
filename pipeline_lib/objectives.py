"""Design objectives on an effective stiffness: named scalar quantities of C, each one function.

A target is ``max_<quantity>`` or ``min_<quantity>``: ``max_E22``, ``min_nu21``, ``max_KV_GV``.  A
quantity takes C in Voigt notation (..., 6, 6), numpy or torch, and returns (...,): written with
:mod:`pipeline_lib.elasticity`, the same function scores the FE result and, differentiably, the
predictor's C in the latent search.  Adding an objective is adding one decorated function here.

Conventions (paper 002): E_ii = 1 / S_ii (directional Young's modulus), nu_ij = -S_ij / S_ii
(nu21: strain along 1 over strain along 2 under stress along 2), K_V and G_V the Voigt averages
(Eqs. 11-12).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np

from pipeline_lib import elasticity as el

QUANTITIES: dict[str, Callable] = {}
# the two quantities a design's path is drawn in, over the database's scatter (paper 002, Fig. 5)
AXES: dict[str, tuple[str, str]] = {}


def quantity(name: str, axes: tuple[str, str]):
    """Register ``fn(C) -> (...,)`` as the quantity ``name``, drawn in the plane ``axes``."""
    def deco(fn):
        QUANTITIES[name] = fn
        AXES[name] = axes
        return fn
    return deco


def _engineering(C, key: str):
    return el.engineering_constants(C)[key]


def _register_engineering() -> None:
    """E11, E22, E33 (each drawn against the next axis' modulus) and the six nu_ij (against nu_ji)."""
    for i in (1, 2, 3):
        j = i % 3 + 1
        quantity(f"E{i}{i}", (f"E{j}{j}", f"E{i}{i}"))(partial(_engineering, key=f"E{i}"))
        for j in (1, 2, 3):
            if j != i:
                quantity(f"nu{i}{j}", (f"nu{j}{i}", f"nu{i}{j}"))(partial(_engineering, key=f"nu{i}{j}"))


_register_engineering()


@quantity("KV", ("GV", "KV"))
def bulk_voigt(C):
    return el.voigt_moduli(C)[0]


@quantity("GV", ("KV", "GV"))
def shear_voigt(C):
    return el.voigt_moduli(C)[1]


@quantity("KV_GV", ("GV", "KV"))
def bulk_over_shear(C):
    """K_V / G_V: near-pentamode (fluid-like) lattices have it large."""
    K, G = el.voigt_moduli(C)
    return K / G


@quantity("A_U", ("KV_GV", "A_U"))
def anisotropy(C):
    return el.universal_anisotropy(C)


def of_rows(name: str, C) -> np.ndarray:
    """Quantity ``name`` of stiffness rows (..., 6, 6) as numpy, NaN for rows holding NaN (a
    design that was not valid) or where the quantity is undefined (a singular C)."""
    C = np.asarray(C, float)
    ok = np.isfinite(C).all((-2, -1))
    with np.errstate(all="ignore"):
        v = np.asarray(QUANTITIES[name](np.where(ok[..., None, None], C, np.eye(6))), float)
    return np.where(ok & np.isfinite(v), v, np.nan)


@dataclass(frozen=True)
class Objective:
    """``sense`` (+1: maximize, -1: minimize) of a quantity of C."""

    name: str
    quantity: str
    sense: int

    def value(self, C):
        """The quantity (...,), the number a report shows."""
        return QUANTITIES[self.quantity](C)

    def values(self, C) -> np.ndarray:
        """:meth:`value` of numpy rows, NaN where a row is NaN (see :func:`of_rows`)."""
        return of_rows(self.quantity, C)

    def loss(self, C):
        """What a minimizer minimizes: -value to maximize, value to minimize."""
        return -self.sense * self.value(C)

    def better(self, a, b) -> bool:
        """Value ``a`` improves on ``b``."""
        return self.sense * (a - b) > 0

    def improvement(self, new: float, old: float) -> float | None:
        """Gain over ``old`` in percent of |old|, positive when ``new`` is better; None where
        ``old`` is zero (a percentage of nothing)."""
        if not abs(old) > 1e-12:
            return None
        return 100.0 * self.sense * (new - old) / abs(old)

    @property
    def axes(self) -> tuple[str, str]:
        return AXES[self.quantity]


def parse(name: str) -> Objective:
    """``max_<quantity>`` or ``min_<quantity>``; an unknown one is a ValueError listing the known."""
    sense, _, q = name.partition("_")
    if sense not in ("max", "min") or q not in QUANTITIES:
        raise ValueError(f"design target {name!r} is not max_<quantity> or min_<quantity> with a known quantity; "
                         f"quantities: {', '.join(QUANTITIES)}")
    return Objective(name, q, 1 if sense == "max" else -1)
