"""The closed-form corotational tangent of :mod:`pipeline_lib.fem.corotational`, compiled (numba).

The numpy form runs every small-matrix product as a few hundred array operations along the beams;
at a cell's hundred beams each operation is short and the kernel is memory- and call-bound (about
15 us per beam per tangent).  Here the same expressions run beam by beam in registers: one pass,
no temporaries, several times faster.  The expressions, their order and their series branches are
those of ``analytic_tangent`` (read its comment block for the derivation); the tests hold the two
equal to round-off.  ``available()`` is False where numba is missing, and the solver then keeps the
numpy form.
"""
from __future__ import annotations

import os

import numpy as np

try:
    import numba
except ImportError:  # pragma: no cover - numba is a dependency; the numpy form still works without it
    numba = None

ENERGY, GRADIENT, TANGENT = 0, 1, 2


def available() -> bool:
    """numba importable and not switched off (``METAGEN_NUMBA=0``)."""
    return numba is not None and os.environ.get("METAGEN_NUMBA", "1") != "0"


def _kernel(d, Ra, Rb, Q0, K7, L0, mode, e_out, g_out, H_out):  # noqa: C901 - one beam's closed form
    m = d.shape[0]
    ta = np.empty(3)
    tb = np.empty(3)
    e1 = np.empty(3)
    e2 = np.empty(3)
    e3 = np.empty(3)
    qa = np.empty(3)
    qb = np.empty(3)
    q = np.empty(3)
    M = np.empty((3, 3))
    qd = np.empty(7)
    f = np.empty(7)
    Fa = np.empty(3)
    Fb = np.empty(3)
    bow_a = np.empty(3)
    bow_b = np.empty(3)
    JaT = np.empty((3, 3))
    JbT = np.empty((3, 3))
    Ga = np.empty(3)
    Gb = np.empty(3)
    xa = np.empty(3)
    xb = np.empty(3)
    RGa = np.empty(3)
    RGb = np.empty(3)
    ga = np.empty(3)
    gb = np.empty(3)
    Om = np.empty((3, 9))
    W = np.empty((3, 9))
    De1 = np.empty((3, 9))
    De2 = np.empty((3, 9))
    De3 = np.empty((3, 9))
    Dl = np.empty(9)
    Dq1 = np.empty(9)
    Dq2 = np.empty(9)
    X = np.empty((3, 9))
    Dta = np.empty((3, 9))
    Dtb = np.empty((3, 9))
    Dx = np.empty((7, 9))
    Df = np.empty((7, 9))
    DFa = np.empty((3, 9))
    DFb = np.empty((3, 9))
    dJa = np.empty((3, 3))
    dJb = np.empty((3, 3))
    DGa = np.empty((3, 9))
    DGb = np.empty((3, 9))
    Dal = np.empty(9)
    Dbe = np.empty(9)
    Dga = np.empty(9)
    H = np.empty((9, 9))
    for i in range(m):
        # ---- state
        l = np.sqrt(d[i, 0] ** 2 + d[i, 1] ** 2 + d[i, 2] ** 2)
        il = 1.0 / l
        for k in range(3):
            e1[k] = d[i, k] * il
        for k in range(3):
            qa[k] = Ra[i, k, 0] * Q0[i, 0, 1] + Ra[i, k, 1] * Q0[i, 1, 1] + Ra[i, k, 2] * Q0[i, 2, 1]
            qb[k] = Rb[i, k, 0] * Q0[i, 0, 1] + Rb[i, k, 1] * Q0[i, 1, 1] + Rb[i, k, 2] * Q0[i, 2, 1]
            q[k] = 0.5 * (qa[k] + qb[k])
        _cross(e1, q, e3)
        n3 = np.sqrt(e3[0] ** 2 + e3[1] ** 2 + e3[2] ** 2)
        for k in range(3):
            e3[k] /= n3
        _cross(e3, e1, e2)
        # theta = log(Rr^T R Q0), Rr^T's rows e1, e2, e3
        for end in range(2):
            R = Ra if end == 0 else Rb
            for r in range(3):
                er = e1 if r == 0 else (e2 if r == 1 else e3)
                for c in range(3):
                    s = 0.0
                    for j in range(3):
                        rq = R[i, j, 0] * Q0[i, 0, c] + R[i, j, 1] * Q0[i, 1, c] + R[i, j, 2] * Q0[i, 2, c]
                        s += er[j] * rq
                    M[r, c] = s
            _log(M, ta if end == 0 else tb)
        a1, a2, b1, b2 = ta[1], ta[2], tb[1], tb[2]
        bow = (2 * a1 * a1 - a1 * b1 + 2 * b1 * b1 + 2 * a2 * a2 - a2 * b2 + 2 * b2 * b2) / 30
        qd[0] = l - L0[i] + L0[i] * bow
        for k in range(3):
            qd[1 + k] = ta[k]
            qd[4 + k] = tb[k]
        for r in range(7):
            s = 0.0
            for c in range(7):
                s += K7[i, r, c] * qd[c]
            f[r] = s
        if mode == 0:
            s = 0.0
            for r in range(7):
                s += qd[r] * f[r]
            e_out[i] = 0.5 * s
            continue
        fu = f[0]
        fL = fu * L0[i]
        bow_a[0] = 0.0
        bow_b[0] = 0.0
        for k in range(1, 3):
            bow_a[k] = (4 * ta[k] - tb[k]) / 30
            bow_b[k] = (4 * tb[k] - ta[k]) / 30
        for k in range(3):
            Fa[k] = f[1 + k] + fL * bow_a[k]
            Fb[k] = f[4 + k] + fL * bow_b[k]
        ca, dca = _jl_inv_coeffs(ta)
        cb, dcb = _jl_inv_coeffs(tb)
        _jl_inv_T(ta, ca, JaT)
        _jl_inv_T(tb, cb, JbT)
        for r in range(3):
            Ga[r] = JaT[r, 0] * Fa[0] + JaT[r, 1] * Fa[1] + JaT[r, 2] * Fa[2]
            Gb[r] = JbT[r, 0] * Fb[0] + JbT[r, 1] * Fb[1] + JbT[r, 2] * Fb[2]
        S0, S1, S2 = Ga[0] + Gb[0], Ga[1] + Gb[1], Ga[2] + Gb[2]
        q1 = q[0] * e1[0] + q[1] * e1[1] + q[2] * e1[2]
        q2 = q[0] * e2[0] + q[1] * e2[1] + q[2] * e2[2]
        iq2 = 1.0 / q2
        alpha = (S0 * q1 * iq2 + S1) * il
        beta = S2 * il
        gam = 0.5 * S0 * iq2
        _cross(qa, e3, xa)
        _cross(qb, e3, xb)
        for r in range(3):  # Rr = [e1 e2 e3] (columns)
            RGa[r] = e1[r] * Ga[0] + e2[r] * Ga[1] + e3[r] * Ga[2]
            RGb[r] = e1[r] * Gb[0] + e2[r] * Gb[1] + e3[r] * Gb[2]
            ga[r] = RGa[r] - gam * xa[r]
            gb[r] = RGb[r] - gam * xb[r]
            g_out[i, r] = fu * e1[r] + alpha * e3[r] - beta * e2[r]
            g_out[i, 3 + r] = ga[r]
            g_out[i, 6 + r] = gb[r]
        if mode == 1:
            continue

        # ---- derivatives along the nine directions (dd, dphi_a, dphi_b)
        for k in range(3):
            Om[0, k] = -(q1 * iq2 * il) * e3[k]
            Om[0, 3 + k] = 0.5 * iq2 * xa[k]
            Om[0, 6 + k] = 0.5 * iq2 * xb[k]
            Om[1, k] = -il * e3[k]
            Om[1, 3 + k] = 0.0
            Om[1, 6 + k] = 0.0
            Om[2, k] = il * e2[k]
            Om[2, 3 + k] = 0.0
            Om[2, 6 + k] = 0.0
        for k in range(9):
            for r in range(3):
                W[r, k] = e1[r] * Om[0, k] + e2[r] * Om[1, k] + e3[r] * Om[2, k]
            w0, w1, w2 = W[0, k], W[1, k], W[2, k]
            De1[0, k], De1[1, k], De1[2, k] = w1 * e1[2] - w2 * e1[1], w2 * e1[0] - w0 * e1[2], w0 * e1[1] - w1 * e1[0]
            De2[0, k], De2[1, k], De2[2, k] = w1 * e2[2] - w2 * e2[1], w2 * e2[0] - w0 * e2[2], w0 * e2[1] - w1 * e2[0]
            De3[0, k], De3[1, k], De3[2, k] = w1 * e3[2] - w2 * e3[1], w2 * e3[0] - w0 * e3[2], w0 * e3[1] - w1 * e3[0]
            Dl[k] = e1[k] if k < 3 else 0.0
            Dq1[k] = q[0] * De1[0, k] + q[1] * De1[1, k] + q[2] * De1[2, k]
            Dq2[k] = q[0] * De2[0, k] + q[1] * De2[1, k] + q[2] * De2[2, k]
        for k in range(3):  # + (0, qa x e, qb x e) / 2
            Dq1[3 + k] += 0.5 * _cross_k(qa, e1, k)
            Dq1[6 + k] += 0.5 * _cross_k(qb, e1, k)
            Dq2[3 + k] += 0.5 * _cross_k(qa, e2, k)
            Dq2[6 + k] += 0.5 * _cross_k(qb, e2, k)
        for end in range(2):  # Dtheta = Jl^-1 ([0 | Rr^T | 0] - Om)
            J = JaT if end == 0 else JbT
            Dt = Dta if end == 0 else Dtb
            for r in range(3):
                er = e1 if r == 0 else (e2 if r == 1 else e3)
                for k in range(9):
                    X[r, k] = -Om[r, k]
                for k in range(3):
                    X[r, 3 + 3 * end + k] += er[k]
            for r in range(3):
                for k in range(9):
                    Dt[r, k] = J[0, r] * X[0, k] + J[1, r] * X[1, k] + J[2, r] * X[2, k]
        for k in range(9):
            Dx[0, k] = Dl[k] + L0[i] * (bow_a[0] * Dta[0, k] + bow_a[1] * Dta[1, k] + bow_a[2] * Dta[2, k]
                                        + bow_b[0] * Dtb[0, k] + bow_b[1] * Dtb[1, k] + bow_b[2] * Dtb[2, k])
            for r in range(3):
                Dx[1 + r, k] = Dta[r, k]
                Dx[4 + r, k] = Dtb[r, k]
        for r in range(7):
            for k in range(9):
                s = 0.0
                for c in range(7):
                    s += K7[i, r, c] * Dx[c, k]
                Df[r, k] = s
        for k in range(9):
            LDfu = L0[i] * Df[0, k]
            for r in range(3):
                DFa[r, k] = Df[1 + r, k] + bow_a[r] * LDfu
                DFb[r, k] = Df[4 + r, k] + bow_b[r] * LDfu
            for r in range(1, 3):
                DFa[r, k] += fL * (4 * Dta[r, k] - Dtb[r, k]) / 30
                DFb[r, k] += fL * (4 * Dtb[r, k] - Dta[r, k]) / 30
        _dJ(ta, ca, dca, Fa, dJa)
        _dJ(tb, cb, dcb, Fb, dJb)
        for r in range(3):
            for k in range(9):
                DGa[r, k] = (JaT[r, 0] * DFa[0, k] + JaT[r, 1] * DFa[1, k] + JaT[r, 2] * DFa[2, k]
                             + dJa[r, 0] * Dta[0, k] + dJa[r, 1] * Dta[1, k] + dJa[r, 2] * Dta[2, k])
                DGb[r, k] = (JbT[r, 0] * DFb[0, k] + JbT[r, 1] * DFb[1, k] + JbT[r, 2] * DFb[2, k]
                             + dJb[r, 0] * Dtb[0, k] + dJb[r, 1] * Dtb[1, k] + dJb[r, 2] * Dtb[2, k])
        for k in range(9):
            DS0 = DGa[0, k] + DGb[0, k]
            DS1 = DGa[1, k] + DGb[1, k]
            DS2 = DGa[2, k] + DGb[2, k]
            Dal[k] = ((DS0 * q1 + S0 * Dq1[k] - S0 * q1 * iq2 * Dq2[k]) * iq2 + DS1 - alpha * Dl[k]) * il
            Dbe[k] = (DS2 - beta * Dl[k]) * il
            Dga[k] = (0.5 * DS0 - gam * Dq2[k]) * iq2
        for k in range(9):
            w0, w1, w2 = W[0, k], W[1, k], W[2, k]
            for r in range(3):
                H[r, k] = (e1[r] * Df[0, k] + fu * De1[r, k] + e3[r] * Dal[k] + alpha * De3[r, k]
                           - e2[r] * Dbe[k] - beta * De2[r, k])
            wxa = (w1 * RGa[2] - w2 * RGa[1], w2 * RGa[0] - w0 * RGa[2], w0 * RGa[1] - w1 * RGa[0])
            wxb = (w1 * RGb[2] - w2 * RGb[1], w2 * RGb[0] - w0 * RGb[2], w0 * RGb[1] - w1 * RGb[0])
            d0, d1, d2 = De3[0, k], De3[1, k], De3[2, k]
            qxa = (qa[1] * d2 - qa[2] * d1, qa[2] * d0 - qa[0] * d2, qa[0] * d1 - qa[1] * d0)
            qxb = (qb[1] * d2 - qb[2] * d1, qb[2] * d0 - qb[0] * d2, qb[0] * d1 - qb[1] * d0)
            for r in range(3):
                H[3 + r, k] = (wxa[r] + e1[r] * DGa[0, k] + e2[r] * DGa[1, k] + e3[r] * DGa[2, k]
                               - xa[r] * Dga[k] - gam * qxa[r])
                H[6 + r, k] = (wxb[r] + e1[r] * DGb[0, k] + e2[r] * DGb[1, k] + e3[r] * DGb[2, k]
                               - xb[r] * Dga[k] - gam * qxb[r])
        # the chart term and gam [e3]x dq / dphi on the two rotation blocks
        e3qa = e3[0] * qa[0] + e3[1] * qa[1] + e3[2] * qa[2]
        e3qb = e3[0] * qb[0] + e3[1] * qb[1] + e3[2] * qb[2]
        H[3, 4] += -0.5 * ga[2]
        H[3, 5] += 0.5 * ga[1]
        H[4, 3] += 0.5 * ga[2]
        H[4, 5] += -0.5 * ga[0]
        H[5, 3] += -0.5 * ga[1]
        H[5, 4] += 0.5 * ga[0]
        H[6, 7] += -0.5 * gb[2]
        H[6, 8] += 0.5 * gb[1]
        H[7, 6] += 0.5 * gb[2]
        H[7, 8] += -0.5 * gb[0]
        H[8, 6] += -0.5 * gb[1]
        H[8, 7] += 0.5 * gb[0]
        for r in range(3):
            for c in range(3):
                H[3 + r, 3 + c] -= gam * (qa[r] * e3[c] - (e3qa if r == c else 0.0))
                H[6 + r, 6 + c] -= gam * (qb[r] * e3[c] - (e3qb if r == c else 0.0))
        for r in range(9):
            for c in range(9):
                H_out[i, r, c] = H[r, c]


