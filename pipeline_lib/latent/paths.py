"""Paths in a latent space: linear and spherical interpolation, semantic arrows and walks along them
(paper 000, sections 3.3 and 4.1; paper 002, Fig. 3-4)."""
from __future__ import annotations

import numpy as np


def lerp(z0: np.ndarray, z1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(len(t), d) points z0 + t (z1 - z0); t outside [0, 1] extrapolates."""
    t = np.asarray(t, dtype=float)[:, None]
    return (1 - t) * np.asarray(z0, float) + t * np.asarray(z1, float)


def slerp(z0: np.ndarray, z1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(len(t), d) points on the great arc from z0 to z1 (radii interpolated linearly), the path that
    stays in the shell where a Gaussian prior keeps its mass; t outside [0, 1] extrapolates along
    the arc.  Endpoints of equal norm keep that norm all the way; parallel endpoints fall back to
    :func:`lerp`."""
    z0, z1 = np.asarray(z0, float), np.asarray(z1, float)
    t = np.asarray(t, dtype=float)
    n0, n1 = np.linalg.norm(z0), np.linalg.norm(z1)
    if n0 == 0 or n1 == 0:
        return lerp(z0, z1, t)
    u0, u1 = z0 / n0, z1 / n1
    omega = np.arccos(np.clip(u0 @ u1, -1.0, 1.0))
    if np.sin(omega) < 1e-8:
        return lerp(z0, z1, t)
    s = np.sin(omega)
    u = (np.sin((1 - t) * omega)[:, None] * u0 + np.sin(t * omega)[:, None] * u1) / s
    return ((1 - t) * n0 + t * n1)[:, None] * u


def top_bottom(values: np.ndarray, fraction: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the rows with the highest and the lowest ``fraction`` of ``values``."""
    values = np.asarray(values, float)
    k = max(1, int(round(fraction * len(values))))
    order = np.argsort(values, kind="stable")
    hi, lo = np.zeros(len(values), bool), np.zeros(len(values), bool)
    hi[order[-k:]] = True
    lo[order[:k]] = True
    return hi, lo


def arrow(mu: np.ndarray, to: np.ndarray, frm: np.ndarray) -> np.ndarray:
    """The semantic arrow: the unit vector from the latent centre of the rows ``frm`` to that of the
    rows ``to`` (masks or indices)."""
    mu = np.asarray(mu, float)
    d = mu[to].mean(0) - mu[frm].mean(0)
    n = np.linalg.norm(d)
    if not n > 0:
        raise ValueError("the two sets share their latent centre: no arrow between them")
    return d / n


def walk(z: np.ndarray, direction: np.ndarray, step: float, steps_each_side: int) -> tuple[np.ndarray, np.ndarray]:
    """Points z + k step direction for k = -n .. n, for each row of z: (len(z), 2n + 1, d) and k."""
    k = np.arange(-steps_each_side, steps_each_side + 1)
    z = np.atleast_2d(np.asarray(z, float))
    return z[:, None, :] + (k * step)[None, :, None] * np.asarray(direction, float), k


def axis_traversal(z: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z moved along one latent axis at a time by each of ``offsets``: (d * len(offsets), d), with
    the axis and the offset of each row (paper 000, Fig. 7a: every latent variable moved
    independently with a fixed step)."""
    z = np.asarray(z, float)
    d = len(z)
    axes = np.repeat(np.arange(d), len(offsets))
    off = np.tile(np.asarray(offsets, float), d)
    out = np.repeat(z[None], len(axes), axis=0)
    out[np.arange(len(axes)), axes] += off
    return out, axes, off
