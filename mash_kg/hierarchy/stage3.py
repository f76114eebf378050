"""Stage III: a learned hierarchy for the build's codes that have no curated parent.

From the Stage II space (stage2.Space), three steps:
1. Parents (placement.py, fit.py): every code without a curated parent is scored against
   the curated nodes of its domain by the evidence sources (sources/), weighted per domain
   as the build's own fit codes say (fusion.py) and optionally re-ranked (rerank.py);
   candidates at or above `parent_threshold` become its parents. Pairs in `negatives`
   (child, parent: rejected by a reviewer) are never proposed and train as hard negatives.
2. Latent groups (latent.py): the codes left without a parent are clustered per domain; each
   cluster of two or more becomes a ``:Latent`` node with a hashed id and a name from its
   members' shared words, and gets a parent like a code does.
3. Points (here): a placed code (or group) gets a point in its first parent's cone, one level
   deeper (tree_embedding.child_slot, towards its own encoder direction); a group's members
   sit one level below the group; a code with neither parent nor group is a root.

Output tables (written by build.py, synced as MASH_IS_A edges and :Latent nodes):
- candidates: id, candidate, rank, score, distance (1 - cosine to the candidate's family),
  leaf (the candidate has no known children), equivalent (a leaf whose name the code's
  nearly repeats), then one raw score per evidence source: by_name, by_family, by_spelling,
  by_encoder, by_gnn, by_counterparts (empty where the source was off or had nothing)
- hierarchy: child, parent, score, rank, parent_label ('Code' | 'Latent')
- latent: id, name, domain, size, members, norm, point
- holdout: id, parent, rank, text_rank, candidates (for `mash-kg eval`)
- placement_weights: domain, feature, weight (the fusion the build chose; '*': pooled)
- rerank: feature, coefficient (the kept re-ranker; empty when none was kept)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from mash_kg import poincare
from mash_kg.hierarchy.fit import best_parents, fit_model, place_codes
from mash_kg.hierarchy.latent import LatentGroup, latent_groups, member_edges
from mash_kg.hierarchy.placement import (
    SCORE_COLUMNS,
    Candidates,
    Inputs,
    Model,
    Placement,
    candidate_set,
)
from mash_kg.hierarchy.stage2 import Space
from mash_kg.hierarchy.tree_embedding import child_slot
from mash_kg.settings import HierarchySettings

HIERARCHY_COLUMNS = ["child", "parent", "score", "rank", "parent_label"]
CANDIDATE_COLUMNS = [
    "id",
    "candidate",
    "rank",
    "score",
    "distance",
    "leaf",
    "equivalent",
    *SCORE_COLUMNS,
]
HOLDOUT_COLUMNS = ["id", "parent", "rank", "text_rank", "candidates"]
LATENT_COLUMNS = ["id", "name", "domain", "size", "members", "norm", "point"]
NEGATIVE_COLUMNS = ["child", "parent"]


@dataclass
class Hierarchy:
    candidates: pd.DataFrame
    hierarchy: pd.DataFrame
    latent: pd.DataFrame
    holdout: pd.DataFrame
    points: pd.DataFrame  # id, role, point (float64), norm, depth: every node of the space
    figures: dict
    weights: pd.DataFrame  # domain, feature, weight
    rerank: pd.DataFrame  # feature, coefficient


def unparented_codes(space: Space) -> pd.DataFrame:
    """The build's codes without a curated parent among the training edges."""
    nodes = space.nodes
    return nodes[(nodes["role"] == "code") & ~nodes["id"].isin(set(space.train_edges["child"]))]


def hierarchy_rows(
    placed: Placement,
    groups: list[LatentGroup],
    cands: Candidates,
    inp: Inputs,
    model: Model,
) -> pd.DataFrame:
    """MASH_IS_A rows: the codes' parents, then per group its members and its own parent."""
    rows = list(placed.parents)
    for g in groups:
        rows += member_edges(g, inp.space.text, inp.row)
    best = best_parents(
        [g.id for g in groups],
        [g.centre for g in groups],
        [g.domain or "" for g in groups],
        cands,
        inp,
        model,
    )
    for g, b in zip(groups, best, strict=True):
        if b is not None:
            rows.append((g.id, inp.space.nodes["id"].iat[b[0]], b[1], 1, "Code"))
    return pd.DataFrame(rows, columns=HIERARCHY_COLUMNS)


