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

The element energy is written once in torch: forces are its gradient and the tangent its Hessian
with respect to (d, phi_a, phi_b) at phi = 0 (``Beams.forces``, ``Beams.tangent``, by autograd:
exact, slow, the reference).  ``analytic_tangent`` gives the same gradient and Hessian from
closed-form expressions (the corotated frame's spin, the inverse left Jacobian of SO(3), forward
derivatives written out), equal to the autograd ones to round-off and about ten times faster; the
solver uses it.
"""
from __future__ import annotations

import numpy as np
import torch

from pipeline_lib.fem import corotational_jit
from pipeline_lib.fem.beam3d import local_axes, local_stiffness

# deformational DOFs (u_b, theta_a, theta_b) inside the linear element's 12 (u, v, w, tx, ty, tz per end)
_LOCAL = [6, 3, 4, 5, 9, 10, 11]


def local_stiffness7(L: torch.Tensor, r: torch.Tensor, E: float, nu: float, theory: str) -> torch.Tensor:
    """(..., 7, 7) stiffness on (stretch, theta_a, theta_b) in the beam's local axes."""
    K = local_stiffness(L, r, E, nu, theory)
    return K[..., _LOCAL, :][..., :, _LOCAL]


def _skew(v):
    xp = _ops(v)
    z = xp.zeros_like(v[..., 0])
    return xp.stack([xp.stack([z, -v[..., 2], v[..., 1]], -1),
                     xp.stack([v[..., 2], z, -v[..., 0]], -1),
                     xp.stack([-v[..., 1], v[..., 0], z], -1)], -2)


def so3_exp(phi):
    """Rotation matrix exp([phi]x), smooth (to all orders) at phi = 0 (torch or numpy)."""
    xp = _ops(phi)
    t = (phi * phi).sum(-1)
    small = t < 1e-6
    ts = xp.where(small, xp.ones_like(t), t)
    th = xp.sqrt(ts)
    a = xp.where(small, 1 - t / 6 + t * t / 120 - t ** 3 / 5040, xp.sin(th) / th)
    b = xp.where(small, 0.5 - t / 24 + t * t / 720 - t ** 3 / 40320, (1 - xp.cos(th)) / ts)
    K = _skew(phi)
    return xp.eye3(phi) + a[..., None, None] * K + b[..., None, None] * (K @ K)


def so3_log(R):
    """Rotation vector of R (angle below pi), smooth at the identity: v = sin(theta) a is read from
    the skew part and scaled by theta / sin(theta), a series in sin^2 near zero (torch or numpy)."""
    xp = _ops(R)
    v = 0.5 * xp.stack([R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0], R[..., 1, 0] - R[..., 0, 1]], -1)
    c = 0.5 * (R[..., 0, 0] + R[..., 1, 1] + R[..., 2, 2] - 1)
    s2 = (v * v).sum(-1)
    small = (s2 < 1e-6) & (c > 0)
    s2s = xp.where(small, xp.ones_like(s2), s2)
    s = xp.sqrt(s2s)
    # asin(s) / s = 1 + s^2/6 + 3 s^4/40 + 5 s^6/112 + 35 s^8/1152 (theta < pi/2)
    f = xp.where(small, 1 + s2 / 6 + 3 * s2 ** 2 / 40 + 5 * s2 ** 3 / 112 + 35 * s2 ** 4 / 1152,
                 xp.atan2(s, c) / s)
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

    def constants(self, xp) -> tuple:
        """(Q0, K7, L0) as the backend's arrays (numpy copies made once)."""
        if xp is _TorchOps:
            return self.Q0, self.K7, self.L0
        if not hasattr(self, "_np"):
            self._np = tuple(np.ascontiguousarray(t.detach().cpu().numpy()) for t in (self.Q0, self.K7, self.L0))
        return self._np

    def tangent_analytic(self, d, Ra, Rb) -> tuple[torch.Tensor, torch.Tensor]:
        """The same gradient and Hessian as :meth:`tangent`, from closed-form expressions (no
        autograd; several times faster): see :func:`analytic_tangent`."""
        return analytic_tangent(self, d, Ra, Rb)


