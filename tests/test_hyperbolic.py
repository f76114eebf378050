"""Stage II Poincaré model: distances against geoopt, training on a small tree (finite, inside
the ball, parents nearer the origin, held-out codes placed under their parent)."""

from __future__ import annotations

import geoopt
import numpy as np
import pytest
import torch

from mash_kg.hyperbolic import TrainSettings, embed, pairwise_distance, poincare_distance, train


@pytest.mark.parametrize("c", [0.5, 1.0, 2.0])
def test_pairwise_distance_matches_geoopt(c):
    ball = geoopt.PoincareBall(c=c)
    g = torch.Generator().manual_seed(0)

    def points(n):  # radii up to 0.8 of the ball's, away from geoopt's boundary clamps
        d = torch.randn(n, 4, generator=g, dtype=torch.float64)
        r = 0.8 / c**0.5 * torch.rand(n, 1, generator=g, dtype=torch.float64)
        return d / d.norm(dim=-1, keepdim=True) * r

    u, v = points(6), points(5)
    expected = ball.dist(u.unsqueeze(1), v.unsqueeze(0))
    torch.testing.assert_close(pairwise_distance(u, v, c), expected, atol=1e-9, rtol=1e-7)
    np.testing.assert_allclose(
        poincare_distance(u.numpy(), v.numpy(), c), expected.numpy(), atol=1e-9
    )


def _tree(branch: int = 4, depth: int = 3, dim: int = 24, seed: int = 0):
    """A balanced tree; a node's features = its parent's + noise (so text-like similarity)."""
    rng = np.random.default_rng(seed)
    feats, child, parent, level = [rng.standard_normal(dim)], [], [], [0]
    frontier = [0]
    for lvl in range(1, depth + 1):
        nxt = []
        for p in frontier:
            for _ in range(branch):
                i = len(feats)
                feats.append(feats[p] + rng.standard_normal(dim) / lvl)
                child.append(i)
                parent.append(p)
                level.append(lvl)
                nxt.append(i)
        frontier = nxt
    return np.array(feats), np.array(child), np.array(parent), np.array(level)


@pytest.mark.parametrize("gnn_layers", [0, 1])
def test_training_on_a_small_tree_places_held_out_leaves(gnn_layers):
    feats, child, parent, level = _tree()
    leaves = np.flatnonzero(level == 3)
    held = np.random.default_rng(1).permutation(leaves)[:16]
    keep = ~np.isin(child, held)
    graph = np.concatenate(
        [np.stack([child[keep], parent[keep]]), np.stack([parent[keep], child[keep]])], axis=1
    )
    s = TrainSettings(
        dim=8,
        hidden=64,
        epochs=300,
        batch=64,
        negatives=32,
        hard_negatives=3,
        gnn_layers=gnn_layers,
        lr=1e-2,
    )
    model, fig = train(feats, child[keep], parent[keep], s, graph=graph if gnn_layers else None)
    z = embed(model, feats, graph if gnn_layers else None)
    assert z.dtype == np.float32 and np.isfinite(z).all() and fig["final_loss"] < 2.0
    assert (np.linalg.norm(z, axis=1) < 1.0).all()
    norms = np.linalg.norm(z, axis=1)
    assert norms[level == 1].mean() < norms[level == 3].mean()  # general near the origin
    candidates = np.flatnonzero(level == 2)
    d = poincare_distance(z[held], z[candidates])
    truth = dict(zip(child, parent, strict=True))
    hit1 = (candidates[d.argmin(axis=1)] == np.array([truth[h] for h in held])).mean()
    assert hit1 >= 0.75  # 16 candidate parents: chance is 1/16
