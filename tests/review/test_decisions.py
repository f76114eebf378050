"""Decisions in the graph (graph/decisions.py) and the two review views, on a real Neo4j."""

from __future__ import annotations

import pytest

from mash_kg.graph.decisions import (
    Decision,
    DecisionError,
    all_decisions,
    decision_key,
    record,
    record_move,
)
from mash_kg.graph.views import run_view
from tests.conftest import count

pytestmark = pytest.mark.neo4j


def _decisions(driver) -> int:
    return count(driver, "MATCH (d:Decision) RETURN count(d)")


def test_a_decision_is_keyed_by_the_edge_ends_and_replaced_not_duplicated(review_graph):
    d = Decision("MASH_IS_A", "A/LAB:1", "T:GLU", "discuss", "ana", "B2", "which glucose?")
    row = record(review_graph, d)
    assert row["key"] == "MASH_IS_A|A/LAB:1|T:GLU" == decision_key("MASH_IS_A", "A/LAB:1", "T:GLU")
    assert row["score"] == pytest.approx(0.41)  # the edge's confidence when decided
    record(review_graph, Decision("MASH_IS_A", "A/LAB:1", "T:GLU", "accept", "bo", "B2"))
    (stored,) = all_decisions(review_graph)
    assert _decisions(review_graph) == 1
    assert (stored["decision"], stored["reviewer"], stored["build"]) == ("accept", "bo", "B2")
    assert stored["decided_at"].endswith("+00:00")
    # ALIGNED_WITH: confidence is the transport probability
    row = record(review_graph, Decision("ALIGNED_WITH", "B/LAB:9", "A/LAB:1", "reject", "bo", "B2"))
    assert row["score"] == pytest.approx(0.35)


def test_unknown_edges_and_edges_a_newer_sync_removed_are_one_line_and_write_nothing(
    review_graph,
):
    with pytest.raises(DecisionError, match=r"unknown edge A/LAB:1 -\[MASH_IS_A\]-> T:HEM: the"):
        record(review_graph, Decision("MASH_IS_A", "A/LAB:1", "T:HEM", "accept", "ana", "B2"))
    with pytest.raises(DecisionError, match="the graph has no code or group X:NOPE"):
        record(review_graph, Decision("MASH_IS_A", "X:NOPE", "T:HEM", "accept", "ana", "B2"))
    # shown from B1; the sync of B2 removed the edge since
    review_graph.execute_query("MATCH ({id: 'A/LAB:3'})-[r:MASH_IS_A]->() DELETE r")
    with pytest.raises(DecisionError, match="shown from build B1\\) was removed by the sync of"):
        record(review_graph, Decision("MASH_IS_A", "A/LAB:3", "T:CHEM", "reject", "ana", "B1"))
    # a versioned edge closed before the active version is gone too
    review_graph.execute_query(
        "MATCH ({id: 'A/LAB:2'})-[r:MASH_IS_A]->() SET r.valid_from = 1, r.valid_to = 2"
    )
    with pytest.raises(DecisionError, match="removed by the sync of build B2"):
        record(review_graph, Decision("MASH_IS_A", "A/LAB:2", "T:CHEM", "accept", "ana", "B1"))
    with pytest.raises(DecisionError, match="decision 'maybe' is not one of"):
        record(review_graph, Decision("MASH_IS_A", "A/LAB:1", "T:GLU", "maybe", "ana", "B2"))
    assert _decisions(review_graph) == 0


def test_a_move_is_a_reject_and_an_accept_written_together(review_graph):
    old, new = record_move(review_graph, "A/LAB:2", "T:CHEM", "T:HEM", "ana", "B2", "blood count")
    assert (old["decision"], old["moved_to"]) == ("reject", "T:HEM")
    assert (new["decision"], new["moved_from"], new["score"]) == ("accept", "T:CHEM", None)
    assert _decisions(review_graph) == 2
    with pytest.raises(DecisionError, match="unknown code T:NOPE"):
        record_move(review_graph, "A/LAB:1", "T:GLU", "T:NOPE", "ana", "B2")
    with pytest.raises(DecisionError, match="unknown edge"):
        record_move(review_graph, "A/LAB:1", "T:HEM", "T:CHEM", "ana", "B2")
    assert _decisions(review_graph) == 2  # neither half of a failed move was written


def test_review_queue_leaves_decided_edges_out_and_reviewed_edges_lists_them(review_graph):
    queue = run_view(review_graph, "review_queue", {})
    assert [(r["edge"], r["from_id"]) for r in queue] == [
        ("MASH_IS_A", "A/LAB:3"),
        ("MASH_IS_A", "A/LAB:2"),
        ("ALIGNED_WITH", "B/LAB:9"),
        ("MASH_IS_A", "A/LAB:1"),
    ]
    record(review_graph, Decision("MASH_IS_A", "A/LAB:3", "T:CHEM", "reject", "ana", "B2"))
    record(review_graph, Decision("MASH_IS_A", "A/LAB:1", "T:GLU", "discuss", "ana", "B2"))
    record_move(review_graph, "A/LAB:2", "T:CHEM", "T:HEM", "ana", "B2")
    queue = run_view(review_graph, "review_queue", {})
    assert [(r["from_id"], r["decision"]) for r in queue] == [
        ("B/LAB:9", None),
        ("A/LAB:1", "discuss"),  # needs discussion: still to decide
    ]
    reviewed = run_view(review_graph, "reviewed_edges", {"decision": "any"})
    got = {(r["child_id"], r["parent_id"]): (r["decision"], r["in_graph"]) for r in reviewed}
    assert got == {
        ("A/LAB:3", "T:CHEM"): ("reject", True),  # until the next sync leaves it out
        ("A/LAB:1", "T:GLU"): ("discuss", True),
        ("A/LAB:2", "T:CHEM"): ("reject", True),
        ("A/LAB:2", "T:HEM"): ("accept", False),
    }
    assert run_view(review_graph, "reviewed_edges", {"decision": "accept"})[0]["moved_from"] == (
        "T:CHEM"
    )
