"""Evidence fusion for cross-site alignment, validated on held-out anchors (Stage I).

A map learned from anchors is only as good as its anchors: with few of them an unconstrained
transport map can rank counterparts worse than the text model alone. So the alignment of a
site is not assumed, it is chosen: each piece of evidence (a `View`: the text model's cosine,
the co-occurring codes' text, the co-occurrence vectors mapped by Procrustes, a transport
map) scores every (source, target) pair; scores are standardised per source row and summed
with weights, and the weights are those that rank the held-out anchors best in k-fold
cross-validation among the anchors (per domain where a domain has `min_anchors` anchors;
domains with fewer, but some, anchors are validated together when theirs add up).
A weighting other than text alone is adopted only when it beats text alone on the held-out
anchors by more than chance (McNemar-style: wins - losses >= max(2, sqrt(wins + losses))).
With fewer than `min_anchors` anchors in a domain the text evidence is kept, and said so.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import numpy as np

from mash_kg.align import METHODS, Alignment, align_sites, procrustes

FITS = ("none", "procrustes", *METHODS)
WEIGHT_GRID = (0.0, 0.5, 1.0, 2.0)
_BLOCK = 1024


@dataclass
class View:
    """One piece of evidence: vectors of the source and target codes, and how the source is
    brought into the target's space: 'none' (already one space: a text model's), 'procrustes'
    (an orthogonal map fitted on the anchors) or an alignment method of `mash_kg.align`.
    `alignment`: this view's vectors are the sites' alignment features, so its fitted map is
    the site's alignment (its mapped source, its transport plan); at most one view is."""

    source: np.ndarray
    target: np.ndarray
    fit: str = "none"
    alignment: bool = False


@dataclass
class Fusion:
    """Top-k counterparts of every source row and how they were ranked."""

    idx: np.ndarray  # (n_source, k) target rows, best first
    score: np.ndarray  # (n_source, k) fused score (weighted per-row z-scores)
    transport: np.ndarray  # (n_source, k) plan probability of the pair, NaN without a plan
    evidence: np.ndarray  # (n_source,) str: the views with weight > 0, e.g. 'text+transport'
    weights: dict[str, dict[str, float]]  # domain -> view -> weight
    validation: dict[str, dict]  # domain -> anchors, held-out p@1 of text and of the choice
    notes: list[str]
    mapped: np.ndarray | None  # the alignment view's source mapped, when that view ranked
    seconds: float = 0.0
    plan_used: bool = False
    extra: dict = field(default_factory=dict)


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, n, out=np.zeros_like(x), where=n > 0)


class _Fitted:
    """A view fitted on some anchors: scores blocks of source rows against all targets."""

    def __init__(self, view: View, anchors: np.ndarray, opts: dict) -> None:
        self.t = _unit(view.target)
        self.plan: np.ndarray | None = None
        self.alignment: Alignment | None = None
        s = _unit(view.source)
        if view.fit == "procrustes":
            self.s = (
                s @ procrustes(s[anchors[:, 0]], self.t[anchors[:, 1]])
                if len(anchors) >= 2
                else None
            )
        elif view.fit in METHODS:
            self.alignment = align_sites(s, self.t, anchors, view.fit, **opts)
            self.s, self.plan = self.alignment.mapped, self.alignment.plan
            if self.plan is not None:
                self.plan = self.plan / np.maximum(self.plan.sum(axis=1, keepdims=True), 1e-300)
        else:
            self.s = s

    def raw(self, rows: np.ndarray) -> np.ndarray:
        """The view's own scores of `rows` against every target (float64)."""
        if self.plan is not None:  # the plan's conditional probability, on a log scale
            return np.log(self.plan[rows] * self.plan.shape[1] + 1e-3)
        return self.s[rows] @ self.t.T

    def scores(self, rows: np.ndarray, dtype: type = np.float32) -> np.ndarray | None:
        """Per-row standardised scores (len(rows), n_target); None when the view is empty."""
        if self.s is None:
            return None
        raw = self.raw(rows)
        sd = raw.std(axis=1, keepdims=True)
        return ((raw - raw.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.0)).astype(dtype)


def _grid(names: list[str]) -> list[tuple[float, ...]]:
    """Weight vectors to try: text on or off, every other view on the grid; never all zero."""
    choices = [(0.0, 1.0) if n == "text" else WEIGHT_GRID for n in names]
    return [w for w in itertools.product(*choices) if any(w)]


