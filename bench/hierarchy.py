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

atc_placement: GNUmed's ATC list, 20% of level-5 substances held out, ranked among all level-4
groups. icd10cm_reconstruction: Nickel & Kiela's protocol (10-dim free Poincaré embeddings of
the transitive closure; mean rank and MAP on a sample of codes).

Run: python bench/hierarchy.py --atc DIR/var/lib/gnumed/server/sql/v14-v15/data/atc_only-utf8.csv
(DIR from `apt-get download gnumed-server && dpkg-deb -x gnumed-server_*.deb DIR`)
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
from mash_kg.stage2 import HierarchySettings  # noqa: E402

TEXT_TEMPERATURE = HierarchySettings.text_temperature
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


def placement(
    name: str, names: list[str], child: np.ndarray, parent: np.ndarray, held: np.ndarray,
    cands: np.ndarray, epochs: int, quick: bool, seed: int = 0,
) -> dict:  # fmt: skip
    """Hide the parent edges of `held` codes; rank each one's true parent among `cands`."""
    rng = np.random.default_rng(seed)
    n = len(names)
    par = dict(zip(child.tolist(), parent.tolist(), strict=True))
    keep = ~np.isin(child, held)
    cand_pos = {c: i for i, c in enumerate(cands)}
    gold = np.array([cand_pos[par[h]] for h in held])
    # negatives: a random other candidate; a sibling candidate (same parent), when there is one
    by_parent: dict[int, list[int]] = {}
    for i, c in enumerate(cands):
        by_parent.setdefault(par.get(int(c)), []).append(i)
    rand_neg = (gold + rng.integers(1, len(cands), len(gold))) % len(cands)
    sib_neg = np.array([
        rng.choice([s for s in by_parent[par.get(int(cands[g]))] if s != g] or [int(r)])
        for g, r in zip(gold, rand_neg, strict=True)
    ])  # fmt: skip

    embedder = TextEmbedder(cache_dir=Neo4jSettings().cache / "text", batch_size=128)
    text = embedder.embed(names).astype(np.float64)
    # the models read the text vectors through one PCA to 128 dimensions (as Stage I does);
    # text_nn keeps the full 384
    centred = text - text.mean(axis=0)
    step = max(1, n // 15000)
    feats = centred @ np.linalg.svd(centred[::step], full_matrices=False)[2][:128].T
    methods: dict[str, dict] = {}
    start = time.perf_counter()
    cos = text[held] @ text[cands].T
    methods["text_nn"] = _metrics(cos, gold, rand_neg, sib_neg)
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
    for method, settings in variants.items():
        g = graph if settings.gnn_layers else None
        print(f"{name}: {method} ...", flush=True)
        model, fig = train(feats, child[keep], parent[keep], settings, graph=g, log=print)
        z = embed(model, feats, g)
        dist = poincare_distance(z[held], z[cands], settings.curvature)
        methods[method] = _metrics(-dist, gold, rand_neg, sib_neg)
        methods[method].update(
            train_seconds=round(fig["seconds"], 1),
            seconds_per_epoch=round(fig["seconds_per_epoch"], 3),
            epochs=settings.epochs,
            peak_mib=_peak_mib(),
            max_norm=round(float(np.linalg.norm(z, axis=1).max()), 5),
            nan=bool(np.isnan(z).any()),
        )
        if method != "poincare":  # Stage III's score: distance and text together
            combined = -dist / settings.temperature + cos / TEXT_TEMPERATURE
            methods[f"{method}+text"] = _metrics(combined, gold, rand_neg, sib_neg)
        print(f"  {methods[method]}", flush=True)
    return {
        "n": int(len(held)),
        "candidates": int(len(cands)),
        "codes": int(n),
        "note": "peak_mib is the process's peak RSS so far (methods run in this order); "
        "dim 32, curvature 1, float32; models read text through PCA-128; '+text' = Stage "
        f"III's parent score: softmax(-d/T + cos/{TEXT_TEMPERATURE})",
        "methods": methods,
    }


def icd10cm_placement(epochs: int, quick: bool, seed: int = 0) -> dict:
    """20% of the 4-character codes (children of 3-character categories) held out; candidates:
    all 3-character categories."""
    cm = get_loader("icd10cm")()
    nodes = cm.nodes.reset_index(drop=True)
    row = {c: i for i, c in enumerate(nodes["id"])}
    child = np.array([row[c] for c in cm.edges["start"]])
    parent = np.array([row[p] for p in cm.edges["end"]])
    kind = nodes["kind"].to_numpy()
    cats = np.flatnonzero(kind == "category")
    four = child[(kind[child] == "subcategory") & (kind[parent] == "category")]
    held = np.random.default_rng(seed).permutation(four)[: len(four) // 5]
    return placement("icd10cm_placement", list(nodes["name"]), child, parent, held, cats,
                     epochs, quick, seed)  # fmt: skip


def atc_placement(path: Path, epochs: int, quick: bool, seed: int = 0) -> dict:
    """GNUmed's ATC list: 20% of level-5 substances held out; candidates: all level-4 groups."""
    atc = get_loader("atc")(files=[path])
    nodes = atc.nodes.reset_index(drop=True)
    row = {c: i for i, c in enumerate(nodes["id"])}
    child = np.array([row[c] for c in atc.edges["start"]])
    parent = np.array([row[p] for p in atc.edges["end"]])
    length = nodes["code"].str.len().to_numpy()
    level4 = np.flatnonzero(length == 5)
    level5 = child[(length[child] == 7) & (length[parent] == 5)]  # not the re-attached few
    held = np.random.default_rng(seed).permutation(level5)[: len(level5) // 5]
    return placement("atc_placement", list(nodes["name"]), child, parent, held, level4,
                     epochs, quick, seed)  # fmt: skip


def reconstruction(dim: int, seconds: float, sample: int = 2000, seed: int = 0) -> dict:
    """Nickel & Kiela's reconstruction on the transitive closure of ICD-10-CM: free Poincaré
    embeddings (dim 10) trained on every (descendant, ancestor) pair with sampled negatives;
    for `sample` random codes, each true neighbour (closure pair, either direction) is ranked
    by distance among the code's non-neighbours: mean rank and MAP."""
    import geoopt
    import torch

    cm = get_loader("icd10cm")()
    nodes = cm.nodes.reset_index(drop=True)
    row = {c: i for i, c in enumerate(nodes["id"])}
    par = {row[c]: row[p] for c, p in zip(cm.edges["start"], cm.edges["end"], strict=True)}
    pairs = []
    for c in range(len(nodes)):
        p = par.get(c)
        while p is not None:
            pairs.append((c, p))
            p = par.get(p)
    pairs = np.array(pairs, dtype=np.int64)
    n = len(nodes)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    ball = geoopt.PoincareBall()
    emb = geoopt.ManifoldParameter(ball.random_normal((n, dim), std=1e-3), manifold=ball)
    opt = geoopt.optim.RiemannianAdam([emb], lr=0.05)
    start, epochs, negs, batch = time.perf_counter(), 0, 50, 4096
    while time.perf_counter() - start < seconds:
        for _ in range(0, len(pairs), batch):
            b = torch.as_tensor(pairs[rng.integers(0, len(pairs), batch)])
            neg = torch.as_tensor(rng.integers(0, n, (batch, negs)))
            u = emb[b[:, 0]]
            cand = torch.cat([emb[b[:, 1]].unsqueeze(1), emb[neg]], dim=1)
            d = ball.dist(u.unsqueeze(1), cand)
            loss = torch.nn.functional.cross_entropy(-d, torch.zeros(batch, dtype=torch.long))
            opt.zero_grad()
            loss.backward()
            opt.step()
        epochs += 1
    train_seconds = time.perf_counter() - start
    z = emb.detach().numpy().astype(np.float64)
    neigh: dict[int, set[int]] = {}
    for c, a in pairs.tolist():
        neigh.setdefault(c, set()).add(a)
        neigh.setdefault(a, set()).add(c)
    us = rng.choice(np.array(sorted(neigh)), sample, replace=False)
    ranks, aps = [], []
    for u in us:
        d = poincare_distance(z[[u]], z)[0]
        d[u] = np.inf
        true = np.array(sorted(neigh[u]))
        is_true = np.zeros(n, dtype=bool)
        is_true[true] = True
        order = np.argsort(d[true])
        td = d[true][order]
        # rank of each true neighbour among the non-neighbours (others' true ones left out)
        false_d = np.sort(d[~is_true])
        r = 1 + np.searchsorted(false_d, td, side="left")
        ranks += r.tolist()
        k = np.arange(1, len(td) + 1)
        aps.append(float(np.mean(k / (k + r - 1))))
    return {
        "n": int(sample), "codes": int(n), "closure_pairs": int(len(pairs)), "dim": dim,
        "note": f"free embeddings, {negs} random negatives, Riemannian Adam, trained for "
        f"{seconds:.0f} s; evaluated on {sample} random codes against all codes",
        "methods": {"poincare_free": {
            "mean_rank": round(float(np.mean(ranks)), 2), "map": round(float(np.mean(aps)), 4),
            "epochs": epochs, "train_seconds": round(train_seconds, 1), "peak_mib": _peak_mib(),
        }},
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="no GNN variant, fewer epochs")
    ap.add_argument("--epochs", type=int, default=600)
    ap.add_argument("--tasks", default="icd10cm_placement,atc_placement,reconstruction")
    ap.add_argument("--atc", type=Path, help="GNUmed's atc_only-utf8.csv (see loaders/atc.py)")
    ap.add_argument("--reconstruction-seconds", type=float, default=600)
    args = ap.parse_args()
    epochs = 100 if args.quick else args.epochs
    tasks = args.tasks.split(",")
    out = {}
    if "atc_placement" in tasks and args.atc is None:
        sys.exit("atc_placement needs --atc PATH/atc_only-utf8.csv (see loaders/atc.py)")
    # results are written after every task, so a late failure keeps the earlier figures
    if "atc_placement" in tasks:
        out["atc_placement"] = atc_placement(args.atc, epochs, args.quick)
        write_results("hierarchy", out)
    if "icd10cm_placement" in tasks:
        out["icd10cm_placement"] = icd10cm_placement(epochs, args.quick)
        write_results("hierarchy", out)
    if "reconstruction" in tasks:
        out["icd10cm_reconstruction"] = reconstruction(10, args.reconstruction_seconds)
    print(write_results("hierarchy", out))


if __name__ == "__main__":
    main()
