"""Corotational 3D beam: exact large rotations, small strains, batched energy, forces and tangent.

Formulation (Crisfield 1990, "A consistent co-rotational formulation for non-linear,
three-dimensional, beam-elements", CMAME 81; the frame of Battini & Pacoste 2002, CMAME 191):
each beam carries a corotated frame R_r built from its current chord e1 = d / |d| and the mean of
its two end triads' images of the initial second axis; the end rotations relative to that frame,
theta_a = log(R_r^T R_a Q0) and theta_b (Q0: the beam's initial axes), and the stretch are the
seven deformational quantities, and the element's energy is 1/2 q^T K7 q with K7 the linear beam's
stiffness (pipeline_lib.fem.beam3d: Timoshenko or Euler-Bernoulli) on (u, theta_a, theta_b).  The
stretch includes the bowing of the bent beam, u = |d| - L0 + L0 sum (2 a^2 - a b + 2 b^2) / 30 over
the two bending planes (the local "shallow arch" strain of Crisfield 1991, Vol. 1, ch. 7): it
gives each element the consistent geometric stiffness, so a strut buckles at its Euler load within a
few per cent with one element (without it the chord rotation alone needs some 16 elements per
column for that).  Rotations are rotation matrices updated by the
exponential map, R <- exp(phi) R, so rotations of any size are exact.

Instead of the long hand-derived internal force vector and consistent tangent, the element energy is
written once in torch and differentiated: forces are its gradient and the tangent its Hessian with
respect to (d, phi_a, phi_b) at phi = 0, exact to round-off (the symmetric, consistent tangent
that Newton's method needs).
"""
from __future__ import annotations

import torch
from pipeline_lib.fem.beam3d import local_axes, local_stiffness

# deformational DOFs (u_b, theta_a, theta_b) inside the linear element's 12 (u, v, w, tx, ty, tz per end)
_LOCAL = [6, 3, 4, 5, 9, 10, 11]


def local_stiffness7(L: torch.Tensor, r: torch.Tensor, E: float, nu: float, theory: str) -> torch.Tensor:
    """(..., 7, 7) stiffness on (stretch, theta_a, theta_b) in the beam's local axes."""
    K = local_stiffness(L, r, E, nu, theory)
    return K[..., _LOCAL, :][..., :, _LOCAL]


def _skew(v: torch.Tensor) -> torch.Tensor:
    z = torch.zeros_like(v[..., 0])
    return torch.stack([torch.stack([z, -v[..., 2], v[..., 1]], -1),
                        torch.stack([v[..., 2], z, -v[..., 0]], -1),
                        torch.stack([-v[..., 1], v[..., 0], z], -1)], -2)


def so3_exp(phi: torch.Tensor) -> torch.Tensor:
    """Rotation matrix exp([phi]x), smooth (to all orders) at phi = 0."""
    t = (phi * phi).sum(-1)
    small = t < 1e-6
    ts = torch.where(small, torch.ones_like(t), t)
    th = ts.sqrt()
    a = torch.where(small, 1 - t / 6 + t * t / 120 - t ** 3 / 5040, torch.sin(th) / th)
    b = torch.where(small, 0.5 - t / 24 + t * t / 720 - t ** 3 / 40320, (1 - torch.cos(th)) / ts)
    K = _skew(phi)
    eye = torch.eye(3, dtype=phi.dtype, device=phi.device).expand(K.shape)
    return eye + a[..., None, None] * K + b[..., None, None] * (K @ K)


def so3_log(R: torch.Tensor) -> torch.Tensor:
    """Rotation vector of R (angle below pi), smooth at the identity: v = sin(theta) a is read from
    the skew part and scaled by theta / sin(theta), a series in sin^2 near zero."""
    v = 0.5 * torch.stack([R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0], R[..., 1, 0] - R[..., 0, 1]], -1)
    c = 0.5 * (R[..., 0, 0] + R[..., 1, 1] + R[..., 2, 2] - 1)
    s2 = (v * v).sum(-1)
    small = (s2 < 1e-6) & (c > 0)
    s2s = torch.where(small, torch.ones_like(s2), s2)
    s = s2s.sqrt()
    # asin(s) / s = 1 + s^2/6 + 3 s^4/40 + 5 s^6/112 + 35 s^8/1152 (theta < pi/2)
    f = torch.where(small, 1 + s2 / 6 + 3 * s2 ** 2 / 40 + 5 * s2 ** 3 / 112 + 35 * s2 ** 4 / 1152,
                    torch.atan2(s, c) / s)
    return f[..., None] * v


