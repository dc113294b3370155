"""Bilinear 4-node quadrilateral (Q4) on a unit square pixel.

Element node order is counter-clockwise from the bottom-left corner, with y pointing up:
BL, BR, TR, TL; DOFs are interleaved (u_x, u_y) per node.  Strains are in Voigt order
(xx, yy, xy) with engineering shear strain, so D is the 3x3 matrix with sigma = D eps.
"""
from __future__ import annotations

import numpy as np

PLANES = ("stress", "strain")

# Natural coordinates of the element nodes, in element node order.
_XI = np.array([-1.0, 1.0, 1.0, -1.0])
_ETA = np.array([-1.0, -1.0, 1.0, 1.0])


def elasticity_matrix(E: float, nu: float, plane: str = "stress") -> np.ndarray:
    """Isotropic 2D elasticity matrix in Voigt order (xx, yy, xy), engineering shear."""
    if plane not in PLANES:
        raise ValueError(f"plane must be one of {PLANES}, got {plane!r}")
    if not E > 0:
        raise ValueError(f"Young's modulus must be positive, got {E}")
    if plane == "stress":
        if not -1.0 < nu < 1.0:
            raise ValueError(f"plane-stress Poisson's ratio must lie in (-1, 1), got {nu}")
        c = E / (1.0 - nu * nu)
        return c * np.array([[1.0, nu, 0.0], [nu, 1.0, 0.0], [0.0, 0.0, (1.0 - nu) / 2.0]])
    if not -1.0 < nu < 0.5:
        raise ValueError(f"plane-strain Poisson's ratio must lie in (-1, 0.5), got {nu}")
    c = E / ((1.0 + nu) * (1.0 - 2.0 * nu))
    return c * np.array([[1.0 - nu, nu, 0.0], [nu, 1.0 - nu, 0.0], [0.0, 0.0, (1.0 - 2.0 * nu) / 2.0]])


def strain_displacement(xi: float, eta: float) -> np.ndarray:
    """B matrix (3, 8) of the unit square element at natural coordinates (xi, eta)."""
    # d/dx = 2 d/dxi on a unit square (x = (1 + xi) / 2).
    dndx = 2.0 * 0.25 * _XI * (1.0 + _ETA * eta)
    dndy = 2.0 * 0.25 * _ETA * (1.0 + _XI * xi)
    B = np.zeros((3, 8))
    B[0, 0::2] = dndx
    B[1, 1::2] = dndy
    B[2, 0::2] = dndy
    B[2, 1::2] = dndx
    return B


def element_stiffness(D: np.ndarray) -> np.ndarray:
    """8x8 stiffness of a unit square Q4 element, exact 2x2 Gauss integration."""
    g = 1.0 / np.sqrt(3.0)
    Ke = np.zeros((8, 8))
    for xi in (-g, g):
        for eta in (-g, g):
            B = strain_displacement(xi, eta)
            Ke += B.T @ D @ B * 0.25  # weight 1 * det(J) = 1/4 on a unit square
    return Ke
