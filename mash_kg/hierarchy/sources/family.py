"""Source `family`: the frozen text model's cosine of the code and the candidate's family
(the unit mean of its name and its known children's names)."""

from __future__ import annotations

import numpy as np

from mash_kg.hierarchy.sources.base import Evidence, Query, pair_dot, unit


def family_vectors(
    text: np.ndarray, cand_rows: np.ndarray, child_rows: np.ndarray, parent_rows: np.ndarray
) -> np.ndarray:
    """Unit vector per candidate row: its own text vector plus its known children's."""
    pos = {int(r): k for k, r in enumerate(cand_rows)}
    fam = text[cand_rows].astype(np.float64).copy()
    keep = np.array([int(p) in pos for p in parent_rows], dtype=bool)
    if keep.any():
        np.add.at(
            fam,
            np.array([pos[int(p)] for p in parent_rows[keep]]),
            text[child_rows[keep]].astype(np.float64),
        )
    return fam / np.maximum(np.linalg.norm(fam, axis=1, keepdims=True), 1e-12)


class FamilyScorer:
    """Cosine of a query's vectors (`which`: 'base' or 'text') and candidate families."""

    def __init__(self, ev: Evidence, which: str = "base") -> None:
        sp = ev.space
        vectors = sp.base_text if which == "base" and sp.base_text is not None else sp.text
        self.which = which
        self.dense = unit(family_vectors(vectors, ev.cand_rows, *ev.edge_rows()))

    def query_dense(self, q: Query) -> np.ndarray:
        return unit(q.base if self.which == "base" else q.text)

    def score(self, q: Query, cand: np.ndarray | None) -> np.ndarray:
        return pair_dot(self.query_dense(q), self.dense, cand)


def prepare(ev: Evidence) -> FamilyScorer:
    return FamilyScorer(ev, "base")
