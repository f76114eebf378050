"""Stage II Poincaré model (mash_kg/hyperbolic.py): batches, the forward pass as the ball's maths,
training on a small tree (finite, inside the ball, parents nearer the origin, held-out codes
placed under their parent)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mash_kg import poincare
from mash_kg.hierarchy.hyperbolic import (
    PoincareModel,
    TrainSettings,
    draw_batch,
    embed,
    encode_batch,
    message_graph,
    sibling_table,
    train,
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
    d = poincare.distance_matrix(z[held], z[candidates])
    truth = dict(zip(child, parent, strict=True))
    hit1 = (candidates[d.argmin(axis=1)] == np.array([truth[h] for h in held])).mean()
    assert hit1 >= 0.75  # 16 candidate parents: chance is 1/16


def test_hard_negatives_are_the_parents_siblings_and_batches_repeat_by_seed():
    feats, child, parent, level = _tree(branch=3, depth=3)
    n = len(feats)
    siblings = sibling_table(child, parent, n)
    s = TrainSettings(batch=16, negatives=8, hard_negatives=4)
    b = draw_batch(np.random.default_rng(5), child, parent, siblings, n, s)
    again = draw_batch(np.random.default_rng(5), child, parent, siblings, n, s)
    assert all(np.array_equal(x, y) for x, y in zip(b, again, strict=True))
    truth = dict(zip(child, parent, strict=True))
    assert len(b.child) == 16 and b.hard.shape == (16, 4)
    for c, p, hard in zip(b.child, b.parent, b.hard, strict=True):
        assert truth[c] == p
        if p in truth:  # a parent with a parent: its siblings are the hard negatives
            assert set(hard) <= {k for k, q in truth.items() if q == truth[p] and k != p}
        else:  # a root has none: the shared random ones stand in
            assert set(hard) <= set(b.shared)


@pytest.mark.parametrize("c", [0.5, 1.0, 2.0])
def test_the_forward_pass_is_exp0_of_the_mlp_inside_the_ball(c):
    torch.manual_seed(0)
    model = PoincareModel(6, TrainSettings(dim=3, hidden=8, curvature=c)).double()
    x = torch.randn(5, 6, dtype=torch.float64) * 50  # far out: projection must act
    z = model(x)
    expected = poincare.project(poincare.expmap0(model.encoder(x), c), c)
    torch.testing.assert_close(z, expected)
    assert (z.norm(dim=-1) < 1 / c**0.5).all()


def test_a_batchs_supervised_edges_are_hidden_from_message_passing():
    feats, child, parent, _ = _tree(branch=2, depth=2)
    n = len(feats)
    graph = np.concatenate([np.stack([child, parent]), np.stack([parent, child])], axis=1)
    s = TrainSettings(dim=4, hidden=8, gnn_layers=1, batch=len(child), negatives=4)
    model = PoincareModel(feats.shape[1], s)
    x = torch.tensor(feats, dtype=torch.float32)
    edges = message_graph(graph, n, torch.device("cpu"))
    b = draw_batch(np.random.default_rng(0), child, parent, sibling_table(child, parent, n), n, s)
    # every edge is supervised in this batch: message passing sees none, only self-loops
    hidden = encode_batch(model, x, edges, b)
    alone = model(x, torch.empty(2, 0, dtype=torch.long))
    torch.testing.assert_close(hidden, alone)
    assert not torch.allclose(model(x, edges.edges), alone)
