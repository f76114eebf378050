"""Stage III: a learned hierarchy for the build's codes that have no curated parent.

From the Stage II space (stage2.Space):
1. Parent candidates. For every code of the build without a curated parent (local codes,
   vocabularies without a loaded hierarchy, held-out codes), every curated code that has
   children and the same domain is a candidate; its score is the softmax of -d/T over the
   candidates (d: Poincaré distance, T: the training temperature), plus cos/T_text (the
   text vectors' cosine, `text_temperature`; 0 leaves it out), so scores are probabilities
   that sum to 1 over a code's candidates. The text term is there because it was measured to
   help: on bench/hierarchy.py's ICD-10-CM split hit@1 0.633 (model) and 0.655 (text) give
   0.680 together at T_text = 0.05. A code of a vocabulary whose hierarchy is in the graph
   (an ICD-10-CM code held out) is placed in that vocabulary. The top `top_candidates` are
   kept.
   Every candidate scoring at least `parent_threshold` becomes a parent (multi-parent: at most
   `max_parents`, and at most 1/threshold by construction).
2. Latent groups. Codes with no parent at the threshold are clustered per domain by average
   linkage on their Poincaré distances, cut at `latent_cut` x the median distance; each
   cluster of two or more becomes a ``:Latent`` node. Its point is its members' gyromidpoint
   pulled towards the origin until it is nearer than every member (depth follows the norm:
   a group sits above what it groups); it gets a parent like a code does. Its id is a hash of
   its sorted member ids (a rebuild with the same members gives the same node, so sync is
   incremental) and its name is built from the words most of its members share.

Output tables (written by build.py, synced as MASH_IS_A edges and :Latent nodes):
- candidates: id, candidate, rank, score, distance
- hierarchy: child, parent, score, rank, parent_label ('Code' | 'Latent')
- latent: id, name, domain, size, members, norm, point
- holdout: id, parent, rank, text_rank, candidates (for `mash-kg eval`)
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from mash_kg.hyperbolic import TrainSettings, poincare_distance
from mash_kg.stage2 import HierarchySettings, Space

TEMPERATURE = TrainSettings.temperature
BLOCK = 2048  # codes scored at once
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
    figures: dict


def _ball_norm(x: np.ndarray, c: float) -> np.ndarray:
    """Hyperbolic distance from the origin."""
    r = np.clip(np.sqrt(c) * np.linalg.norm(x, axis=-1), 0, 1 - 1e-12)
    return 2 * np.arctanh(r) / np.sqrt(c)


def descendants(code: str, kids: dict[str, list[str]]) -> set[str]:
    out, todo = set(), list(kids.get(code, ()))
    while todo:
        k = todo.pop()
        if k not in out:
            out.add(k)
            todo += kids.get(k, ())
    return out


def score_candidates(
    points: np.ndarray, cand_points: np.ndarray, c: float, block: int = 4096,
    text_sim: np.ndarray | None = None, text_temperature: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(scores, distances) of every row against every candidate; scores =
    softmax(-d/T + cos/T_text) over the candidates (the text term when given)."""
    d = np.vstack([poincare_distance(points[i : i + block], cand_points, c)
                   for i in range(0, len(points), block)]) if len(points) else \
        np.zeros((0, len(cand_points)))  # fmt: skip
    logits = -d / TEMPERATURE
    if text_sim is not None and text_temperature > 0:
        logits = logits + text_sim / text_temperature
    logits -= logits.max(axis=1, keepdims=True) if len(cand_points) else 0
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True), d


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


def group_point(points: np.ndarray, c: float) -> np.ndarray:
    """Gyromidpoint of the members, pulled towards the origin to 0.9 x the smallest member
    norm when it is not already nearer than every member."""
    import geoopt

    ball = geoopt.PoincareBall(c=c)
    x = torch.tensor(points, dtype=torch.float64)
    mid = ball.weighted_midpoint(x, reducedim=[0])
    limit = 0.9 * _ball_norm(points, c).min()
    if _ball_norm(mid.numpy(), c) > limit:
        v = ball.logmap0(mid)  # |v| (tangent at 0) is half the hyperbolic norm for c = 1
        scale = limit / _ball_norm(mid.numpy(), c)
        mid = ball.expmap0(v * scale)
    return mid.numpy()


