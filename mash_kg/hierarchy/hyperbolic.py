"""Stage II: hyperbolic embeddings of codes on a Poincaré ball (geoopt), from their features.

Every code is embedded by one model from its Stage I features, so a code without any curated
edge is placed like any other:

    z = exp_0(MLP(features))              (PoincareModel, gnn_layers=0)
    z = HGCN^L(exp_0(MLP(features)), G)   (refined by hyperbolic graph convolutions over G)

Trained with Riemannian Adam on
- the curated hierarchy: for each (child, parent) edge a softmax over -d(child, .) between the
  parent and negatives (random codes and hard ones: the parent's siblings), Nickel & Kiela;
- parent-nearer-origin ordering: relu(|z_parent| - |z_child| + margin);
- preservation of Stage I similarity: d(z_i, z_j) tracks 1 - cos(f_i, f_j) on random pairs.
Norms are clamped inside the ball (projx) after every operation; float32 by default.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

import geoopt
import numpy as np
import pandas as pd
import torch

from mash_kg import poincare
from mash_kg.nn.conv import HGCNConv
from mash_kg.settings import TrainSettings


class PoincareModel(torch.nn.Module):
    """Features -> points on the ball, optionally refined by HGCN layers over a graph."""

    def __init__(self, in_dim: int, s: TrainSettings) -> None:
        super().__init__()
        self.c = s.curvature
        self.ball = geoopt.PoincareBall(c=s.curvature)  # the HGCN layers' manifold
        self.encoder = torch.nn.Sequential(
            torch.nn.Linear(in_dim, s.hidden), torch.nn.GELU(), torch.nn.Linear(s.hidden, s.dim)
        )
        self.convs = torch.nn.ModuleList(
            HGCNConv(s.dim, s.dim, self.ball, act=torch.nn.Tanh()) for _ in range(s.gnn_layers)
        )

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor | None = None) -> torch.Tensor:
        z = poincare.project(poincare.expmap0(self.encoder(x), self.c), self.c)
        for conv in self.convs:
            # residual in the tangent space keeps each code's own position in the mix
            refined = conv(z, edge_index)
            z = poincare.project(poincare.tangent_mean(torch.stack([z, refined]), self.c), self.c)
        return z


def sibling_table(child: np.ndarray, parent: np.ndarray, n: int) -> list[np.ndarray]:
    """For every node, the other children of its parents (hard negatives for its parent)."""
    kids: dict[int, list[int]] = {}
    for c, p in zip(child.tolist(), parent.tolist(), strict=True):
        kids.setdefault(p, []).append(c)
    grand = dict(zip(child.tolist(), parent.tolist(), strict=False))
    out = [np.zeros(0, dtype=np.int64)] * n
    for p in set(parent.tolist()):
        g = grand.get(p)
        if g is not None:  # siblings of p = other children of p's parent
            out[p] = np.array([k for k in kids.get(g, []) if k != p], dtype=np.int64)
    return out


class Batch(NamedTuple):
    """One step's rows: (child, parent) pairs, their negatives, and random similarity pairs."""

    child: np.ndarray
    parent: np.ndarray
    hard: np.ndarray  # (pairs, hard_negatives): the parent's siblings
    shared: np.ndarray  # random negatives shared by the batch
    pair_i: np.ndarray
    pair_j: np.ndarray


def draw_batch(
    rng: np.random.Generator,
    child: np.ndarray,
    parent: np.ndarray,
    siblings: list[np.ndarray],
    n: int,
    s: TrainSettings,
) -> Batch:
    """A random batch of training pairs with hard negatives (a parent without siblings: the
    shared random ones) and `batch` random pairs for the similarity term."""
    pick = rng.choice(len(child), min(s.batch, len(child)), replace=False)
    c, p = child[pick], parent[pick]
    hard = np.empty((len(pick), s.hard_negatives), dtype=np.int64)
    shared = rng.integers(0, n, s.negatives)
    for row, q in enumerate(p):
        pool = siblings[q] if len(siblings[q]) else shared
        hard[row] = pool[rng.integers(0, len(pool), s.hard_negatives)]
    pair_i, pair_j = rng.integers(0, n, s.batch), rng.integers(0, n, s.batch)
    return Batch(c, p, hard, shared, pair_i, pair_j)


class MessageGraph(NamedTuple):
    """The GNN's (2, E) edges and, per (a * n + b) key, the ids of the edges a -> b."""

    edges: torch.Tensor
    edge_ids: dict[int, list[int]]


def message_graph(graph: np.ndarray, n: int, dev: torch.device) -> MessageGraph:
    key = graph[0].astype(np.int64) * n + graph[1]
    edge_ids = pd.Series(np.arange(len(key))).groupby(key).agg(list).to_dict()
    return MessageGraph(torch.tensor(graph, dtype=torch.long, device=dev), edge_ids)


