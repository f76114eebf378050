"""Stage III: a learned hierarchy for the build's codes that have no curated parent.

From the Stage II space (stage2.Space):
1. Parent candidates. For every code of the build without a curated parent (local codes,
   vocabularies without a loaded hierarchy, held-out codes), every curated node of the
   graph's context with the same domain is a candidate, leaves included (a local code's
   right parent may be a leaf, or a group whose only members are site codes). A candidate
   is described by its family: the unit mean of the hierarchy encoder's vectors of its name
   and of its known children (the training edges, never a held-out one; a leaf: its name).
   A code's scores are softmax(cos(code, family) / T) over its candidates (plus -d/T of
   the optional GNN term), so they are probabilities that sum to 1. The same with the
   names' spelling: cos of character n-gram TF-IDF vectors of the code and the family,
   weighted by `lexical_weight` (measured to help: README). A code of a vocabulary whose
   hierarchy is in the graph (an ICD-10-CM code held out) is placed in that vocabulary.
   The top `top_candidates` are kept. Every candidate scoring at least `parent_threshold`
   becomes a parent (multi-parent: at most `max_parents`, and at most 1/threshold by
   construction). Most curated leaves are a code's siblings, not its parent: a leaf's cosine
   pays `leaf_penalty` (measured: bench/hierarchy.py `full_all_nodes`), unless the code
   nearly repeats its name (text cosine at least EQUIVALENT_COS): then it is the site's code
   for the leaf's concept, placed as the leaf's child (found below it by `descendants` and
   phenotype expansion) and its candidate row says `equivalent`.
2. Latent groups. Codes with no parent at the threshold are clustered per domain by average
   linkage on the encoder's cosine distances, cut at `latent_cut` x the median distance; each
   cluster of two or more becomes a ``:Latent`` node, which gets a parent like a code does.
   Its id is a hash of its sorted member ids (a rebuild with the same members gives the same
   node, so sync is incremental) and its name is built from the words most of its members
   share.
3. Points. A placed code (or group) gets a point in its first parent's cone, one level deeper
   (tree_embedding.child_slot, towards its own encoder direction); a group's members sit one
   level below the group; a code with neither parent nor group is a root. Depth follows the
   norm for learned nodes as for curated ones.

Output tables (written by build.py, synced as MASH_IS_A edges and :Latent nodes):
- candidates: id, candidate, rank, score, distance (1 - cosine to the candidate's family),
  leaf (the candidate has no known children), equivalent (a leaf whose name the code's
  nearly repeats, cosine >= EQUIVALENT_COS)
- hierarchy: child, parent, score, rank, parent_label ('Code' | 'Latent')
- latent: id, name, domain, size, members, norm, point
- holdout: id, parent, rank, text_rank, candidates (for `mash-kg eval`; text_rank: the frozen
  text model's cosine to the candidate's name, the reference of the same split); one row per
  held-out (code, true parent), rank empty when the true parent was not a candidate
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from mash_kg.lexical import lexical_families
from mash_kg.stage2 import HierarchySettings, Space
from mash_kg.tree_embedding import child_slot, poincare_distance, radius_to_norm

BLOCK = 2048  # codes scored at once
EQUIVALENT_COS = 0.98  # a code placed under a leaf with a name this close: its equivalent
GNN_TEMPERATURE = 0.1  # of the optional GNN term's -d/T (its training temperature)
STOPWORDS = frozenset(
    "a an and or of the in on at to for with without by from as per other unspecified "
    "specified nos not mass volume moles ratio count presence disorder finding situation "
    "procedure regime therapy observable entity event".split()
)
WORD = re.compile(r"[a-z][a-z0-9\-]{2,}")


@dataclass
class Hierarchy:
    candidates: pd.DataFrame
    hierarchy: pd.DataFrame
    latent: pd.DataFrame
    holdout: pd.DataFrame
    points: pd.DataFrame  # id, role, point (float64), norm, depth: every node of the space
    figures: dict


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


def latent_name(names: list[str]) -> str:
    """Readable, deterministic: the words most members share, in the order they first appear
    (members sorted by name), e.g. 'Blood pressure group (2 codes)'."""
    names = sorted(names)
    seen: Counter[str] = Counter()
    first: dict[str, int] = {}
    for name in names:
        words = [w for w in WORD.findall(name.lower()) if w not in STOPWORDS]
        for pos, w in enumerate(dict.fromkeys(words)):
            seen[w] += 1
            first.setdefault(w, len(first) * 100 + pos)
    need = max(2, (len(names) + 1) // 2)
    shared = [w for w, k in seen.items() if k >= need]
    if not shared:  # nothing most members share: the commonest words, ties by first use
        shared = [w for w, _ in sorted(seen.items(), key=lambda wk: (-wk[1], first[wk[0]]))][:2]
    words = sorted(shared, key=lambda w: (-seen[w], first[w]))[:3]
    words = sorted(words, key=lambda w: first[w])
    label = " ".join(words).capitalize() if words else "Unnamed"
    return f"{label} group ({len(names)} codes)"


def latent_id(members: list[str]) -> str:
    return "LATENT:" + hashlib.sha1("|".join(sorted(members)).encode()).hexdigest()[:12]


@dataclass
class Placement:
    """What one block of codes got: candidate rows, parent rows, holdout rows, and the codes
    left without a parent."""

    candidates: list[tuple]
    parents: list[tuple]
    holdout: list[tuple]
    unplaced: list[str]


def _place_block(
    ids: np.ndarray,
    ok: np.ndarray,
    families: np.ndarray,
    lex_families,
    space: Space,
    s: HierarchySettings,
    row: dict,
    kids: dict,
    truth: dict,
    leaf: np.ndarray,
) -> Placement:
    """Score one block of codes against candidate rows `ok` (`families`: their unit family
    vectors; `leaf`: which of them have no known children)."""
    nodes = space.nodes
    rows_ = np.array([row[x] for x in ids])
    gnn_d = None
    if space.gnn_points is not None:
        gnn_d = poincare_distance(space.gnn_points[rows_], space.gnn_points[ok], s.curvature)
    lex = None
    if lex_families is not None and space.lexical is not None:
        lex = (space.lexical[rows_] @ lex_families.T).toarray()
    base = space.base_text if space.base_text is not None else space.text
    # a leaf is a candidate, but most leaves are siblings of a code, not its parent: its
    # cosine pays leaf_penalty unless the code nearly repeats its name (an equivalent)
    near = base[rows_].astype(np.float64) @ base[ok].astype(np.float64).T
    equivalent = leaf[None, :] & (near >= EQUIVALENT_COS)
    prior = np.where(leaf[None, :] & ~equivalent, -s.leaf_penalty, 0.0) if leaf.any() else None
    scores, cos = score_candidates(
        space.text[rows_], families, s.temperature, gnn_d, lex, s.lexical_weight, prior
    )
    # a code is never its own parent, nor the parent of its own curated descendants
    ok_ids = nodes["id"].to_numpy()[ok]
    where = {c: k for k, c in enumerate(ok_ids)}
    allowed = np.ones(scores.shape, dtype=bool)
    for k, cid in enumerate(ids):
        bad = [where[x] for x in descendants(cid, kids) | {cid} if x in where]
        if bad:
            scores[k, bad], allowed[k, bad] = 0.0, False
            scores[k] /= max(scores[k].sum(), 1e-300)
    out = Placement([], [], [], [])
    order = np.argsort(-scores, axis=1, kind="stable")
    for k, cid in enumerate(ids):
        top = order[k][allowed[k, order[k]]][: s.top_candidates]
        out.candidates += [
            (
                cid,
                ok_ids[j],
                r,
                float(scores[k, j]),
                float(1 - cos[k, j]),
                bool(leaf[j]),
                bool(equivalent[k, j]),
            )
            for r, j in enumerate(top, start=1)
        ]
        chosen = [j for j in top[: s.max_parents] if scores[k, j] >= s.parent_threshold]
        out.parents += [
            (cid, ok_ids[j], float(scores[k, j]), r, "Code") for r, j in enumerate(chosen, start=1)
        ]
        if not chosen:
            out.unplaced.append(cid)
        if cid in truth:
            ranks = np.empty(len(ok), dtype=np.int64)
            ranks[order[k]] = np.arange(1, len(ok) + 1)
            # the text-only reference, for held-out codes only: cosine to the candidate names
            text_sim = base[ok].astype(np.float64) @ base[row[cid]].astype(np.float64)
            text_sim[~allowed[k]] = -np.inf
            t_ranks = np.empty(len(ok), dtype=np.int64)
            t_ranks[np.argsort(-text_sim, kind="stable")] = np.arange(1, len(ok) + 1)
            for p in sorted(truth[cid]):
                j = where.get(p)
                out.holdout.append(
                    (
                        cid,
                        p,
                        None if j is None else int(ranks[j]),
                        None if j is None else int(t_ranks[j]),
                        int(allowed[k].sum()),
                    )
                )
    return out


def _latent_groups(
    unplaced: list[str], space: Space, row: dict, domain: np.ndarray, s: HierarchySettings
) -> list[dict]:
    """Clusters of two or more unplaced codes per domain (average linkage on the encoder's
    cosine distances, cut at latent_cut x their median)."""
    groups = []
    for dom in sorted(set(domain[[row[x] for x in unplaced]])) if unplaced else []:
        ids = sorted(x for x in unplaced if domain[row[x]] == dom)
        if len(ids) < 2:
            continue
        v = space.text[[row[x] for x in ids]].astype(np.float64)
        d = np.clip(1 - v @ v.T, 0, 2)
        np.fill_diagonal(d, 0.0)
        condensed = squareform((d + d.T) / 2, checks=False)
        cut = s.latent_cut * float(np.median(condensed))
        labels = fcluster(linkage(condensed, method="average"), t=cut, criterion="distance")
        for lab in sorted(set(labels)):
            members = [ids[i] for i in np.flatnonzero(labels == lab)]
            if len(members) < 2:
                continue
            centre = space.text[[row[x] for x in members]].astype(np.float64).mean(axis=0)
            centre /= max(np.linalg.norm(centre), 1e-12)
            groups.append(
                {
                    "id": latent_id(members),
                    "members": members,
                    "domain": dom or None,
                    "size": len(members),
                    "centre": centre,
                    "name": latent_name([space.nodes["name"].iat[row[x]] for x in members]),
                }
            )
    return groups


@lru_cache(maxsize=8)
def _projection(width: int, dim: int) -> np.ndarray:
    """The fixed projection of encoder vectors onto the ball's dimensions (drawn once)."""
    return np.random.default_rng(1729).standard_normal((width, dim))


