"""Source `spelling`: cosine of character n-gram TF-IDF vectors of the code's name and the
candidate's family (drug stems, rare disease words a family shares; lexical.py)."""

from __future__ import annotations

import numpy as np

from mash_kg.hierarchy.lexical import lexical_families
from mash_kg.hierarchy.sources.base import Evidence, Query, sparse_pair_dot


class SpellingScorer:
    def __init__(self, ev: Evidence) -> None:
        tc, tp = ev.edge_rows()
        self.families = lexical_families(ev.space.lexical, ev.cand_rows, tc, tp)

    def score(self, q: Query, cand: np.ndarray | None) -> np.ndarray:
        if q.lexical is None:  # a query without spelling vectors (a latent group's centre)
            shape = (len(q), self.families.shape[0]) if cand is None else cand.shape
            return np.full(shape, np.nan)
        return sparse_pair_dot(q.lexical, self.families, cand)


def prepare(ev: Evidence) -> SpellingScorer | None:
    if ev.space.lexical is None or not len(ev.cand_rows):
        return None
    return SpellingScorer(ev)