def negative_pairs(negatives: pd.DataFrame | None, origin: str = "negatives") -> dict:
    """child -> parents a reviewer rejected, from a (child, parent) table."""
    if negatives is None or not len(negatives):
        return {}
    missing = [c for c in NEGATIVE_COLUMNS if c not in negatives.columns]
    if missing:
        raise ValueError(f"{origin}: the negatives table lacks column(s) {', '.join(missing)}")
    return negatives.groupby("child")["parent"].agg(set).to_dict()


def run_stage3(
    space: Space,
    s: HierarchySettings,
    counterparts: pd.DataFrame | None = None,
    negatives: pd.DataFrame | None = None,
) -> Hierarchy:
    """Parents, latent groups and points for the codes of `space` without a curated parent
    (the tables of the module docstring); `counterparts`: Stage I's table; `negatives`:
    (child, parent) pairs a reviewer rejected."""
    row = {cid: i for i, cid in enumerate(space.nodes["id"])}
    codes = unparented_codes(space)
    cands = candidate_set(space, row)
    kids = space.all_edges.groupby("parent")["child"].agg(list).to_dict()
    truth = space.heldout.groupby("child")["parent"].agg(set).to_dict()
    cp = counterparts if counterparts is not None else pd.DataFrame()
    inp = Inputs(space, s, row, kids, truth, cp, negative_pairs(negatives))
    model = fit_model(inp, cands)
    placed = place_codes(codes, cands, inp, model)
    domain = space.nodes["domain"].fillna("").to_numpy()
    names = list(space.nodes["name"])
    groups = latent_groups(placed.unplaced, space.text, names, row, domain, s)
    hierarchy = hierarchy_rows(placed, groups, cands, inp, model)
    if inp.negatives:  # a latent group's edges too
        pairs = zip(hierarchy["child"], hierarchy["parent"], strict=True)
        keep = [p not in inp.negatives.get(c, ()) for c, p in pairs]
        hierarchy = hierarchy[keep].reset_index(drop=True)
    points = _points(space, s, hierarchy, groups, row)
    latent = latent_table(groups, points)
    candidates = pd.DataFrame(placed.candidates, columns=CANDIDATE_COLUMNS)
    holdout = pd.DataFrame(placed.holdout, columns=HOLDOUT_COLUMNS)
    figures = stage3_figures(space, codes, placed, groups, hierarchy, candidates, cands)
    figures["placement"] = model.report
    weights = pd.DataFrame(
        [(d, f, w) for d, c in model.choices.items() for f, w in c.weights.items()],
        columns=["domain", "feature", "weight"],
    )
    rr = model.reranker.table(model.names) if model.reranker is not None else []
    rerank = pd.DataFrame(rr, columns=["feature", "coefficient"])
    return Hierarchy(candidates, hierarchy, latent, holdout, points, figures, weights, rerank)


def latent_table(groups: list[LatentGroup], points: pd.DataFrame) -> pd.DataFrame:
    """The latent table: each group with its point and norm."""
    at = points.set_index("id")
    return pd.DataFrame(
        [
            {
                "id": g.id,
                "name": g.name,
                "domain": g.domain,
                "size": g.size,
                "members": g.members,
                "norm": float(at.at[g.id, "norm"]),
                "point": at.at[g.id, "point"],
            }
            for g in groups
        ],
        columns=LATENT_COLUMNS,
    )


