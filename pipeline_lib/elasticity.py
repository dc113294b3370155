"""Derived elastic properties of 3D stiffness matrices (shared by truss3d and voxel3d).

All functions take C in Voigt notation, shape (..., 6, 6), order (11, 22, 33, 23, 31, 12) with
engineering shear strains (so C44 = C_2323 and S44 = 4 S_2323), and broadcast over leading axes.
Formulas follow paper 002 (Zheng et al. 2023), Eqs. 7-12, and Hill (1952).  The moduli, ratios and
:func:`from_orthotropic` accept torch tensors as well as numpy arrays (and stay differentiable), so a
design objective written with them serves both the FE check and the autograd search.
"""
from __future__ import annotations

import numpy as np

# The nine components of an orthotropic stiffness, in the order of the authors' released data.
ORTHOTROPIC = ("C11", "C12", "C13", "C22", "C23", "C33", "C44", "C55", "C66")
_ORTHO_IDX = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2), (3, 3), (4, 4), (5, 5))
VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (2, 0), (0, 1))  # tensor indices of the Voigt columns


def unit_strain(col: int) -> np.ndarray:
    """Strain tensor (3, 3) of the unit engineering strain in Voigt column ``col`` (11, 22, 33,
    23, 31, 12): a shear column puts 1/2 in both off-diagonal entries."""
    e = np.zeros((3, 3))
    i, j = VOIGT[col]
    e[i, j] = e[j, i] = 1.0 if i == j else 0.5
    return e


def orthotropic_components(C: np.ndarray) -> np.ndarray:
    """(..., 9) = C11, C12, C13, C22, C23, C33, C44, C55, C66."""
    return np.stack([C[..., i, j] for i, j in _ORTHO_IDX], axis=-1)


def _is_tensor(x) -> bool:
    return type(x).__module__.startswith("torch")


def from_orthotropic(c9):
    """(..., 6, 6) symmetric stiffness from (..., 9) orthotropic components (numpy or torch)."""
    I, J = np.array(_ORTHO_IDX).T
    if _is_tensor(c9):
        C = c9.new_zeros(c9.shape[:-1] + (6, 6))
    else:
        c9 = np.asarray(c9, dtype=float)
        C = np.zeros(c9.shape[:-1] + (6, 6))
    C[..., I, J] = c9
    C[..., J, I] = c9
    return C


def isotropic(E: float, nu: float) -> np.ndarray:
    """Isotropic stiffness in Voigt notation (engineering shear)."""
    lam = E * nu / ((1 + nu) * (1 - 2 * nu))
    mu = E / (2 * (1 + nu))
    C = np.zeros((6, 6))
    C[:3, :3] = lam
    C[np.arange(3), np.arange(3)] += 2 * mu
    C[np.arange(3, 6), np.arange(3, 6)] = mu
    return C


def compliance(C):
    """S = C^-1 (numpy or torch)."""
    if _is_tensor(C):
        import torch

        return torch.linalg.inv(C)
    return np.linalg.inv(C)


def engineering_constants(C: np.ndarray) -> dict[str, np.ndarray]:
    """Young's moduli E1..E3, shear moduli G23, G31, G12 and Poisson's ratios nu_ij = -S_ij / S_ii
    (strain in j over strain in i under uniaxial stress along i), from the compliance."""
    S = compliance(C)
    out = {f"E{i + 1}": 1.0 / S[..., i, i] for i in range(3)}
    out.update({"G23": 1.0 / S[..., 3, 3], "G31": 1.0 / S[..., 4, 4], "G12": 1.0 / S[..., 5, 5]})
    for i in range(3):
        for j in range(3):
            if i != j:
                out[f"nu{i + 1}{j + 1}"] = -S[..., i, j] / S[..., i, i]
    return out


def voigt_moduli(C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Voigt bulk and shear moduli K_V, G_V (Eqs. 11-12)."""
    a = C[..., 0, 0] + C[..., 1, 1] + C[..., 2, 2]
    b = C[..., 0, 1] + C[..., 0, 2] + C[..., 1, 2]
    c = C[..., 3, 3] + C[..., 4, 4] + C[..., 5, 5]
    return (a + 2 * b) / 9.0, (a - b + 3 * c) / 15.0


def reuss_moduli(C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reuss bulk and shear moduli K_R, G_R (Eqs. 9-10, with Voigt S44 = 4 S_2323).  K_R =
    1 / (a + 2 b) is the reciprocal of the sum of the normal block of S: the bulk modulus under
    hydrostatic stress."""
    S = compliance(C)
    a = S[..., 0, 0] + S[..., 1, 1] + S[..., 2, 2]
    b = S[..., 0, 1] + S[..., 0, 2] + S[..., 1, 2]
    c = S[..., 3, 3] + S[..., 4, 4] + S[..., 5, 5]
    return 1.0 / S[..., :3, :3].sum(axis=(-2, -1)), 15.0 / (4 * a - 4 * b + 3 * c)


def universal_anisotropy(C: np.ndarray) -> np.ndarray:
    """A^U = 5 G_V / G_R + K_V / K_R - 6 (Eq. 8); zero exactly for isotropic C."""
    KV, GV = voigt_moduli(C)
    KR, GR = reuss_moduli(C)
    return 5 * GV / GR + KV / KR - 6


def tensor_from_voigt_compliance(S: np.ndarray) -> np.ndarray:
    """Fourth-order compliance S_ijkl (..., 3, 3, 3, 3) from Voigt S (engineering shear)."""
    idx = np.array([[0, 5, 4], [5, 1, 3], [4, 3, 2]])
    factor = np.where(np.arange(6) < 3, 1.0, 0.5)
    T = S[..., idx[:, :, None, None], idx[None, None, :, :]]
    f = factor[idx][:, :, None, None] * factor[idx][None, None, :, :]
    return T * f


def directional_young(C: np.ndarray, d: np.ndarray) -> np.ndarray:
    """E(d) = 1 / (S_ijkl d_i d_j d_k d_l) (Eq. 7) for unit directions d (M, 3); C (..., 6, 6).
    Returns (..., M)."""
    d = np.asarray(d, dtype=float)
    d = d / np.linalg.norm(d, axis=-1, keepdims=True)
    S4 = tensor_from_voigt_compliance(compliance(C))
    return 1.0 / np.einsum("...ijkl,mi,mj,mk,ml->...m", S4, d, d, d, d)


def sphere_directions(n_theta: int = 60, n_phi: int = 120) -> tuple[np.ndarray, tuple[int, int]]:
    """Unit directions on a latitude-longitude grid (for elastic-surface pictures)."""
    theta = np.linspace(0, np.pi, n_theta)
    phi = np.linspace(0, 2 * np.pi, n_phi)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    d = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], axis=-1)
    return d.reshape(-1, 3), (n_theta, n_phi)


def hashin_shtrikman_bulk(f, E_s: float, nu_s: float):
    """Hashin-Shtrikman upper bound of the bulk modulus of a porous isotropic solid at solid
    fraction ``f``: K_HS = 4 f K_s G_s / (4 G_s + 3 (1 - f) K_s) (void phase with zero stiffness)."""
    K_s = E_s / (3 * (1 - 2 * nu_s))
    G_s = E_s / (2 * (1 + nu_s))
    f = np.asarray(f, float)
    return 4 * f * K_s * G_s / (4 * G_s + 3 * (1 - f) * K_s)
