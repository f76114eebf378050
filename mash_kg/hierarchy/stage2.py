"""Stage II on a build: the hierarchy encoder and the Poincaré space of the curated hierarchy.

Input tables (nothing here talks to Neo4j; `graph.reader.read_context` hands over the graph):
- codes: the build's codes (id, name, domain, vocab), all sites;
- context: nodes (id, vocab, name, domain, kind[, excludes1]) and edges (child, parent, type)
  of the curated neighbourhood read back from the graph;
- counterparts (Stage I, rank 1 -> alignment edges) and co-occurrence pairs (site, code_a,
  code_b, count -> each code's strongest neighbours), used by the optional GNN term.

Output: a `Space`:
1. the hierarchy encoder (encoder.py): the text model fine-tuned on the curated IS_A edges
   (and, for a code that MAPS_TO a coded concept, that concept's parents), held-out edges never
   among them; `text` holds its unit vectors of every node, `base_text` the frozen model's
   (the text-only reference of `mash-kg eval`);
2. the curated forest of the training edges embedded on the Poincaré ball by construction
   (tree_embedding.py, float64): depth follows the norm, related codes are near; codes
   without a curated parent get their point in Stage III, under the parent it gives them;
3. optionally (`gnn_layers > 0`) the earlier model: encoder vectors -> MLP -> exp_0 -> HGCN
   layers over curated IS_A, MAPS_TO, rank-1 alignments and co-occurrence neighbours, whose
   distances Stage III adds to its parent scores. Off by default: on ATC it left hit@1 where
   it was (bench/hierarchy.py, README).
"""

from __future__ import annotations

import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from mash_kg.hierarchy.encoder import train_encoder
from mash_kg.hierarchy.lexical import lexical_vectors
from mash_kg.hierarchy.tree_embedding import embed_forest, reconstruction
from mash_kg.settings import EncoderSettings, HierarchySettings, TrainSettings


@dataclass
class Space:
    nodes: pd.DataFrame  # id, name, domain, vocab, role ('code' | 'context'), curated (bool)
    points: np.ndarray  # (n, dim) float64 on the ball; NaN rows: placed by Stage III
    depth: np.ndarray  # (n,) depth in the curated forest (1 = root), 0: not in it
    text: np.ndarray  # (n, k) unit vectors of the hierarchy encoder, rows follow nodes
    train_edges: pd.DataFrame  # child, parent (curated IS_A used for training)
    heldout: pd.DataFrame  # child, parent (curated IS_A hidden for evaluation)
    all_edges: pd.DataFrame  # child, parent (every curated IS_A in the context)
    figures: dict
    base_text: np.ndarray | None = None  # (n, k') unit vectors of the frozen text model
    gnn_points: np.ndarray | None = None  # (n, dim) points of the optional GNN term
    roots: int = 0  # roots of the curated forest (the width of its top cones)
    lexical: object = None  # sparse (n, grams) unit TF-IDF vectors of the names (stage3)
    encoder_training: pd.DataFrame = field(default_factory=pd.DataFrame)
    # child, parent: training edges hidden from the encoder and the GNN (and, in Stage III,
    # from every source) to choose the sources' weights on (never an evaluated code)
    fit_edges: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["child", "parent"])
    )


def node_table(codes: pd.DataFrame, context: pd.DataFrame) -> pd.DataFrame:
    """One row per id: the graph's name and domain where it has the code, else the site's;
    `curated`: the graph holds the code (Stage III may propose it as a parent)."""
    site = codes.drop_duplicates("id")[["id", "name", "domain", "vocab"]].assign(
        role="code", curated=False
    )
    ctx = context[["id", "name", "domain", "vocab"]].assign(role="context", curated=True)
    ctx.loc[ctx["id"].isin(site["id"]), "role"] = "code"
    merged = pd.concat([ctx, site[~site["id"].isin(ctx["id"])]], ignore_index=True)
    merged["name"] = merged["name"].fillna(merged["id"]).astype(str)
    return merged.sort_values("id", ignore_index=True)


