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
from pipeline_lib.truss3d.model import FREE_INDEX, IU, N_ADJ, LatticeVAE, ModelConfig, deserialize, serialize
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


RELAXATIONS = ("straight_through", "soft")
_DIAGONAL = torch.as_tensor(IU[0] == IU[1])  # serialized entries on the diagonal: always 1 in the data
_NODE_ENTRIES = torch.zeros(27, N_ADJ)  # node i <- its off-diagonal serialized entries
_NODE_ENTRIES[IU[0][IU[0] != IU[1]], np.flatnonzero(IU[0] != IU[1])] = 1.0
_NODE_ENTRIES[IU[1][IU[0] != IU[1]], np.flatnonzero(IU[0] != IU[1])] = 1.0


def relaxed_lattice(model: LatticeVAE, z: torch.Tensor, relaxation: str = "straight_through"
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Differentiable decode: serialized adjacency (B, 378) and free offsets (B, 27) of the
    lattice ``decode`` would make, as the encoder reads them.

    ``straight_through``: the forward pass is the thresholded lattice itself (entries 0/1, offsets
    of unused nodes zeroed, as in the data), the backward pass the gradient of the probabilities,
    so the search scores exactly the lattice it would output (floating members aside) and still
    has a gradient.  ``soft``: the probabilities themselves and offsets scaled by each node's
    probability of being used, smooth but off the data the encoder was trained on."""
    if relaxation not in RELAXATIONS:
        raise ValueError(f"relaxation must be one of {RELAXATIONS}, got {relaxation!r}")
    logits, x = model.decode(z)
    p = torch.sigmoid(logits)
    diag = _DIAGONAL.to(p.device)
    p = torch.where(diag, torch.ones_like(p), p)
    # a node is used when any of its beams is: 1 - prod(1 - p) over its entries, in logs
    entries = _NODE_ENTRIES.to(p.device, p.dtype)
    used = 1.0 - torch.exp(torch.log1p(-p.clamp(max=1 - 1e-6)) @ entries.T)  # (B, 27)
    node_of_free = torch.as_tensor(FREE_INDEX[:, 0], device=p.device)
    if relaxation == "soft":
        return p, x * used[:, node_of_free]
    hard = (p > 0.5).to(p.dtype)
    a = hard + (p - p.detach())  # exactly the hard value forward
    hard_used = ((hard @ entries.T) > 0).to(p.dtype)
    u = hard_used + (used - used.detach())
    return a, x * u[:, node_of_free]


def reencode(model: LatticeVAE, z: torch.Tensor, relaxation: str = "straight_through") -> torch.Tensor:
    """Latent mean of the lattice decoded from ``z`` (paper 002's remedy against invalid
    structures: the predictor scores the encoding of what is decoded, not z itself)."""
    return model.encode(*relaxed_lattice(model, z, relaxation))[0]


def predict_tensor(model: LatticeVAE, mu: torch.Tensor) -> torch.Tensor:
    """The nine stiffness components (units of E_s) at latent means, differentiable."""
    t = model.predict_standardized(mu) * model.y_std + model.y_mean
    if model.cfg.log_properties:
        t = torch.sign(t) * (10 ** t.abs() - 1) * model.log_scale.to(t.dtype)
    return t


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
