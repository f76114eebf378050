"""What the next build learns from decisions, without Neo4j: Stage III never proposes a
rejected pair (the code gets its next candidate; a group's edge is dropped), and
build.review_edges turns decisions into training edges, negatives and the manifest's counts.
Also the Poincaré-disk picture and the CSV reader's rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mash_kg.build import review_edges
from mash_kg.errors import InputError
from mash_kg.graph.decisions import TABLE_COLUMNS
from mash_kg.hierarchy.stage3 import run_stage3
from mash_kg.review.disk import disk_coordinates, disk_svg
from mash_kg.review.usagi import read_csv
from mash_kg.settings import HierarchySettings
from tests.spaces import tiny_space

VECTORS = {
    "P1": (1, 0, 0, 0, 0),
    "P1a": (1, 0.6, 0, 0, 0),
    "P2": (0.8, 0.5, 0, 0, 0),
    "P2a": (0.8, 0.6, 0, 0, 0),
    "u": (1, 0.25, 0, 0, 0),  # reads like P1's family first, P2's second
    "v": (0, 0, 1, 0.05, 0),  # v, w, x read alike and like no family: a latent group
    "w": (0, 0, 1, 0.1, 0),
    "x": (0, 0, 1, 0.08, 0.01),
    "z": (0, 0, 0, 0, 1),  # like nothing: left alone
}
EDGES = [("P1a", "P1"), ("P2a", "P2")]


def _run(negatives=None):
    s = HierarchySettings(dim=4, parent_threshold=0.3, latent_cut=0.3, max_parents=1)
    space = tiny_space(VECTORS, EDGES, {"u", "v", "w", "x", "z"}, s=s)
    return run_stage3(space, s, negatives=negatives)


def _pairs(res) -> set[tuple[str, str]]:
    return set(zip(res.hierarchy["child"], res.hierarchy["parent"], strict=True))


def test_a_rejected_pair_is_never_proposed_and_the_next_candidate_takes_its_place():
    before = _run()
    assert ("u", "P1") in _pairs(before)
    after = _run(pd.DataFrame({"child": ["u"], "parent": ["P1"]}))
    assert ("u", "P1") not in _pairs(after)
    assert "P1" not in set(after.candidates.loc[after.candidates["id"] == "u", "candidate"])
    ranked = before.candidates[before.candidates["id"] == "u"].sort_values("rank")["candidate"]
    assert ("u", next(c for c in ranked if c != "P1")) in _pairs(after)  # its next best
    # a latent group's member edge rejected: dropped as well
    member = before.hierarchy[before.hierarchy["parent_label"] == "Latent"].iloc[0]
    neg = pd.DataFrame({"child": [member["child"]], "parent": [member["parent"]]})
    assert (member["child"], member["parent"]) not in _pairs(_run(neg))


def _decisions(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        [(*r, None, None, None)[: len(TABLE_COLUMNS)] for r in rows], columns=TABLE_COLUMNS
    )


def test_review_edges_training_edges_negatives_and_counts():
    d = pd.DataFrame(
        [
            ("MASH_IS_A", "A:1", "T:X", "accept", 0.4, None, None),
            ("MASH_IS_A", "A:2", "T:Y", "reject", 0.3, None, "T:X"),
            ("MASH_IS_A", "A:2", "T:X", "accept", None, "T:Y", None),  # a move's new parent
            ("MASH_IS_A", "A:3", "LAT:g", "accept", 0.5, None, None),  # a group: not usable
            ("MASH_IS_A", "A:4", "T:X", "discuss", 0.5, None, None),
            ("MASH_IS_A", "A:5", "T:Z", "accept", 0.9, None, None),  # already curated
            ("ALIGNED_WITH", "B:1", "A:1", "reject", 0.2, None, None),
        ],
        columns=TABLE_COLUMNS,
    )
    codes = {"A:1", "A:2", "A:3", "A:4", "A:5"}
    curated = pd.DataFrame({"child": ["A:5"], "parent": ["T:Z"]})
    train, negatives, figures = review_edges(d, codes, {"T:X", "T:Y", "T:Z"}, curated)
    got = set(zip(train["child"], train["parent"], strict=True))
    assert got == {("A:1", "T:X"), ("A:2", "T:X")}
    assert list(zip(negatives["child"], negatives["parent"], strict=True)) == [("A:2", "T:Y")]
    assert figures == {
        "decisions": 7,
        "accepted_edges": 4,
        "corrected_edges": 1,
        "training_edges": 2,
        "accepted_not_used": 1,
        "hard_negatives": 1,
        "discuss": 1,
        "aligned_accepted": 0,
        "aligned_rejected": 1,
    }
    empty = pd.DataFrame(columns=TABLE_COLUMNS)
    train, negatives, figures = review_edges(empty, codes, {"T:X"}, curated)
    assert len(train) == len(negatives) == 0 and figures["decisions"] == 0


def test_the_disk_keeps_each_norm_and_draws_only_what_has_a_point():
    rng = np.random.default_rng(0)
    pts = rng.standard_normal((6, 8))
    pts *= (np.linspace(0.1, 0.9, 6) / np.linalg.norm(pts, axis=1))[:, None]
    xy = disk_coordinates(pts)
    assert np.allclose(np.linalg.norm(xy, axis=1), np.linalg.norm(pts, axis=1))
    nodes = [
        {"id": "c", "name": "code <1>", "role": "child", "point": pts[0]},
        {"id": "p", "name": "parent", "role": "parent", "point": pts[1]},
        {"id": "x", "name": "no point", "role": "sibling", "point": None},
    ]
    svg = disk_svg(nodes, [("c", "p"), ("x", "p")])
    assert svg.startswith("<svg") and svg.count("<line") == 1 and svg.count("<title>") == 2
    assert "code &lt;1&gt;" in svg  # names are escaped
    assert disk_svg(nodes[:1], []) == ""


def test_usagi_status_words_and_epoch_dates(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(
        "sourceCode,targetCode,mappingStatus,statusSetOn\n"
        "A:1,T:X,approved,1764547200000\n\nA:2,T:Y,reject,2026-12-01 10:00\n"
    )
    (a, b), numbers = read_csv(path, "me")
    assert (a.decision, a.relation, a.reviewer) == ("accept", "MASH_IS_A", "me")
    assert a.decided_at == "2025-12-01T00:00:00+00:00" and b.decided_at.startswith("2026-12-01T10")
    assert numbers == [2, 4]  # a blank line still counts as a row of the file
    path.write_text("sourceCode,targetCode,mappingStatus\n")
    with pytest.raises(InputError, match="no decisions in the file"):
        read_csv(path, "me")