def _place_block(
    ids: np.ndarray, ok: np.ndarray, space: Space, pts: np.ndarray, s: HierarchySettings,
    row: dict, kids: dict, truth: dict, cand_rows_out: list, h_rows: list, hold_rows: list,
) -> list[str]:  # fmt: skip
    """Score one block of codes against candidate rows `ok` (`pts`: the space's points in
    float64); appends candidate, hierarchy and holdout rows; returns the codes that got no
    parent."""
    nodes, c = space.nodes, s.curvature
    unplaced: list[str] = []
    rows_ = np.array([row[x] for x in ids])
    text_sim = space.text[rows_] @ space.text[ok].T
    scores, dist = score_candidates(pts[rows_], pts[ok], c, text_sim=text_sim,
                                    text_temperature=s.text_temperature)  # fmt: skip
    # a code is never its own parent, nor the parent of its own curated descendants
    ok_ids = nodes["id"].to_numpy()[ok]
    allowed = np.ones(scores.shape, dtype=bool)
    for k, cid in enumerate(ids):
        bad = np.flatnonzero(np.isin(ok_ids, list(descendants(cid, kids) | {cid})))
        if len(bad):
            scores[k, bad], text_sim[k, bad], allowed[k, bad] = 0.0, -np.inf, False
            scores[k] /= max(scores[k].sum(), 1e-300)
    order = np.argsort(-scores, axis=1, kind="stable")
    for k, cid in enumerate(ids):
        top = order[k][allowed[k, order[k]]][: s.top_candidates]
        for r, j in enumerate(top, start=1):
            cand_rows_out.append((cid, nodes["id"].iat[ok[j]], r, float(scores[k, j]),
                                  float(dist[k, j])))  # fmt: skip
        chosen = [j for j in top[: s.max_parents] if scores[k, j] >= s.parent_threshold]
        for r, j in enumerate(chosen, start=1):
            h_rows.append((cid, nodes["id"].iat[ok[j]], float(scores[k, j]), r, "Code"))
        if not chosen:
            unplaced.append(cid)
        if cid in truth:
            ranks = np.empty(len(ok), dtype=np.int64)
            ranks[order[k]] = np.arange(1, len(ok) + 1)
            t_order = np.argsort(-text_sim[k], kind="stable")
            t_ranks = np.empty(len(ok), dtype=np.int64)
            t_ranks[t_order] = np.arange(1, len(ok) + 1)
            for p in sorted(truth[cid]):
                where = np.flatnonzero(ok_ids == p)
                found = len(where) > 0
                hold_rows.append((cid, p, int(ranks[where[0]]) if found else None,
                                  int(t_ranks[where[0]]) if found else None,
                                  int(allowed[k].sum())))  # fmt: skip
    return unplaced


