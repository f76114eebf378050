"""Stage III parents (hierarchy/placement.py, fit.py, retrieval.py, sources/): scores are
probabilities, a code is never its own or its descendants' parent nor a rejected pair's
child, pools follow domain and vocabulary, blocks do not change the result, every source
speaks the same interface, and the index shortlist holds what exact search ranks first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mash_kg.hierarchy import fit as fit_module
from mash_kg.hierarchy.placement import candidate_set, pool_rows, score_candidates
from mash_kg.hierarchy.retrieval import Retriever, unique_rows
from mash_kg.hierarchy.sources import SOURCES, Evidence, Query, prepare_sources
from mash_kg.hierarchy.stage3 import run_stage3
from mash_kg.settings import SOURCE_NAMES, HierarchySettings
from tests.spaces import tiny_space

VECTORS = {
    "R": (1, 1, 0, 0),
    "A": (1, 0, 0, 0),
    "A1": (1, 0.1, 0, 0),
    "B": (0, 1, 0, 0),
    "B1": (0.1, 1, 0, 0),
    "u": (1, 0.4, 0, 0),
    "v": (0, 0, 1, 0),
    "w": (0, 0.2, 0, 1),
}
EDGES = [("A", "R"), ("A1", "A"), ("B", "R"), ("B1", "B")]


def test_softmax_scores_are_probabilities():
    rng = np.random.default_rng(0)
    q, f = rng.standard_normal((3, 5)), rng.standard_normal((4, 5))
    p, cos = score_candidates(q, f, 0.1)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert (p.argmax(axis=1) == cos.argmax(axis=1)).all()


def test_every_source_is_registered_and_scores_pool_and_shortlist_alike():
    assert tuple(SOURCES) == SOURCE_NAMES
    space = tiny_space(VECTORS, EDGES, {"u", "v", "w"})
    row = {c: i for i, c in enumerate(space.nodes["id"])}
    cands = candidate_set(space, row)
    cp = pd.DataFrame({"id": ["u"], "other_id": ["A1"], "rank": [1], "score": [0.9]})
    ev = Evidence(space, row, space.train_edges, cands.rows, cp)
    scorers = prepare_sources(ev)
    assert set(scorers) == {"name", "family", "counterparts", "members"}  # no spelling etc.
    q = Query.of_rows(space, np.array([row["u"], row["v"]]))
    short = np.array([[2, 0, -1], [1, 3, 4]])
    for name, scorer in scorers.items():
        full = scorer.score(q, None)
        assert full.shape == (2, len(cands.rows)), name
        part = scorer.score(q, short)
        ok = short >= 0
        np.testing.assert_allclose(part[ok], np.take_along_axis(full, short.clip(0), 1)[ok])
        assert np.isnan(part[~ok]).all()
    # u's counterpart A1 proposes A1 (an equivalent) and A1's parent A
    ids = space.nodes["id"].to_numpy()[cands.rows]
    proposed = set(ids[scorers["counterparts"].proposals(q)[0]])
    assert proposed == {"A1", "A"}


def test_a_code_is_never_its_own_its_descendants_or_a_rejected_parent():
    space = tiny_space(VECTORS, EDGES, {"A", "u", "v", "w"})
    neg = pd.DataFrame({"child": ["u"], "parent": ["A"]})
    res = run_stage3(space, HierarchySettings(dim=4), negatives=neg)
    a = res.candidates[res.candidates["id"] == "A"]
    assert not {"A", "A1"} & set(a["candidate"])
    u = res.candidates[res.candidates["id"] == "u"]
    assert "A" not in set(u["candidate"]) and len(u)
    np.testing.assert_allclose(res.candidates.groupby("id")["score"].sum(), 1.0, atol=1e-9)


def test_a_negatives_table_without_its_columns_is_one_clear_error():
    space = tiny_space(VECTORS, EDGES, {"u"})
    with pytest.raises(ValueError, match="lacks column"):
        run_stage3(space, HierarchySettings(dim=4), negatives=pd.DataFrame({"child": ["u"]}))


def test_pools_follow_the_domain_and_the_vocabulary():
    space = tiny_space(VECTORS, EDGES, {"u"}, domains={"B": "lab", "B1": "lab"})
    row = {c: i for i, c in enumerate(space.nodes["id"])}
    cands = candidate_set(space, row)
    dom = space.nodes["domain"].fillna("").to_numpy()
    voc = space.nodes["vocab"].fillna("").to_numpy()
    ids = space.nodes["id"].to_numpy()
    assert set(ids[pool_rows("lab|", cands, dom, voc)]) == {"B", "B1"}
    assert set(ids[pool_rows("diagnosis|X", cands, dom, voc)]) == {"R", "A", "A1", "v", "w"}


def test_blocks_do_not_change_the_placement(monkeypatch):
    space = tiny_space(VECTORS, EDGES, {"u", "v", "w"})
    s = HierarchySettings(dim=4)
    whole = run_stage3(space, s).candidates
    monkeypatch.setattr(fit_module, "BLOCK", 1)
    pd.testing.assert_frame_equal(run_stage3(space, s).candidates, whole)


def test_the_index_shortlist_holds_the_exact_nearest():
    rng = np.random.default_rng(0)
    space = tiny_space(VECTORS, EDGES, {"u"})
    row = {c: i for i, c in enumerate(space.nodes["id"])}
    ev = Evidence(space, row, space.train_edges, np.arange(len(row)))
    scorers = prepare_sources(ev, ["name"])
    # a larger pool than exact_limit: an HNSW index over 3,000 random unit vectors
    pool = rng.standard_normal((3000, 16)).astype(np.float32)
    pool /= np.linalg.norm(pool, axis=1, keepdims=True)
    scorers["name"].dense = pool
    q = pool[:50] + 0.05 * rng.standard_normal((50, 16)).astype(np.float32)
    retr = Retriever(scorers, len(pool), k=10, exact_limit=100)
    short = retr.shortlist(Query(np.arange(50), q, q))
    exact = np.argsort(-(q @ pool.T), axis=1)[:, :1]
    assert np.mean([exact[i, 0] in short[i] for i in range(50)]) >= 0.98
    assert Retriever(scorers, len(pool), k=10, exact_limit=5000).shortlist(None) is None


def test_unique_rows_drops_repeats_and_pads():
    out = unique_rows(np.array([[3, 1, 3, -1], [2, 2, 2, 2]]))
    assert [sorted(x for x in r if x >= 0) for r in out] == [[1, 3], [2]]
