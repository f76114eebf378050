"""Stage II-III quality (issue 10) -> bench/results/hierarchy.json.

Every method reads names and the curated graph only: ids are opaque to them (in ICD and ATC
the code string spells its parent). `full` runs exactly what `mash-kg build` does by default:
stage2.run_stage2 (the forest embedded on the ball; the hierarchy encoder when enabled) and
Stage III's parent score (placement.family_vectors, lexical.lexical_families, score_candidates:
softmax((cos(code, family) + w cos_spelling) / T), a candidate's family being its name and
its known children). Tasks:

- icd10cm_placement: 20% of the 4-character codes (children of 3-character categories) have
  their parent edge held out; each is ranked among all 1,918 categories.
- icd10cm_placement_all: 20% of all codes below category level held out; candidates: every
  code that has children.
- atc_placement: GNUmed's ATC list, 20% of level-5 substances held out, ranked among all
  level-4 groups (the encoder trained on ATC's other edges, as a build with ATC loaded does).
- icd9cm_into_icd10cm: the icd10cm_placement spaces (encoder trained on ICD-10-CM only) place every
  ICD-9-CM diagnosis code that has a GEM target (its text only) among the ICD-10-CM
  categories; true: the categories of its GEM targets.
- icd10cm_reconstruction: the whole ICD-10-CM tree embedded by tree_embedding.embed_forest
  (what Stage II does with the curated forest) at 10 and at 32 dimensions; Nickel & Kiela
  reconstruction of the transitive closure on 2,000 sampled codes; depth-norm Spearman.

`full_all_nodes` (a variant of icd10cm_placement and atc_placement) ranks each held-out
code's true parent among every code of the vocabulary but itself and its own descendants,
leaves included: the candidate rule of `mash-kg build` since issue 11 (every curated node of
the code's domain and vocabulary may be proposed; a leaf pays `leaf_penalty` unless the code
nearly repeats its name), at its widest (a build proposes the nodes of its context); beside
it, on the same space and codes, `text_nn_all_nodes`, `full_all_nodes_no_leaf_penalty` and
`full_nodes_with_children` (the rule before: only nodes with children are candidates).
`coverage`: the share of held-out codes whose true parent is among the candidates (a code
whose true parent is not a candidate counts as a miss in hit@k and MRR, as in `mash-kg eval`).

Methods: text_nn (frozen text model, cosine to the candidate's name: the reference); full
(the build's default: frozen text model, Stage III's family score and spelling term);
full_trained_encoder (the hierarchy encoder fine-tuned first, [encoder] enabled = true);
full_no_hard (that encoder without hard negatives); full_gnn (full + the HGCN term);
`*_no_lexical`: the same space scored without the names' character n-gram term.
F1: held-out (code, true parent) against (code, random candidate) or (code, a sibling
candidate of the true one), at the score threshold that maximises F1 on the other half.

Run: python bench/hierarchy.py --atc DIR/var/lib/gnumed/server/sql/v14-v15/data/atc_only-utf8.csv
(DIR from `apt-get download gnumed-server && dpkg-deb -x gnumed-server_*.deb DIR`)
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))

from _common import write_results  # noqa: E402

from mash_kg.encoder import EncoderSettings  # noqa: E402
from mash_kg.lexical import lexical_families, lexical_vectors  # noqa: E402
from mash_kg.loaders import get_loader  # noqa: E402
from mash_kg.placement import EQUIVALENT_COS, family_vectors, score_candidates  # noqa: E402
from mash_kg.settings import CacheSettings  # noqa: E402
from mash_kg.stage2 import HierarchySettings, node_table, run_stage2  # noqa: E402
from mash_kg.text_embed import TextEmbedder  # noqa: E402
from mash_kg.tree_embedding import embed_forest, reconstruction  # noqa: E402


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
    out = {
        "hit_at_1": round(float((rank == 1).mean()), 4),
        "hit_at_10": round(float((rank <= 10).mean()), 4),
        "mrr": round(float((1.0 / rank).mean()), 4),
        "mean_rank": round(float(rank[covered].mean()), 2) if covered.any() else None,
        "coverage": round(float(covered.mean()), 4),
    }
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
    return {
        "hit_at_1": round(float((rank == 1).mean()), 4),
        "hit_at_10": round(float((rank <= 10).mean()), 4),
        "mrr": round(float((1.0 / rank).mean()), 4),
        "mean_rank": round(float(rank[covered].mean()), 2) if covered.any() else None,
        "coverage": round(float(covered.mean()), 4),
    }


class Tree:
    """A loaded vocabulary as node rows and (child, parent) edges, ids kept aside."""

    def __init__(self, tables) -> None:
        self.nodes = tables.nodes.reset_index(drop=True)
        self.row = {c: i for i, c in enumerate(self.nodes["id"])}
        isa = tables.edges[tables.edges["type"] == "IS_A"]
        self.child = np.array([self.row[c] for c in isa["start"]])
        self.parent = np.array([self.row[p] for p in isa["end"]])
        self.names = [str(n) for n in self.nodes["name"]]

    def space(
        self,
        held: np.ndarray,
        h: HierarchySettings,
        enc: EncoderSettings,
        frozen: np.ndarray,
        encoder_dir: Path | None = None,
    ):
        """Stage II of a build whose codes are this vocabulary, `held`'s parent edges held
        out (run_stage2 itself, as `mash-kg build` calls it). Its rows follow node_table's
        order (sorted ids): `self.to_space` maps this tree's rows onto them."""
        ids = self.nodes["id"]
        codes = self.nodes[["id", "name", "domain", "vocab"]]
        cols = [
            c for c in ("id", "vocab", "name", "domain", "kind", "excludes1") if c in self.nodes
        ]
        edges = pd.DataFrame(
            {
                "child": ids.to_numpy()[self.child],
                "parent": ids.to_numpy()[self.parent],
                "type": "IS_A",
            }
        )
        hidden = set(ids.to_numpy()[held])
        heldout = edges[edges["child"].isin(hidden)][["child", "parent"]]
        empty = pd.DataFrame(columns=["id", "other_id", "rank"])
        cooc = pd.DataFrame(columns=["site", "code_a", "code_b", "count"])
        log = _progress("encoder")
        nodes = node_table(codes, self.nodes[cols])
        order = nodes["id"]
        self.to_space = np.empty(len(ids), dtype=np.int64)
        self.to_space[[self.row[i] for i in order]] = np.arange(len(order))
        space = run_stage2(
            codes,
            self.nodes[cols],
            edges,
            nodes,
            frozen[[self.row[i] for i in order]],
            empty,
            cooc,
            h,
            enc,
            encoder_dir=encoder_dir,
            log=log,
            heldout=heldout,
        )
        assert list(space.nodes["id"]) == list(order)
        return space