# ---------------------------------------------------------------------------------------------------
# Closed-form tangent: the same gradient and Hessian as Beams.tangent, without autograd.
#
# Notation per beam: e1, e2, e3 the corotated axes (R_r = [e1 e2 e3]), l = |d|, qa = Ra Q0[:, 1],
# qb = Rb Q0[:, 1], q = (qa + qb) / 2, q1 = q.e1, q2 = q.e2 (> 0; q.e3 = 0).  Under a variation
# (dd, dphi_a, dphi_b) the frame spins by omega, with local components
#     Omega = R_r^T omega = ( (qa x e3).dphi_a / (2 q2) + (qb x e3).dphi_b / (2 q2) - q1 / (q2 l) e3.dd,
#                             -e3.dd / l,   e2.dd / l ),
# the local rotations vary by dtheta = Jl^-1(theta) (R_r^T dphi - Omega) (Jl^-1 the inverse left
# Jacobian of SO(3)), and the energy's spatial gradient is, with F_a = dE/dtheta_a (the bowing
# included), G = Jl^-T F and S = G_a + G_b (local),
#     g_d = f_u e1 + (S1 q1 / q2 + S2) / l e3 - S3 / l e2,
#     g_a = R_r G_a - S1 / (2 q2) (qa x e3),   g_b = R_r G_b - S1 / (2 q2) (qb x e3).
# The Hessian is the derivative of that gradient along the nine directions (every quantity carried
# with its (k, 9) Jacobian, i.e. forward mode written out), plus the chart term of R <- exp(phi) R:
# d/dphi of (I - [phi]x / 2) g at 0 adds [g_a]x / 2 and [g_b]x / 2 to the two rotation blocks.
# ---------------------------------------------------------------------------------------------------


def _jl_inv_coeffs(th: Array) -> tuple[Array, Array]:
    """c(t) and c'(t) / t, t = |theta|, of Jl^-1(theta) = I - [theta]x / 2 + c(t) [theta]x^2,
    c(t) = 1 / t^2 - cot(t / 2) / (2 t), with their series near 0."""
    xp = _ops(th)
    t2 = (th * th).sum(-1)
    small = t2 < 0.04
    ts2 = xp.where(small, xp.ones_like(t2), t2)
    t = xp.sqrt(ts2)
    s, co = xp.sin(0.5 * t), xp.cos(0.5 * t)
    cot = co / s
    c = xp.where(small, 1 / 12 + t2 / 720 + t2 ** 2 / 30240 + t2 ** 3 / 1209600 + t2 ** 4 / 47900160,
                    1 / ts2 - cot / (2 * t))
    dc = xp.where(small, 1 / 360 + t2 / 7560 + t2 ** 2 / 201600 + t2 ** 3 / 5987520 + 691 * t2 ** 4 / 130767436800,
                     -2 / ts2 ** 2 + 1 / (4 * ts2 * s * s) + cot / (2 * ts2 * t))
    return c, dc


class _NumpyOps:
    """The few array functions the closed-form tangent needs, for numpy arrays (a tenth of torch's
    per-call overhead: at a cell's hundred beams that overhead is the whole cost)."""
    stack, cat, where, ones_like, zeros_like = np.stack, np.concatenate, np.where, np.ones_like, np.zeros_like
    sin, cos, atan2, sqrt = np.sin, np.cos, np.arctan2, np.sqrt
    permute, contiguous = staticmethod(np.transpose), staticmethod(np.ascontiguousarray)

    @staticmethod
    def swap01(x):
        return np.swapaxes(x, 0, 1)

    @staticmethod
    def eye3(like):
        return np.eye(3, dtype=like.dtype)


