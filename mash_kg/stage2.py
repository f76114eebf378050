"""Stage II on a build: hyperbolic embeddings of the build's codes and their curated context.

Input tables (nothing here talks to Neo4j; `graph.reader.read_context` hands over the graph):
- codes: the build's codes (id, name, domain), all sites;
- context: nodes (id, vocab, name, domain, kind) and edges (child, parent, type) of the
  curated neighbourhood read back from the graph;
- counterparts (Stage I, rank 1 -> alignment edges) and co-occurrence pairs (site, code_a,
  code_b, count -> each code's strongest neighbours).

Output: a `Space` table, one row per node (id, name, domain, role, point on the ball), the
training edges and the held-out ones. Every node is embedded by one model from its text
vector (hyperbolic.PoincareModel), refined by HGCN layers over the message-passing graph:
curated IS_A (both ways), MAPS_TO, rank-1 alignments and co-occurrence neighbours. A held-out
code's curated edges are removed from both the supervision and the message passing, so it is
placed exactly like a code that never had a parent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mash_kg.hyperbolic import TrainSettings, embed, train


@dataclass
class HierarchySettings:
    """The [hierarchy] section of mash-kg.toml (Stages II-III)."""

    enabled: bool = True  # Stages II-III (they read the curated graph from Neo4j)
    dim: int = 32
    curvature: float = 1.0
    gnn_layers: int = 2
    epochs: int = 300
    holdout: float = 0.0  # share of curated parent edges hidden, for `mash-kg eval`
    parent_threshold: float = 0.3  # a candidate at or above this score becomes a parent
    max_parents: int = 3
    latent_cut: float = 0.6  # cluster cut, as a share of the median distance of the codes
    cooc_neighbours: int = 5  # co-occurrence neighbours per code in the message passing
    top_candidates: int = 10  # parent candidates kept per code
    text_temperature: float = 0.05  # weight of text similarity in parent scores (0: none)


@dataclass
class Space:
    nodes: pd.DataFrame  # id, name, domain, vocab, role ('code' | 'context')
    points: np.ndarray  # (n, dim) on the ball, rows follow nodes
    text: np.ndarray  # (n, text dim) unit text vectors, rows follow nodes
    train_edges: pd.DataFrame  # child, parent (curated IS_A used for training)
    heldout: pd.DataFrame  # child, parent (curated IS_A hidden for evaluation)
    all_edges: pd.DataFrame  # child, parent (every curated IS_A in the context)
    figures: dict


def node_table(codes: pd.DataFrame, context: pd.DataFrame) -> pd.DataFrame:
    """One row per id: the graph's name and domain where it has the code, else the site's."""
    site = codes.drop_duplicates("id")[["id", "name", "domain", "vocab"]].assign(role="code")
    ctx = context[["id", "name", "domain", "vocab"]].assign(role="context")
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


def message_graph(
    row: dict[str, int], edges: list[pd.DataFrame], cooc: pd.DataFrame, counterparts: pd.DataFrame,
    neighbours: int,
) -> np.ndarray:  # fmt: skip
    """(2, E) undirected message-passing edges over node rows, without duplicates."""
    pairs = [e[["child", "parent"]].to_numpy() for e in edges]
    if len(counterparts):
        top = counterparts[counterparts["rank"] == 1]
        pairs.append(top[["id", "other_id"]].to_numpy())
    if len(cooc) and neighbours > 0:
        both = pd.concat([cooc.rename(columns={"code_a": "a", "code_b": "b"}),
                          cooc.rename(columns={"code_a": "b", "code_b": "a"})])  # fmt: skip
        both = both.sort_values(["a", "count", "b"], ascending=[True, False, True])
        pairs.append(both.groupby("a").head(neighbours)[["a", "b"]].to_numpy())
    flat = np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=object)
    keep = [(row[a], row[b]) for a, b in flat if a in row and b in row and a != b]
    arr = np.array(sorted(set(keep) | {(b, a) for a, b in keep}), dtype=np.int64)
    return arr.reshape(-1, 2).T


def run_stage2(
    codes: pd.DataFrame, context_nodes: pd.DataFrame, context_edges: pd.DataFrame,
    text: np.ndarray, counterparts: pd.DataFrame, cooc: pd.DataFrame,
    settings: HierarchySettings, seed: int = 0, log=None,
) -> Space:  # fmt: skip
    """Embed the build's codes and their context (see the module docstring). `text` holds the
    unit text vectors of `node_table(codes, context_nodes)`'s rows, in its order."""
    nodes = node_table(codes, context_nodes)
    row = {c: i for i, c in enumerate(nodes["id"])}
    is_a = context_edges[context_edges["type"] == "IS_A"][["child", "parent"]]
    maps = context_edges[context_edges["type"] == "MAPS_TO"][["child", "parent"]]
    heldout = choose_holdout(codes["id"], is_a, settings.holdout, seed)
    hidden = set(heldout["child"])
    train_edges = is_a[~is_a["child"].isin(hidden)]
    graph = message_graph(
        row, [train_edges, maps[~maps["child"].isin(hidden)]],
        cooc, counterparts, settings.cooc_neighbours,
    )  # fmt: skip
    ts = TrainSettings(dim=settings.dim, curvature=settings.curvature,
                       gnn_layers=settings.gnn_layers, epochs=settings.epochs, seed=seed,
                       batch=min(2048, max(len(train_edges), 1)),
                       negatives=min(1024, len(nodes)))  # fmt: skip
    figures = {"nodes": len(nodes), "train_edges": len(train_edges),
               "heldout_edges": len(heldout), "graph_edges": int(graph.shape[1])}  # fmt: skip
    child = train_edges["child"].map(row).to_numpy(np.int64)
    parent = train_edges["parent"].map(row).to_numpy(np.int64)
    if len(child) == 0:  # nothing curated to learn from: the encoder alone, untrained
        ts.epochs = 0
    model, fig = train(text, child, parent, ts, graph=graph if ts.gnn_layers else None, log=log)
    points = embed(model, text, graph if ts.gnn_layers else None)
    figures.update(train_seconds=round(fig["seconds"], 2),
                   seconds_per_epoch=round(fig["seconds_per_epoch"], 4),
                   final_loss=fig.get("final_loss"),
                   max_norm=float(np.linalg.norm(points, axis=1).max()))  # fmt: skip
    if not np.isfinite(points).all():
        raise FloatingPointError("Stage II produced non-finite points")
    return Space(nodes, points, text, train_edges.reset_index(drop=True),
                 heldout.reset_index(drop=True), is_a.reset_index(drop=True), figures)  # fmt: skip