def _progress(label: str):
    done = [0]

    def log(k: int) -> None:
        done[0] += k
        print(f"  {label}: {done[0]} steps", flush=True)

    return log


def placement(
    name: str,
    tree: Tree,
    held: np.ndarray,
    cands: np.ndarray,
    h: HierarchySettings,
    enc: EncoderSettings,
    variants: list[str],
    seed: int = 0,
    keep_encoder: Path | None = None,
) -> tuple[dict, dict]:
    """Hide the parent edges of `held`; rank each one's true parent among `cands`. Returns
    the task's figures and the spaces by method (for tasks that reuse an encoder)."""
    rng = np.random.default_rng(seed)
    par = dict(zip(tree.child.tolist(), tree.parent.tolist(), strict=False))
    cand_pos = {c: i for i, c in enumerate(cands)}
    gold = np.array([cand_pos.get(par[h_], -1) for h_ in held])  # -1: not a candidate
    by_parent: dict[int, list[int]] = {}
    for i, c in enumerate(cands):
        by_parent.setdefault(par.get(int(c)), []).append(i)
    rand_neg = (np.maximum(gold, 0) + rng.integers(1, len(cands), len(gold))) % len(cands)
    sib_neg = np.array(
        [
            rng.choice([s for s in by_parent[par.get(int(cands[g]))] if s != g] or [int(r)])
            if g >= 0
            else int(r)
            for g, r in zip(gold, rand_neg, strict=True)
        ]
    )
    embedder = TextEmbedder(cache_dir=CacheSettings().text, batch_size=128)
    start = time.perf_counter()
    frozen = embedder.embed(tree.names)
    methods: dict[str, dict] = {}
    methods["text_nn"] = _blocked(
        lambda lo, hi: frozen[held[lo:hi]].astype(np.float64) @ frozen[cands].T,
        len(held),
        gold,
        rand_neg,
        sib_neg,
    )
    methods["text_nn"].update(seconds=round(time.perf_counter() - start, 1), peak_mib=_peak_mib())
    spaces = {}
    trained = replace(enc, enabled=True)
    plan = {
        "full": (h, enc),
        "full_trained_encoder": (h, trained),
        "full_no_hard": (h, replace(trained, hard_negatives=0)),
        "full_gnn": (replace(h, gnn_layers=2), enc),
    }
    for method in [v for v in variants if v in plan]:
        hs, es = plan[method]
        print(f"{name}: {method} ...", flush=True)
        start = time.perf_counter()
        out_dir = keep_encoder if method == "full_trained_encoder" else None
        space = tree.space(held, hs, es, frozen, encoder_dir=out_dir)
        seconds = time.perf_counter() - start
        # everything in the space's row order
        srow = {c: i for i, c in enumerate(space.nodes["id"])}
        sh, sc = tree.to_space[held], tree.to_space[cands]
        tc = space.train_edges["child"].map(srow).to_numpy(np.int64)
        tp = space.train_edges["parent"].map(srow).to_numpy(np.int64)
        fam = family_vectors(space.text, sc, tc, tp)
        gnn_d = None
        if space.gnn_points is not None:
            from mash_kg.poincare import distance_matrix

            gnn_d = distance_matrix(space.gnn_points[sh], space.gnn_points[sc])
        lexfam = lexical_families(space.lexical, sc, tc, tp)

        def rows(
            lo, hi, lexical=True, space=space, sh=sh, fam=fam, lexfam=lexfam, d=gnn_d, hs=hs
        ) -> np.ndarray:
            q = sh[lo:hi]
            lex = (space.lexical[q] @ lexfam.T).toarray() if lexical else None
            part = None if d is None else d[lo:hi]
            return score_candidates(
                space.text[q], fam, hs.temperature, part, lex, hs.lexical_weight
            )[0]

        methods[method] = _blocked(rows, len(held), gold, rand_neg, sib_neg)
        if method in ("full", "full_trained_encoder"):  # the spelling term's share
            methods[f"{method}_no_lexical"] = _blocked(
                lambda lo, hi: rows(lo, hi, lexical=False), len(held), gold, rand_neg, sib_neg
            )
        fig = space.figures
        methods[method].update(
            seconds=round(seconds, 1),
            encoder_steps=fig.get("encoder_steps"),
            encoder_seconds=fig.get("encoder_seconds"),
            peak_mib=_peak_mib(),
        )
        if len(space.encoder_training):
            last = space.encoder_training.iloc[-1]
            methods[method]["encoder_final_loss"] = round(float(last["loss"]), 4)
        print(f"  {methods[method]}", flush=True)
        spaces[method] = space
    if "full_all_nodes" in variants and "full" in spaces:
        methods.update(_all_nodes(tree, held, par, frozen, spaces["full"], h))
    note = (
        f"encoder: {enc.steps} steps at most / {enc.max_seconds:.0f} s, batch {enc.batch} "
        f"families (+{enc.hard_negatives} hard each), max_length {enc.max_length}, "
        f"{enc.freeze_layers} lower layers frozen; parent score T = {h.temperature}"
    )
    return {
        "n": int(len(held)),
        "candidates": int(len(cands)),
        "codes": len(tree.names),
        "note": note,
        "methods": methods,
    }, spaces