def _cross(a, b, out):
    out[0] = a[1] * b[2] - a[2] * b[1]
    out[1] = a[2] * b[0] - a[0] * b[2]
    out[2] = a[0] * b[1] - a[1] * b[0]


def _cross_k(a, b, k):
    if k == 0:
        return a[1] * b[2] - a[2] * b[1]
    if k == 1:
        return a[2] * b[0] - a[0] * b[2]
    return a[0] * b[1] - a[1] * b[0]


def _log(R, out):
    """so3_log: the rotation vector of R (the same formula and series)."""
    v0 = 0.5 * (R[2, 1] - R[1, 2])
    v1 = 0.5 * (R[0, 2] - R[2, 0])
    v2 = 0.5 * (R[1, 0] - R[0, 1])
    c = 0.5 * (R[0, 0] + R[1, 1] + R[2, 2] - 1)
    s2 = v0 * v0 + v1 * v1 + v2 * v2
    if s2 < 1e-6 and c > 0:
        f = 1 + s2 / 6 + 3 * s2 ** 2 / 40 + 5 * s2 ** 3 / 112 + 35 * s2 ** 4 / 1152
    else:
        s = np.sqrt(s2)
        f = np.arctan2(s, c) / s
    out[0], out[1], out[2] = f * v0, f * v1, f * v2


