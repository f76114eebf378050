"""Source `name`: the frozen text model's cosine of the code and the candidate's own name
(the text-only reference, `text_nn`)."""

from __future__ import annotations

import numpy as np

from mash_kg.hierarchy.sources.base import Evidence, Query, pair_dot, unit


class NameScorer:
    def __init__(self, ev: Evidence) -> None:
        sp = ev.space
        base = sp.base_text if sp.base_text is not None else sp.text
        self.dense = unit(base[ev.cand_rows])  # retrieval: by the candidate's name

    def query_dense(self, q: Query) -> np.ndarray:
        return unit(q.base)

    def score(self, q: Query, cand: np.ndarray | None) -> np.ndarray:
        return pair_dot(unit(q.base), self.dense, cand)


def prepare(ev: Evidence) -> NameScorer:
    return NameScorer(ev)
