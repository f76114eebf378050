"""The interface every evidence source of Stage III implements, and the pair arithmetic
they share.

A source is prepared once per build (or per fit split) from an `Evidence` (the space, the
curated edges it may know, the candidate rows) and returns a `Scorer`; a scorer scores a
`Query` (a block of codes, as vectors) against candidates: all of the pool (`cand` None:
an (n, P) matrix) or a shortlist per code (`cand` (n, K) pool positions, -1 for none: an
(n, K) matrix, NaN where there is no candidate). Higher is a likelier parent; raw scores
(a cosine, minus a distance, an alignment score) go into the candidates table as they are,
the fusion standardises them per code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from mash_kg.hierarchy.stage2 import Space


@dataclass(frozen=True)
class Evidence:
    """What a source may read: the space, the curated edges it may know (never a held-out
    or fit edge), the candidate node rows and Stage I's counterparts."""

    space: Space
    row: dict[str, int]
    edges: pd.DataFrame  # child, parent
    cand_rows: np.ndarray
    counterparts: pd.DataFrame = field(default_factory=pd.DataFrame)
    curvature: float = 1.0  # of the GNN's ball

    def edge_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """(child rows, parent rows) of the known edges inside the space."""
        e = self.edges[self.edges["child"].isin(self.row) & self.edges["parent"].isin(self.row)]
        return (
            e["child"].map(self.row).to_numpy(np.int64),
            e["parent"].map(self.row).to_numpy(np.int64),
        )


@dataclass
class Query:
    """A block of codes to place, as vectors: ids (for counterparts), the frozen text
    model's vectors, the hierarchy encoder's, spelling (sparse) and GNN points (or None)."""

    ids: np.ndarray
    base: np.ndarray
    text: np.ndarray
    lexical: object = None
    gnn: np.ndarray | None = None

    @staticmethod
    def of_rows(space: Space, rows: np.ndarray) -> Query:
        base = space.base_text if space.base_text is not None else space.text
        return Query(
            space.nodes["id"].to_numpy()[rows],
            base[rows],
            space.text[rows],
            None if space.lexical is None else space.lexical[rows],
            None if space.gnn_points is None else space.gnn_points[rows],
        )

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, sl: slice) -> Query:
        return Query(
            self.ids[sl],
            self.base[sl],
            self.text[sl],
            None if self.lexical is None else self.lexical[sl],
            None if self.gnn is None else self.gnn[sl],
        )


class Scorer(Protocol):
    """A prepared source: raw scores of queries against the pool or a shortlist."""

    def score(self, q: Query, cand: np.ndarray | None) -> np.ndarray: ...


def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, n, out=np.zeros_like(x), where=n > 0)


def pair_dot(q: np.ndarray, c: np.ndarray, cand: np.ndarray | None) -> np.ndarray:
    """Dot products of query rows with candidate rows: every candidate (cand None) or each
    row's shortlist (NaN at -1)."""
    q = np.asarray(q, dtype=np.float32)
    c = np.asarray(c, dtype=np.float32)
    if cand is None:
        return (q @ c.T).astype(np.float64)
    out = np.einsum("nd,nkd->nk", q, c[np.maximum(cand, 0)]).astype(np.float64)
    out[cand < 0] = np.nan
    return out


def sparse_pair_dot(q, c, cand: np.ndarray | None) -> np.ndarray:
    """`pair_dot` for sparse rows (spelling vectors)."""
    if cand is None:
        return np.asarray((q @ c.T).toarray(), dtype=np.float64)
    n, k = cand.shape
    rows = np.repeat(np.arange(n), k)
    vals = np.asarray(q[rows].multiply(c[np.maximum(cand, 0).ravel()]).sum(axis=1)).ravel()
    out = vals.reshape(n, k).astype(np.float64)
    out[cand < 0] = np.nan
    return out