def _jl_inv_coeffs(th):
    t2 = th[0] * th[0] + th[1] * th[1] + th[2] * th[2]
    if t2 < 0.04:
        c = 1 / 12 + t2 / 720 + t2 ** 2 / 30240 + t2 ** 3 / 1209600 + t2 ** 4 / 47900160
        dc = 1 / 360 + t2 / 7560 + t2 ** 2 / 201600 + t2 ** 3 / 5987520 + 691 * t2 ** 4 / 130767436800
        return c, dc
    t = np.sqrt(t2)
    s, co = np.sin(0.5 * t), np.cos(0.5 * t)
    cot = co / s
    return 1 / t2 - cot / (2 * t), -2 / t2 ** 2 + 1 / (4 * t2 * s * s) + cot / (2 * t2 * t)


def _jl_inv_T(th, c, out):
    """Jl^-T(theta) = I + [theta]x / 2 + c [theta]x^2."""
    x, y, z = th[0], th[1], th[2]
    # [t]x^2 = t t^T - |t|^2 I
    n2 = x * x + y * y + z * z
    out[0, 0] = 1 + c * (x * x - n2)
    out[1, 1] = 1 + c * (y * y - n2)
    out[2, 2] = 1 + c * (z * z - n2)
    out[0, 1] = -0.5 * z + c * x * y
    out[1, 0] = 0.5 * z + c * x * y
    out[0, 2] = 0.5 * y + c * x * z
    out[2, 0] = -0.5 * y + c * x * z
    out[1, 2] = -0.5 * x + c * y * z
    out[2, 1] = 0.5 * x + c * y * z


