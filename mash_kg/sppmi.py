"""Shifted positive PMI of a co-occurrence matrix and its truncated SVD embedding (Stage I).

PMI(i,j) = log( C(i,j) * C(.,.) / (C(i,.) * C(.,j)) );  SPPMI = max(PMI - log(shift), 0).
Embedding = U * sqrt(sigma) of the top `dim` singular triplets, rows l2-normalised (codes
with no co-occurrence get a zero row). Signs are fixed so each column's largest entry is
positive, which makes the result reproducible.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds


def sppmi(counts: sp.spmatrix, shift: float = 1.0) -> sp.csr_matrix:
    """SPPMI on the non-zero cells of a (symmetric) count matrix."""
    if shift < 1:
        raise ValueError(f"shift must be >= 1 (got {shift})")
    c = sp.csr_matrix(counts, dtype=np.float64)
    c.eliminate_zeros()
    total = c.sum()
    if total == 0:
        return sp.csr_matrix(c.shape, dtype=np.float64)
    row = np.asarray(c.sum(axis=1)).ravel()
    col = np.asarray(c.sum(axis=0)).ravel()
    coo = c.tocoo()
    pmi = np.log(coo.data) + np.log(total) - np.log(row[coo.row]) - np.log(col[coo.col])
    values = np.maximum(pmi - np.log(shift), 0.0)
    out = sp.csr_matrix((values, (coo.row, coo.col)), shape=c.shape)
    out.eliminate_zeros()
    return out


def svd_embedding(matrix: sp.spmatrix, dim: int, seed: int = 0) -> np.ndarray:
    """Rows of U * sqrt(sigma) for the `dim` largest singular values, l2-normalised."""
    m = sp.csr_matrix(matrix, dtype=np.float64)
    n = min(m.shape)
    if dim < 1:
        raise ValueError("dim must be >= 1")
    k = min(dim, n - 1) if n > 1 else 1
    if m.nnz == 0:
        return np.zeros((m.shape[0], dim))
    if k < n - 1 and n > 50:
        rng = np.random.default_rng(seed)
        u, s, _ = svds(m, k=k, v0=rng.standard_normal(n), random_state=seed)
    else:  # small matrices: the dense SVD is exact and cheap
        u, s, _ = np.linalg.svd(m.toarray(), full_matrices=False)
        u, s = u[:, :k], s[:k]
    order = np.argsort(-s)
    u, s = u[:, order], s[order]
    signs = np.sign(u[np.abs(u).argmax(axis=0), np.arange(u.shape[1])])
    signs[signs == 0] = 1
    emb = u * signs * np.sqrt(s)
    if emb.shape[1] < dim:  # fewer codes than dimensions: pad with zeros
        emb = np.hstack([emb, np.zeros((emb.shape[0], dim - emb.shape[1]))])
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    return np.divide(emb, norms, out=np.zeros_like(emb), where=norms > 0)
