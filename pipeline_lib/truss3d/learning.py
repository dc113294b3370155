"""Training targets, evaluation and inference of the truss3d graph VAE (arrays in, arrays out)."""
from __future__ import annotations

import networkx as nx
import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pipeline_lib import config
from pipeline_lib.elasticity import ORTHOTROPIC
from pipeline_lib.learn import inference as I
from pipeline_lib.learn import metrics as M
from pipeline_lib.truss3d.frame import is_valid, on_planes
from pipeline_lib.truss3d.model import FREE_INDEX, LatticeVAE, ModelConfig, deserialize, serialize
from pipeline_lib.truss3d.octant import positions


def targets(model: LatticeVAE, C9: np.ndarray) -> np.ndarray:
    """Property targets before standardization: C9 or, with log_properties, sign * log10(1 + |C| / s)
    (s = smallest nonzero magnitude), which keeps the sign of the off-diagonal terms."""
    C9 = np.asarray(C9, dtype=np.float64)
    if not model.cfg.log_properties:
        return C9
    return np.sign(C9) * np.log10(1 + np.abs(C9) / float(model.log_scale))


def from_targets(model: LatticeVAE, t: np.ndarray) -> np.ndarray:
    if not model.cfg.log_properties:
        return t
    return np.sign(t) * (10 ** np.abs(t) - 1) * float(model.log_scale)


def set_normalization(model: LatticeVAE, C9: np.ndarray) -> None:
    nz = np.abs(C9[C9 != 0])
    model.log_scale.fill_(float(nz.min()) if len(nz) else 1.0)
    I.set_normalization(model, targets(model, C9))


def tensors(model: LatticeVAE, adjacency, offsets, C9=None):
    a, x = serialize(adjacency, offsets)
    out = [torch.as_tensor(a), torch.as_tensor(x)]
    if C9 is not None:
        t = targets(model, C9)
        out.append(I.standardize(model, t))
    return out


