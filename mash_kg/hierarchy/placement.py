"""Stage III, parents: every code without a curated parent scored against the candidates
of its domain by a fusion of evidence sources, then placed.

For every code of the build without a curated parent (local codes, vocabularies without a
loaded hierarchy, held-out codes), every curated node with the same domain is a candidate,
leaves included; a code of a vocabulary whose hierarchy is in the graph is placed in that
vocabulary (`code_groups`). Each evidence source (`sources/`: the candidate's name, its
family, spelling, the trained encoder, the hyperbolic GNN, Stage I counterparts) scores
(code, candidate) pairs over a shortlist from nearest-neighbour indexes (`retrieval`; small
pools are scored whole); `fusion` weighs the sources and the leaf flag per domain as this
build's fit codes say (curated codes whose parent edge Stage II hid from every source), the
optional re-ranker (`rerank`) re-scores the top; scores are softmax(score / T) over the
shortlist with T fitted on the same codes. A code is never its own parent nor its curated
descendants' child, nor the child of a parent a reviewer rejected (`negatives`). The top
`top_candidates` are kept (with each source's raw score); every candidate scoring at least
`parent_threshold` becomes a parent (at most `max_parents`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from mash_kg.hierarchy.fusion import LEAF, POOLED, Choice, standardise
from mash_kg.hierarchy.rerank import Reranker
from mash_kg.hierarchy.retrieval import Retriever
from mash_kg.hierarchy.sources import Evidence, Query, prepare_sources
from mash_kg.hierarchy.sources.family import family_vectors
from mash_kg.hierarchy.stage2 import Space
from mash_kg.settings import SOURCE_NAMES, HierarchySettings

BLOCK = 512  # codes scored at once
EQUIVALENT_COS = 0.98  # described in the candidates table (`equivalent`), not used to rank
SCORE_COLUMNS = [f"by_{n}" for n in SOURCE_NAMES]

__all__ = ["family_vectors", "descendants", "score_candidates"]


def descendants(code: str, kids: dict[str, list[str]]) -> set[str]:
    out, todo = set(), list(kids.get(code, ()))
    while todo:
        k = todo.pop()
        if k not in out:
            out.add(k)
            todo += kids.get(k, ())
    return out


def score_candidates(query: np.ndarray, families: np.ndarray, temperature: float):
    """(softmax(cos / T) over the candidates, cos) of query rows against unit families."""
    cos = query.astype(np.float64) @ families.T
    logits = cos / temperature
    if logits.shape[1]:
        logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / np.maximum(p.sum(axis=1, keepdims=True), 1e-300), cos


@dataclass(frozen=True)
class Candidates:
    """Every curated node of the space that may be a parent."""

    rows: np.ndarray  # node rows, ascending
    has_kids: np.ndarray  # (nodes,) known children among the training edges


def candidate_set(space: Space, row: dict[str, int]) -> Candidates:
    curated = space.nodes["curated"].fillna(False).to_numpy(bool)
    has_kids = np.zeros(len(space.nodes), dtype=bool)
    has_kids[[row[x] for x in set(space.train_edges["parent"]) if x in row]] = True
    return Candidates(np.flatnonzero(curated).astype(np.int64), has_kids)


class Inputs(NamedTuple):
    """What placing any block needs."""

    space: Space
    settings: HierarchySettings
    row: dict[str, int]  # node id -> row
    kids: dict[str, list[str]]  # curated children (every IS_A of the context)
    truth: dict[str, set[str]]  # held-out code -> its true parents
    counterparts: pd.DataFrame  # Stage I: id, other_id, rank, score
    negatives: dict[str, set[str]]  # child -> parents a reviewer rejected


class Placement(NamedTuple):
    """Rows made for some codes: candidates, parents, holdout (stage3's columns), and the
    codes left without a parent."""

    candidates: list[tuple]
    parents: list[tuple]
    holdout: list[tuple]
    unplaced: list[str]

    @staticmethod
    def concat(parts: list[Placement]) -> Placement:
        return Placement(*([r for p in parts for r in getattr(p, f)] for f in Placement._fields))


def code_groups(codes: pd.DataFrame, space: Space, row: dict[str, int]) -> pd.Series:
    """'domain|vocab' per code: its domain's candidates and, when its vocabulary's tree is
    in the graph, that vocabulary's ('domain|' otherwise)."""
    vocab = space.nodes["vocab"].fillna("").to_numpy()
    in_tree = set(space.train_edges["child"]) | set(space.train_edges["parent"])
    tree_vocabs = {vocab[row[x]] for x in in_tree if x in row}
    own = codes["vocab"].fillna("").where(codes["vocab"].isin(tree_vocabs), "")
    return codes["domain"].fillna("") + "|" + own


def pool_rows(key: str, cands: Candidates, domain: np.ndarray, vocab: np.ndarray) -> np.ndarray:
    """The candidate rows of a 'domain|vocab' group (candidates without a domain are in
    every domain)."""
    dom, voc = key.split("|")
    rows = cands.rows
    if dom:
        rows = rows[(domain[rows] == dom) | (domain[rows] == "")]
    return rows[vocab[rows] == voc] if voc else rows


class Pool:
    """One group's candidates with the sources prepared on some known edges: a block of
    codes -> shortlist, raw scores, features."""

    def __init__(self, rows: np.ndarray, edges: pd.DataFrame, inp: Inputs, wanted: list[str]):
        sp, s = inp.space, inp.settings
        self.rows = rows
        self.ids = sp.nodes["id"].to_numpy()[rows]
        self.index = {c: k for k, c in enumerate(self.ids)}
        ev = Evidence(sp, inp.row, edges, rows, inp.counterparts, s.curvature)
        self.scorers = prepare_sources(ev, [n for n in wanted if n in SOURCE_NAMES])
        self.retriever = Retriever(self.scorers, len(rows), s.retrieval_k, s.exact_limit)
        parents = set(edges["parent"])
        self.leaf = np.array([i not in parents for i in self.ids])
        kids = edges.groupby("parent").size()
        depth = sp.depth[rows].astype(np.float32)
        self.extra = np.stack(
            [depth, np.log1p(pd.Series(self.ids).map(kids).fillna(0).to_numpy(np.float32))], 1
        ).astype(np.float32)

    def block(self, q: Query, names: list[str]):
        """(cand (n, K) or None, raw (n, K, sources), feats (n, K, F), extra, valid)."""
        cand = self.retriever.shortlist(q)
        width = len(self.rows) if cand is None else cand.shape[1]
        raw = np.full((len(q), width, len(SOURCE_NAMES)), np.nan)
        for nm, scorer in self.scorers.items():
            raw[:, :, SOURCE_NAMES.index(nm)] = scorer.score(q, cand)
        pos = np.broadcast_to(np.arange(width), (len(q), width)) if cand is None else cand
        valid = pos >= 0
        src = [SOURCE_NAMES.index(n) for n in names if n != LEAF]
        z = standardise(np.where(valid[:, :, None], raw[:, :, src], np.nan))
        leaf = np.where(valid, self.leaf[np.maximum(pos, 0)], False)[:, :, None]
        feats = np.concatenate([z, leaf.astype(np.float32)], axis=2)
        return np.asarray(pos), raw, feats, self.extra[np.maximum(pos, 0)], valid

    def banned(self, ids: np.ndarray, pos: np.ndarray, inp: Inputs) -> np.ndarray:
        """(n, K) pairs no code may take: itself, its curated descendants, rejected pairs."""
        out = np.zeros(pos.shape, dtype=bool)
        for k, cid in enumerate(ids):
            bad = descendants(cid, inp.kids) | {cid} | inp.negatives.get(cid, set())
            bad_pos = [self.index[x] for x in bad if x in self.index]
            if bad_pos:
                out[k] = np.isin(pos[k], bad_pos)
        return out


@dataclass
class Model:
    """The build's ranking: feature names, per-domain choices, the re-ranker."""

    names: list[str]
    choices: dict[str, Choice]
    reranker: Reranker | None = None
    report: dict = field(default_factory=dict)

    def choice(self, domain: str) -> Choice:
        return self.choices.get(domain, self.choices[POOLED])

    def scores(self, feats, extra, valid, domain: str, raw=None) -> np.ndarray:
        """Probabilities over each code's shortlist (softmax of the final score / T)."""
        c = self.choice(domain)
        s = np.where(valid, feats.astype(np.float64) @ c.vector(self.names), -np.inf)
        t = c.temperature
        if c.raw_temperature is not None and raw is not None:  # nothing was fitted
            (only,) = c.weights
            s = np.where(valid, np.nan_to_num(raw[:, :, SOURCE_NAMES.index(only)]), -np.inf)
            t = c.raw_temperature
        elif self.reranker is not None:
            s, t = self.reranker.rescore(feats, extra, s), 1.0
        top = np.max(np.where(np.isfinite(s), s, -1e300), axis=1, keepdims=True)
        p = np.where(np.isfinite(s), np.exp((s - top) / t), 0.0)
        return p / np.maximum(p.sum(axis=1, keepdims=True), 1e-300)


def wanted_sources(s: HierarchySettings) -> list[str]:
    return list(s.sources) or list(SOURCE_NAMES)