def stage3_figures(
    space: Space,
    codes: pd.DataFrame,
    placed: Placement,
    groups: list[LatentGroup],
    hierarchy: pd.DataFrame,
    candidates: pd.DataFrame,
    cands: Candidates,
) -> dict:
    """The build's Stage III figures (what was placed, grouped and left, and why eval may
    have nothing to score)."""
    nodes = space.nodes
    in_groups = {m for g in groups for m in g.members}
    by_code = hierarchy[hierarchy["parent_label"] == "Code"]
    first_pick = candidates[candidates["rank"] == 1].set_index("id")
    under = by_code[by_code["rank"] == 1]
    leafy = under["child"].map(first_pick["leaf"]).fillna(False).astype(bool)
    equivalent = under["child"].map(first_pick["equivalent"]).fillna(False).astype(bool)
    return {
        "unparented_codes": int(len(codes)),
        "placed_codes": int(by_code.loc[by_code["child"].isin(codes["id"]), "child"].nunique()),
        "mash_is_a_edges": int(len(hierarchy)),
        "latent_groups": int(len(groups)),
        "codes_in_latent_groups": int(len(in_groups)),
        "codes_left_unparented": int(len(set(placed.unplaced) - in_groups)),
        "candidate_nodes": int(len(cands.rows)),
        "leaf_candidates": int((~cands.has_kids[cands.rows]).sum()),
        # why eval may have nothing to score: codes with a curated parent, and held out
        "codes_with_curated_parent": int(
            nodes.loc[nodes["role"] == "code", "id"].isin(set(space.all_edges["child"])).sum()
        ),
        "heldout_codes": int(space.heldout["child"].nunique()),
        "placed_under_a_leaf": int(leafy.sum()),
        "equivalent_to_a_leaf": int(equivalent.sum()),
    }


@lru_cache(maxsize=8)
def _projection(width: int, dim: int) -> np.ndarray:
    """The fixed projection of encoder vectors onto the ball's dimensions (drawn once)."""
    return np.random.default_rng(1729).standard_normal((width, dim))


def _hint(vector: np.ndarray, dim: int) -> np.ndarray:
    """A direction on the ball's dimensions from an encoder vector (a fixed projection)."""
    return vector.astype(np.float64) @ _projection(len(vector), dim)


def _points(
    space: Space,
    s: HierarchySettings,
    hierarchy: pd.DataFrame,
    groups: list[LatentGroup],
    row: dict[str, int],
) -> pd.DataFrame:
    """Every node's point: curated ones from Stage II; placed codes and groups one level
    below their first parent; group members below their group; the rest as roots."""
    tree = s.tree()
    pts = {
        i: p for i, p in zip(space.nodes["id"], space.points, strict=True) if np.isfinite(p).all()
    }
    depth = {i: int(d) for i, d in zip(space.nodes["id"], space.depth, strict=True) if d > 0}
    role = dict(zip(space.nodes["id"], space.nodes["role"], strict=True))
    vec = {g.id: g.centre for g in groups}
    first = hierarchy.sort_values(["rank", "score"], ascending=[True, False], kind="stable")
    first = first.drop_duplicates("child").set_index("child")["parent"].to_dict()

    def place(node: str, trail: frozenset = frozenset()) -> None:
        if node in pts:
            return
        v = vec[node] if node in vec else space.text[row[node]]
        hint = _hint(v, s.dim)
        parent = first.get(node)
        if parent is not None and parent not in trail:
            place(parent, trail | {node})
        if parent is not None and parent in pts:
            pts[node] = child_slot(
                pts[parent], depth[parent], hint, tree, s.curvature, n_roots=max(space.roots, 1)
            )
            depth[node] = depth[parent] + 1
        else:  # a root of its own
            unit = hint / max(np.linalg.norm(hint), 1e-12)
            pts[node] = unit * poincare.radius_to_norm(tree.root_radius, s.curvature)
            depth[node] = 1

    for g in groups:
        place(g.id)
        role[g.id] = "latent"
    for node in space.nodes["id"]:
        place(node)
    ids = list(space.nodes["id"]) + [g.id for g in groups]
    mat = np.stack([pts[i] for i in ids]) if ids else np.zeros((0, s.dim))
    return pd.DataFrame(
        {
            "id": ids,
            "role": [role[i] for i in ids],
            "point": list(mat),
            "norm": np.linalg.norm(mat, axis=1) if len(ids) else [],
            "depth": [depth[i] for i in ids],
        }
    )