def _hint(vector: np.ndarray, dim: int) -> np.ndarray:
    """A direction on the ball's dimensions from an encoder vector (a fixed projection)."""
    return vector.astype(np.float64) @ _projection(len(vector), dim)


def run_stage3(space: Space, s: HierarchySettings) -> Hierarchy:
    nodes = space.nodes
    row = {cid: i for i, cid in enumerate(nodes["id"])}
    domain = nodes["domain"].fillna("").to_numpy()
    parented = set(space.train_edges["child"])
    codes = nodes[(nodes["role"] == "code") & ~nodes["id"].isin(parented)]
    # every curated node may be a parent, leaves included
    if "curated" in nodes.columns:
        curated = nodes["curated"].fillna(False).to_numpy(bool)
    else:  # a space made without node_table: the context and the curated edges' ends
        ends = set(space.all_edges["child"]) | set(space.all_edges["parent"])
        curated = ((nodes["role"] == "context") | nodes["id"].isin(ends)).to_numpy()
    cand_rows = np.flatnonzero(curated).astype(np.int64)
    has_kids = np.zeros(len(nodes), dtype=bool)
    has_kids[[row[x] for x in set(space.train_edges["parent"]) if x in row]] = True
    tc = space.train_edges["child"].map(row).to_numpy(np.int64)
    tp = space.train_edges["parent"].map(row).to_numpy(np.int64)
    families = family_vectors(space.text, cand_rows, tc, tp)
    lex_fam = None
    if space.lexical is not None and s.lexical_weight > 0 and len(cand_rows):
        lex_fam = lexical_families(space.lexical, cand_rows, tc, tp)
    fam_of = {int(r): k for k, r in enumerate(cand_rows)}

    kids = space.all_edges.groupby("parent")["child"].agg(list).to_dict()
    truth = space.heldout.groupby("child")["parent"].agg(set).to_dict()
    placed = Placement([], [], [], [])
    vocab = nodes["vocab"].fillna("").to_numpy()
    in_tree = set(space.train_edges["child"]) | set(space.train_edges["parent"])
    tree_vocabs = {vocab[row[x]] for x in in_tree if x in row}
    key = (
        codes["domain"].fillna("")
        + "|"
        + codes["vocab"].fillna("").where(codes["vocab"].isin(tree_vocabs), "")
    )
    for dom_vocab, group in codes.groupby(key, sort=True):
        dom, voc = dom_vocab.split("|")
        ok = cand_rows[(domain[cand_rows] == dom) | (domain[cand_rows] == "")] if dom else cand_rows
        ok = ok[vocab[ok] == voc] if voc else ok
        if len(ok) == 0:
            placed.unplaced += list(group["id"])
            # held-out codes with no candidate at all still count (as misses) in eval
            placed.holdout += [
                (c, p, None, None, 0) for c in group["id"] if c in truth for p in sorted(truth[c])
            ]
            continue
        pick = [fam_of[int(r)] for r in ok]
        fam, lfam = families[pick], None if lex_fam is None else lex_fam[pick]
        for start in range(0, len(group), BLOCK):  # bounded memory: BLOCK x candidates
            ids = group["id"].to_numpy()[start : start + BLOCK]
            part = _place_block(ids, ok, fam, lfam, space, s, row, kids, truth, ~has_kids[ok])
            placed.candidates += part.candidates
            placed.parents += part.parents
            placed.holdout += part.holdout
            placed.unplaced += part.unplaced

    groups = _latent_groups(placed.unplaced, space, row, domain, s)
    h_rows = list(placed.parents)
    for g in groups:
        # a member's score: its cosine to the group's centre, in [0, 1]
        sims = space.text[[row[x] for x in g["members"]]].astype(np.float64) @ g["centre"]
        h_rows += [
            (m, g["id"], float(np.clip(v, 0, 1)), 1, "Latent")
            for m, v in zip(g["members"], sims, strict=True)
        ]
        # the group's own parent: the best curated candidate of its domain, at the threshold
        ok = cand_rows[(domain[cand_rows] == (g["domain"] or "")) | (domain[cand_rows] == "")]
        if len(ok):
            prior = np.where(has_kids[ok], 0.0, -s.leaf_penalty)[None, :]  # as for codes
            scores, _ = score_candidates(
                g["centre"][None, :],
                families[[fam_of[int(r)] for r in ok]],
                s.temperature,
                prior=prior,
            )
            j = int(np.argmax(scores[0]))
            if scores[0, j] >= s.parent_threshold:
                h_rows.append((g["id"], nodes["id"].iat[ok[j]], float(scores[0, j]), 1, "Code"))

    hierarchy = pd.DataFrame(h_rows, columns=["child", "parent", "score", "rank", "parent_label"])
    points = _points(space, s, hierarchy, groups, row)
    at = dict(zip(points["id"], zip(points["point"], points["norm"], strict=True), strict=True))
    latent = pd.DataFrame(
        [
            {
                "id": g["id"],
                "name": g["name"],
                "domain": g["domain"],
                "size": g["size"],
                "members": g["members"],
                "norm": float(at[g["id"]][1]),
                "point": at[g["id"]][0],
            }
            for g in groups
        ],
        columns=["id", "name", "domain", "size", "members", "norm", "point"],
    )
    candidates = pd.DataFrame(
        placed.candidates,
        columns=["id", "candidate", "rank", "score", "distance", "leaf", "equivalent"],
    )
    holdout = pd.DataFrame(
        placed.holdout, columns=["id", "parent", "rank", "text_rank", "candidates"]
    )
    in_groups = {m for g in groups for m in g["members"]}
    figures = {
        "unparented_codes": int(len(codes)),
        "placed_codes": int(
            hierarchy.loc[
                (hierarchy["parent_label"] == "Code") & hierarchy["child"].isin(codes["id"]),
                "child",
            ].nunique()
        ),
        "mash_is_a_edges": int(len(hierarchy)),
        "latent_groups": int(len(latent)),
        "codes_in_latent_groups": int(len(in_groups)),
        "codes_left_unparented": int(len(set(placed.unplaced) - in_groups)),
        "candidate_nodes": int(len(cand_rows)),
        "leaf_candidates": int((~has_kids[cand_rows]).sum()),
        # why eval may have nothing to score: codes with a curated parent, and held out
        "codes_with_curated_parent": int(
            nodes.loc[nodes["role"] == "code", "id"].isin(set(space.all_edges["child"])).sum()
        ),
        "heldout_codes": int(len(truth)),
    }
    first_pick = candidates[candidates["rank"] == 1].set_index("id")
    under = hierarchy[(hierarchy["parent_label"] == "Code") & (hierarchy["rank"] == 1)]
    leafy = under["child"].map(first_pick["leaf"]).fillna(False).astype(bool)
    figures["placed_under_a_leaf"] = int(leafy.sum())
    figures["equivalent_to_a_leaf"] = int(
        under["child"].map(first_pick["equivalent"]).fillna(False).astype(bool).sum()
    )
    return Hierarchy(candidates, hierarchy, latent, holdout, points, figures)


def _points(
    space: Space, s: HierarchySettings, hierarchy: pd.DataFrame, groups: list[dict], row: dict
) -> pd.DataFrame:
    """Every node's point: curated ones from Stage II; placed codes and groups one level
    below their first parent; group members below their group; the rest as roots."""
    tree = s.tree()
    pts = {
        i: p for i, p in zip(space.nodes["id"], space.points, strict=True) if np.isfinite(p).all()
    }
    depth = {i: int(d) for i, d in zip(space.nodes["id"], space.depth, strict=True) if d > 0}
    role = dict(zip(space.nodes["id"], space.nodes["role"], strict=True))
    vec = {g["id"]: g["centre"] for g in groups}
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
            pts[node] = unit * radius_to_norm(tree.root_radius, s.curvature)
            depth[node] = 1

    for g in groups:
        place(g["id"])
        role[g["id"]] = "latent"
    for node in space.nodes["id"]:
        place(node)
    ids = list(space.nodes["id"]) + [g["id"] for g in groups]
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
