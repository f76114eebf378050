"""Stage III parents (mash_kg/placement.py): candidate scores are probabilities, a code is never
its own or its descendants' parent, the pools follow domain and vocabulary, a block's rows are
consistent, and blocks do not change the result."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mash_kg import placement
from mash_kg.placement import (
    Inputs,
    Placement,
    best_parent,
    candidate_set,
    place_block,
    place_codes,
    pool_rows,
    score_candidates,
    without_own_descendants,
)
from mash_kg.settings import HierarchySettings
from tests.spaces import tiny_space

VECTORS = {
    "R": (1, 1, 0, 0),
    "A": (1, 0, 0, 0),
    "A1": (1, 0.1, 0, 0),
    "B": (0, 1, 0, 0),
    "B1": (0.1, 1, 0, 0),
    "u": (1, 0.4, 0, 0),  # reads like A's family (not a copy of the leaf A1)
    "v": (0, 0, 1, 0),  # like nothing
    "w": (0, 0.2, 0, 1),
}
EDGES = [("A", "R"), ("A1", "A"), ("B", "R"), ("B1", "B")]


def _inputs(s: HierarchySettings, heldout=()) -> tuple[Inputs, placement.Candidates]:
    space = tiny_space(VECTORS, EDGES, {"A", "u", "v", "w"}, heldout=heldout, s=s)
    row = {c: i for i, c in enumerate(space.nodes["id"])}
    kids = space.all_edges.groupby("parent")["child"].agg(list).to_dict()
    truth = space.heldout.groupby("child")["parent"].agg(set).to_dict()
    return Inputs(space, s, row, kids, truth), candidate_set(space, s, row)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_are_probabilities_and_each_term_moves_them(seed):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((3, 5))
    f = rng.standard_normal((4, 5))
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    p, cos = score_candidates(q, f, 0.1)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(cos, q @ f.T)
    assert (p.argmax(axis=1) == cos.argmax(axis=1)).all()
    sharper, _ = score_candidates(q, f, 0.01)
    assert (sharper.max(axis=1) >= p.max(axis=1)).all()
    best = cos.argmax(axis=1)
    penalty = np.zeros((3, 4))
    penalty[np.arange(3), best] = -1.0  # the leaf penalty's shape
    assert (score_candidates(q, f, 0.1, prior=penalty)[0][np.arange(3), best] < p.max(1)).all()
    far = np.zeros((3, 4))
    far[np.arange(3), best] = 5.0  # a large GNN distance
    assert (score_candidates(q, f, 0.1, gnn_distance=far)[0].argmax(1) != best).all()
    none, _ = score_candidates(q, f[:0], 0.1)
    assert none.shape == (3, 0)


def test_a_code_is_never_its_own_or_its_descendants_parent():
    inp, cands = _inputs(HierarchySettings(dim=4))
    pool = cands.pool(cands.rows, inp.space.nodes["id"].to_numpy())
    scores = np.full((2, len(pool.rows)), 1.0 / len(pool.rows))
    ids = np.array(["A", "u"])
    out, allowed = without_own_descendants(ids, scores, pool, inp.kids)
    banned = {pool.ids[j] for j in np.flatnonzero(~allowed[0])}
    assert banned == {"A", "A1"} and allowed[1].all()
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert (out[0, ~allowed[0]] == 0).all()
    np.testing.assert_array_equal(scores, 1.0 / len(pool.rows))  # the input is untouched


def test_pools_follow_the_domain_and_the_vocabulary():
    inp, cands = _inputs(HierarchySettings(dim=4))
    nodes = inp.space.nodes
    domain = nodes["domain"].to_numpy().copy()
    domain[nodes["id"] == "B1"] = "lab"
    domain[nodes["id"] == "B"] = ""  # no domain: a candidate in every domain
    vocab = np.where(nodes["id"] == "R", "Y", "X")
    ids = nodes["id"].to_numpy()
    assert set(ids[pool_rows("diagnosis|", cands, domain, vocab)]) == {"R", "A", "A1", "B"}
    assert set(ids[pool_rows("lab|", cands, domain, vocab)]) == {"B", "B1"}
    assert set(ids[pool_rows("diagnosis|Y", cands, domain, vocab)]) == {"R"}
    assert len(pool_rows("|", cands, domain, vocab)) == len(cands.rows)


def test_a_blocks_rows_are_consistent():
    s = HierarchySettings(dim=4, top_candidates=3, max_parents=2, parent_threshold=0.3)
    inp, cands = _inputs(s, heldout=[("A", "R")])
    pool = cands.pool(cands.rows, inp.space.nodes["id"].to_numpy())
    out = place_block(np.array(["A", "u", "v", "w"]), pool, inp)
    cand = pd.DataFrame(out.candidates, columns=["id", "candidate", "rank", "score"] + list("dle"))
    for _, rows in cand.groupby("id"):
        assert list(rows["rank"]) == list(range(1, len(rows) + 1)) and len(rows) <= 3
        assert rows["score"].is_monotonic_decreasing
    assert "A" not in set(cand.loc[cand["id"] == "A", "candidate"])
    parents = pd.DataFrame(out.parents, columns=["child", "parent", "score", "rank", "label"])
    assert (parents["score"] >= 0.3).all() and (parents.groupby("child").size() <= 2).all()
    top = cand[cand["rank"] <= 2]
    chosen = set(zip(parents["child"], parents["parent"], strict=True))
    assert chosen <= set(zip(top["id"], top["candidate"], strict=True))
    assert parents.loc[parents["child"] == "u", "parent"].iat[0] == "A"
    assert set(out.unplaced) == {"A", "u", "v", "w"} - set(parents["child"])
    (held,) = out.holdout
    assert held[:2] == ("A", "R") and held[4] == len(pool.rows) - 2  # not A, not A1


def test_blocks_do_not_change_the_placement(monkeypatch):
    s = HierarchySettings(dim=4)
    inp, cands = _inputs(s)
    codes = inp.space.nodes[inp.space.nodes["id"].isin(["u", "v", "w"])]
    whole = place_codes(codes, cands, inp)
    monkeypatch.setattr(placement, "BLOCK", 1)
    one_by_one = place_codes(codes, cands, inp)
    assert len(whole.candidates) == 15 and len(one_by_one.candidates) == 15
    for ours, theirs in zip(whole, one_by_one, strict=True):  # every table, row by row
        assert len(ours) == len(theirs)
        for x, y in zip(ours, theirs, strict=True):
            # the same rows; a matrix product's shape may move a float's last bit
            exact = [v for v in x if not isinstance(v, float)]
            assert exact == [v for v in y if not isinstance(v, float)]
            floats = [v for v in x if isinstance(v, float)]
            np.testing.assert_allclose(floats, [v for v in y if isinstance(v, float)], rtol=1e-12)


def test_concat_keeps_the_order_of_the_parts():
    a = Placement([(1,)], [], [("h",)], ["x"])
    b = Placement([(2,)], [("p",)], [], ["y"])
    assert Placement.concat([a, b]) == Placement([(1,), (2,)], [("p",)], [("h",)], ["x", "y"])


def test_a_group_gets_the_best_candidate_of_its_domain_at_the_threshold():
    inp, cands = _inputs(HierarchySettings(dim=4, lexical_weight=0.0))
    domain = inp.space.nodes["domain"].to_numpy()
    centre = np.array([1.0, 0.0, 0.0, 0.0])
    ids = inp.space.nodes["id"].to_numpy()
    row, score = best_parent(centre, "diagnosis", cands, domain, inp.settings)
    assert ids[row] == "A" and 0.3 <= score <= 1
    strict = HierarchySettings(dim=4, parent_threshold=0.999)
    assert best_parent(centre, "diagnosis", cands, domain, strict) is None
    assert best_parent(centre, "lab", cands, domain, inp.settings) is None  # no candidate
