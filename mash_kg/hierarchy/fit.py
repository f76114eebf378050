"""Stage III's model fitted on the build's fit codes, and the placement of codes with it.

`fit_model`: the fit codes (stage2's `fit` split: curated codes whose parent edges no source
knows) are scored by every source, as a code without a parent would be, against the
candidates known without their edges; fusion.choose_weights picks the weights per domain
and rerank.train_reranker the re-ranker. `place_codes`: every code to place, with them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mash_kg.hierarchy.fusion import LEAF, POOLED, FitSet, choose_weights
from mash_kg.hierarchy.placement import (
    BLOCK,
    EQUIVALENT_COS,
    SCORE_COLUMNS,
    Candidates,
    Inputs,
    Model,
    Placement,
    Pool,
    code_groups,
    pool_rows,
    wanted_sources,
)
from mash_kg.hierarchy.rerank import train_reranker
from mash_kg.hierarchy.retrieval import unique_rows
from mash_kg.hierarchy.sources import Evidence, Query, prepare_sources
from mash_kg.settings import SOURCE_NAMES

FIT_WIDTH = 60  # per source, a fit code's best candidates kept for choosing the weights


def feature_names(inp: Inputs, cands: Candidates) -> list[str]:
    """The sources this build has evidence for (in SOURCE_NAMES order), then `leaf`."""
    sp = inp.space
    ev = Evidence(sp, inp.row, sp.train_edges, cands.rows, inp.counterparts, inp.settings.curvature)
    have = prepare_sources(ev, wanted_sources(inp.settings))
    return [n for n in SOURCE_NAMES if n in have] + [LEAF]


def groups_of(codes: pd.DataFrame, inp: Inputs, cands: Candidates, pool: np.ndarray | None):
    """(key, ids, pool rows) per group of codes (`pool` replaces every group's candidates)."""
    nodes = inp.space.nodes
    domain = nodes["domain"].fillna("").to_numpy()
    vocab = nodes["vocab"].fillna("").to_numpy()
    for key, group in codes.groupby(code_groups(codes, inp.space, inp.row), sort=True):
        rows = pool if pool is not None else pool_rows(key, cands, domain, vocab)
        yield key, group["id"].to_numpy(), rows


def _compact(feats: np.ndarray, valid: np.ndarray, n_src: int) -> np.ndarray:
    """Per row the positions of each source's FIT_WIDTH best candidates (union)."""
    if feats.shape[1] <= FIT_WIDTH * max(n_src, 1):
        return np.broadcast_to(np.arange(feats.shape[1]), valid.shape).copy()
    parts = []
    for j in range(n_src):
        col = np.where(valid, feats[:, :, j], -np.inf)
        parts.append(np.argpartition(-col, FIT_WIDTH, axis=1)[:, :FIT_WIDTH])
    return unique_rows(np.concatenate(parts, axis=1))


def fit_set(inp: Inputs, cands: Candidates, names: list[str], pool=None) -> FitSet:
    """The fit codes (and codes with rejected pairs) scored as codes without a parent."""
    sp = inp.space
    fit = sp.fit_edges
    truth = fit.groupby("child")["parent"].agg(set).to_dict()
    known = sp.train_edges[~sp.train_edges["child"].isin(set(fit["child"]))]
    ids = set(truth) | {c for c in inp.negatives if c in inp.row}
    codes = sp.nodes[sp.nodes["id"].isin(ids)]
    parts = []
    for key, group_ids, rows in groups_of(codes, inp, cands, pool):
        if not len(rows):
            continue
        p = Pool(rows, known, inp, names)
        for i in range(0, len(group_ids), BLOCK):
            b = group_ids[i : i + BLOCK]
            pos, _, feats, extra, valid = p.block(Query.of_rows(sp, [inp.row[x] for x in b]), names)
            valid = valid & ~p.banned(b, pos, inp)
            keep = _compact(feats, valid, len(names) - 1)
            ok = keep >= 0
            kk = np.maximum(keep, 0)
            pos_k = np.take_along_axis(pos, kk, axis=1)
            cid = p.ids[np.maximum(pos_k, 0)]
            gold = np.array(
                [[c in truth.get(x, ()) for c in r] for x, r in zip(b, cid, strict=True)]
            )
            rej = np.array(
                [[c in inp.negatives.get(x, ()) for c in r] for x, r in zip(b, cid, strict=True)]
            )
            v = np.take_along_axis(valid, kk, axis=1) & ok
            parts.append(
                FitSet(
                    np.take_along_axis(feats, kk[:, :, None], axis=1),
                    gold & v,
                    v,
                    rej & v,
                    np.array([key.split("|")[0]] * len(b), dtype=object),
                    np.take_along_axis(extra, kk[:, :, None], axis=1),
                )
            )
    return FitSet.concat(parts, len(names), 2)


def fit_model(inp: Inputs, cands: Candidates, pool: np.ndarray | None = None) -> Model:
    """Weights per domain, temperature and re-ranker chosen on the fit codes."""
    s = inp.settings
    names = feature_names(inp, cands)
    fs = fit_set(inp, cands, names, pool)
    baseline = "name" if "name" in names else names[0]
    usable = fs.gold.any(axis=1) | fs.rejected.any(axis=1)
    choices, notes = choose_weights(fs.subset(np.flatnonzero(usable)), names, baseline)
    model = Model(names, choices)
    pooled = choices[POOLED]
    if s.rerank and pooled.report.get("fit_codes"):
        model.reranker, rr = train_reranker(fs.subset(np.flatnonzero(usable)), pooled.vector(names))
    else:
        rr = {"kept": None}
    carried = sorted({n for c in choices.values() for n in c.weights if n != LEAF})
    model.report = {
        "sources_available": [n for n in names if n != LEAF],
        "sources_with_weight": carried,
        "fit_codes": int(len(fs.gold)),
        "fit_codes_with_parent_retrieved": int(fs.gold.any(axis=1).sum()),
        "weights": {d: c.weights for d, c in choices.items()},
        "temperature": {d: round(c.temperature, 4) for d, c in choices.items()},
        "validation": {d: c.report for d, c in choices.items()},
        "rerank": rr,
        "notes": notes,
    }
    return model


def _rows_of(ids, p: Pool, pos, raw, probs, valid, inp: Inputs, key: str) -> Placement:
    s, sp = inp.settings, inp.space
    out = Placement([], [], [], [])
    order = np.argsort(-np.where(valid, probs, -1.0), axis=1, kind="stable")
    base = sp.base_text if sp.base_text is not None else sp.text
    fam_col = SOURCE_NAMES.index("family")
    name_col = SOURCE_NAMES.index("name")
    for k, cid in enumerate(ids):
        top = [j for j in order[k] if valid[k, j]][: s.top_candidates]
        for r, j in enumerate(top, start=1):
            c = int(pos[k, j])
            cos = raw[k, j, fam_col] if np.isfinite(raw[k, j, fam_col]) else raw[k, j, name_col]
            name_cos = raw[k, j, name_col]
            eq = bool(p.leaf[c]) and bool(np.isfinite(name_cos) and name_cos >= EQUIVALENT_COS)
            by = tuple(None if not np.isfinite(v) else float(v) for v in raw[k, j])
            out.candidates.append(
                (cid, p.ids[c], r, float(probs[k, j]), float(1 - cos), bool(p.leaf[c]), eq) + by
            )
        chosen = [j for j in top[: s.max_parents] if probs[k, j] >= s.parent_threshold]
        out.parents.extend(
            (cid, p.ids[int(pos[k, j])], float(probs[k, j]), r, "Code")
            for r, j in enumerate(chosen, 1)
        )
        if not chosen:
            out.unplaced.append(cid)
        if cid in inp.truth:
            rank_of = {int(pos[k, j]): r for r, j in enumerate(order[k][valid[k, order[k]]], 1)}
            text = base[p.rows].astype(np.float64) @ base[inp.row[cid]].astype(np.float64)
            allowed = np.ones(len(p.rows), dtype=bool)
            for x in {cid} | set(inp.kids.get(cid, ())):
                if x in p.index:
                    allowed[p.index[x]] = False
            text[~allowed] = -np.inf
            t_rank = np.empty(len(text), dtype=np.int64)
            t_rank[np.argsort(-text, kind="stable")] = np.arange(1, len(text) + 1)
            for par in sorted(inp.truth[cid]):
                j = p.index.get(par)
                rank = None if j is None else rank_of.get(j)
                t = None if j is None else int(t_rank[j])
                out.holdout.append((cid, par, rank, t, int(allowed.sum())))
    return out


def place_codes(
    codes: pd.DataFrame, cands: Candidates, inp: Inputs, model: Model, pool=None
) -> Placement:
    """Place every code of `codes` (id, domain, vocab), group by group, BLOCK at a time."""
    sp = inp.space
    parts = []
    for key, ids, rows in groups_of(codes, inp, cands, pool):
        if not len(rows):
            missed = [
                (c, p, None, None, 0) for c in ids if c in inp.truth for p in sorted(inp.truth[c])
            ]
            parts.append(Placement([], [], missed, list(ids)))
            continue
        p = Pool(rows, sp.train_edges, inp, model.names)
        for i in range(0, len(ids), BLOCK):
            b = ids[i : i + BLOCK]
            pos, raw, feats, extra, valid = p.block(
                Query.of_rows(sp, [inp.row[x] for x in b]), model.names
            )
            valid = valid & ~p.banned(b, pos, inp)
            probs = model.scores(feats, extra, valid, key.split("|")[0], raw)
            parts.append(_rows_of(b, p, pos, raw, probs, valid, inp, key))
    return Placement.concat(parts)


def best_parents(
    ids: list[str], vectors: np.ndarray, domains: list[str], cands, inp: Inputs, model: Model
) -> list[tuple[int, float] | None]:
    """(node row, score) of the best candidate for unit vectors (latent groups' centres)
    in their domains; None below the threshold or without candidates."""
    sp = inp.space
    nodes_dom = sp.nodes["domain"].fillna("").to_numpy()
    out: list[tuple[int, float] | None] = []
    pools: dict[str, Pool] = {}
    for gid, v, dom in zip(ids, vectors, domains, strict=True):
        rows = cands.rows[(nodes_dom[cands.rows] == dom) | (nodes_dom[cands.rows] == "")]
        if not len(rows):
            out.append(None)
            continue
        if dom not in pools:
            pools[dom] = Pool(rows, sp.train_edges, inp, model.names)
        p = pools[dom]
        q = Query(np.array([gid]), v[None, :], v[None, :])
        pos, raw, feats, extra, valid = p.block(q, model.names)
        probs = model.scores(feats, extra, valid, dom, raw)
        j = int(np.argmax(probs[0]))
        ok = probs[0, j] >= inp.settings.parent_threshold
        out.append((int(p.rows[int(pos[0, j])]), float(probs[0, j])) if ok else None)
    return out


__all__ = ["SCORE_COLUMNS", "best_parents", "fit_model", "place_codes"]