def choose_holdout(codes: pd.Series, is_a: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """The curated IS_A edges of a random `share` of the build's codes that have a parent."""
    if share <= 0:
        return is_a.iloc[:0]
    have = np.array(sorted(set(is_a["child"]) & set(codes)))
    rng = np.random.default_rng(seed)
    pick = set(rng.choice(have, int(round(share * len(have))), replace=False)) if len(have) else ()
    return is_a[is_a["child"].isin(pick)]


REFERENCE = re.compile(r"\(([A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?)(?:\.?-)?\)")


def excludes_pairs(context: pd.DataFrame) -> pd.DataFrame:
    """(a, b) id pairs from Excludes1 notes ('... (A28.2)', '(A32.-)') whose target is a code
    of the same vocabulary in the context: hard negatives for the encoder."""
    if "excludes1" not in context or not len(context):
        return pd.DataFrame(columns=["a", "b"])
    known = set(context["id"])
    rows = []
    for cid, vocab, notes in zip(
        context["id"], context["vocab"], context["excludes1"], strict=True
    ):
        if notes is None or not len(notes):
            continue
        for note in notes:
            for code in REFERENCE.findall(str(note)):
                other = f"{vocab}:{code}"
                if other in known and other != cid:
                    rows.append((cid, other))
    return pd.DataFrame(sorted(set(rows)), columns=["a", "b"])


def encoder_pairs(train_edges: pd.DataFrame, maps: pd.DataFrame, hidden: set[str]) -> pd.DataFrame:
    """The encoder's (child, parent) pairs: the curated IS_A training edges, and for a code
    that MAPS_TO a concept, that concept's parents (the hierarchy transferred across
    vocabularies); never an edge of a held-out code."""
    up = train_edges.groupby("child")["parent"].agg(list).to_dict()
    moved = [
        (a, p)
        for a, b in zip(maps["child"], maps["parent"], strict=True)
        if a not in hidden
        for p in up.get(b, ())
    ]
    both = pd.concat(
        [train_edges[["child", "parent"]], pd.DataFrame(moved, columns=["child", "parent"])],
        ignore_index=True,
    )
    both = both[both["child"] != both["parent"]]
    return both.drop_duplicates(ignore_index=True)


def message_graph(
    row: dict[str, int],
    edges: list[pd.DataFrame],
    cooc: pd.DataFrame,
    counterparts: pd.DataFrame,
    neighbours: int,
) -> np.ndarray:
    """(2, E) undirected message-passing edges over node rows, without duplicates."""
    pairs = [e[["child", "parent"]].to_numpy() for e in edges]
    if len(counterparts):
        top = counterparts[counterparts["rank"] == 1]
        pairs.append(top[["id", "other_id"]].to_numpy())
    if len(cooc) and neighbours > 0:
        both = pd.concat(
            [
                cooc.rename(columns={"code_a": "a", "code_b": "b"}),
                cooc.rename(columns={"code_a": "b", "code_b": "a"}),
            ]
        )
        both = both.sort_values(["a", "count", "b"], ascending=[True, False, True])
        pairs.append(both.groupby("a").head(neighbours)[["a", "b"]].to_numpy())
    flat = np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=object)
    keep = [(row[a], row[b]) for a, b in flat if a in row and b in row and a != b]
    arr = np.array(sorted(set(keep) | {(b, a) for a, b in keep}), dtype=np.int64)
    return arr.reshape(-1, 2).T