def _all_nodes(tree: Tree, held: np.ndarray, par: dict, frozen: np.ndarray, space, h) -> dict:
    """text_nn and full with every node of the tree a candidate (leaves included), but a
    held-out code itself and its descendants (the build's rule since issue 11)."""
    kids: dict[int, list[int]] = {}
    for c, p in zip(tree.child.tolist(), tree.parent.tolist(), strict=True):
        kids.setdefault(p, []).append(c)

    def below(code: int) -> list[int]:
        out, todo = [code], [code]
        while todo:
            for k in kids.get(todo.pop(), ()):
                out.append(k)
                todo.append(k)
        return out

    banned = [below(int(c)) for c in held]

    def exclude(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        rr = np.concatenate([np.full(len(banned[i]), i - lo) for i in range(lo, hi)])
        return rr.astype(np.int64), np.concatenate([banned[i] for i in range(lo, hi)])

    gold = np.array([par[int(c)] for c in held])  # candidates = every row: position = row
    out: dict = {}
    start = time.perf_counter()
    out["text_nn_all_nodes"] = _blocked(
        lambda lo, hi: frozen[held[lo:hi]].astype(np.float64) @ frozen.T.astype(np.float64),
        len(held),
        gold,
        block=512,
        exclude=exclude,
    )
    out["text_nn_all_nodes"].update(seconds=round(time.perf_counter() - start, 1))
    start = time.perf_counter()
    srow = {c: i for i, c in enumerate(space.nodes["id"])}
    tc = space.train_edges["child"].map(srow).to_numpy(np.int64)
    tp = space.train_edges["parent"].map(srow).to_numpy(np.int64)
    sh, sc = tree.to_space[held], tree.to_space[np.arange(len(tree.names))]
    fam = family_vectors(space.text, sc, tc, tp)
    lexfam = lexical_families(space.lexical, sc, tc, tp)
    # the build's leaf rule: a node without children in the training forest pays
    # leaf_penalty unless the code nearly repeats its name (placement.EQUIVALENT_COS)
    leaf = ~np.isin(sc, np.unique(tp))
    base = space.base_text

    def rows(lo: int, hi: int, penalty: float = h.leaf_penalty) -> np.ndarray:
        q = sh[lo:hi]
        lex = (space.lexical[q] @ lexfam.T).toarray()
        if np.isinf(penalty):  # the rule before issue 11: leaves are no candidates at all
            prior = np.where(leaf, -np.inf, 0.0)[None, :]
        else:
            near = base[q].astype(np.float64) @ base[sc].astype(np.float64).T
            prior = np.where(leaf[None, :] & (near < EQUIVALENT_COS), -penalty, 0.0)
        return score_candidates(
            space.text[q], fam, h.temperature, None, lex, h.lexical_weight, prior
        )[0]

    out["full_all_nodes"] = _blocked(rows, len(held), gold, block=512, exclude=exclude)
    out["full_all_nodes"].update(
        seconds=round(time.perf_counter() - start, 1),
        candidates=len(tree.names),
        leaf_penalty=h.leaf_penalty,
        peak_mib=_peak_mib(),
    )
    out["full_all_nodes_no_leaf_penalty"] = _blocked(
        lambda lo, hi: rows(lo, hi, 0.0), len(held), gold, block=512, exclude=exclude
    )
    # the same codes among the nodes that have children only (the candidates before issue
    # 11): a true parent that is a leaf of the training forest is not a candidate there
    gold_inner = np.where(leaf[gold], -1, gold)
    out["full_nodes_with_children"] = _blocked(
        lambda lo, hi: rows(lo, hi, np.inf), len(held), gold_inner, block=512, exclude=exclude
    )
    out["full_nodes_with_children"]["candidates"] = int((~leaf).sum())
    print(f"  all nodes: {out}", flush=True)
    return out


def icd10cm_tasks(h, enc, variants, out: dict, seed: int = 0) -> dict:
    cm = Tree(get_loader("icd10cm")())
    kind = cm.nodes["kind"].to_numpy()
    cats = np.flatnonzero(kind == "category")
    four = cm.child[(kind[cm.child] == "subcategory") & (kind[cm.parent] == "category")]
    held = np.random.default_rng(seed).permutation(four)[: len(four) // 5]
    with tempfile.TemporaryDirectory() as tmp:
        enc_dir = Path(tmp) / "encoder"
        out["icd10cm_placement"], spaces = placement(
            "icd10cm_placement", cm, held, cats, h, enc, variants, seed, keep_encoder=enc_dir
        )
        write_results("hierarchy", out)
        if "full_trained_encoder" in spaces:
            out["icd9cm_into_icd10cm"] = icd9_into_icd10(
                cm, cats, spaces["full_trained_encoder"], enc_dir, h
            )
        elif "full" in spaces:
            out["icd9cm_into_icd10cm"] = icd9_into_icd10(cm, cats, spaces["full"], None, h)
            write_results("hierarchy", out)
    return out


def icd10cm_all(h, enc, seed: int = 0) -> dict:
    cm = Tree(get_loader("icd10cm")())
    kind = cm.nodes["kind"].to_numpy()
    below = cm.child[kind[cm.child] == "subcategory"]
    held = np.random.default_rng(seed).permutation(below)[: len(below) // 5]
    cands = np.array(sorted(set(cm.parent.tolist())))
    task, _ = placement("icd10cm_placement_all", cm, held, cands, h, enc, ["full"], seed)
    return task


def icd9_into_icd10(cm: Tree, cats: np.ndarray, space, enc_dir: Path | None, h) -> dict:
    """ICD-9-CM codes placed among ICD-10-CM categories by an encoder trained on ICD-10-CM."""
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

    cat_pos = {c: i for i, c in enumerate(cats)}
    truth: dict[str, set[int]] = {}
    for a, b in zip(gem["start"], gem["end"], strict=True):
        c = category(cm.row[b])
        if c is not None:
            truth.setdefault(a, set()).add(cat_pos[c])
    names9 = nine.nodes.set_index("id")["name"]
    ids9 = sorted(i for i in truth if i in names9.index)
    texts = [str(names9[i]) for i in ids9]
    frozen = TextEmbedder(cache_dir=CacheSettings().text, batch_size=128)
    f9, fc = frozen.embed(texts), frozen.embed([cm.names[c] for c in cats])
    gold = [truth[i] for i in ids9]
    methods = {"text_nn": _set_metrics(f9.astype(np.float64) @ fc.T, gold)}
    # the space's rows follow its own order (cm.to_space maps cm's rows onto it)
    srow = {c: i for i, c in enumerate(space.nodes["id"])}
    tc = space.train_edges["child"].map(srow).to_numpy(np.int64)
    tp = space.train_edges["parent"].map(srow).to_numpy(np.int64)
    sc = cm.to_space[cats]
    names = list(space.nodes["name"])
    # spelling vectors fitted on both vocabularies' names, as in a build holding both
    lex = lexical_vectors(names + texts)
    lq = lex[len(names) :]
    lcos = (lq @ lexical_families(lex[: len(names)], sc, tc, tp).T).toarray()
    w = h.lexical_weight
    fam_frozen = family_vectors(space.base_text, sc, tc, tp)
    methods["full"] = _set_metrics(
        score_candidates(f9, fam_frozen, h.temperature, lexical=lcos, lexical_weight=w)[0], gold
    )
    methods["full_no_lexical"] = _set_metrics(
        score_candidates(f9, fam_frozen, h.temperature)[0], gold
    )
    if enc_dir is not None:
        q = TextEmbedder(str(enc_dir), batch_size=128).embed(texts)
        fam = family_vectors(space.text, sc, tc, tp)
        methods["full_trained_encoder"] = _set_metrics(
            score_candidates(q, fam, h.temperature, lexical=lcos, lexical_weight=w)[0], gold
        )
    print(f"icd9cm_into_icd10cm: {methods}", flush=True)
    return {
        "n": len(ids9),
        "candidates": int(len(cats)),
        "methods": methods,
        "note": "full: frozen text model; full_trained_encoder: the icd10cm_placement "
        "encoder (trained on ICD-10-CM edges only); families exclude that task's "
        "held-out codes; true categories: those of the code's "
        "GEM (gem_icd9_icd10cm) targets; best-ranked true category counts",
    }


def atc_task(path: Path, h, enc, variants, seed: int = 0) -> dict:
    atc = Tree(get_loader("atc")(files=[path]))
    length = atc.nodes["code"].str.len().to_numpy()
    level4 = np.flatnonzero(length == 5)
    level5 = atc.child[(length[atc.child] == 7) & (length[atc.parent] == 5)]
    held = np.random.default_rng(seed).permutation(level5)[: len(level5) // 5]
    task, _ = placement("atc_placement", atc, held, level4, h, enc, variants, seed)
    return task


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
        default="full,full_trained_encoder,full_no_hard,full_gnn",
        help="methods of atc_placement (each trains its own encoder)",
    )
    ap.add_argument(
        "--icd-variants",
        default="full,full_trained_encoder",
        help="methods of icd10cm_placement (about 16 min each on 2 cores; full_all_nodes: every "
        "code a candidate, the build's leaf rule, computed on full's space)",
    )
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
        out.update(icd10cm_tasks(h, enc, args.icd_variants.split(","), out))
        write_results("hierarchy", out)
    if "atc" in tasks:
        out["atc_placement"] = atc_task(args.atc, h, enc, variants)
        write_results("hierarchy", out)
    if "icd10cm_all" in tasks:
        out["icd10cm_placement_all"] = icd10cm_all(h, enc)
    print(write_results("hierarchy", out))


if __name__ == "__main__":
    main()
