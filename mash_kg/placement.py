"""Stage III, parents: candidate scores and the placement of codes without a curated parent.

For every code of the build without a curated parent (local codes, vocabularies without a
loaded hierarchy, held-out codes), every curated node of the graph's context with the same
domain is a candidate, leaves included (a local code's right parent may be a leaf, or a group
whose only members are site codes). A candidate is described by its family: the unit mean of
the hierarchy encoder's vectors of its name and of its known children (the training edges,
never a held-out one; a leaf: its name). A code's scores are softmax(cos(code, family) / T)
over its candidates (plus -d/T of the optional GNN term), so they are probabilities that sum
to 1. The same with the names' spelling: cos of character n-gram TF-IDF vectors of the code
and the family, weighted by `lexical_weight` (measured to help: README). A code of a
vocabulary whose hierarchy is in the graph (an ICD-10-CM code held out) is placed in that
vocabulary. The top `top_candidates` are kept. Every candidate scoring at least
`parent_threshold` becomes a parent (multi-parent: at most `max_parents`, and at most
1/threshold by construction). Most curated leaves are a code's siblings, not its parent: a
leaf's cosine pays `leaf_penalty` (measured: bench/hierarchy.py `full_all_nodes`), unless the
code nearly repeats its name (text cosine at least EQUIVALENT_COS): then it is the site's code
for the leaf's concept, placed as the leaf's child (found below it by `descendants` and
phenotype expansion) and its candidate row says `equivalent`.

Pure functions over a `stage2.Space`; `place_codes` returns the rows of the candidates,
hierarchy and holdout tables (columns in stage3's docstring) and the codes left unplaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from mash_kg import poincare
from mash_kg.lexical import lexical_families
from mash_kg.settings import HierarchySettings
from mash_kg.stage2 import Space

BLOCK = 2048  # codes scored at once
EQUIVALENT_COS = 0.98  # a code placed under a leaf with a name this close: its equivalent
GNN_TEMPERATURE = 0.1  # of the optional GNN term's -d/T (its training temperature)


def descendants(code: str, kids: dict[str, list[str]]) -> set[str]:
    out, todo = set(), list(kids.get(code, ()))
    while todo:
        k = todo.pop()
        if k not in out:
            out.add(k)
            todo += kids.get(k, ())
    return out


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


def score_candidates(
    query: np.ndarray,
    families: np.ndarray,
    temperature: float,
    gnn_distance: np.ndarray | None = None,
    lexical: np.ndarray | None = None,
    lexical_weight: float = 0.0,
    prior: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, cosines) of every query row against every candidate family: scores =
    softmax((cos + w * cos_lexical + prior) / T [- d_gnn / T_gnn]) over the candidates
    (`prior`, in cosine units, broadcast to (queries, candidates): -leaf_penalty on leaves)."""
    cos = query.astype(np.float64) @ families.T
    logits = cos / temperature
    if lexical is not None and lexical_weight > 0:
        logits = logits + lexical_weight * lexical / temperature
    if prior is not None:
        logits = logits + prior / temperature
    if gnn_distance is not None:
        logits = logits - gnn_distance / GNN_TEMPERATURE
    if logits.shape[1]:
        logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / np.maximum(p.sum(axis=1, keepdims=True), 1e-300), cos


@dataclass(frozen=True)
class Pool:
    """The candidates of one group of codes (one domain, maybe one vocabulary)."""

    rows: np.ndarray  # node rows
    ids: np.ndarray  # their ids
    index: dict[str, int]  # id -> position in the pool
    families: np.ndarray  # unit family vectors
    lexical: object  # sparse lexical family vectors, or None
    leaf: np.ndarray  # no known children


@dataclass(frozen=True)
class Candidates:
    """Every curated node of the space that may be a parent, described by its family."""

    rows: np.ndarray  # node rows, ascending
    families: np.ndarray  # unit family vectors, one per row
    lexical: object  # sparse unit lexical family vectors, or None
    has_kids: np.ndarray  # (nodes,) known children among the training edges
    position: dict[int, int]  # node row -> index into rows and families

    def pool(self, rows: np.ndarray, ids: np.ndarray) -> Pool:
        """The candidates at node `rows` (a subset of `self.rows`); `ids`: every node's id."""
        pick = [self.position[int(r)] for r in rows]
        lexical = None if self.lexical is None else self.lexical[pick]
        pool_ids = ids[rows]
        index = {c: k for k, c in enumerate(pool_ids)}
        return Pool(rows, pool_ids, index, self.families[pick], lexical, ~self.has_kids[rows])