def _exp2(phi: torch.Tensor) -> torch.Tensor:
    """exp([phi]x) to second order, I + K + K^2 / 2: the energy and its first two derivatives are
    only ever taken at phi = 0, where this is exact for all three (and far cheaper than the
    trigonometric form)."""
    K = _skew(phi)
    return torch.eye(3, dtype=phi.dtype, device=phi.device) + K + 0.5 * (K @ K)


def _energy(x: torch.Tensor, Ra: torch.Tensor, Rb: torch.Tensor, Q0: torch.Tensor, L0: torch.Tensor,
            K7: torch.Tensor) -> torch.Tensor:
    """(m,) energies; x (m, 9) = (d, phi_a, phi_b): the current chords and spins added to the end
    triads Ra, Rb (m, 3, 3)."""
    d = x[:, :3]
    Ra = _exp2(x[:, 3:6]) @ Ra
    Rb = _exp2(x[:, 6:9]) @ Rb
    l = d.norm(dim=-1)
    e1 = d / l[:, None]
    q = 0.5 * (Ra @ Q0[:, :, 1:2] + Rb @ Q0[:, :, 1:2])[..., 0]
    e3 = torch.linalg.cross(e1, q)
    e3 = e3 / e3.norm(dim=-1, keepdim=True)
    e2 = torch.linalg.cross(e3, e1)
    RrT = torch.stack([e1, e2, e3], -2)  # rows: the corotated axes
    ta = so3_log(RrT @ Ra @ Q0)
    tb = so3_log(RrT @ Rb @ Q0)
    # the bowing of the bent beam shortens its chord: the mean axial strain of cubic deflections
    # with end rotations (a, b) in each bending plane is (2 a^2 - a b + 2 b^2) / 30
    bow = (2 * ta[:, 1:] ** 2 - ta[:, 1:] * tb[:, 1:] + 2 * tb[:, 1:] ** 2).sum(-1) / 30
    qd = torch.cat([(l - L0 + L0 * bow)[:, None], ta, tb], -1)
    return 0.5 * (qd[:, None, :] @ K7 @ qd[:, :, None])[:, 0, 0]


class Beams:
    """A set of beams: initial chords D0 (m, 3), radii (m,), material and theory, with the
    constants every evaluation reuses (initial axes, lengths, local stiffness)."""

    def __init__(self, D0: torch.Tensor, r: torch.Tensor, E: float, nu: float, theory: str):
        self.D0 = D0
        self.L0 = D0.norm(dim=-1)
        self.Q0 = local_axes(D0).mT  # columns: initial local axes
        self.K7 = local_stiffness7(self.L0, r, E, nu, theory)

    def _x(self, d: torch.Tensor) -> torch.Tensor:
        return torch.cat([d, d.new_zeros(d.shape[0], 6)], -1)

    def energy(self, d: torch.Tensor, Ra: torch.Tensor, Rb: torch.Tensor) -> torch.Tensor:
        """(m,) strain energy of every beam at chords d (m, 3) and end rotations Ra, Rb (m, 3, 3)."""
        with torch.no_grad():
            return _energy(self._x(d), Ra, Rb, self.Q0, self.L0, self.K7)

    def forces(self, d, Ra, Rb) -> torch.Tensor:
        """(m, 9) gradient of each beam's energy with respect to (d, phi_a, phi_b)."""
        x = self._x(d).requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(_energy(x, Ra, Rb, self.Q0, self.L0, self.K7).sum(), x)
        return g

    def tangent(self, d, Ra, Rb) -> tuple[torch.Tensor, torch.Tensor]:
        """(m, 9) gradient and (m, 9, 9) Hessian with respect to (d, phi_a, phi_b) at phi = 0: the
        beams are independent, so one backward pass per column gives every beam's Hessian."""
        x = self._x(d).requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(_energy(x, Ra, Rb, self.Q0, self.L0, self.K7).sum(), x, create_graph=True)
            cols = [torch.autograd.grad(g[:, k].sum(), x, retain_graph=k < 8)[0] for k in range(9)]
        return g.detach(), torch.stack(cols, -1)
