"""Candidates of each code from nearest-neighbour indexes, before exact scoring.

A pool of at most `exact_limit` candidates is scored whole (`shortlist` returns None). A
larger pool gets, per dense source (the candidate's name, its family, the encoder's family),
an HNSW index (faiss, inner product on unit vectors); a code's shortlist is the union of its
`k` nearest in each, plus what its counterparts propose, as pool positions padded with -1.
What the index loses against exact search is measured in bench/hierarchy.py (`retrieval`).
"""

from __future__ import annotations

import numpy as np

from mash_kg.hierarchy.sources.base import Query, Scorer

HNSW_M = 32  # graph degree of the HNSW indexes
EF_SEARCH = 256  # search breadth (>= k)


class Index:
    """Inner-product nearest neighbours over unit rows (HNSW; exact below `exact_limit`)."""

    def __init__(self, vectors: np.ndarray, exact_limit: int, threads: int = 2) -> None:
        import faiss

        faiss.omp_set_num_threads(threads)
        x = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(x) <= exact_limit:
            self.index = faiss.IndexFlatIP(x.shape[1])
        else:
            self.index = faiss.IndexHNSWFlat(x.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
            self.index.hnsw.efConstruction = 80
        self.index.add(x)
        self.size = len(x)

    def search(self, q: np.ndarray, k: int) -> np.ndarray:
        import faiss

        if isinstance(self.index, faiss.IndexHNSWFlat):
            self.index.hnsw.efSearch = max(EF_SEARCH, k)
        _, idx = self.index.search(np.ascontiguousarray(q, dtype=np.float32), min(k, self.size))
        return idx.astype(np.int64)


class Retriever:
    """Shortlists over one pool from the dense sources' indexes."""

    def __init__(self, scorers: dict[str, Scorer], pool_size: int, k: int, exact_limit: int):
        self.full = pool_size <= exact_limit
        self.k = k
        self.dense = [s for s in scorers.values() if hasattr(s, "dense")]
        self.proposer = next((s for s in scorers.values() if hasattr(s, "proposals")), None)
        self.indexes = [] if self.full else [Index(s.dense, exact_limit) for s in self.dense]

    def shortlist(self, q: Query) -> np.ndarray | None:
        """(n, K) pool positions per query (-1: none), or None: score the whole pool."""
        if self.full:
            return None
        parts = [
            ix.search(s.query_dense(q), self.k)
            for ix, s in zip(self.indexes, self.dense, strict=True)
        ]
        cand = np.concatenate(parts, axis=1) if parts else np.zeros((len(q), 0), np.int64)
        if self.proposer is not None:
            extra = self.proposer.proposals(q)
            width = max((len(e) for e in extra), default=0)
            if width:
                pad = np.full((len(q), width), -1, dtype=np.int64)
                for i, e in enumerate(extra):
                    pad[i, : len(e)] = e
                cand = np.concatenate([cand, pad], axis=1)
        return unique_rows(cand)


def unique_rows(cand: np.ndarray) -> np.ndarray:
    """Each row's distinct non-negative positions, ascending, padded with -1."""
    s = np.sort(cand, axis=1)
    dup = np.zeros_like(s, dtype=bool)
    dup[:, 1:] = s[:, 1:] == s[:, :-1]
    s[dup] = -1
    s = -np.sort(-s, axis=1)  # valid first (descending), -1 last
    width = int((s >= 0).sum(axis=1).max()) if len(s) else 0
    return s[:, : max(width, 1)]
