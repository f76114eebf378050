"""Source `gnn`: minus the Poincaré distance of the code and the candidate in the space of
the hyperbolic GNN (HGCN layers over curated IS_A, MAPS_TO, rank-1 alignments and
co-occurrence neighbours; stage2). Only when [hierarchy] gnn_layers > 0."""

from __future__ import annotations

import numpy as np

from mash_kg import poincare
from mash_kg.hierarchy.sources.base import Evidence, Query


class GnnScorer:
    def __init__(self, ev: Evidence) -> None:
        self.points = ev.space.gnn_points[ev.cand_rows]
        self.c = ev.curvature

    def score(self, q: Query, cand: np.ndarray | None) -> np.ndarray:
        if q.gnn is None:
            shape = (len(q), len(self.points)) if cand is None else cand.shape
            return np.full(shape, np.nan)
        if cand is None:
            return -poincare.distance_matrix(q.gnn, self.points, self.c)
        n, k = cand.shape
        d = poincare.distance(
            np.repeat(q.gnn, k, axis=0), self.points[np.maximum(cand, 0).ravel()], self.c
        )
        out = -np.asarray(d, dtype=np.float64).reshape(n, k)
        out[cand < 0] = np.nan
        return out


def prepare(ev: Evidence) -> GnnScorer | None:
    if ev.space.gnn_points is None:
        return None
    return GnnScorer(ev)