def _dJ(th, c, dc, F, out):
    """d(Jl^-T(theta) F) / dtheta at fixed F: -[F]x / 2 + dc (K K F) theta^T - c ([K F]x + K [F]x),
    K = [theta]x."""
    x, y, z = th[0], th[1], th[2]
    KF0 = y * F[2] - z * F[1]
    KF1 = z * F[0] - x * F[2]
    KF2 = x * F[1] - y * F[0]
    KKF0 = y * KF2 - z * KF1
    KKF1 = z * KF0 - x * KF2
    KKF2 = x * KF1 - y * KF0
    KKF = (KKF0, KKF1, KKF2)
    for r in range(3):
        for k in range(3):
            out[r, k] = dc * KKF[r] * th[k]
    # -[F]x / 2 - c [KF]x
    out[0, 1] += 0.5 * F[2] + c * KF2
    out[0, 2] += -0.5 * F[1] - c * KF1
    out[1, 0] += -0.5 * F[2] - c * KF2
    out[1, 2] += 0.5 * F[0] + c * KF0
    out[2, 0] += 0.5 * F[1] + c * KF1
    out[2, 1] += -0.5 * F[0] - c * KF0
    # - c K [F]x: K [F]x v = theta x (F x v); column k is theta x (F x e_k)
    for k in range(3):
        fx0 = F[1] * (1.0 if k == 2 else 0.0) - F[2] * (1.0 if k == 1 else 0.0)
        fx1 = F[2] * (1.0 if k == 0 else 0.0) - F[0] * (1.0 if k == 2 else 0.0)
        fx2 = F[0] * (1.0 if k == 1 else 0.0) - F[1] * (1.0 if k == 0 else 0.0)
        out[0, k] -= c * (y * fx2 - z * fx1)
        out[1, k] -= c * (z * fx0 - x * fx2)
        out[2, k] -= c * (x * fx1 - y * fx0)