def _folds(n: int, k: int, seed: int) -> list[np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return [order[f::k] for f in range(k)]


def _gold_sets(anchors: np.ndarray) -> dict[int, set[int]]:
    gold: dict[int, set[int]] = {}
    for s, t in anchors:
        gold.setdefault(int(s), set()).add(int(t))
    return gold


def _validate(
    views: dict[str, View],
    anchors: np.ndarray,
    groups: np.ndarray,
    folds: int,
    seed: int,
    opts: dict,
) -> dict[str, tuple[np.ndarray, list[np.ndarray], np.ndarray]]:
    """Per group of anchors (domain): the held-out source rows, their per-view scores and
    whether each top-1 could be right (gold target rows), over k folds."""
    names = list(views)
    gold = _gold_sets(anchors)
    sources = np.array(sorted(gold))
    out: dict[str, list] = {}
    for f, held in enumerate(_folds(len(sources), folds, seed)):
        held_src = set(sources[held].tolist())
        train = anchors[[int(s) not in held_src for s in anchors[:, 0]]]
        fitted = {n: _Fitted(v, train, {**opts, "seed": seed + f}) for n, v in views.items()}
        rows = sources[held]
        for g in np.unique(groups[rows]):
            r = rows[groups[rows] == g]
            per_view = [fitted[n].scores(r) for n in names]
            m = len(views["text"].target)
            mask = np.zeros((len(r), m), dtype=bool)
            for i, s in enumerate(r):
                mask[i, list(gold[int(s)])] = True
            out.setdefault(str(g), []).append((r, per_view, mask))
    merged = {}
    for g, parts in out.items():
        rows = np.concatenate([p[0] for p in parts])
        per_view = []
        for j in range(len(names)):
            blocks = [p[1][j] for p in parts]
            per_view.append(None if any(b is None for b in blocks) else np.concatenate(blocks))
        merged[g] = (rows, per_view, np.concatenate([p[2] for p in parts]))
    return merged


def _choose(names: list[str], per_view: list, mask: np.ndarray) -> tuple[dict, dict]:
    """The grid weights ranking the held-out anchors best, unless text alone is as good."""
    avail = [v is not None for v in per_view]
    text = names.index("text")
    top = per_view[text].argmax(axis=1)
    text_hits = mask[np.arange(len(mask)), top]
    best_w, best_hits = None, text_hits
    for w in _grid(names):
        if any(wi > 0 and not a for wi, a in zip(w, avail, strict=True)):
            continue
        total = sum(wi * per_view[j] for j, wi in enumerate(w) if wi > 0)
        hits = mask[np.arange(len(mask)), total.argmax(axis=1)]
        if hits.sum() > best_hits.sum():
            best_w, best_hits = w, hits
    wins = int((best_hits & ~text_hits).sum())
    losses = int((~best_hits & text_hits).sum())
    adopted = best_w is not None and wins - losses >= max(2.0, np.sqrt(wins + losses))
    weights = dict(zip(names, best_w, strict=True)) if adopted else {"text": 1.0}
    report = {
        "held_out": int(len(mask)),
        "p_at_1_text": round(float(text_hits.mean()), 4),
        "p_at_1_best": round(float(best_hits.mean()), 4),
        "best": dict(zip(names, best_w, strict=True)) if best_w else {"text": 1.0},
        "wins": wins,
        "losses": losses,
        "adopted": bool(adopted),
    }
    return {n: w for n, w in weights.items() if w > 0}, report


def fuse(
    views: dict[str, View],
    anchors: np.ndarray,
    domains: np.ndarray | None = None,
    k: int = 5,
    min_anchors: int = 20,
    folds: int = 3,
    seed: int = 0,
    **opts: object,
) -> Fusion:
    """Counterparts of every source row from the views (one must be 'text'), weighted by
    cross-validated accuracy on held-out `anchors` ((source row, target row) pairs), per
    value of `domains` (one label per source row) that has at least `min_anchors` anchors
    (domains with fewer, but some, anchors together when theirs add up to `min_anchors`)."""
    _check_views(views)
    start = time.perf_counter()
    n = len(views["text"].source)
    domains = np.full(n, "all", dtype=object) if domains is None else np.asarray(domains, object)
    anchors = np.asarray(anchors, dtype=np.int64).reshape(-1, 2)
    weights, validation, notes = _domain_weights(
        views, anchors, domains, min_anchors, folds, seed, opts
    )
    f = rank_with(views, anchors, weights, domains, k, seed, **opts)
    f.validation, f.notes, f.seconds = validation, notes, time.perf_counter() - start
    return f


def _check_views(views: dict[str, View]) -> None:
    if "text" not in views:
        raise ValueError("fusion needs a 'text' view (the fallback evidence)")
    bad = [v.fit for v in views.values() if v.fit not in FITS]
    if bad:
        raise ValueError(f"unknown view fit {bad[0]!r}; use one of {', '.join(FITS)}")
    if sum(v.alignment for v in views.values()) > 1:
        raise ValueError("at most one view is the sites' alignment")


def rank_with(
    views: dict[str, View],
    anchors: np.ndarray,
    weights: dict[str, dict[str, float]],
    domains: np.ndarray | None = None,
    k: int = 5,
    seed: int = 0,
    **opts: object,
) -> Fusion:
    """Counterparts of every source row ranked by given per-domain view `weights` (what
    `fuse` adopted), each view fitted on all `anchors`; no validation figures."""
    _check_views(views)
    start = time.perf_counter()
    n = len(views["text"].source)
    domains = np.full(n, "all", dtype=object) if domains is None else np.asarray(domains, object)
    anchors = np.asarray(anchors, dtype=np.int64).reshape(-1, 2)
    used = sorted({v for w in weights.values() for v in w})
    fitted = {nm: _Fitted(views[nm], anchors, {**opts, "seed": seed}) for nm in used}
    idx, score, label = _rank(views, fitted, weights, domains, k)
    transport, mapped, tview = _plan_of(views, fitted, used, idx, label)
    return Fusion(
        idx,
        score,
        transport,
        label.astype(str),
        weights,
        {},
        [],
        mapped,
        time.perf_counter() - start,
        plan_used=tview is not None,
    )


def _domain_weights(
    views: dict[str, View],
    anchors: np.ndarray,
    domains: np.ndarray,
    min_anchors: int,
    folds: int,
    seed: int,
    opts: dict,
) -> tuple[dict[str, dict[str, float]], dict[str, dict], list[str]]:
    """Per domain the weight of each view (text alone where a map could not be validated),
    the validation figures and the notes saying where text alone ranks."""
    names = list(views)
    weights: dict[str, dict[str, float]] = {}
    validation: dict[str, dict] = {}
    per_domain = {
        str(d): int((domains[np.unique(anchors[:, 0])] == d).sum()) for d in np.unique(domains)
    }
    # a domain validates alone when it has min_anchors anchors; domains with fewer (but some)
    # anchors are validated together when their anchors add up (a domain without any anchor
    # never gets a map it was not checked on)
    group_of = {d: d for d, c in per_domain.items() if c >= min_anchors}
    small = sorted(d for d, c in per_domain.items() if 0 < c < min_anchors)
    if len(small) > 1 and sum(per_domain[d] for d in small) >= min_anchors:
        group_of.update({d: "+".join(small) for d in small})
    if group_of:
        groups = np.array([group_of.get(str(d), "") for d in domains], dtype=object)
        keep = groups[anchors[:, 0]] != ""
        checked = _validate(views, anchors[keep], groups, max(2, folds), seed, opts)
        for d, g in group_of.items():
            _, per_view, mask = checked[g]
            weights[d], validation[d] = _choose(names, per_view, mask)
            validation[d]["anchors"] = per_domain[d]
            if g != d:
                validation[d]["validated_with"] = g
    notes = []
    for d, c in sorted(per_domain.items()):
        if d not in group_of:
            weights[d] = {"text": 1.0}
            validation[d] = {"anchors": c, "adopted": False}
            notes.append(
                f"domain {d}: {c} anchor(s), too few to validate a map (need "
                f"{min_anchors}): ranked by text alone"
            )
        elif not validation[d]["adopted"]:
            v = validation[d]
            notes.append(
                f"domain {d}: no weighting beat text alone on {v['held_out']} held-out "
                f"anchors (text p@1 {v['p_at_1_text']}, best {v['p_at_1_best']}): "
                "ranked by text alone"
            )
    return weights, validation, notes


def _rank(
    views: dict[str, View],
    fitted: dict[str, _Fitted],
    weights: dict[str, dict[str, float]],
    domains: np.ndarray,
    k: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-k target rows of every source row by its domain's weighted views (best first),
    their scores, and per row the views that ranked it."""
    names = list(views)
    n, m = len(views["text"].source), len(views["text"].target)
    k = min(k, m)
    idx = np.zeros((n, k), dtype=np.int64)
    score = np.zeros((n, k))
    label = np.empty(n, dtype=object)
    for d, w in weights.items():
        rows_d = np.flatnonzero(domains.astype(str) == d)
        label[rows_d] = "+".join(nm for nm in names if nm in w)
        for i in range(0, len(rows_d), _BLOCK):
            rows = rows_d[i : i + _BLOCK]
            if len(w) == 1:  # one view: its own scores (exactly that evidence's ranking)
                total = fitted[next(iter(w))].raw(rows)
            else:
                total = sum(wt * fitted[nm].scores(rows, np.float64) for nm, wt in w.items())
            part = np.argpartition(-total, k - 1, axis=1)[:, :k]
            vals = np.take_along_axis(total, part, axis=1)
            order = np.lexsort((part, -vals), axis=1)  # ties: the lower target row first
            idx[rows] = np.take_along_axis(part, order, axis=1)
            score[rows] = np.take_along_axis(vals, order, axis=1)
    return idx, score, label


def _plan_of(
    views: dict[str, View],
    fitted: dict[str, _Fitted],
    used: list[str],
    idx: np.ndarray,
    label: np.ndarray,
) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    """The alignment view's plan probability of each ranked pair (NaN where that view did not
    rank the row, or without a plan), its mapped source vectors and its name; all None when
    the alignment view did not rank (another view's map, e.g. the co-occurrence block's
    Procrustes, lives in another space and is never the site's alignment)."""
    transport = np.full(idx.shape, np.nan)
    tview = next((nm for nm in used if views[nm].alignment), None)
    if tview is None:
        return transport, None, None
    plan = fitted[tview].plan
    if plan is not None:
        transport = np.take_along_axis(plan, idx, axis=1)
        ranked_by_plan = np.array([tview in lab.split("+") for lab in label])
        transport[~ranked_by_plan] = np.nan
    return transport, fitted[tview].s, tview
