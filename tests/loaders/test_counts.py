"""The count table of each bundled release (`release_counts`: what `mash-kg load` prints)
against its publisher's own figures, where the publisher states one."""

from __future__ import annotations

import pytest

from mash_kg.graph.reconcile.ontology import release_counts
from mash_kg.loaders import get_loader


def _counts(source: str) -> dict[str, dict]:
    """The table as it is after a load into a graph that holds nothing else: every edge of
    the release whose both ends are in it."""
    t = get_loader(source)()
    ids = set(t.nodes["id"])
    owner = t.edges["vocab"].where(t.edges["type"] == "IS_A", t.edges.get("source"))
    target = {
        (s, e, ty, o): {}
        for s, e, ty, o in zip(
            t.edges["start"], t.edges["end"], t.edges["type"], owner, strict=True
        )
        if s in ids and e in ids
    }
    return {row["vocabulary"]: row for row in release_counts(t, target)}


def test_icd10cm_2026_counts():
    c = _counts("icd10cm")["ICD10CM"]
    # CMS FY2026 tabular list: 98,505 codes with the chapter and block headers, 22 chapters
    assert c["codes"] == 98505
    assert c["roots"] == c["without_parent"] == 22
    assert c["IS_A"] == 98505 - 22  # a tree: one parent per code below a chapter
    assert c["max_depth"] == 6  # chapter > block > category > 4th > 5th > 6th > 7th character


def test_icd9cm_v32_counts():
    t = get_loader("icd9cm")()
    c = _counts("icd9cm")["ICD9CM"]
    # CMS v32: 14,567 billable diagnosis codes; 17 chapters and the V and E supplementary
    # classifications
    assert int(t.nodes["billable"].sum()) == 14567
    assert c["roots"] == c["without_parent"] == 19
    assert c["IS_A"] == c["codes"] - 19
    assert c["max_depth"] == 4  # chapter > section > category > 4th digit > 5th digit
    kinds = t.nodes["kind"].value_counts().to_dict()
    assert kinds["chapter"] == 19 and kinds["subclassification"] > 8000


def test_icd10who_2019_counts():
    c = _counts("icd10who")["ICD10"]
    assert c["roots"] == c["without_parent"] == 22  # WHO ICD-10 2019: chapters I-XXII
    assert c["IS_A"] == c["codes"] - 22


def test_phecode_counts():
    c = _counts("phecode")
    # phewascatalog.org: PhecodeX has 3,612 phecodes; v1.2 has 1,851, of which the map file
    # lists the 1,817 that some ICD code maps to (the others have no row to read)
    assert c["PHECODEX"]["codes"] == 3612
    assert c["PHECODE"]["codes"] == 1817 <= 1851
    # every PhecodeX code with a decimal hangs under its integer code; in 1.2 only 305.2 has
    # no parent in the file (305 is not in it)
    assert c["PHECODEX"]["max_depth"] == 3 and c["PHECODE"]["max_depth"] == 2


@pytest.mark.parametrize("source", ["icd10cm", "icd9cm"])
def test_max_depth_and_roots_follow_the_edges(source):
    """release_counts on a hand-made chain agrees with the definitions."""
    from mash_kg.tables import OntologyTables

    t = get_loader(source)()
    small = OntologyTables(t.source, t.vocabularies, t.nodes.iloc[:4], t.edges.iloc[:0])
    ids = small.nodes["id"].tolist()
    v = small.vocabs[0]
    target = {(ids[1], ids[0], "IS_A", v): {}, (ids[2], ids[1], "IS_A", v): {}}
    (row,) = release_counts(small, target)
    assert row == {
        "vocabulary": v,
        "codes": 4,
        "IS_A": 2,
        "MAPS_TO": 0,
        "roots": 1,
        "max_depth": 2,
        "without_parent": 2,
    }