def _rotate(phi, R, out):
    """exp([phi]x) @ R per node, so3_exp's formula and series."""
    for i in range(phi.shape[0]):
        x, y, z = phi[i, 0], phi[i, 1], phi[i, 2]
        t = x * x + y * y + z * z
        if t < 1e-6:
            a = 1 - t / 6 + t * t / 120 - t ** 3 / 5040
            b = 0.5 - t / 24 + t * t / 720 - t ** 3 / 40320
        else:
            th = np.sqrt(t)
            a = np.sin(th) / th
            b = (1 - np.cos(th)) / t
        # I + a K + b K^2, K^2 = phi phi^T - t I
        E00, E11, E22 = 1 + b * (x * x - t), 1 + b * (y * y - t), 1 + b * (z * z - t)
        E01, E10 = -a * z + b * x * y, a * z + b * x * y
        E02, E20 = a * y + b * x * z, -a * y + b * x * z
        E12, E21 = -a * x + b * y * z, a * x + b * y * z
        for c in range(3):
            r0, r1, r2 = R[i, 0, c], R[i, 1, c], R[i, 2, c]
            out[i, 0, c] = E00 * r0 + E01 * r1 + E02 * r2
            out[i, 1, c] = E10 * r0 + E11 * r1 + E12 * r2
            out[i, 2, c] = E20 * r0 + E21 * r1 + E22 * r2