def encode(model: LatticeVAE, adjacency, offsets, batch: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Latent mean and log-variance of lattices, in batches."""
    a, x = tensors(model, adjacency, offsets)
    return I.encode_batched(model, len(a), lambda rows: [a[rows], x[rows]], batch)


def drop_floating(adjacency: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the largest connected group of beams of each lattice, removing floating members.

    Paper 002's "light post-processing step" for lack of connectivity: a member that touches
    no other carries no load and would fall out of the printed part, so dropping it changes
    nothing physical.  Ties keep the group with the lowest node index.  All lattices are
    labelled at once, as one block-diagonal graph.  Returns copies."""
    A = np.array(adjacency, dtype=bool)
    X = np.array(offsets, dtype=float)
    n = len(A)
    eye = np.eye(27, dtype=bool)
    b, i, j = np.nonzero(np.triu(A, 1))
    graph = coo_matrix((np.ones(len(b)), (27 * b + i, 27 * b + j)), shape=(27 * n, 27 * n))
    labels = connected_components(graph, directed=False)[1].reshape(n, 27)
    used = (A & ~eye).any(2)
    size = np.bincount(labels.ravel(), weights=used.ravel(), minlength=27 * n)[labels] * used
    first = (size == size.max(1, keepdims=True)).argmax(1)  # lowest node of a largest group
    keep = (labels == labels[np.arange(n), first][:, None]) | ~used
    A &= (keep[:, :, None] & keep[:, None, :]) | eye
    X[~keep] = 0.0
    return A, X


@torch.no_grad()
def decode(model: LatticeVAE, z: np.ndarray, threshold: float = 0.5, clean: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Lattices (adjacency, offsets) decoded from latent vectors: entries above ``threshold``
    become beams, then (``clean``) floating members are dropped (``drop_floating``)."""
    model.eval()
    dev = I.device_of(model)
    logits, x = model.decode(torch.as_tensor(z, dtype=torch.float32, device=dev))
    A, X = deserialize(torch.sigmoid(logits).cpu().numpy(), x.cpu().numpy(), threshold)
    return drop_floating(A, X) if clean else (A, X)


@torch.no_grad()
def predict(model: LatticeVAE, z: np.ndarray) -> np.ndarray:
    """The nine stiffness components (units of E_s) from latent means."""
    model.eval()
    dev = I.device_of(model)
    t = model.predict_standardized(torch.as_tensor(z, dtype=torch.float32, device=dev))
    return from_targets(model, (t * model.y_std + model.y_mean).cpu().numpy().astype(np.float64))


def tiles_connected(adjacency: np.ndarray, offsets: np.ndarray) -> bool:
    """The validity of paper 002 (the ``validity`` metric): one connected component that touches
    all six octant faces, so it tiles into a connected periodic cell.  The database's stricter
    rules are ``pipeline_lib.truss3d.frame.is_valid``."""
    A = np.asarray(adjacency, dtype=bool)
    iu, ju = np.nonzero(np.triu(A, 1))
    if len(iu) == 0:
        return False
    g = nx.Graph()
    g.add_edges_from(zip(iu.tolist(), ju.tolist()))
    if not nx.is_connected(g):
        return False
    active = np.unique(np.concatenate([iu, ju]))
    return bool(on_planes(positions(offsets)[active]).any(axis=0).all())


def evaluate(model: LatticeVAE, adjacency, offsets, C9, n_samples: int, seed: int) -> dict:
    """Test-split metrics under the keys of data/truss3d/model/metrics.json."""
    mu, _ = encode(model, adjacency, offsets)
    A_rec, X_rec = decode(model, mu, clean=False)  # reconstruction scores the network alone
    upper = np.triu_indices(27, 1)
    truth_edges = np.asarray(adjacency, bool)[:, upper[0], upper[1]]
    pred_edges = A_rec[:, upper[0], upper[1]]
    a_true, _ = serialize(adjacency, offsets)
    a_pred, _ = serialize(A_rec, X_rec)
    # offsets: free directions of the nodes active in the true lattice
    active = (np.asarray(adjacency, bool) & ~np.eye(27, dtype=bool)).any(2)
    node_r2 = {}
    for axis, name in enumerate("xyz"):
        sel = FREE_INDEX[:, 1] == axis
        nodes = FREE_INDEX[sel, 0]
        mask = active[:, nodes]
        t = np.asarray(offsets)[:, nodes, axis][mask]
        p = X_rec[:, nodes, axis][mask]
        node_r2[name] = float(M.r2(t[:, None], p[:, None])[0])
    pred = predict(model, mu)
    z = np.random.default_rng(seed).standard_normal((n_samples, model.cfg.latent))
    A_raw, X_raw = decode(model, z, clean=False)
    A_s, X_s = drop_floating(A_raw, X_raw)
    return {
        "adjacency_accuracy": M.binary_accuracy(a_true > 0.5, a_pred > 0.5),
        "edge_f1": M.f1(truth_edges, pred_edges),
        "exact_topology_fraction": float((truth_edges == pred_edges).all(1).mean()),
        "node_r2": node_r2,
        "r2": {k: float(v) for k, v in zip(ORTHOTROPIC, M.r2(C9, pred))},
        "validity": float(np.mean([tiles_connected(a, x) for a, x in zip(A_s, X_s)])),
        # before floating members are dropped: the network's own rate
        "validity_raw": float(np.mean([tiles_connected(a, x) for a, x in zip(A_raw, X_raw)])),
        # the database's own rules (frame.database_problems: crossings split, no dangling node);
        # the same test screens decoded lattices for design (chain.screen)
        "validity_strict": float(np.mean([is_valid(a, x) for a, x in zip(A_s, X_s)])),
        "test_lattices": int(len(mu)),
        "latent": {"topology": model.cfg.topology, "shared": model.cfg.shared, "geometry": model.cfg.geometry},
    }


def build(cfg: dict) -> LatticeVAE:
    return LatticeVAE(config.build(ModelConfig, cfg, where="truss3d.model"))