def run_stage3(space: Space, s: HierarchySettings) -> Hierarchy:
    nodes, pts, c = space.nodes, space.points.astype(np.float64), s.curvature
    row = {cid: i for i, cid in enumerate(nodes["id"])}
    domain = nodes["domain"].fillna("").to_numpy()
    parented = set(space.train_edges["child"])
    codes = nodes[(nodes["role"] == "code") & ~nodes["id"].isin(parented)]
    cand_ids = np.array(sorted(set(space.all_edges["parent"]) & set(row)))
    cand_rows = np.array([row[x] for x in cand_ids], dtype=np.int64)

    kids = space.all_edges.groupby("parent")["child"].agg(list).to_dict()
    cand_rows_out, h_rows, hold_rows = [], [], []
    truth = space.heldout.groupby("child")["parent"].agg(set).to_dict()
    unplaced: list[str] = []
    vocab = nodes["vocab"].fillna("").to_numpy()
    tree_vocabs = set(vocab[cand_rows])
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
            unplaced += list(group["id"])
            continue
        for start in range(0, len(group), BLOCK):  # bounded memory: BLOCK x candidates
            ids = group["id"].to_numpy()[start : start + BLOCK]
            unplaced += _place_block(ids, ok, space, pts, s, row, kids, truth, cand_rows_out,
                                     h_rows, hold_rows)  # fmt: skip

    latent_rows = []
    for dom in sorted(set(domain[[row[x] for x in unplaced]])) if unplaced else []:
        ids = sorted(x for x in unplaced if domain[row[x]] == dom)
        if len(ids) < 2:
            continue
        p = pts[[row[x] for x in ids]]
        d = poincare_distance(p, p, c)
        np.fill_diagonal(d, 0.0)
        d = (d + d.T) / 2
        condensed = squareform(d, checks=False)
        cut = s.latent_cut * float(np.median(condensed))
        labels = fcluster(linkage(condensed, method="average"), t=cut, criterion="distance")
        for lab in sorted(set(labels)):
            members = [ids[i] for i in np.flatnonzero(labels == lab)]
            if len(members) < 2:
                continue
            point = group_point(pts[[row[x] for x in members]], c)
            lid = latent_id(members)
            latent_rows.append({
                "id": lid, "name": latent_name([nodes["name"].iat[row[x]] for x in members]),
                "domain": dom or None, "size": len(members), "members": members,
                "norm": float(_ball_norm(point, c)), "point": point.astype(np.float32),
                "_text": space.text[[row[x] for x in members]].mean(axis=0),
            })  # fmt: skip
            # a member's score is exp(-d(member, group point)): 1 at the centre
            near = np.exp(-poincare_distance(pts[[row[x] for x in members]], point[None, :], c))
            h_rows += [(m, lid, float(near[i, 0]), 1, "Latent") for i, m in enumerate(members)]
    # a latent group's own parent: the best curated candidate of its domain, at the threshold
    for lat in latent_rows:
        t = lat.pop("_text")
        ok = cand_rows[(domain[cand_rows] == (lat["domain"] or "")) | (domain[cand_rows] == "")]
        if len(ok) == 0:
            continue
        t = t / max(np.linalg.norm(t), 1e-12)
        scores, _ = score_candidates(lat["point"][None, :].astype(np.float64), pts[ok], c,
                                     text_sim=(t @ space.text[ok].T)[None, :],
                                     text_temperature=s.text_temperature)  # fmt: skip
        j = int(np.argmax(scores[0]))
        if scores[0, j] >= s.parent_threshold:
            h_rows.append((lat["id"], nodes["id"].iat[ok[j]], float(scores[0, j]), 1, "Code"))

    candidates = pd.DataFrame(cand_rows_out,
                              columns=["id", "candidate", "rank", "score", "distance"])  # fmt: skip
    hierarchy = pd.DataFrame(h_rows, columns=["child", "parent", "score", "rank", "parent_label"])
    latent = pd.DataFrame(latent_rows, columns=["id", "name", "domain", "size", "members",
                                                "norm", "point"])  # fmt: skip
    holdout = pd.DataFrame(hold_rows, columns=["id", "parent", "rank", "text_rank", "candidates"])
    figures = {
        "unparented_codes": int(len(codes)),
        "placed_codes": int(hierarchy.loc[hierarchy["parent_label"] == "Code", "child"]
                            .isin(codes["id"]).pipe(lambda m: hierarchy["child"][m.index[m]])
                            .nunique()),  # fmt: skip
        "mash_is_a_edges": int(len(hierarchy)),
        "latent_groups": int(len(latent)),
        "codes_in_latent_groups": int(latent["size"].sum()) if len(latent) else 0,
        "codes_left_unparented": int(len(set(unplaced) - {m for x in latent_rows
                                                           for m in x["members"]})),
    }  # fmt: skip
    return Hierarchy(candidates, hierarchy, latent, holdout, figures)
