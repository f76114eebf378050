"""Alignment maths on cases with known answers."""

from __future__ import annotations

import numpy as np
from scipy.stats import ortho_group

from mash_kg.align import csls_topk, procrustes, sinkhorn_plan


def test_procrustes_recovers_a_known_rotation():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 16))
    rotation = ortho_group.rvs(16, random_state=1)
    y = x @ rotation
    w = procrustes(x[:40], y[:40])  # 40 anchors are plenty in 16 dimensions
    np.testing.assert_allclose(w, rotation, atol=1e-8)
    np.testing.assert_allclose(w @ w.T, np.eye(16), atol=1e-10)


def test_sinkhorn_recovers_a_known_permutation():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((60, 8))
    perm = rng.permutation(60)
    y = x[perm] + 0.01 * rng.standard_normal((60, 8))
    plan = sinkhorn_plan(x, y, reg=0.01, n_iter=5000)
    assert np.allclose(plan.sum(axis=1), 1 / 60, atol=1e-4)
    # row i of x went to the position of i in perm
    assert (plan.argmax(axis=1) == np.argsort(perm)).all()


def test_csls_finds_counterparts_and_scores_in_order():
    rng = np.random.default_rng(3)
    target = rng.standard_normal((50, 12))
    source = target[::-1] + 0.05 * rng.standard_normal((50, 12))
    idx, score = csls_topk(source, target, k=3)
    assert (idx[:, 0] == np.arange(49, -1, -1)).all()
    assert (np.diff(score, axis=1) <= 0).all()
