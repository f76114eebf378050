"""Sources `members` and `member_spelling`: the candidate's best-matching known member.

A family's mean blurs what its members share with a new code; its nearest member does not
(a new ACE inhibitor's name is closest to another -pril, not to the mean of the group). The
score of (code, candidate) is the highest similarity of the code to a known child of the
candidate: the frozen text model's cosine (`members`) or the spelling cosine
(`member_spelling`). Candidates without known children have no score (the `leaf` feature
speaks for them). Many members: the `members` source searches an HNSW index for each code's
`MAX_MEMBERS` nearest members; `member_spelling` is scored exactly and is off above
`SPELLING_LIMIT` members.
"""

from __future__ import annotations

import numpy as np

from mash_kg.hierarchy.sources.base import Evidence, Query, unit

EXACT_MEMBERS = 20000  # above: an HNSW index over the members
MAX_MEMBERS = 64  # members looked up per code in the index
SPELLING_LIMIT = 30000  # member_spelling is off above this many members


class MemberScorer:
    """Best similarity of a query to each candidate's known members."""

    def __init__(self, ev: Evidence, kind: str) -> None:
        pos = {int(r): k for k, r in enumerate(ev.cand_rows)}
        tc, tp = ev.edge_rows()
        keep = np.array([int(p) in pos for p in tp], dtype=bool)
        order = np.argsort([pos[int(p)] for p in tp[keep]], kind="stable")
        self.child = tc[keep][order]
        self.parent = np.array([pos[int(p)] for p in tp[keep]], dtype=np.int64)[order]
        self.n_cand = len(ev.cand_rows)
        self.kind = kind
        sp = ev.space
        if kind == "text":
            base = sp.base_text if sp.base_text is not None else sp.text
            self.vectors = unit(base[self.child])
            self.index = None
            if len(self.child) > EXACT_MEMBERS:
                from mash_kg.hierarchy.retrieval import Index

                self.index = Index(self.vectors, EXACT_MEMBERS)
        else:
            self.vectors = sp.lexical[self.child]

    def _best(self, q: Query) -> np.ndarray:
        """(n, candidates) best member similarity, NaN for candidates without members."""
        out = np.full((len(q), self.n_cand), np.nan)
        if not len(self.child):
            return out
        if self.kind == "text" and self.index is not None:
            qv = unit(q.base)
            idx = self.index.search(qv, MAX_MEMBERS)
            sims = np.einsum("nd,nkd->nk", qv, self.vectors[np.maximum(idx, 0)])
            rows = np.repeat(np.arange(len(q)), idx.shape[1])
            par = self.parent[np.maximum(idx, 0)].ravel()
            vals = np.where(idx.ravel() >= 0, sims.ravel(), -np.inf)
            filled = np.full_like(out, -np.inf)
            np.maximum.at(filled, (rows, par), vals)
            floor = sims.min(axis=1, keepdims=True)  # unseen members: below the k-th
            has = np.zeros(self.n_cand, dtype=bool)
            has[self.parent] = True
            out = np.where(np.isfinite(filled), filled, np.where(has, floor, np.nan))
            return out
        if self.kind == "text":
            sims = unit(q.base) @ self.vectors.T
        else:
            if q.lexical is None:
                return out
            sims = np.asarray((q.lexical @ self.vectors.T).toarray())
        starts = np.flatnonzero(np.r_[True, self.parent[1:] != self.parent[:-1]])
        out[:, self.parent[starts]] = np.maximum.reduceat(sims, starts, axis=1)
        return out

    def score(self, q: Query, cand: np.ndarray | None) -> np.ndarray:
        best = self._best(q)
        if cand is None:
            return best
        out = np.take_along_axis(best, np.maximum(cand, 0), axis=1)
        out[cand < 0] = np.nan
        return out


def prepare_text(ev: Evidence) -> MemberScorer | None:
    scorer = MemberScorer(ev, "text")
    return scorer if len(scorer.child) else None


def prepare_spelling(ev: Evidence) -> MemberScorer | None:
    if ev.space.lexical is None:
        return None
    scorer = MemberScorer(ev, "spelling")
    return scorer if 0 < len(scorer.child) <= SPELLING_LIMIT else None