def encode_batch(
    model: PoincareModel, x: torch.Tensor, graph: MessageGraph | None, b: Batch
) -> torch.Tensor:
    """Points of all rows for one step. With message passing, the batch's supervised pairs
    are hidden from the graph (both directions), as a held-out code's edge is; without it,
    only the batch's rows are encoded (the others stay zero)."""
    n = len(x)
    if model.convs:
        keep = torch.ones(graph.edges.shape[1], dtype=torch.bool, device=x.device)
        keys = np.concatenate([b.child * n + b.parent, b.parent * n + b.child])
        hide = [e for k in keys for e in graph.edge_ids.get(k, [])]
        keep[torch.as_tensor(hide, dtype=torch.long, device=x.device)] = False
        return model(x, graph.edges[:, keep])
    rows = np.unique(
        np.concatenate([b.child, b.parent, b.hard.ravel(), b.shared, b.pair_i, b.pair_j])
    )
    rows = torch.as_tensor(rows, device=x.device)
    z = torch.zeros(n, model.encoder[-1].out_features, device=x.device)
    return z.index_put((rows,), model(x[rows]))


def hierarchy_loss(z: torch.Tensor, b: Batch, s: TrainSettings) -> torch.Tensor:
    """Softmax over -d(child, .) / T of the parent against its negatives (the parent itself
    masked among them), plus relu(|z_parent| - |z_child| + margin)."""
    t = lambda a: torch.as_tensor(a, device=z.device)  # noqa: E731
    zc, zp = z[t(b.child)], z[t(b.parent)]
    c = s.curvature
    d_pos = poincare.distance(zc, zp, c).unsqueeze(1)
    d_hard = poincare.distance(zc.unsqueeze(1), z[t(b.hard)], c)
    d_rand = poincare.distance_matrix(zc, z[t(b.shared)], c)
    logits = -torch.cat([d_pos, d_hard, d_rand], dim=1) / s.temperature
    shared = np.broadcast_to(b.shared, (len(b.child), len(b.shared)))
    negs = np.concatenate([b.hard, shared], axis=1)
    logits[:, 1:] = logits[:, 1:].masked_fill(t(negs == b.parent[:, None]), -1e9)
    target = torch.zeros(len(b.child), dtype=torch.long, device=z.device)
    loss = torch.nn.functional.cross_entropy(logits, target)
    order = torch.relu(zp.norm(dim=-1) - zc.norm(dim=-1) + s.order_margin).mean()
    return loss + s.order_weight * order


def similarity_loss(
    z: torch.Tensor, x_unit: torch.Tensor, b: Batch, s: TrainSettings
) -> torch.Tensor:
    """d(z_i, z_j) / 4 tracks 1 - cos(f_i, f_j) on the batch's random pairs."""
    i, j = torch.as_tensor(b.pair_i, device=z.device), torch.as_tensor(b.pair_j, device=z.device)
    target_d = 1.0 - (x_unit[i] * x_unit[j]).sum(-1)
    dij = poincare.distance(z[i], z[j], s.curvature)
    return ((dij / 4.0 - target_d) ** 2).mean()


def train(
    features: np.ndarray,
    child: np.ndarray,
    parent: np.ndarray,
    settings: TrainSettings | None = None,
    graph: np.ndarray | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[PoincareModel, dict]:
    """Train on (child -> parent) rows of `features`; `graph` = (2, E) message-passing edges
    for the GNN layers. Returns the model and figures (seconds, seconds per epoch, losses)."""
    s = settings or TrainSettings()
    torch.manual_seed(s.seed)
    rng = np.random.default_rng(s.seed)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    x = torch.tensor(features, dtype=torch.float32, device=dev)
    x_unit = torch.nn.functional.normalize(x, dim=-1)
    model = PoincareModel(x.shape[1], s).to(dev)
    opt = geoopt.optim.RiemannianAdam(model.parameters(), lr=s.lr)
    edges = None if graph is None else message_graph(graph, len(features), dev)
    siblings = sibling_table(child, parent, len(features))
    start = time.perf_counter()
    losses = []
    for epoch in range(s.epochs):
        b = draw_batch(rng, child, parent, siblings, len(features), s)
        z = encode_batch(model, x, edges, b)
        loss = hierarchy_loss(z, b, s)
        if s.similarity_weight > 0:
            loss = loss + s.similarity_weight * similarity_loss(z, x_unit, b, s)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss became {loss.item()} at epoch {epoch}")
        losses.append(loss.item())
        if log and (epoch + 1) % 100 == 0:
            log(f"epoch {epoch + 1}: loss {np.mean(losses[-100:]):.4f}")
    seconds = time.perf_counter() - start
    return model, {
        "seconds": seconds,
        "seconds_per_epoch": seconds / max(s.epochs, 1),
        "final_loss": float(np.mean(losses[-20:])) if losses else None,
    }


@torch.no_grad()
def embed(
    model: PoincareModel, features: np.ndarray, graph: np.ndarray | None = None
) -> np.ndarray:
    """Points of all rows (after training)."""
    dev = next(model.parameters()).device
    x = torch.tensor(features, dtype=torch.float32, device=dev)
    ei = None if graph is None else torch.tensor(graph, dtype=torch.long, device=dev)
    return model(x, ei).cpu().numpy()
