"""3D two-node frame element (12 DOFs: u, v, w, theta_x, theta_y, theta_z at each end), batched.

Timoshenko beam with a circular cross-section: A = pi r^2, I_y = I_z = pi r^4 / 4, J = pi r^4 / 2,
shear correction factor kappa = 6 (1 + nu) / (7 + 6 nu) (Cowper 1966, solid circle), bending
shear parameter Phi = 12 E I / (kappa G A L^2); Euler-Bernoulli is Phi = 0.  The local stiffness is
the exact one for a prismatic beam with end loads (Przemieniecki), rotated to global axes.
"""
from __future__ import annotations

import torch

THEORIES = ("timoshenko", "euler-bernoulli")


def shear_coefficient(nu: float) -> float:
    return 6.0 * (1.0 + nu) / (7.0 + 6.0 * nu)


def local_axes(d: torch.Tensor) -> torch.Tensor:
    """Rotation matrices (..., 3, 3) whose rows are the local axes; row 0 along the beam d.

    The other two axes are arbitrary (a circular section has no preferred orientation); they are
    built from the global axis least aligned with the beam, so the construction is well posed."""
    e1 = d / d.norm(dim=-1, keepdim=True)
    helper = torch.zeros_like(e1)
    idx = e1.abs().argmin(dim=-1, keepdim=True)
    helper.scatter_(-1, idx, 1.0)
    e2 = torch.linalg.cross(e1, helper)
    e2 = e2 / e2.norm(dim=-1, keepdim=True)
    e3 = torch.linalg.cross(e1, e2)
    return torch.stack([e1, e2, e3], dim=-2)


def local_stiffness(L: torch.Tensor, r: torch.Tensor, E: float, nu: float, theory: str) -> torch.Tensor:
    """Local 12 x 12 stiffness for beams of lengths L (...) and radii r (...)."""
    if theory not in THEORIES:
        raise ValueError(f"beam must be one of {THEORIES}, got {theory!r}")
    G = E / (2.0 * (1.0 + nu))
    A = torch.pi * r**2
    I = torch.pi * r**4 / 4.0
    J = 2.0 * I
    if theory == "timoshenko":
        phi = 12.0 * E * I / (shear_coefficient(nu) * G * A * L**2)
    else:
        phi = torch.zeros_like(L)
    K = L.new_zeros(L.shape + (12, 12))
    ea = E * A / L
    gj = G * J / L
    b = E * I / ((1.0 + phi) * L**3)
    k12, k6 = 12.0 * b, 6.0 * b * L
    k4, k2 = (4.0 + phi) * b * L**2, (2.0 - phi) * b * L**2

    def put(i, j, v):
        K[..., i, j] = v
        if i != j:
            K[..., j, i] = v

    put(0, 0, ea), put(6, 6, ea), put(0, 6, -ea)
    put(3, 3, gj), put(9, 9, gj), put(3, 9, -gj)
    # bending in the local x-y plane: v (1, 7) and theta_z (5, 11)
    put(1, 1, k12), put(7, 7, k12), put(1, 7, -k12)
    put(1, 5, k6), put(1, 11, k6), put(5, 7, -k6), put(7, 11, -k6)
    put(5, 5, k4), put(11, 11, k4), put(5, 11, k2)
    # bending in the local x-z plane: w (2, 8) and theta_y (4, 10)
    put(2, 2, k12), put(8, 8, k12), put(2, 8, -k12)
    put(2, 4, -k6), put(2, 10, -k6), put(4, 8, k6), put(8, 10, k6)
    put(4, 4, k4), put(10, 10, k4), put(4, 10, k2)
    return K


def global_stiffness(d: torch.Tensor, r: torch.Tensor, E: float, nu: float, theory: str) -> torch.Tensor:
    """Global 12 x 12 stiffness of beams with end-to-end vectors d (..., 3) and radii r (...)."""
    L = d.norm(dim=-1)
    R = local_axes(d)
    T = torch.block_diag(*([torch.ones(3, 3, dtype=d.dtype, device=d.device)] * 4))
    T = T * R.repeat(*([1] * (R.dim() - 2)), 4, 4)  # blockdiag(R, R, R, R) per beam
    return T.mT @ local_stiffness(L, r, E, nu, theory) @ T
