"""Source `counterparts`: Stage I's cross-site counterparts. A code aligned to a curated
code proposes that code's parents (known edges) and that code itself (the code is its
site's equivalent of it), scored by the alignment's score (the best over its counterparts);
every other candidate scores 0."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mash_kg.hierarchy.sources.base import Evidence, Query


class CounterpartScorer:
    def __init__(self, ev: Evidence) -> None:
        pos = {int(r): k for k, r in enumerate(ev.cand_rows)}
        ids = ev.space.nodes["id"].to_numpy()
        cand_pos = {ids[r]: k for r, k in pos.items()}
        parents = ev.edges.groupby("child")["parent"].agg(list).to_dict()
        cp = ev.counterparts
        score = cp["score"] if "score" in cp else pd.Series(1.0, index=cp.index)
        best: dict[tuple[str, int], float] = {}
        for a, b, s in zip(cp["id"], cp["other_id"], score.astype(float).fillna(0.0), strict=True):
            if a == b:
                continue
            for target in [b, *parents.get(b, ())]:
                k = cand_pos.get(target)
                if k is not None and s > best.get((a, k), -np.inf):
                    best[(a, k)] = s
        codes = sorted({a for a, _ in best})
        self.code = {c: i for i, c in enumerate(codes)}
        r = [self.code[a] for a, _ in best]
        c = [k for _, k in best]
        # shifted so that a proposal always beats "no proposal" (0), whatever the scale
        v = np.array(list(best.values()), dtype=np.float64)
        v = v - (v.min() if len(v) else 0.0) + 1.0
        self.matrix = sp.csr_matrix((v, (r, c)), shape=(max(len(codes), 1), len(ev.cand_rows)))

    def _rows(self, q: Query) -> sp.csr_matrix:
        idx = np.array([self.code.get(x, -1) for x in q.ids], dtype=np.int64)
        m = self.matrix[np.maximum(idx, 0)]
        return sp.diags((idx >= 0).astype(np.float64)) @ m

    def proposals(self, q: Query) -> list[np.ndarray]:
        """Per query row the candidate positions its counterparts propose."""
        m = self._rows(q).tocsr()
        return [m.indices[m.indptr[i] : m.indptr[i + 1]] for i in range(len(q))]

    def score(self, q: Query, cand: np.ndarray | None) -> np.ndarray:
        m = self._rows(q)
        if cand is None:
            return m.toarray()
        n, k = cand.shape
        vals = np.asarray(m.tocsr()[np.repeat(np.arange(n), k), np.maximum(cand, 0).ravel()])
        out = vals.reshape(n, k).astype(np.float64)
        out[cand < 0] = np.nan
        return out


def prepare(ev: Evidence) -> CounterpartScorer | None:
    cp = ev.counterparts
    if cp is None or not len(cp) or not {"id", "other_id"} <= set(cp.columns):
        return None
    scorer = CounterpartScorer(ev)
    return scorer if scorer.matrix.nnz else None