def candidate_set(space: Space, s: HierarchySettings, row: dict[str, int]) -> Candidates:
    """Every curated node may be a parent, leaves included; its family: its name and its
    known children (the training edges)."""
    nodes = space.nodes
    curated = nodes["curated"].fillna(False).to_numpy(bool)  # node_table's column
    rows = np.flatnonzero(curated).astype(np.int64)
    has_kids = np.zeros(len(nodes), dtype=bool)
    has_kids[[row[x] for x in set(space.train_edges["parent"]) if x in row]] = True
    tc = space.train_edges["child"].map(row).to_numpy(np.int64)
    tp = space.train_edges["parent"].map(row).to_numpy(np.int64)
    families = family_vectors(space.text, rows, tc, tp)
    lexical = None
    if space.lexical is not None and s.lexical_weight > 0 and len(rows):
        lexical = lexical_families(space.lexical, rows, tc, tp)
    position = {int(r): k for k, r in enumerate(rows)}
    return Candidates(rows, families, lexical, has_kids, position)


class Inputs(NamedTuple):
    """What placing any block needs from the space."""

    space: Space
    settings: HierarchySettings
    row: dict[str, int]  # node id -> row
    kids: dict[str, list[str]]  # curated children (every IS_A of the context)
    truth: dict[str, set[str]]  # held-out code -> its true parents
    banned: dict[str, set[str]] = {}  # code -> parents a reviewer rejected (never proposed)


class Placement(NamedTuple):
    """Rows made for some codes: candidates (id, candidate, rank, score, distance, leaf,
    equivalent), parents (child, parent, score, rank, parent_label), holdout (id, parent,
    rank, text_rank, candidates), and the codes left without a parent."""

    candidates: list[tuple]
    parents: list[tuple]
    holdout: list[tuple]
    unplaced: list[str]

    @staticmethod
    def concat(parts: list[Placement]) -> Placement:
        return Placement(*([r for p in parts for r in getattr(p, f)] for f in Placement._fields))


def block_scores(
    code_rows: np.ndarray, pool: Pool, space: Space, s: HierarchySettings
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scores, cosines, equivalent) of a block of codes against a pool of candidates."""
    gnn_d = None
    if space.gnn_points is not None:
        g = space.gnn_points
        gnn_d = poincare.distance_matrix(g[code_rows], g[pool.rows], s.curvature)
    lex = None
    if pool.lexical is not None and space.lexical is not None:
        lex = (space.lexical[code_rows] @ pool.lexical.T).toarray()
    base = space.base_text if space.base_text is not None else space.text
    # a leaf is a candidate, but most leaves are siblings of a code, not its parent: its
    # cosine pays leaf_penalty unless the code nearly repeats its name (an equivalent)
    near = base[code_rows].astype(np.float64) @ base[pool.rows].astype(np.float64).T
    leaf = pool.leaf[None, :]
    equivalent = leaf & (near >= EQUIVALENT_COS)
    prior = np.where(leaf & ~equivalent, -s.leaf_penalty, 0.0) if pool.leaf.any() else None
    scores, cos = score_candidates(
        space.text[code_rows], pool.families, s.temperature, gnn_d, lex, s.lexical_weight, prior
    )
    return scores, cos, equivalent


def without_own_descendants(
    ids: np.ndarray,
    scores: np.ndarray,
    pool: Pool,
    kids: dict[str, list[str]],
    banned: dict[str, set[str]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, allowed): a code is never its own parent, nor the parent of its own curated
    descendants, nor a parent a reviewer rejected for it (`banned`); their scores become 0
    and the rest are renormalised."""
    scores = scores.copy()
    allowed = np.ones(scores.shape, dtype=bool)
    banned = banned or {}
    for k, cid in enumerate(ids):
        out = descendants(cid, kids) | {cid} | banned.get(cid, set())
        bad = [pool.index[x] for x in out if x in pool.index]
        if bad:
            scores[k, bad], allowed[k, bad] = 0.0, False
            scores[k] /= max(scores[k].sum(), 1e-300)
    return scores, allowed


def holdout_rows(
    cid: str, order: np.ndarray, allowed: np.ndarray, pool: Pool, inp: Inputs
) -> list[tuple]:
    """One row per true parent of a held-out code: its rank among the code's candidates, and
    its rank by the frozen text model's cosine to the candidates' names (the reference)."""
    n = len(pool.rows)
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = np.arange(1, n + 1)
    base = inp.space.base_text if inp.space.base_text is not None else inp.space.text
    text_sim = base[pool.rows].astype(np.float64) @ base[inp.row[cid]].astype(np.float64)
    text_sim[~allowed] = -np.inf
    t_ranks = np.empty(n, dtype=np.int64)
    t_ranks[np.argsort(-text_sim, kind="stable")] = np.arange(1, n + 1)
    out = []
    for p in sorted(inp.truth[cid]):
        j = pool.index.get(p)
        rank = None if j is None else int(ranks[j])
        out.append((cid, p, rank, None if j is None else int(t_ranks[j]), int(allowed.sum())))
    return out