class _TorchOps:
    stack, cat, where, ones_like, zeros_like = torch.stack, torch.cat, torch.where, torch.ones_like, torch.zeros_like
    sin, cos, atan2, sqrt = torch.sin, torch.cos, torch.atan2, torch.sqrt

    @staticmethod
    def permute(x, dims):
        return x.permute(*dims)

    @staticmethod
    def contiguous(x):
        return x.contiguous()

    @staticmethod
    def swap01(x):
        return x.transpose(0, 1)

    @staticmethod
    def eye3(like):
        return torch.eye(3, dtype=like.dtype, device=like.device)


def _ops(x):
    return _NumpyOps if isinstance(x, np.ndarray) else _TorchOps


Array = "np.ndarray | torch.Tensor"


# The beam index is kept last in every array below ((3, m) vectors, (3, 3, m) matrices, (k, 9, m)
# Jacobians), so that each product of small matrices is a few elementwise operations running along
# the beams (batched matmul of 3 x 3 matrices is several times slower on a CPU).


def _bl_dot(a: Array, b: Array) -> Array:
    return (a * b).sum(0)


def _bl_cross(a: Array, b: Array) -> Array:
    """a x b along dim 0 (broadcasting over the others)."""
    xp = _ops(a)
    return xp.stack([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]], 0)


def _bl_skew(v: Array) -> Array:
    """(3, 3, m) [v]x of (3, m) vectors."""
    xp = _ops(v)
    z = xp.zeros_like(v[0])
    return xp.stack([xp.stack([z, -v[2], v[1]], 0),
                     xp.stack([v[2], z, -v[0]], 0),
                     xp.stack([-v[1], v[0], z], 0)], 0)


def _bl_mm(A: Array, B: Array) -> Array:
    """(i, j, m) @ (j, k, m) -> (i, k, m)."""
    out = A[:, 0, None] * B[0, None]
    for j in range(1, A.shape[1]):
        out = out + A[:, j, None] * B[j, None]
    return out


def _bl_mv(A: Array, v: Array) -> Array:
    """(i, j, m) @ (j, m) -> (i, m)."""
    out = A[:, 0] * v[0]
    for j in range(1, A.shape[1]):
        out = out + A[:, j] * v[j]
    return out


def _bl_log(R: Array) -> Array:
    """so3_log of (3, 3, m) rotations, the same formula."""
    xp = _ops(R)
    v = 0.5 * xp.stack([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]], 0)
    c = 0.5 * (R[0, 0] + R[1, 1] + R[2, 2] - 1)
    s2 = (v * v).sum(0)
    small = (s2 < 1e-6) & (c > 0)
    s2s = xp.where(small, xp.ones_like(s2), s2)
    s = xp.sqrt(s2s)
    f = xp.where(small, 1 + s2 / 6 + 3 * s2 ** 2 / 40 + 5 * s2 ** 3 / 112 + 35 * s2 ** 4 / 1152,
                    xp.atan2(s, c) / s)
    return f * v