def _assemble(g9, H9, edofs, slot, g_out, K_out):
    """Every beam's (9,) gradient and (9, 9) Hessian on (d, phi_a, phi_b), mapped to its twelve
    DOFs (w_a, phi_a, w_b, phi_b; d = w_b - w_a) and summed: the gradient into ``g_out`` by DOF,
    the Hessian into ``K_out`` (flat) at ``slot`` (m, 12, 12; -1: a fixed DOF's entry)."""
    src = (0, 1, 2, 3, 4, 5, 0, 1, 2, 6, 7, 8)
    sign = (-1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    for i in range(g9.shape[0]):
        for p in range(12):
            g_out[edofs[i, p]] += sign[p] * g9[i, src[p]]
            for q in range(12):
                k = slot[i, p, q]
                if k >= 0:
                    K_out[k] += sign[p] * sign[q] * H9[i, src[p], src[q]]


if numba is not None:
    _opts = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")
    _cross = numba.njit(inline="always", **_opts)(_cross)
    _cross_k = numba.njit(inline="always", **_opts)(_cross_k)
    _log = numba.njit(**_opts)(_log)
    _jl_inv_coeffs = numba.njit(**_opts)(_jl_inv_coeffs)
    _jl_inv_T = numba.njit(**_opts)(_jl_inv_T)
    _dJ = numba.njit(**_opts)(_dJ)
    _kernel = numba.njit(**_opts)(_kernel)
    _rotate = numba.njit(**_opts)(_rotate)
    _assemble = numba.njit(**_opts)(_assemble)


def tangent(d: np.ndarray, Ra: np.ndarray, Rb: np.ndarray, Q0: np.ndarray, K7: np.ndarray, L0: np.ndarray,
            mode: int):
    """``analytic_tangent`` on numpy arrays, compiled: (m,) energies (``ENERGY``), (m, 9) gradient
    (``GRADIENT``), or the gradient and the (m, 9, 9) Hessian (``TANGENT``)."""
    m = len(d)
    c = np.ascontiguousarray
    d, Ra, Rb = c(d, dtype=np.float64), c(Ra, dtype=np.float64), c(Rb, dtype=np.float64)
    e = np.empty(m if mode == ENERGY else 0)
    g = np.empty((m if mode != ENERGY else 0, 9))
    H = np.empty((m if mode == TANGENT else 0, 9, 9))
    _kernel(d, Ra, Rb, Q0, K7, L0, mode, e, g, H)
    if mode == ENERGY:
        return e
    return g if mode == GRADIENT else (g, H)


def rotate(phi: np.ndarray, R: np.ndarray) -> np.ndarray:
    """so3_exp(phi) @ R for (n, 3) rotation vectors and (n, 3, 3) rotations, compiled."""
    out = np.empty((len(phi), 3, 3))
    _rotate(np.ascontiguousarray(phi, dtype=np.float64), np.ascontiguousarray(R, dtype=np.float64), out)
    return out


def assemble(g9: np.ndarray, H9: np.ndarray, edofs: np.ndarray, slot: np.ndarray, ndof: int, size: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """The assembled gradient (ndof,) and the flat (size,) Hessian (dense or a CSC matrix's data):
    see ``_assemble``, compiled."""
    g, K = np.zeros(ndof), np.zeros(size)
    _assemble(np.ascontiguousarray(g9), np.ascontiguousarray(H9), edofs, slot, g, K)
    return g, K