def place_block(ids: np.ndarray, pool: Pool, inp: Inputs) -> Placement:
    """Score one block of codes against their pool: the top candidates, the parents at the
    threshold, the held-out codes' ranks, and the codes that got no parent."""
    s = inp.settings
    code_rows = np.array([inp.row[x] for x in ids])
    scores, cos, equivalent = block_scores(code_rows, pool, inp.space, s)
    scores, allowed = without_own_descendants(ids, scores, pool, inp.kids, inp.banned)
    order = np.argsort(-scores, axis=1, kind="stable")
    out = Placement([], [], [], [])
    for k, cid in enumerate(ids):
        top = order[k][allowed[k, order[k]]][: s.top_candidates]
        out.candidates.extend(
            (cid, pool.ids[j], r, float(scores[k, j]), float(1 - cos[k, j]))
            + (bool(pool.leaf[j]), bool(equivalent[k, j]))
            for r, j in enumerate(top, start=1)
        )
        chosen = [j for j in top[: s.max_parents] if scores[k, j] >= s.parent_threshold]
        out.parents.extend(
            (cid, pool.ids[j], float(scores[k, j]), r, "Code") for r, j in enumerate(chosen, 1)
        )
        if not chosen:
            out.unplaced.append(cid)
        if cid in inp.truth:
            out.holdout.extend(holdout_rows(cid, order[k], allowed[k], pool, inp))
    return out


def code_groups(codes: pd.DataFrame, space: Space, row: dict[str, int]) -> pd.Series:
    """'domain|vocab' per code: a code is placed among the candidates of its domain and,
    when its vocabulary's tree is in the graph, of that vocabulary ('domain|')."""
    vocab = space.nodes["vocab"].fillna("").to_numpy()
    in_tree = set(space.train_edges["child"]) | set(space.train_edges["parent"])
    tree_vocabs = {vocab[row[x]] for x in in_tree if x in row}
    own = codes["vocab"].fillna("").where(codes["vocab"].isin(tree_vocabs), "")
    return codes["domain"].fillna("") + "|" + own


def pool_rows(key: str, cands: Candidates, domain: np.ndarray, vocab: np.ndarray) -> np.ndarray:
    """The candidate rows for a 'domain|vocab' group (no domain: every candidate; candidates
    without a domain are in every domain)."""
    dom, voc = key.split("|")
    rows = cands.rows
    if dom:
        rows = rows[(domain[rows] == dom) | (domain[rows] == "")]
    return rows[vocab[rows] == voc] if voc else rows


def place_codes(codes: pd.DataFrame, cands: Candidates, inp: Inputs) -> Placement:
    """Place every code of `codes` (id, domain, vocab), group by group, BLOCK codes at a time
    (bounded memory: BLOCK x candidates)."""
    nodes = inp.space.nodes
    domain = nodes["domain"].fillna("").to_numpy()
    vocab = nodes["vocab"].fillna("").to_numpy()
    all_ids = nodes["id"].to_numpy()
    parts = []
    for key, group in codes.groupby(code_groups(codes, inp.space, inp.row), sort=True):
        ids = group["id"].to_numpy()
        rows = pool_rows(key, cands, domain, vocab)
        if len(rows) == 0:
            # held-out codes with no candidate at all still count (as misses) in eval
            missed = [
                (c, p, None, None, 0) for c in ids if c in inp.truth for p in sorted(inp.truth[c])
            ]
            parts.append(Placement([], [], missed, list(ids)))
            continue
        pool = cands.pool(rows, all_ids)
        parts += [place_block(ids[i : i + BLOCK], pool, inp) for i in range(0, len(ids), BLOCK)]
    return Placement.concat(parts)


def best_parent(
    centre: np.ndarray, dom: str, cands: Candidates, domain: np.ndarray, s: HierarchySettings
) -> tuple[int, float] | None:
    """(node row, score) of the best curated candidate of domain `dom` for a unit vector
    (a latent group's centre), leaves paying leaf_penalty as for codes; None below the
    threshold or without candidates."""
    rows = cands.rows[(domain[cands.rows] == dom) | (domain[cands.rows] == "")]
    if not len(rows):
        return None
    prior = np.where(cands.has_kids[rows], 0.0, -s.leaf_penalty)[None, :]
    families = cands.families[[cands.position[int(r)] for r in rows]]
    scores, _ = score_candidates(centre[None, :], families, s.temperature, prior=prior)
    j = int(np.argmax(scores[0]))
    return (int(rows[j]), float(scores[0, j])) if scores[0, j] >= s.parent_threshold else None