def analytic_tangent(beams: "Beams", d: Array, Ra: Array, Rb: Array, *, energy_only: bool = False,
                     gradient_only: bool = False, compiled: bool | None = None) -> tuple[Array, Array]:
    """(m, 9) gradient and (m, 9, 9) Hessian of each beam's energy with respect to (d, phi_a, phi_b)
    at phi = 0, as :meth:`Beams.tangent` (to round-off) but from closed-form expressions, without
    autograd; with ``energy_only`` the (m,) energies of the same expressions (the solver's line
    search), with ``gradient_only`` the (m, 9) gradient alone (the stress).  numpy arrays in, numpy out (the fast path); torch tensors in, torch out.
    numpy arrays go through the compiled form of the same expressions
    (:mod:`pipeline_lib.fem.corotational_jit`) where numba is present, unless ``compiled`` is False."""
    xp = _ops(d)
    Q0, K7, L0 = beams.constants(xp)
    if xp is _NumpyOps and (compiled if compiled is not None else corotational_jit.available()):
        mode = corotational_jit.ENERGY if energy_only else (
            corotational_jit.GRADIENT if gradient_only else corotational_jit.TANGENT)
        return corotational_jit.tangent(d, Ra, Rb, Q0, K7, L0, mode)
    Q0 = xp.permute(Q0, (1, 2, 0))
    K7 = xp.permute(K7, (1, 2, 0))
    Ra, Rb = xp.permute(Ra, (1, 2, 0)), xp.permute(Rb, (1, 2, 0))
    d = d.T
    eye = xp.eye3(d)[:, :, None]
    # ---- state and gradient
    l = xp.sqrt(_bl_dot(d, d))
    il = 1 / l
    e1 = d * il
    qa = _bl_mv(Ra, Q0[:, 1])
    qb = _bl_mv(Rb, Q0[:, 1])
    q = 0.5 * (qa + qb)
    e3 = _bl_cross(e1, q)
    e3 = e3 / xp.sqrt(_bl_dot(e3, e3))
    e2 = _bl_cross(e3, e1)
    RrT = xp.stack([e1, e2, e3], 0)  # rows: the corotated axes
    Rr = xp.swap01(RrT)
    ta = _bl_log(_bl_mm(_bl_mm(RrT, Ra), Q0))
    tb = _bl_log(_bl_mm(_bl_mm(RrT, Rb), Q0))
    a, b = ta[1:], tb[1:]
    bow = (2 * a * a - a * b + 2 * b * b).sum(0) / 30
    qd = xp.cat([(l - L0 + L0 * bow)[None], ta, tb], 0)
    f = _bl_mv(K7, qd)
    if energy_only:
        return 0.5 * (qd * f).sum(0)
    fu = f[0]
    fL = fu * L0
    zm = xp.zeros_like(l)[None]
    bow_a = xp.cat([zm, (4 * a - b) / 30], 0)
    bow_b = xp.cat([zm, (4 * b - a) / 30], 0)
    Fa = f[1:4] + fL * bow_a
    Fb = f[4:7] + fL * bow_b
    Ka, Kb = _bl_skew(ta), _bl_skew(tb)
    c_a, dc_a = _jl_inv_coeffs(ta.T)
    c_b, dc_b = _jl_inv_coeffs(tb.T)
    JaT = eye + 0.5 * Ka + c_a * _bl_mm(Ka, Ka)  # Jl^-T(theta_a); Jl^-1 is its transpose
    JbT = eye + 0.5 * Kb + c_b * _bl_mm(Kb, Kb)
    Ga = _bl_mv(JaT, Fa)
    Gb = _bl_mv(JbT, Fb)
    S = Ga + Gb
    q1 = _bl_dot(q, e1)
    q2 = _bl_dot(q, e2)
    iq2 = 1 / q2
    alpha = (S[0] * q1 * iq2 + S[1]) * il
    beta = S[2] * il
    gam = 0.5 * S[0] * iq2
    xa = _bl_cross(qa, e3)
    xb = _bl_cross(qb, e3)
    RGa = _bl_mv(Rr, Ga)
    RGb = _bl_mv(Rr, Gb)
    g_d = fu * e1 + alpha * e3 - beta * e2
    g_a = RGa - gam * xa
    g_b = RGb - gam * xb
    grad = xp.contiguous(xp.cat([g_d, g_a, g_b], 0).T)
    if gradient_only:
        return grad

    # ---- derivatives along the nine directions (dd, dphi_a, dphi_b): (k, 9, m) Jacobians
    z3 = xp.zeros_like(e1)
    z33 = xp.zeros_like(Rr)
    Om = xp.stack([xp.cat([-(q1 * iq2 * il) * e3, (0.5 * iq2) * xa, (0.5 * iq2) * xb], 0),
                      xp.cat([-il * e3, z3, z3], 0),
                      xp.cat([il * e2, z3, z3], 0)], 0)  # local spin of the corotated frame
    W = _bl_mm(Rr, Om)
    De1 = _bl_cross(W, e1[:, None])
    De2 = _bl_cross(W, e2[:, None])
    De3 = _bl_cross(W, e3[:, None])
    Dl = xp.cat([e1, z3, z3], 0)  # (9, m)
    Dq1 = _bl_dot(q[:, None], De1) + 0.5 * xp.cat([z3, _bl_cross(qa, e1), _bl_cross(qb, e1)], 0)
    Dq2 = _bl_dot(q[:, None], De2) + 0.5 * xp.cat([z3, _bl_cross(qa, e2), _bl_cross(qb, e2)], 0)
    Dta = _bl_mm(xp.swap01(JaT), xp.cat([z33, RrT, z33], 1) - Om)
    Dtb = _bl_mm(xp.swap01(JbT), xp.cat([z33, z33, RrT], 1) - Om)
    Du = Dl + L0 * (_bl_dot(bow_a[:, None], Dta) + _bl_dot(bow_b[:, None], Dtb))
    Df = _bl_mm(K7, xp.cat([Du[None], Dta, Dtb], 0))  # (7, 9, m)
    Dfu = Df[0]
    z19 = xp.zeros_like(Dfu)[None]
    LDfu = (L0 * Dfu)[None]
    DFa = Df[1:4] + bow_a[:, None] * LDfu + fL * xp.cat([z19, (4 * Dta[1:] - Dtb[1:]) / 30], 0)
    DFb = Df[4:7] + bow_b[:, None] * LDfu + fL * xp.cat([z19, (4 * Dtb[1:] - Dta[1:]) / 30], 0)

    def dJ(K, c, dc, th, F):  # d(Jl^-T(theta) F) / dtheta at fixed F, (3, 3, m)
        KF = _bl_mv(K, F)
        XF = _bl_skew(F)
        return -0.5 * XF + dc * _bl_mv(K, KF)[:, None] * th[None] - c * (_bl_skew(KF) + _bl_mm(K, XF))

    DGa = _bl_mm(JaT, DFa) + _bl_mm(dJ(Ka, c_a, dc_a, ta, Fa), Dta)
    DGb = _bl_mm(JbT, DFb) + _bl_mm(dJ(Kb, c_b, dc_b, tb, Fb), Dtb)
    DS = DGa + DGb
    Dalpha = ((DS[0] * q1 + S[0] * Dq1 - S[0] * q1 * iq2 * Dq2) * iq2 + DS[1] - alpha * Dl) * il
    Dbeta = (DS[2] - beta * Dl) * il
    Dgam = (0.5 * DS[0] - gam * Dq2) * iq2
    Hd = (e1[:, None] * Dfu + fu * De1 + e3[:, None] * Dalpha + alpha * De3
          - e2[:, None] * Dbeta - beta * De2)
    Ha = (_bl_cross(W, RGa[:, None]) + _bl_mm(Rr, DGa) - xa[:, None] * Dgam
          - gam * _bl_cross(qa[:, None], De3))
    Hb = (_bl_cross(W, RGb[:, None]) + _bl_mm(Rr, DGb) - xb[:, None] * Dgam
          - gam * _bl_cross(qb[:, None], De3))
    # gam [e3]x dq_a / dphi_a = -gam [e3]x [qa]x = -gam (qa e3^T - (e3.qa) I), and the chart
    # R <- exp(phi) R: d/dphi (I - [phi]x / 2) g at 0 adds [g]x / 2 on each rotation block
    Ha[:, 3:6] += 0.5 * _bl_skew(g_a) - gam * (qa[:, None] * e3[None] - _bl_dot(e3, qa) * eye)
    Hb[:, 6:9] += 0.5 * _bl_skew(g_b) - gam * (qb[:, None] * e3[None] - _bl_dot(e3, qb) * eye)
    H = xp.contiguous(xp.permute(xp.cat([Hd, Ha, Hb], 0), (2, 0, 1)))
    return grad, H
