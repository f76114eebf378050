"""Alignment maths on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ortho_group

from mash_kg.align import METHODS, align_sites, counterparts, csls_topk, procrustes, sinkhorn_plan


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


def _rotated_pair(n=120, d=16, noise=0.01, seed=4):
    """A cloud, a rotated and shuffled noisy copy, and the true match of every source row."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    rot = ortho_group.rvs(d, random_state=seed)
    perm = rng.permutation(n)
    y = (x @ rot)[perm] + noise * rng.standard_normal((n, d))
    return x, y, np.argsort(perm)  # source row i sits at target row argsort(perm)[i]


@pytest.mark.parametrize("method", METHODS)
def test_every_method_recovers_a_rotated_shuffled_copy_from_anchors(method):
    x, y, match = _rotated_pair()
    anchors = np.stack([np.arange(30), match[:30]], axis=1)
    al = align_sites(x, y, anchors, method=method, epochs=150, fgw_sample=120, seed=0)
    assert al.method == method and al.mapped.shape == x.shape
    assert np.allclose(np.linalg.norm(al.mapped, axis=1), 1)
    idx, score, prob = counterparts(al, y, k=3)
    assert (idx[30:, 0] == match[30:]).mean() >= 0.95
    # the transport methods rank by their plan; the linear maps (fused-GW too) by CSLS
    assert (al.plan is not None) == (method in ("sinkhorn", "neural_ot"))
    if al.plan is None:  # ranked by CSLS: scores fall with the rank, no probabilities
        assert (np.diff(score, axis=1) <= 1e-9).all()
        assert np.isnan(prob).all()
    else:  # ranked by the plan: its probabilities fall with the rank
        assert (np.diff(prob, axis=1) <= 1e-12).all()
        assert (idx[:30, 0] == match[:30]).all()  # anchors are pinned in the plan
        assert ((prob >= 0) & (prob <= 1 + 1e-9)).all()


def test_unknown_method_and_bad_anchors_are_errors():
    x = np.eye(3)
    with pytest.raises(ValueError, match="unknown alignment method"):
        align_sites(x, x, method="magic")
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        align_sites(x, x, np.arange(3), method="procrustes")
