"""Trilinear 8-node hexahedron (hex8) on a unit-cube voxel.

Local node (a, b, c) in {0, 1}^3 sits at corner offset (a, b, c) and has index a + 2 b + 4 c (x
fastest); DOFs are interleaved (u_x, u_y, u_z) per node.  Voigt order (11, 22, 33, 23, 31, 12) with
engineering shear strains, matching pipeline_lib.elasticity.
"""
from __future__ import annotations

import numpy as np

from pipeline_lib.elasticity import isotropic

CORNERS = np.array([(a, b, c) for c in (0, 1) for b in (0, 1) for a in (0, 1)], dtype=float)  # (8, 3)


def strain_displacement(xi: np.ndarray) -> np.ndarray:
    """B (6, 24) at a point xi in [0, 1]^3 of the unit cube."""
    s = CORNERS * 2 - 1  # +-1
    f = (1 + s * (2 * xi - 1)) / 2  # (8, 3): 1D linear factors per node and axis
    d = s  # derivative of each 1D factor (d/dx of (1 + s (2x - 1)) / 2 = s)
    dN = np.stack([d[:, 0] * f[:, 1] * f[:, 2], f[:, 0] * d[:, 1] * f[:, 2], f[:, 0] * f[:, 1] * d[:, 2]], axis=1)
    B = np.zeros((6, 24))
    for a in range(3):
        B[a, a::3] = dN[:, a]
    B[3, 1::3], B[3, 2::3] = dN[:, 2], dN[:, 1]  # gamma_23 = du_y/dz + du_z/dy
    B[4, 0::3], B[4, 2::3] = dN[:, 2], dN[:, 0]  # gamma_31
    B[5, 0::3], B[5, 1::3] = dN[:, 1], dN[:, 0]  # gamma_12
    return B


def element_stiffness(E: float, nu: float) -> np.ndarray:
    """24 x 24 stiffness of a unit-cube hex8, exact 2 x 2 x 2 Gauss integration."""
    D = isotropic(E, nu)
    g = (1 - 1 / np.sqrt(3)) / 2, (1 + 1 / np.sqrt(3)) / 2
    Ke = np.zeros((24, 24))
    for x in g:
        for y in g:
            for z in g:
                B = strain_displacement(np.array([x, y, z]))
                Ke += B.T @ D @ B / 8.0
    return Ke


def mean_strain_operator() -> np.ndarray:
    """B at the element centre: maps element DOFs to the element's mean strain (exact for hex8)."""
    return strain_displacement(np.full(3, 0.5))
