"""Stage II-III quality (issues 10, 21) -> bench/results/hierarchy.json.

Every method reads names and the curated graph only: ids are opaque to them (in ICD and ATC
the code string spells its parent). `default` runs exactly what `mash-kg build` does:
stage2.run_stage2 (the forest on the ball; the fit split of curated edges hidden from every
source) and Stage III's placement (hierarchy.fit: the evidence sources scored over the
pool, or over the HNSW shortlist of a pool larger than `exact_limit`, weighted per build on
the fit codes, re-ranked when the re-ranker wins on them). The fit codes are curated codes
whose parent is a candidate of the task, never a held-out (evaluated) code. Tasks:

- icd10cm_placement: 20% of the 4-character codes (children of 3-character categories) have
  their parent edge held out; each is ranked among all 1,918 categories.
- icd9cm_into_icd10cm: the same build also holds every ICD-9-CM diagnosis code that has a
  GEM target (its name only, no parent) and places it among the ICD-10-CM categories with
  the weights fitted on ICD-10-CM; true: the categories of its GEM targets.
- icd10cm_placement_all: 20% of all codes below category level held out; candidates: every
  code that has children (23,774: the HNSW index, not exact search).
- atc_placement: GNUmed's ATC list, 20% of level-5 substances held out, ranked among all
  level-4 groups.
- icd10cm_reconstruction: the ICD-10-CM tree embedded by tree_embedding.embed_forest;
  Nickel & Kiela reconstruction of the closure on 2,000 sampled codes; depth-norm Spearman.
- retrieval_scale: Stage III's placement with the index on ICD-10-CM: 20,000 codes into
  20,000 candidates, and every ICD-10-CM and ICD-9-CM code (about 100k) into all ICD-10-CM
  nodes; seconds, and the recall@k of the index's shortlist against exact search (the
  share of codes whose exact top-1 / top-10 by the name and family cosines is in it).

Methods: text_nn (frozen text model, cosine to the candidate's name: the reference);
default (every available source, fused with the build's weights, re-ranker when kept);
default_no_rerank; `only_<source>` (one source, no re-ranker). Figures: hit@1/@10, MRR,
mean rank (over codes whose true parent was ranked), coverage (the true parent in the
shortlist); the weights the build chose are in each task's `chosen`.

Run: python bench/hierarchy.py --atc /work/data/atc_only-utf8.csv
(or DIR/var/lib/gnumed/server/sql/v14-v15/data/atc_only-utf8.csv from gnumed-server's .deb)
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))

from _common import write_results  # noqa: E402

from mash_kg.hierarchy.encoder import EncoderSettings  # noqa: E402
from mash_kg.hierarchy.fit import fit_model, place_codes  # noqa: E402
from mash_kg.hierarchy.placement import Inputs, candidate_set  # noqa: E402
from mash_kg.hierarchy.stage2 import (  # noqa: E402
    HierarchySettings,
    choose_fit,
    node_table,
    run_stage2,
)
from mash_kg.hierarchy.tree_embedding import embed_forest, reconstruction  # noqa: E402
from mash_kg.loaders import get_loader  # noqa: E402
from mash_kg.settings import SOURCE_NAMES, CacheSettings  # noqa: E402
from mash_kg.text_embed import TextEmbedder  # noqa: E402


def _peak_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _best_f1(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    """Threshold on a score (higher = edge) maximising F1; returns (threshold, F1)."""
    scores = np.concatenate([pos, neg])
    labels = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    order = np.argsort(-scores)
    tp = np.cumsum(labels[order])
    fp = np.cumsum(1 - labels[order])
    f1 = 2 * tp / (tp + fp + len(pos))
    k = int(np.argmax(f1))
    return float(scores[order][k]), float(f1[k])


def _f1(score: np.ndarray, gold: np.ndarray, negatives: np.ndarray) -> float:
    """F1 on the second half of rows at the threshold tuned on the first half."""
    rows = np.arange(len(gold))
    pos, neg = score[rows, gold], score[rows, negatives]
    half = len(rows) // 2
    thr, _ = _best_f1(pos[:half], neg[:half])
    p2, n2 = pos[half:], neg[half:]
    tp, fp, fn = (p2 >= thr).sum(), (n2 >= thr).sum(), (p2 < thr).sum()
    return round(float(2 * tp / max(2 * tp + fp + fn, 1)), 4)


def rank_metrics(rank: np.ndarray) -> dict:
    """hit@1, hit@10, MRR, mean rank (of the covered) and coverage of true-parent ranks, one
    per held-out code; inf where the true parent was not a candidate."""
    covered = np.isfinite(rank)
    return {
        "hit_at_1": round(float((rank == 1).mean()), 4),
        "hit_at_10": round(float((rank <= 10).mean()), 4),
        "mrr": round(float((1.0 / rank).mean()), 4),
        "mean_rank": round(float(rank[covered].mean()), 2) if covered.any() else None,
        "coverage": round(float(covered.mean()), 4),
    }


def _blocked(
    score_rows,
    n: int,
    gold: np.ndarray,
    rand_neg=None,
    sib_neg=None,
    block: int = 2048,
    exclude=None,
) -> dict:
    """hit@1/@10, MRR, mean rank (one true parent per row; gold -1: the true parent is not a
    candidate, a miss), coverage, and F1s (when negatives are given) without the whole score
    matrix: `score_rows(lo, hi)` gives rows lo..hi (higher = more likely parent), and only
    each row's rank and its true / negative scores are kept (bounded memory). `exclude(lo,
    hi)`: (row, column) pairs that are no candidates of their row (a code, its descendants)."""
    ranks, kept = [], []
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        sc = score_rows(lo, hi)
        if exclude is not None:
            rr, cc = exclude(lo, hi)
            sc[rr, cc] = -np.inf
        r = np.arange(hi - lo)
        g = gold[lo:hi]
        true = np.where(g >= 0, sc[r, np.maximum(g, 0)], np.nan)
        rk = 1.0 + (sc > true[:, None]).sum(axis=1)
        ranks.append(np.where(g >= 0, rk, np.inf))
        if rand_neg is not None:
            kept.append(np.stack([true, sc[r, rand_neg[lo:hi]], sc[r, sib_neg[lo:hi]]], axis=1))
    rank = np.concatenate(ranks)
    covered = np.isfinite(rank)
    out = rank_metrics(rank)
    if rand_neg is not None:
        three = np.concatenate(kept)[covered]
        zeros = np.zeros(len(three), dtype=np.int64)
        out.update(f1_random=_f1(three, zeros, zeros + 1), f1_sibling=_f1(three, zeros, zeros + 2))
    return out


def _set_metrics(score: np.ndarray, truth: list[set[int]]) -> dict:
    """Several true candidates per row: the best-ranked one counts."""
    covered = np.array([bool(t) for t in truth])
    best = np.array([score[i, sorted(t)].max() if t else np.nan for i, t in enumerate(truth)])
    rank = np.where(covered, 1.0 + (score > best[:, None]).sum(axis=1), np.inf)
    return rank_metrics(rank)


class Tree:
    """A loaded vocabulary as node rows and (child, parent) edges, ids kept aside."""

    def __init__(self, tables) -> None:
        self.nodes = tables.nodes.reset_index(drop=True)
        self.row = {c: i for i, c in enumerate(self.nodes["id"])}
        isa = tables.edges[tables.edges["type"] == "IS_A"]
        self.child = np.array([self.row[c] for c in isa["start"]])
        self.parent = np.array([self.row[p] for p in isa["end"]])
        self.names = [str(n) for n in self.nodes["name"]]
        self.ids = self.nodes["id"].to_numpy()

    def edges(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"child": self.ids[self.child], "parent": self.ids[self.parent], "type": "IS_A"}
        )


def build_space(
    tree: Tree,
    held: np.ndarray,
    cands: np.ndarray,
    h: HierarchySettings,
    enc: EncoderSettings,
    extra: pd.DataFrame | None = None,
    seed: int = 0,
):
    """Stage II of a build whose codes are this vocabulary (plus `extra` codes without a
    parent: id, name, domain, vocab), `held`'s parent edges held out, the fit split drawn
    among the training edges whose parent is a candidate (run_stage2 itself)."""
    cols = [c for c in ("id", "vocab", "name", "domain", "kind", "excludes1") if c in tree.nodes]
    codes = tree.nodes[["id", "name", "domain", "vocab"]]
    if extra is not None:
        codes = pd.concat([codes, extra], ignore_index=True)
    edges = tree.edges()
    hidden = set(tree.ids[held])
    heldout = edges[edges["child"].isin(hidden)][["child", "parent"]]
    train = edges[~edges["child"].isin(hidden)]
    fit = choose_fit(train, h.fit_edges, seed, parents=set(tree.ids[cands]))
    nodes = node_table(codes, tree.nodes[cols])
    embedder = TextEmbedder(cache_dir=CacheSettings().text, batch_size=128)
    frozen = embedder.embed(list(nodes["name"]))
    empty = pd.DataFrame(columns=["id", "other_id", "rank"])
    cooc = pd.DataFrame(columns=["site", "code_a", "code_b", "count"])
    return run_stage2(
        codes,
        tree.nodes[cols],
        edges,
        nodes,
        frozen,
        empty,
        cooc,
        h,
        enc,
        heldout=heldout,
        fit=fit,
        seed=seed,
    )


def _metrics(holdout: pd.DataFrame, n: int) -> dict:
    """hit@1/@10, MRR, mean rank, coverage from placement's holdout rows (best true parent
    per code; a code whose true parent was not ranked is a miss)."""
    best = holdout.sort_values("rank", na_position="last").drop_duplicates("id")
    r = pd.to_numeric(best["rank"], errors="coerce").to_numpy(float)
    r = np.concatenate([r, np.full(n - len(r), np.nan)])
    rank = np.where(np.isfinite(r), r, np.inf)
    return rank_metrics(rank)


def _variants(space, h: HierarchySettings, variants: list[str]) -> dict[str, HierarchySettings]:
    plan = {
        "default": h,
        "default_no_rerank": replace(h, rerank=False),
    }
    for src in SOURCE_NAMES:
        plan[f"only_{src}"] = replace(h, sources=[src], rerank=False)
    return {v: plan[v] for v in variants if v in plan}


def run_methods(space, truth: dict, query_ids: list, pool_ids, h, variants) -> tuple[dict, dict]:
    """Each variant of Stage III's placement (fit on the space's fit codes, then every code
    of `query_ids` placed among `pool_ids`): per variant the holdout rows' figures, by
    group of codes (`truth`: name -> {code: true parents})."""
    row = {c: i for i, c in enumerate(space.nodes["id"])}
    kids = space.all_edges.groupby("parent")["child"].agg(list).to_dict()
    all_truth = {c: p for t in truth.values() for c, p in t.items()}
    cands = candidate_set(space, row)
    pool = np.array(sorted(row[c] for c in pool_ids))
    codes = space.nodes[space.nodes["id"].isin(set(query_ids))]
    out: dict = {k: {} for k in truth}
    chosen: dict = {}
    cp = pd.DataFrame(columns=["id", "other_id", "rank", "score"])
    for name, hs in _variants(space, h, variants).items():
        start = time.perf_counter()
        inp = Inputs(space, hs, row, kids, all_truth, cp, {})
        try:
            model = fit_model(inp, cands, pool)
        except KeyError:  # the source is not available in this build
            continue
        if [n for n in model.names if n != "leaf"] == [] or (
            hs.sources and not set(hs.sources) <= set(model.names)
        ):
            continue
        placed = place_codes(codes, cands, inp, model, pool)
        seconds = round(time.perf_counter() - start, 1)
        hold = pd.DataFrame(placed.holdout, columns=["id", "parent", "rank", "text_rank", "n"])
        for task, t in truth.items():
            m = _metrics(hold[hold["id"].isin(set(t))], len(t))
            out[task][name] = {**m, "seconds": seconds, "peak_mib": _peak_mib()}
        if name == "default":
            chosen = {k: model.report[k] for k in ("sources_with_weight", "weights", "rerank")}
            chosen["validation"] = model.report["validation"]
        print(f"  {name}: {[out[t][name] for t in truth]}", flush=True)
    return out, chosen


def _progress(label: str):
    done = [0]

    def log(k: int) -> None:
        done[0] += k
        print(f"  {label}: {done[0]} steps", flush=True)

    return log


def text_nn(tree: Tree, held: np.ndarray, cands: np.ndarray) -> dict:
    """The frozen text model's cosine of each held-out code to every candidate's name."""
    par = dict(zip(tree.child.tolist(), tree.parent.tolist(), strict=False))
    cand_pos = {c: i for i, c in enumerate(cands)}
    gold = np.array([cand_pos.get(par[h_], -1) for h_ in held])
    frozen = TextEmbedder(cache_dir=CacheSettings().text, batch_size=128).embed(tree.names)
    start = time.perf_counter()
    out = _blocked(
        lambda lo, hi: frozen[held[lo:hi]].astype(np.float64) @ frozen[cands].T.astype(float),
        len(held),
        gold,
    )
    out["seconds"] = round(time.perf_counter() - start, 1)
    return out


def placement_task(name, tree, held, cands, h, enc, variants, seed=0) -> dict:
    """Hide the parent edges of `held`; rank each one's true parent among `cands`."""
    print(f"{name}: text_nn ...", flush=True)
    methods = {"text_nn": text_nn(tree, held, cands)}
    start = time.perf_counter()
    space = build_space(tree, held, cands, h, enc, seed=seed)
    stage2_s = round(time.perf_counter() - start, 1)
    par = dict(zip(tree.child.tolist(), tree.parent.tolist(), strict=False))
    truth = {name: {tree.ids[c]: {tree.ids[par[c]]} for c in held}}
    got, chosen = run_methods(space, truth, list(tree.ids[held]), tree.ids[cands], h, variants)
    methods.update(got[name])
    return {
        "n": int(len(held)),
        "candidates": int(len(cands)),
        "codes": len(tree.names),
        "fit_edges": len(space.fit_edges),
        "stage2_seconds": stage2_s,
        "chosen": chosen,
        "methods": methods,
    }


def _gem_truth(cm: Tree, cats: np.ndarray) -> tuple[pd.DataFrame, dict]:
    """ICD-9-CM codes with a GEM target (id, name, domain, vocab) and their true categories."""
    nine = get_loader("icd9cm")()
    gem = nine.edges[
        (nine.edges["type"] == "MAPS_TO")
        & nine.edges["start"].str.startswith("ICD9CM:")
        & nine.edges["end"].isin(cm.row)
    ]
    par = dict(zip(cm.child.tolist(), cm.parent.tolist(), strict=False))
    cat_set = set(cats.tolist())

    def category(r: int) -> int | None:
        seen = set()
        while r not in cat_set and r in par and r not in seen:
            seen.add(r)
            r = par[r]
        return r if r in cat_set else None

    truth: dict[str, set[str]] = {}
    for a, b in zip(gem["start"], gem["end"], strict=True):
        c = category(cm.row[b])
        if c is not None:
            truth.setdefault(a, set()).add(cm.ids[c])
    nodes = nine.nodes[nine.nodes["id"].isin(truth)]
    codes = pd.DataFrame(
        {
            "id": nodes["id"],
            "name": nodes["name"].astype(str),
            "domain": cm.nodes["domain"].iat[0],
            "vocab": nodes["vocab"],
        }
    )
    return codes, {i: truth[i] for i in codes["id"]}


def icd10cm_tasks(h, enc, variants, out: dict, seed: int = 0) -> dict:
    """icd10cm_placement and icd9cm_into_icd10cm, one build holding both vocabularies."""
    cm = Tree(get_loader("icd10cm")())
    kind = cm.nodes["kind"].to_numpy()
    cats = np.flatnonzero(kind == "category")
    four = cm.child[(kind[cm.child] == "subcategory") & (kind[cm.parent] == "category")]
    held = np.random.default_rng(seed).permutation(four)[: len(four) // 5]
    nine, nine_truth = _gem_truth(cm, cats)
    methods10 = {"text_nn": text_nn(cm, held, cats)}
    emb = TextEmbedder(cache_dir=CacheSettings().text, batch_size=128)
    f9 = emb.embed(list(nine["name"]))
    fc = emb.embed([cm.names[c] for c in cats])
    cat_pos = {cm.ids[c]: i for i, c in enumerate(cats)}
    gold9 = [{cat_pos[p] for p in nine_truth[i]} for i in nine["id"]]
    methods9 = {"text_nn": _set_metrics(f9.astype(np.float64) @ fc.T, gold9)}
    start = time.perf_counter()
    space = build_space(cm, held, cats, h, enc, extra=nine, seed=seed)
    stage2_s = round(time.perf_counter() - start, 1)
    par = dict(zip(cm.child.tolist(), cm.parent.tolist(), strict=False))
    truth = {
        "icd10cm": {cm.ids[c]: {cm.ids[par[c]]} for c in held},
        "icd9": nine_truth,
    }
    queries = list(cm.ids[held]) + list(nine["id"])
    got, chosen = run_methods(space, truth, queries, cm.ids[cats], h, variants)
    methods10.update(got["icd10cm"])
    methods9.update(got["icd9"])
    out["icd10cm_placement"] = {
        "n": int(len(held)),
        "candidates": int(len(cats)),
        "codes": len(cm.names),
        "fit_edges": len(space.fit_edges),
        "stage2_seconds": stage2_s,
        "chosen": chosen,
        "methods": methods10,
    }
    out["icd9cm_into_icd10cm"] = {
        "n": len(nine),
        "candidates": int(len(cats)),
        "methods": methods9,
        "chosen": "the icd10cm_placement build's (same build, weights fitted on ICD-10-CM)",
        "note": "true categories: those of the code's GEM (gem_icd9_icd10cm) targets; the "
        "best-ranked true category counts",
    }
    return out


def icd10cm_all(h, enc, variants, seed: int = 0) -> dict:
    cm = Tree(get_loader("icd10cm")())
    kind = cm.nodes["kind"].to_numpy()
    below = cm.child[kind[cm.child] == "subcategory"]
    held = np.random.default_rng(seed).permutation(below)[: len(below) // 5]
    cands = np.array(sorted(set(cm.parent.tolist())))
    return placement_task("icd10cm_placement_all", cm, held, cands, h, enc, variants, seed)


def atc_task(path: Path, h, enc, variants, seed: int = 0) -> dict:
    atc = Tree(get_loader("atc")(files=[path]))
    length = atc.nodes["code"].str.len().to_numpy()
    level4 = np.flatnonzero(length == 5)
    level5 = atc.child[(length[atc.child] == 7) & (length[atc.parent] == 5)]
    held = np.random.default_rng(seed).permutation(level5)[: len(level5) // 5]
    return placement_task("atc_placement", atc, held, level4, h, enc, variants, seed)


def _recall(space, h, pool: np.ndarray, queries: np.ndarray, sample: int = 2000) -> dict:
    """Share of sampled queries whose exact top-1 / top-10 candidates by the name and family
    cosines are in the index's shortlist (what retrieval loses against exact search)."""
    from mash_kg.hierarchy.retrieval import Retriever
    from mash_kg.hierarchy.sources import Evidence, Query, prepare_sources

    row = {c: i for i, c in enumerate(space.nodes["id"])}
    ev = Evidence(space, row, space.train_edges, pool)
    scorers = prepare_sources(ev, ["name", "family"])
    retr = Retriever(scorers, len(pool), h.retrieval_k, h.exact_limit)
    pick = np.random.default_rng(0).choice(queries, min(sample, len(queries)), replace=False)
    q = Query.of_rows(space, pick)
    short = retr.shortlist(q)
    out = {}
    for nm, sc in scorers.items():
        exact = np.argsort(-sc.score(q, None), axis=1)[:, :10]
        if short is None:
            out[f"{nm}_recall_at_1"] = out[f"{nm}_recall_at_10"] = 1.0
            continue
        in1 = [exact[i, 0] in set(short[i]) for i in range(len(pick))]
        in10 = [np.isin(exact[i], short[i]).mean() for i in range(len(pick))]
        out[f"{nm}_recall_at_1"] = round(float(np.mean(in1)), 4)
        out[f"{nm}_recall_at_10"] = round(float(np.mean(in10)), 4)
    out["shortlist_width"] = None if short is None else int(short.shape[1])
    return out


def _timed_placement(space, h, pool_ids, query_ids) -> dict:
    row = {c: i for i, c in enumerate(space.nodes["id"])}
    kids = space.all_edges.groupby("parent")["child"].agg(list).to_dict()
    cands = candidate_set(space, row)
    pool = np.array(sorted(row[c] for c in pool_ids))
    cp = pd.DataFrame(columns=["id", "other_id", "rank", "score"])
    inp = Inputs(space, h, row, kids, {}, cp, {})
    start = time.perf_counter()
    model = fit_model(inp, cands, pool)
    fitted = time.perf_counter() - start
    codes = space.nodes[space.nodes["id"].isin(set(query_ids))]
    placed = place_codes(codes, cands, inp, model, pool)
    total = time.perf_counter() - start
    return {
        "codes": int(len(codes)),
        "candidates": int(len(pool)),
        "fit_seconds": round(fitted, 1),
        "seconds": round(total, 1),
        "candidate_rows": len(placed.candidates),
        "recall": _recall(space, h, pool, np.array([row[c] for c in query_ids])),
        "peak_mib": _peak_mib(),
    }


def retrieval_task(h: HierarchySettings, seed: int = 0) -> dict:
    """Stage III at scale on ICD-10-CM (+ ICD-9-CM codes): seconds and recall of the index."""
    cm = Tree(get_loader("icd10cm")())
    nine = get_loader("icd9cm")().nodes
    nine = nine[nine["id"].str.startswith("ICD9CM:")]
    extra = pd.DataFrame(
        {
            "id": nine["id"],
            "name": nine["name"].astype(str),
            "domain": cm.nodes["domain"].iat[0],
            "vocab": nine["vocab"],
        }
    )
    none = np.zeros(0, dtype=np.int64)
    start = time.perf_counter()
    space = build_space(cm, none, np.arange(len(cm.ids)), h, EncoderSettings(), extra=extra)
    stage2_s = round(time.perf_counter() - start, 1)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(cm.ids))
    methods = {
        "20k_into_20k": _timed_placement(
            space, h, cm.ids[order[:20000]], cm.ids[order[20000:40000]]
        ),
    }
    print(f"retrieval: {methods}", flush=True)
    queries = (list(cm.ids) + list(extra["id"]))[:100000]
    methods["100k_into_icd10cm"] = _timed_placement(space, h, cm.ids, queries)
    print(f"retrieval: {methods}", flush=True)
    return {
        "n": len(queries),
        "stage2_seconds": stage2_s,
        "methods": methods,
        "note": f"HNSW (faiss, M 32, efSearch 256) per dense source, k = {h.retrieval_k} each, "
        f"pools over {h.exact_limit} candidates; seconds: Stage III's fit and placement "
        "(Stage II apart); recall: exact top-1/top-10 by each source found in the shortlist",
    }


def reconstruction_task(h: HierarchySettings, sample: int = 2000, seed: int = 0) -> dict:
    cm = Tree(get_loader("icd10cm")())
    methods = {}
    for dim in (10, h.dim):
        start = time.perf_counter()
        pts, depth = embed_forest(len(cm.names), cm.child, cm.parent, dim, h.tree())
        seconds = time.perf_counter() - start
        fig = reconstruction(pts, cm.child, cm.parent, depth, sample=sample, seed=seed)
        methods[f"poincare_{dim}d" if dim != 10 else "poincare"] = {
            "map": fig["reconstruction_map"],
            "mean_rank": fig["reconstruction_mean_rank"],
            "depth_norm_spearman": fig["depth_norm_spearman"],
            "dim": dim,
            "seconds": round(seconds, 1),
            "float": "float64",
        }
        print(f"reconstruction {dim}d: {methods}", flush=True)
    t = h.tree()
    return {
        "n": sample,
        "codes": len(cm.names),
        "methods": methods,
        "note": f"tree_embedding.embed_forest (root_radius {t.root_radius}, step {t.step}, "
        f"spread {t.spread}, shrink {t.shrink}); closure neighbours of {sample} random "
        "codes ranked among all unrelated codes; before (main, free N&K training 300 s, "
        "10-d): MAP 0.024",
    }


def _earlier_tasks() -> dict:
    """The tasks of the existing results file, each marked as measured by its own run."""
    import json

    from _common import RESULTS  # noqa: E402

    path = RESULTS / "hierarchy.json"
    if not path.is_file():
        return {}
    doc = json.loads(path.read_text())
    out = {}
    for name, task in doc.get("tasks", {}).items():
        mark = task.get("measured_by") or {"command": doc.get("command"), "date": doc.get("date")}
        out[name] = {**task, "measured_by": mark}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="icd10cm,atc,icd10cm_all,reconstruction")
    ap.add_argument("--atc", type=Path, help="GNUmed's atc_only-utf8.csv (see loaders/atc.py)")
    ap.add_argument("--steps", type=int, help="encoder steps (default: EncoderSettings)")
    ap.add_argument("--max-seconds", type=float, help="encoder time budget")
    ap.add_argument(
        "--variants",
        default="default,default_no_rerank,only_name,only_family,only_spelling",
        help="Stage III variants per task (only_<source>: one evidence source alone)",
    )
    ap.add_argument("--fit-edges", type=int, help="[hierarchy] fit_edges (default 2000)")
    ap.add_argument(
        "--keep-earlier",
        action="store_true",
        help="keep the tasks of the existing results file that this run does not measure, "
        "each marked with the command and date that measured it",
    )
    args = ap.parse_args()
    tasks = args.tasks.split(",")
    h, enc = HierarchySettings(), EncoderSettings()
    if args.steps is not None:
        enc = replace(enc, steps=args.steps)
    if args.max_seconds is not None:
        enc = replace(enc, max_seconds=args.max_seconds)
    variants = args.variants.split(",")
    if args.fit_edges is not None:
        h = replace(h, fit_edges=args.fit_edges)
    if "atc" in tasks and args.atc is None:
        sys.exit("atc_placement needs --atc PATH/atc_only-utf8.csv (see loaders/atc.py)")
    out: dict = {}
    if args.keep_earlier:
        out = _earlier_tasks()
    # results are written after every task, so a late failure keeps the earlier figures
    if "reconstruction" in tasks:
        out["icd10cm_reconstruction"] = reconstruction_task(h)
        write_results("hierarchy", out)
    if "icd10cm" in tasks:
        out.update(icd10cm_tasks(h, enc, variants, out))
        write_results("hierarchy", out)
    if "atc" in tasks:
        out["atc_placement"] = atc_task(args.atc, h, enc, variants)
        write_results("hierarchy", out)
    if "icd10cm_all" in tasks:
        out["icd10cm_placement_all"] = icd10cm_all(h, enc, variants)
        write_results("hierarchy", out)
    if "retrieval" in tasks:
        out["retrieval_scale"] = retrieval_task(h)
    print(write_results("hierarchy", out))


if __name__ == "__main__":
    main()
