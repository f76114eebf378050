"""Stage III's evidence fusion (hierarchy/fusion.py) on made-up cases: a source without
signal gets weight 0, the fused ranking follows the source that predicts the held-out edges,
and a tree where true parents are often leaves is not pushed under the text model."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mash_kg.hierarchy.fusion import LEAF, POOLED, FitSet, choose_weights
from mash_kg.hierarchy.stage2 import choose_fit
from mash_kg.hierarchy.stage3 import run_stage3
from mash_kg.settings import HierarchySettings
from tests.spaces import tiny_space


def _fitset(n: int, k: int, signal: dict[str, float], seed: int = 0) -> FitSet:
    """n codes, k candidates each, candidate 0 the true parent; per source (in order) a
    z-like score where the true parent gets + signal."""
    rng = np.random.default_rng(seed)
    feats = rng.standard_normal((n, k, len(signal) + 1)).astype(np.float32)
    for j, s in enumerate(signal.values()):
        feats[:, 0, j] += s
    feats[:, :, -1] = 0.0  # no leaves
    gold = np.zeros((n, k), dtype=bool)
    gold[:, 0] = True
    valid = np.ones((n, k), dtype=bool)
    return FitSet(
        feats,
        gold,
        valid,
        np.zeros((n, k), dtype=bool),
        np.full(n, "dx", dtype=object),
        np.zeros((n, k, 2), np.float32),
    )


def test_a_source_without_signal_gets_weight_zero():
    fit = _fitset(300, 20, {"name": 1.5, "family": 0.0, "spelling": 2.5})
    names = ["name", "family", "spelling", LEAF]
    choices, _ = choose_weights(fit, names, "name")
    w = choices[POOLED].weights
    assert "family" not in w  # no signal: weight 0
    assert w.get("spelling", 0) > 0 and choices[POOLED].report["adopted"]


def test_without_any_better_source_the_baseline_ranks_alone():
    fit = _fitset(300, 20, {"name": 2.0, "family": 0.0})
    choices, notes = choose_weights(fit, ["name", "family", LEAF], "name")
    assert choices[POOLED].weights == {"name": 1.0}
    assert any("ranked by name alone" in n for n in notes)


def test_a_few_fit_codes_keep_the_baseline_and_say_so():
    fit = _fitset(10, 5, {"counterparts": 2.0})
    choices, notes = choose_weights(fit, ["counterparts", LEAF], "counterparts")
    assert choices[POOLED].weights == {"counterparts": 1.0}
    assert any("too few to weigh" in n for n in notes)


def _families(n_fam: int, size: int, seed: int, name_signal: bool):
    """Families whose members read alike (around a centre); the parent's own name reads
    like its members (name_signal) or like nothing in particular."""
    rng = np.random.default_rng(seed)
    dim = 48
    vec, edges = {}, []
    for f in range(n_fam):
        centre = rng.standard_normal(dim)
        vec[f"P{f:03d}"] = (
            centre + 0.4 * rng.standard_normal(dim) if name_signal else (rng.standard_normal(dim))
        )
        for m in range(size):
            c = f"P{f:03d}.{m}"
            vec[c] = centre + 0.9 * rng.standard_normal(dim)
            edges.append((c, f"P{f:03d}"))
    return vec, edges


def _space(vec, edges, held_share: float, seed: int, fit: int = 200):
    rng = np.random.default_rng(seed)
    kids = sorted({c for c, _ in edges})
    held_codes = set(rng.choice(kids, int(held_share * len(kids)), replace=False))
    held = [(c, p) for c, p in edges if c in held_codes]
    space = tiny_space(vec, edges, held_codes, heldout=held)
    space.fit_edges = choose_fit(space.train_edges, fit, seed)
    return space


def _hit1(res) -> tuple[float, float]:
    h = res.holdout.drop_duplicates("id")
    return float((h["rank"] == 1).mean()), float((h["text_rank"] == 1).mean())


def test_the_fused_score_follows_the_source_that_predicts_the_held_out_edges():
    # parents' own names say nothing; their families (members) do
    vec, edges = _families(40, 6, seed=1, name_signal=False)
    space = _space(vec, edges, 0.15, seed=1)
    res = run_stage3(space, HierarchySettings(dim=4, sources=["name", "family"]))
    w = res.weights.set_index("feature")["weight"]
    assert w.get("family", 0) > 0 and w.get("name", 0) == 0
    model, text = _hit1(res)
    assert model >= 0.8 and model > text + 0.3


def test_a_leaf_heavy_tree_is_not_penalised_into_the_texts_shadow():
    # half the parents have a single child (a leaf once it is hidden); every code reads like
    # its parent's own name: the build must learn that a leaf is a likely parent here
    rng = np.random.default_rng(2)
    vec, edges = {}, []
    for f in range(80):
        p = f"P{f:03d}"
        vec[p] = rng.standard_normal(32)
        for m in range(1 if f % 2 else 2):
            vec[f"{p}.{m}"] = vec[p] + 0.5 * rng.standard_normal(32)
            edges.append((f"{p}.{m}", p))
    space = _space(vec, edges, 0.2, seed=2)
    res = run_stage3(space, HierarchySettings(dim=4))
    model, text = _hit1(res)
    leafy = pd.Series([p for c, p in edges if c in set(res.holdout["id"])])
    assert leafy.isin([f"P{f:03d}" for f in range(1, 80, 2)]).mean() > 0.2
    w = res.weights.set_index("feature")["weight"]
    assert w.get(LEAF, 0) >= 0  # not a penalty on leaves
    assert model >= text
