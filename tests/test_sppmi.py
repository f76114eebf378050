"""SPPMI weights and the truncated SVD embedding (`mash_kg.sppmi`) on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mash_kg.sppmi import sppmi, svd_embedding


def test_sppmi_of_hand_made_counts():
    c = np.array([[0, 4, 0], [4, 0, 2], [0, 2, 0]], dtype=float)
    total = c.sum()  # 12
    row = c.sum(axis=1)  # 4, 6, 2
    expected = np.zeros_like(c)
    for i, j in [(0, 1), (1, 0), (1, 2), (2, 1)]:
        expected[i, j] = max(np.log(c[i, j] * total / (row[i] * row[j])), 0)
    got = sppmi(sp.csr_matrix(c)).toarray()
    np.testing.assert_allclose(got, expected)
    assert got[0, 1] == pytest.approx(np.log(2))  # 4*12/(4*6)
    assert got[1, 2] == pytest.approx(np.log(2))  # 2*12/(6*2)
    shifted = sppmi(sp.csr_matrix(c), shift=2).toarray()
    np.testing.assert_allclose(shifted, np.maximum(expected - np.log(2), 0), atol=1e-12)
    assert shifted[0, 1] == pytest.approx(0)


def test_svd_embedding_recovers_blocks_and_is_normalised():
    # two groups of codes that only co-occur within their group
    block = np.ones((4, 4)) - np.eye(4)
    c = sp.block_diag([block * 10, block * 10]).tocsr()
    emb = svd_embedding(sppmi(c), dim=2)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0)
    sims = emb @ emb.T
    assert sims[0, 1] > 0.99 and abs(sims[0, 5]) < 1e-6
    again = svd_embedding(sppmi(c), dim=2)
    np.testing.assert_allclose(emb, again)


def test_svd_embedding_large_sparse_matches_dense():
    rng = np.random.default_rng(1)
    x = sp.random(120, 120, density=0.05, random_state=rng)
    x = (x + x.T).tocsr()
    sparse_emb = svd_embedding(x, dim=5)
    u, s, _ = np.linalg.svd(x.toarray())
    assert np.allclose(np.abs(sparse_emb @ sparse_emb.T).max(), 1.0)
    # same subspace as the exact top-5 singular vectors (before normalisation)
    dense = u[:, :5] * np.sqrt(s[:5])
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    np.testing.assert_allclose(
        np.abs(sparse_emb @ sparse_emb.T), np.abs(dense @ dense.T), atol=1e-6
    )
