"""Alignment of one site's embedding space onto a reference space (Stage I baselines).

- `procrustes`: the orthogonal map W minimising ||X_anchor W - Y_anchor|| (MUGS' choice).
- `sinkhorn_plan`: entropic optimal transport (POT) between two point clouds, for matching
  without (or beyond) anchors.
- `csls_topk`: retrieval of each mapped source code's top-k target counterparts by CSLS
  (cross-domain similarity local scaling), which corrects the hubness of plain cosine.
The neural OT map of MASH builds on these and lands with the rest of issue 3.
"""

from __future__ import annotations

import numpy as np


def _normalise(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, n, out=np.zeros_like(x, dtype=float), where=n > 0)


def procrustes(source_anchors: np.ndarray, target_anchors: np.ndarray) -> np.ndarray:
    """Orthogonal W (d x d) with source @ W ~ target on the anchor rows (paired by row)."""
    if source_anchors.shape != target_anchors.shape:
        raise ValueError("anchor matrices must have the same shape (paired rows)")
    u, _, vt = np.linalg.svd(source_anchors.T @ target_anchors)
    return u @ vt


def sinkhorn_plan(
    source: np.ndarray, target: np.ndarray, reg: float = 0.05, n_iter: int = 1000
) -> np.ndarray:
    """Entropic OT plan (uniform weights, cosine cost) between the rows of two clouds."""
    import ot

    cost = 1.0 - _normalise(source) @ _normalise(target).T
    a = np.full(len(source), 1.0 / len(source))
    b = np.full(len(target), 1.0 / len(target))
    # the log-domain solver stays stable at the small regularisations that matching needs
    return ot.sinkhorn(a, b, cost, reg, method="sinkhorn_log", numItermax=n_iter, stopThr=1e-7)


def csls_topk(
    mapped: np.ndarray, target: np.ndarray, k: int = 5, knn: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and CSLS scores of each source row's k best target rows.

    CSLS(x, y) = 2 cos(x, y) - r_T(x) - r_S(y), r the mean cosine to the `knn` nearest
    neighbours in the other space.
    """
    s, t = _normalise(mapped), _normalise(target)
    sims = s @ t.T
    kk = min(knn, sims.shape[1]), min(knn, sims.shape[0])
    r_src = np.sort(sims, axis=1)[:, -kk[0] :].mean(axis=1)
    r_tgt = np.sort(sims, axis=0)[-kk[1] :, :].mean(axis=0)
    csls = 2 * sims - r_src[:, None] - r_tgt[None, :]
    k = min(k, csls.shape[1])
    idx = np.argsort(-csls, axis=1)[:, :k]
    return idx, np.take_along_axis(csls, idx, axis=1)
