"""Families with a controlled gradation (paper 000, section 4.3): entries near a curve in property
space, sorted by one property, joined by a directed k-nearest-neighbour graph from low to high rank
weighted by latent distance; a family is the shortest path from a source (joined to the first N)
to a sink (joined from the last N), and further families repeat the search without the nodes
already used.  Graphs are scipy.sparse, paths scipy.sparse.csgraph.dijkstra."""
from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

_TINY = 1e-12  # weight of the source and sink edges (csgraph reads stored zeros as no edge)


def rank_knn_edges(z: np.ndarray, k: int, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges (i, j, weight) from each row i of z (sorted by rank) to its k nearest rows of higher
    rank j > i, weighted by the latent distance."""
    z = np.asarray(z, float)
    n = len(z)
    rows, cols, w = [], [], []
    sq = (z * z).sum(1)
    for s in range(0, n, chunk):
        i = np.arange(s, min(n, s + chunk))
        d2 = np.maximum(sq[i, None] + sq[None, :] - 2 * z[i] @ z.T, 0.0)
        d2[np.arange(n)[None, :] <= i[:, None]] = np.inf  # only higher ranks
        kk = min(k, n - 1)
        if kk < 1:
            break
        nb = np.argpartition(d2, kk - 1, axis=1)[:, :kk]
        dist = np.take_along_axis(d2, nb, axis=1)
        ok = np.isfinite(dist)
        rows.append(np.repeat(i, kk)[ok.ravel()])
        cols.append(nb.ravel()[ok.ravel()])
        w.append(np.sqrt(dist.ravel()[ok.ravel()]))
    cat = (lambda parts, dt: np.concatenate(parts).astype(dt) if parts else np.zeros(0, dt))
    return cat(rows, np.int64), cat(cols, np.int64), cat(w, float)


def shortest_families(n: int, edges: tuple[np.ndarray, np.ndarray, np.ndarray], *, ends: int, count: int,
                      ) -> list[np.ndarray]:
    """Up to ``count`` node-disjoint shortest paths through a rank-ordered graph of ``n`` nodes:
    a source joined to the first ``ends`` remaining nodes, a sink joined from the last ``ends``
    (fewer when under 2 ends remain, so the two sets never overlap); each path's nodes are removed
    before the next search, which stops early when no path is left."""
    i, j, w = edges
    alive = np.ones(n, bool)
    out = []
    for _ in range(count):
        idx = np.flatnonzero(alive)
        if len(idx) == 0:
            break
        keep = alive[i] & alive[j]
        m = min(ends, len(idx) // 2)  # first and last stay disjoint: a family spans the ranks
        if m == 0:
            break
        first, last = idx[:m], idx[-m:]
        src, snk = n, n + 1
        r = np.concatenate([i[keep], np.full(len(first), src), last])
        c = np.concatenate([j[keep], first, np.full(len(last), snk)])
        wt = np.concatenate([w[keep] + _TINY, np.full(len(first) + len(last), _TINY)])
        G = csr_matrix((wt, (r, c)), shape=(n + 2, n + 2))
        dist, pred = dijkstra(G, directed=True, indices=src, return_predecessors=True)
        if not np.isfinite(dist[snk]):
            break
        path, node = [], pred[snk]
        while node != src:
            path.append(node)
            node = pred[node]
        path = np.array(path[::-1], dtype=np.int64)
        out.append(path)
        alive[path] = False
    return out


def gradation_curve(c11: np.ndarray, c11_material: float, nu_material: float) -> np.ndarray:
    """Paper 000, Eq. 7: the target (C11, C12, C22, C33) at each C11 in [0, C11^M]: C22 = C11,
    C12 = [(1 - nu^M)(1 - C11/C11^M)^4 + nu^M] C11, C33 = 0.25 C11^3 - 0.65 C11^2 + 0.6775 C11."""
    c = np.asarray(c11, float)
    c12 = ((1 - nu_material) * (1 - c / c11_material) ** 4 + nu_material) * c
    c33 = 0.25 * c**3 - 0.65 * c**2 + 0.6775 * c
    return np.stack([c, c12, c, c33], axis=-1)


def distance_to_curve(P: np.ndarray, curve: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Distance of each property vector (N, 4) to a densely sampled curve (M, 4), both divided by
    ``scale`` (normalized property space)."""
    from scipy.spatial import cKDTree

    P = np.asarray(P, float) / scale
    ok = np.isfinite(P).all(1)
    d = np.full(len(P), np.nan)
    if ok.any():
        d[ok] = cKDTree(np.asarray(curve, float) / scale).query(P[ok])[0]
    return d


def positions_along(mu: np.ndarray, between: int, beyond: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions s along a family (member i at s = i), uniformly spaced by 1 / (between + 1) with
    the members themselves left out and ``beyond`` spacings past each end, and their latent
    vectors on the members' polyline (extrapolated along the end segments): paper 000, Fig. 13b."""
    n = len(mu)
    h = 1.0 / (between + 1)
    s = np.arange(-beyond, (n - 1) * (between + 1) + beyond + 1) * h
    s = s[np.abs(s - np.round(s)) > 1e-9]
    if n == 1:
        return s[:0], mu[:0]
    seg = np.clip(np.floor(s).astype(int), 0, n - 2)
    t = s - seg
    return s, mu[seg] + t[:, None] * (mu[seg + 1] - mu[seg])