def hierarchy_encoder(
    texts: list[str],
    pairs: pd.DataFrame,
    context: pd.DataFrame,
    row: dict[str, int],
    out_dir: Path | None,
    settings: EncoderSettings,
    model: str,
    frozen: np.ndarray,
    seed: int = 0,
    log=None,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Fine-tune `model` on `pairs` (when enabled and there are any; the Excludes1 notes of
    `context` give hard negatives) into `out_dir` (a temporary folder, removed, when None)
    and embed every text with it; returns (unit vectors, training table). Not trained: the
    `frozen` model's vectors, as given."""
    from mash_kg.text_embed import TextEmbedder

    if not settings.enabled or not len(pairs) or settings.steps == 0:
        return frozen, pd.DataFrame()
    child = pairs["child"].map(row).to_numpy(np.int64)
    parent = pairs["parent"].map(row).to_numpy(np.int64)
    ex = excludes_pairs(context)
    ex = ex[ex["a"].isin(row) & ex["b"].isin(row)]
    ex_rows = np.stack([ex["a"].map(row), ex["b"].map(row)], axis=1) if len(ex) else None
    with tempfile.TemporaryDirectory(prefix="mash-kg-encoder-") as tmp:
        folder = Path(out_dir or tmp)
        table = train_encoder(
            texts,
            child,
            parent,
            folder,
            settings,
            model=model,
            excludes=ex_rows,
            seed=seed,
            log=log,
        )
        vectors = TextEmbedder(str(folder), max_length=settings.max_length * 2).embed(texts)
    return vectors, table


class CuratedEdges(NamedTuple):
    """The curated edges of the context, split for training and evaluation."""

    is_a: pd.DataFrame  # child, parent: every curated IS_A
    maps: pd.DataFrame  # child, parent: MAPS_TO
    train: pd.DataFrame  # the IS_A edges of codes not held out
    heldout: pd.DataFrame  # the IS_A edges of the held-out codes

    @property
    def hidden(self) -> set[str]:
        return set(self.heldout["child"])


def split_edges(
    codes: pd.Series,
    context_edges: pd.DataFrame,
    share: float,
    seed: int,
    heldout: pd.DataFrame | None = None,
) -> CuratedEdges:
    """IS_A and MAPS_TO of the context; the IS_A edges of `heldout` (default: a random
    `share` of `codes` with a curated parent) kept apart from the training edges."""
    is_a = context_edges[context_edges["type"] == "IS_A"][["child", "parent"]]
    maps = context_edges[context_edges["type"] == "MAPS_TO"][["child", "parent"]]
    if heldout is None:
        heldout = choose_holdout(codes, is_a, share, seed)
    train = is_a[~is_a["child"].isin(set(heldout["child"]))]
    return CuratedEdges(is_a, maps, train, heldout)


def choose_fit(
    train: pd.DataFrame, count: int, seed: int, parents: set[str] | None = None
) -> pd.DataFrame:
    """The edges of up to `count` random children of the training edges (whose parent is in
    `parents`, when given): Stage III's fit codes."""
    pool = train if parents is None else train[train["parent"].isin(parents)]
    kids = np.array(sorted(set(pool["child"])))
    if count <= 0 or not len(kids):
        return train.iloc[:0][["child", "parent"]]
    pick = np.random.default_rng(seed + 1).choice(kids, min(count, len(kids)), replace=False)
    return train[train["child"].isin(set(pick))][["child", "parent"]]


def curated_forest(
    nodes: pd.DataFrame,
    row: dict[str, int],
    train_edges: pd.DataFrame,
    settings: HierarchySettings,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """(points, depth, figures) of every node: the forest of the training edges embedded by
    construction (tree_embedding), NaN points and depth 0 for nodes outside it; figures: its
    reconstruction of the closure."""
    in_tree = sorted(set(train_edges["child"]) | set(train_edges["parent"]))
    points = np.full((len(nodes), settings.dim), np.nan)
    depth = np.zeros(len(nodes), dtype=np.int64)
    if not in_tree:
        return points, depth, {}
    t_row = {c: i for i, c in enumerate(in_tree)}
    tc = train_edges["child"].map(t_row).to_numpy(np.int64)
    tp = train_edges["parent"].map(t_row).to_numpy(np.int64)
    pts, dep = embed_forest(len(in_tree), tc, tp, settings.dim, settings.tree(), settings.curvature)
    rows_ = np.array([row[c] for c in in_tree])
    points[rows_], depth[rows_] = pts, dep
    figures = reconstruction(pts, tc, tp, dep, sample=2000, seed=seed, c=settings.curvature)
    return points, depth, figures


def run_stage2(
    codes: pd.DataFrame,
    context_nodes: pd.DataFrame,
    context_edges: pd.DataFrame,
    nodes: pd.DataFrame,
    text: np.ndarray,
    counterparts: pd.DataFrame,
    cooc: pd.DataFrame,
    settings: HierarchySettings,
    encoder: EncoderSettings | None = None,
    text_model: str = "all-MiniLM-L6-v2",
    encoder_dir: Path | None = None,
    seed: int = 0,
    log=None,
    heldout: pd.DataFrame | None = None,
    fit: pd.DataFrame | None = None,
) -> Space:
    """Embed the build's codes and their context (see the module docstring). `nodes` is
    `node_table(codes, context_nodes)` and `text` the unit vectors of the frozen text model of
    its rows (the caller embeds them); `heldout` (child, parent) replaces the random `holdout`
    share (a benchmark's split); `fit` (child, parent) replaces the random fit split."""
    if len(text) != len(nodes):
        raise ValueError(f"text has {len(text)} rows for {len(nodes)} nodes")
    row = {c: i for i, c in enumerate(nodes["id"])}
    edges = split_edges(codes["id"], context_edges, settings.holdout, seed, heldout)
    if fit is None:
        fit = choose_fit(edges.train, settings.fit_edges, seed)
    fit = fit[fit["child"].isin(row) & fit["parent"].isin(row)][["child", "parent"]]
    # the encoder and the GNN never see a fit edge: Stage III weighs them on those
    learn = edges._replace(
        train=edges.train[~edges.train["child"].isin(set(fit["child"]))],
        heldout=pd.concat([edges.heldout, fit], ignore_index=True),
    )
    pairs = encoder_pairs(learn.train, edges.maps, learn.hidden)
    pairs = pairs[pairs["child"].isin(row) & pairs["parent"].isin(row)]
    figures: dict = {
        "nodes": len(nodes),
        "train_edges": len(edges.train),
        "heldout_edges": len(edges.heldout),
        "encoder_pairs": len(pairs),
        "fit_edges": len(fit),
    }
    start = time.perf_counter()
    enc, table = hierarchy_encoder(
        list(nodes["name"]),
        pairs,
        context_nodes,
        row,
        encoder_dir,
        encoder or EncoderSettings(),
        text_model,
        frozen=text,
        seed=seed,
        log=log,
    )
    figures["encoder_seconds"] = round(time.perf_counter() - start, 1)
    figures["encoder_steps"] = int(table["step"].max()) if len(table) else 0
    points, depth, forest = curated_forest(nodes, row, edges.train, settings, seed)
    figures.update(forest)
    gnn_points = None
    if settings.gnn_layers > 0 and len(edges.train):
        gnn_points = _gnn_term(nodes, row, learn, enc, cooc, counterparts, settings, seed, figures)
    return Space(
        nodes,
        points,
        depth,
        enc.astype(np.float32),
        edges.train.reset_index(drop=True),
        edges.heldout.reset_index(drop=True),
        edges.is_a.reset_index(drop=True),
        figures,
        base_text=text,
        gnn_points=gnn_points,
        encoder_training=table,
        roots=int((depth == 1).sum()),
        lexical=lexical_vectors(list(nodes["name"])),
        fit_edges=fit.reset_index(drop=True),
    )


def _gnn_term(
    nodes: pd.DataFrame,
    row: dict[str, int],
    edges: CuratedEdges,
    enc: np.ndarray,
    cooc: pd.DataFrame,
    counterparts: pd.DataFrame,
    settings: HierarchySettings,
    seed: int,
    figures: dict,
) -> np.ndarray:
    """Points of the optional GNN term (encoder vectors -> Poincaré MLP -> HGCN layers);
    adds its seconds and edge count to `figures`."""
    from mash_kg.hierarchy.hyperbolic import embed, train

    graph = message_graph(
        row,
        [edges.train, edges.maps[~edges.maps["child"].isin(edges.hidden)]],
        cooc,
        counterparts,
        settings.cooc_neighbours,
    )
    ts = TrainSettings(
        dim=settings.dim,
        curvature=settings.curvature,
        gnn_layers=settings.gnn_layers,
        epochs=settings.epochs,
        seed=seed,
        batch=min(2048, len(edges.train)),
        negatives=min(1024, len(nodes)),
    )
    child = edges.train["child"].map(row).to_numpy(np.int64)
    parent = edges.train["parent"].map(row).to_numpy(np.int64)
    model, fig = train(enc, child, parent, ts, graph=graph)
    pts = embed(model, enc, graph)
    if not np.isfinite(pts).all():
        raise FloatingPointError("Stage II's GNN produced non-finite points")
    figures.update(gnn_seconds=round(fig["seconds"], 2), gnn_edges=int(graph.shape[1]))
    return pts.astype(np.float64)
