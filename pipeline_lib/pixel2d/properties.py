"""The property columns of the pixel2d chain: C11, C12, C22, C33 of an orthotropic cell's stiffness
(Voigt xx, yy, xy; C13 = C23 = 0 by mirror symmetry), in units of the solid's E.  What SIMP
targets, what the perturbation scores, what the regressor predicts."""
from __future__ import annotations

import numpy as np

PROPERTIES = ("C11", "C12", "C22", "C33")
INDEX = ((0, 0), (0, 1), (1, 1), (2, 2))  # entries of the (3, 3) stiffness, in PROPERTIES order


def properties(C: np.ndarray) -> np.ndarray:
    """(..., 4) = C11, C12, C22, C33 of (..., 3, 3) stiffnesses."""
    C = np.asarray(C)
    return np.stack([C[..., i, j] for i, j in INDEX], axis=-1)
