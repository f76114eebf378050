"""Placement quality of the Stage II model (issue 4) -> bench/results/hierarchy.json.

icd10cm_placement: all 98,505 ICD-10-CM codes (ids opaque to every method: only names and the
graph are read), the parent edges of 20% of the 4-character codes (children of 3-character
categories) held out; each held-out code's category is ranked among all 3-character
categories, training on every other edge. Methods:
- text_nn: cosine of the code's and the category's text vectors (reference);
- poincare: the Poincaré model from text features, hierarchy loss only;
- full_no_gnn: + parent-nearer-origin ordering and Stage I similarity preservation;
- full: full_no_gnn refined by two HGCN layers over the curated graph (edges both ways).
F1: held-out (code, true category) against (code, random category) or (code, a sibling
category of the true one), at the distance threshold that maximises F1 on the other half of
the held-out codes.

Run: python bench/hierarchy.py [--quick] [--epochs N]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from _common import write_results  # noqa: E402

from mash_kg.config import Neo4jSettings  # noqa: E402
from mash_kg.hyperbolic import TrainSettings, embed, poincare_distance, train  # noqa: E402
from mash_kg.loaders import get_loader  # noqa: E402
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


def _metrics(score: np.ndarray, gold: np.ndarray, rand_neg, sib_neg) -> dict:
    """score: (held, candidates), higher = more likely parent."""
    true = score[np.arange(len(gold)), gold]
    rank = 1 + (score > true[:, None]).sum(axis=1)
    return {
        "hit_at_1": round(float((rank == 1).mean()), 4),
        "hit_at_10": round(float((rank <= 10).mean()), 4),
        "map": round(float((1.0 / rank).mean()), 4),  # one true parent: MAP = mean 1/rank
        "mean_rank": round(float(rank.mean()), 2),
        "f1_random": _f1(score, gold, rand_neg),
        "f1_sibling": _f1(score, gold, sib_neg),
    }


def icd10cm_placement(epochs: int, quick: bool, seed: int = 0) -> dict:
    cm = get_loader("icd10cm")()
    nodes = cm.nodes.reset_index(drop=True)
    row = {c: i for i, c in enumerate(nodes["id"])}
    child = np.array([row[c] for c in cm.edges["start"]])
    parent = np.array([row[p] for p in cm.edges["end"]])
    kind = nodes["kind"].to_numpy()
    cats = np.flatnonzero(kind == "category")
    cat_pos = {c: i for i, c in enumerate(cats)}
    four = child[(kind[child] == "subcategory") & (kind[parent] == "category")]
    par = dict(zip(child.tolist(), parent.tolist(), strict=True))
    rng = np.random.default_rng(seed)
    held = rng.permutation(four)[: len(four) // 5]
    keep = ~np.isin(child, held)
    gold = np.array([cat_pos[par[h]] for h in held])
    # negatives: a random other category; a sibling category (same block), when there is one
    block_of = {c: par.get(int(c)) for c in cats}
    by_block: dict[int, list[int]] = {}
    for i, c in enumerate(cats):
        by_block.setdefault(block_of[c], []).append(i)
    rand_neg = (gold + rng.integers(1, len(cats), len(gold))) % len(cats)
    sib_neg = np.array([
        rng.choice([s for s in by_block[block_of[cats[g]]] if s != g] or [int(r)])
        for g, r in zip(gold, rand_neg, strict=True)
    ])  # fmt: skip

    embedder = TextEmbedder(cache_dir=Neo4jSettings().cache / "text", batch_size=128)
    text = embedder.embed(list(nodes["name"])).astype(np.float64)
    # the models read the text vectors through one PCA to 128 dimensions (as Stage I does);
    # text_nn keeps the full 384
    centred = text - text.mean(axis=0)
    feats = centred @ np.linalg.svd(centred[::7], full_matrices=False)[2][:128].T
    methods: dict[str, dict] = {}
    start = time.perf_counter()
    methods["text_nn"] = _metrics(text[held] @ text[cats].T, gold, rand_neg, sib_neg)
    methods["text_nn"].update(train_seconds=round(time.perf_counter() - start, 2),
                              peak_mib=_peak_mib())  # fmt: skip
    graph = np.concatenate(
        [np.stack([child[keep], parent[keep]]), np.stack([parent[keep], child[keep]])], axis=1
    )
    variants = {
        "poincare": TrainSettings(
            epochs=epochs, hidden=256, order_weight=0.0, similarity_weight=0.0
        ),
        "full_no_gnn": TrainSettings(epochs=epochs, hidden=256),
        "full": TrainSettings(epochs=epochs, hidden=256, gnn_layers=2),
    }
    if quick:
        variants = {k: v for k, v in variants.items() if k != "full"}
    for name, settings in variants.items():
        g = graph if settings.gnn_layers else None
        print(f"icd10cm_placement: {name} ...", flush=True)
        model, fig = train(feats, child[keep], parent[keep], settings, graph=g, log=print)
        z = embed(model, feats, g)
        score = -poincare_distance(z[held], z[cats], settings.curvature)
        methods[name] = _metrics(score, gold, rand_neg, sib_neg)
        methods[name].update(
            train_seconds=round(fig["seconds"], 1),
            seconds_per_epoch=round(fig["seconds_per_epoch"], 3),
            epochs=settings.epochs,
            peak_mib=_peak_mib(),
            max_norm=round(float(np.linalg.norm(z, axis=1).max()), 5),
            nan=bool(np.isnan(z).any()),
        )
        print(f"  {methods[name]}", flush=True)
    return {
        "icd10cm_placement": {
            "n": int(len(held)),
            "candidates": int(len(cats)),
            "codes": int(len(nodes)),
            "note": "peak_mib is the process's peak RSS so far (methods run in this order); "
            "dim 32, curvature 1, float32; models read text through PCA-128",
            "methods": methods,
        }
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="no GNN variant, fewer epochs")
    ap.add_argument("--epochs", type=int, default=600)
    args = ap.parse_args()
    epochs = 100 if args.quick else args.epochs
    print(write_results("hierarchy", icd10cm_placement(epochs, args.quick)))


if __name__ == "__main__":
    main()
