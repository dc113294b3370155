"""Latent maps and diverse candidate sets (paper 000, sections 3.3 and 4.2): PCA of latent means,
k-means, and for a target property the best database entry of each latent cluster against the
greedy nearest entries."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import pdist


def pca(X: np.ndarray, k: int = 2, seed: int = 0):
    """The fitted scikit-learn PCA of the rows of X and their first ``k`` component scores."""
    from sklearn.decomposition import PCA

    model = PCA(n_components=min(k, *np.shape(X)), random_state=seed).fit(X)
    return model, model.transform(X)


def kmeans(X: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Cluster label of each row (k-means++ seeding, 10 restarts; k capped at the row count)."""
    from sklearn.cluster import KMeans

    k = min(k, len(X))
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(X)


@dataclass
class CandidateSets:
    """Row indices (into the arrays given) of the clustered and the greedy set, nearest first."""

    clustered: np.ndarray
    greedy: np.ndarray
    pool: np.ndarray


def candidate_sets(target: np.ndarray, properties: np.ndarray, mu: np.ndarray, *, size: int = 10,
                   pool: int = 200, seed: int = 0) -> CandidateSets:
    """A small, diverse candidate set for a target property vector: of the ``pool`` entries nearest
    the target (Euclidean in property units), k-means on the first two principal components of
    their latent means, and the entry nearest the target from each of ``size`` clusters.  The
    greedy baseline is the ``size`` nearest entries."""
    d = np.linalg.norm(np.asarray(properties, float) - np.asarray(target, float), axis=1)
    order = np.argsort(d, kind="stable")
    near = order[:max(pool, size)]
    _, scores = pca(mu[near], 2, seed)
    labels = kmeans(scores, size, seed)
    best = [near[labels == c][np.argmin(d[near[labels == c]])] for c in np.unique(labels)]
    clustered = np.array(sorted(best, key=lambda i: d[i]), dtype=np.int64)
    return CandidateSets(clustered, order[:size].astype(np.int64), near.astype(np.int64))


def mean_pairwise_distance(X: np.ndarray, metric: str = "euclidean") -> float:
    """Mean distance over all pairs of rows (flattened); "hamming" gives the mean fraction of
    differing entries -- pixels or voxels for binary cells."""
    X = np.asarray(X).reshape(len(X), -1)
    return float(pdist(X, metric).mean()) if len(X) > 1 else 0.0
