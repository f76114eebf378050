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

import geoopt
import numpy as np
import pandas as pd
import torch

from mash_kg.nn.conv import HGCNConv
from mash_kg.settings import TrainSettings
from mash_kg.tree_embedding import poincare_distance  # noqa: F401 (one implementation)


class PoincareModel(torch.nn.Module):
    """Features -> points on the ball, optionally refined by HGCN layers over a graph."""

    def __init__(self, in_dim: int, s: TrainSettings) -> None:
        super().__init__()
        self.ball = geoopt.PoincareBall(c=s.curvature)
        self.encoder = torch.nn.Sequential(
            torch.nn.Linear(in_dim, s.hidden), torch.nn.GELU(), torch.nn.Linear(s.hidden, s.dim)
        )
        self.convs = torch.nn.ModuleList(
            HGCNConv(s.dim, s.dim, self.ball, act=torch.nn.Tanh()) for _ in range(s.gnn_layers)
        )

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor | None = None) -> torch.Tensor:
        z = self.ball.projx(self.ball.expmap0(self.encoder(x)))
        for conv in self.convs:
            # residual in the tangent space keeps each code's own position in the mix
            refined = conv(z, edge_index)
            z = self.ball.projx(
                self.ball.expmap0(0.5 * (self.ball.logmap0(z) + self.ball.logmap0(refined)))
            )
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


def train(
    features: np.ndarray,
    child: np.ndarray,
    parent: np.ndarray,
    settings: TrainSettings | None = None,
    graph: np.ndarray | None = None,
    log: callable | None = None,
) -> tuple[PoincareModel, dict]:
    """Train on (child -> parent) rows of `features`; `graph` = (2, E) message-passing edges
    for the GNN layers. Returns the model and figures (seconds, seconds per epoch, losses)."""
    s = settings or TrainSettings()
    torch.manual_seed(s.seed)
    rng = np.random.default_rng(s.seed)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    x = torch.tensor(features, dtype=torch.float32, device=dev)
    x_unit = torch.nn.functional.normalize(x, dim=-1)
    n = len(features)
    model = PoincareModel(x.shape[1], s).to(dev)
    opt = geoopt.optim.RiemannianAdam(model.parameters(), lr=s.lr)
    ei = None if graph is None else torch.tensor(graph, dtype=torch.long, device=dev)
    if graph is not None:
        # the graph edge ids of each supervised (child, parent) pair, both directions: an
        # epoch's pairs are hidden from message passing, as a held-out code's edge is
        key = graph[0].astype(np.int64) * n + graph[1]
        edge_ids = pd.Series(np.arange(len(key))).groupby(key).agg(list).to_dict()
    siblings = sibling_table(child, parent, n)
    start = time.perf_counter()
    losses = []
    for epoch in range(s.epochs):
        pick = rng.choice(len(child), min(s.batch, len(child)), replace=False)
        c, p = child[pick], parent[pick]
        hard = np.empty((len(pick), s.hard_negatives), dtype=np.int64)
        shared = rng.integers(0, n, s.negatives)  # random negatives shared by the batch
        for row, q in enumerate(p):
            pool = siblings[q] if len(siblings[q]) else shared
            hard[row] = pool[rng.integers(0, len(pool), s.hard_negatives)]
        pair_i, pair_j = rng.integers(0, n, s.batch), rng.integers(0, n, s.batch)
        if model.convs:
            keep = torch.ones(ei.shape[1], dtype=torch.bool, device=dev)
            hide = [e for k in np.concatenate([c * n + p, p * n + c]) for e in edge_ids.get(k, [])]
            keep[torch.as_tensor(hide, dtype=torch.long, device=dev)] = False
            z = model(x, ei[:, keep])
        else:  # without message passing only the codes of this batch need encoding
            rows = torch.as_tensor(
                np.unique(np.concatenate([c, p, hard.ravel(), shared, pair_i, pair_j])), device=dev
            )
            z = torch.zeros(n, s.dim, device=dev).index_put((rows,), model(x[rows]))
        t = lambda a: torch.as_tensor(a, device=dev)  # noqa: E731
        zc, zp = z[t(c)], z[t(p)]
        d_pos = model.ball.dist(zc, zp).unsqueeze(1)
        d_hard = model.ball.dist(zc.unsqueeze(1), z[t(hard)])
        d_rand = pairwise_distance(zc, z[t(shared)], s.curvature)
        logits = -torch.cat([d_pos, d_hard, d_rand], dim=1) / s.temperature
        negs = np.concatenate([hard, np.broadcast_to(shared, (len(pick), len(shared)))], axis=1)
        logits[:, 1:] = logits[:, 1:].masked_fill(t(negs == p[:, None]), -1e9)  # p itself
        target = torch.zeros(len(pick), dtype=torch.long, device=dev)
        loss = torch.nn.functional.cross_entropy(logits, target)
        loss = (
            loss
            + s.order_weight * torch.relu(zp.norm(dim=-1) - zc.norm(dim=-1) + s.order_margin).mean()
        )
        if s.similarity_weight > 0:
            i, j = t(pair_i), t(pair_j)
            target_d = 1.0 - (x_unit[i] * x_unit[j]).sum(-1)
            dij = model.ball.dist(z[i], z[j])
            loss = loss + s.similarity_weight * ((dij / 4.0 - target_d) ** 2).mean()
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


def pairwise_distance(u: torch.Tensor, v: torch.Tensor, c: float = 1.0) -> torch.Tensor:
    """All distances between rows of u and rows of v on the ball, as one matrix product."""
    uu = (u * u).sum(-1, keepdim=True)
    vv = (v * v).sum(-1, keepdim=True).T
    sq = (uu + vv - 2 * u @ v.T).clamp_min(0.0)
    denom = ((1 - c * uu) * (1 - c * vv)).clamp_min(1e-15)
    return torch.acosh((1 + 2 * c * sq / denom).clamp_min(1 + 1e-7)) / c**0.5
