"""Structure-aware text features: a code's description vector next to its neighbours' (Stage I).

Text vectors live in one space for every site (one model), so a code's *context* (the text of
its parents in the site's own code tree, or of the codes it co-occurs with) is comparable
across sites even when the codes are opaque. The alignment methods read these features.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

TREE_WEIGHTS = (1.0, 1.0, 0.5, 0.25)  # self, parent, grandparent, great-grandparent
# alignment features of a site: text, co-occurrence, neighbour text (stage1.SiteVectors)
FEATURE_WEIGHTS = (1.0, 0.3, 0.3)


def parent_index(ids: list[str], child: list[str], parent: list[str]) -> np.ndarray:
    """Row of each id's (first) parent among `ids`, -1 where it has none."""
    row = {c: i for i, c in enumerate(ids)}
    out = np.full(len(ids), -1, dtype=np.int64)
    for c, p in zip(child, parent, strict=True):
        if c in row and p in row and out[row[c]] < 0:
            out[row[c]] = row[p]
    return out


def tree_context(
    text: np.ndarray, parents: np.ndarray, weights: tuple[float, ...] = TREE_WEIGHTS
) -> np.ndarray:
    """[w0 text(code); w1 text(parent); w2 text(grandparent); ...], zeros above the root."""
    blocks, cur = [weights[0] * text], np.arange(len(text))
    for w in weights[1:]:
        cur = np.where(cur >= 0, parents[np.maximum(cur, 0)], -1)
        blocks.append(w * np.where((cur >= 0)[:, None], text[np.maximum(cur, 0)], 0.0))
    return np.concatenate(blocks, axis=1)


def neighbour_text(text: np.ndarray, weights: sp.spmatrix) -> np.ndarray:
    """Weighted mean text of each code's co-occurring codes (weights e.g. SPPMI), unit norm;
    zero for a code without neighbours."""
    w = sp.csr_matrix(weights, dtype=np.float64)
    rows = np.asarray(w.sum(axis=1)).ravel()
    mean = (w @ text) / np.where(rows > 0, rows, 1.0)[:, None]
    norm = np.linalg.norm(mean, axis=1, keepdims=True)
    mean = np.divide(mean, norm, out=np.zeros_like(mean), where=norm > 0)
    return mean
