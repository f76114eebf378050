"""The graph reader (`mash_kg.graph.reader`) against the real Neo4j: the curated context carries
Excludes1 notes for Stage II's hard negatives; crosswalks the graph holds (MAPS_TO) become Stage I
anchors, PheCode groupings do not."""

from __future__ import annotations

import pandas as pd
import pytest

from mash_kg.build import site_crosswalks
from mash_kg.graph.reader import read_context, read_crosswalks
from mash_kg.graph.writer import write_tables
from mash_kg.hierarchy.stage2 import excludes_pairs
from mash_kg.sites import SiteData
from mash_kg.stage1 import anchor_pairs
from mash_kg.tables import OntologyTables, make_edges, make_nodes

pytestmark = pytest.mark.neo4j


def test_the_context_carries_excludes1_notes_for_hard_negatives(icd10cm_graph, driver):
    nodes, _ = read_context(driver, ["ICD10CM:A04.6"])
    notes = nodes.set_index("id")["excludes1"]
    assert any("(A28.2)" in n for n in notes["ICD10CM:A04.6"])
    pairs = excludes_pairs(nodes)
    assert ("ICD10CM:A04.6", "ICD10CM:A28.2") not in set(zip(pairs["a"], pairs["b"], strict=True))
    # A28.2 is not in A04.6's context; with it, the note becomes a pair
    both, _ = read_context(driver, ["ICD10CM:A04.6", "ICD10CM:A28.2"])
    pairs = excludes_pairs(both)
    assert ("ICD10CM:A04.6", "ICD10CM:A28.2") in set(zip(pairs["a"], pairs["b"], strict=True))


NODES = [
    ("ICD9CM:250.00", "ICD9CM", "250.00", "Diabetes mellitus without complication, type II"),
    ("ICD10CM:E11.9", "ICD10CM", "E11.9", "Type 2 diabetes mellitus without complications"),
    ("ICD10CM:E11.8", "ICD10CM", "E11.8", "Type 2 diabetes mellitus with complications"),
    ("PHECODE:250.2", "PHECODE", "250.2", "Type 2 diabetes"),
]


def _tables() -> OntologyTables:
    nodes = [
        {"id": i, "vocab": v, "code": c, "name": n, "domain": "diagnosis"} for i, v, c, n in NODES
    ]
    edges = [
        {
            "start": "ICD9CM:250.00",
            "end": "ICD10CM:E11.9",
            "type": "MAPS_TO",
            "source": "gem_icd9_icd10cm",
        },
        *[
            {
                "start": f"ICD10CM:{c}",
                "end": "PHECODE:250.2",
                "type": "MAPS_TO",
                "source": "phecode12",
            }
            for c in ("E11.9", "E11.8")
        ],
    ]
    return OntologyTables(
        source="crosswalk-test",
        vocabularies=pd.DataFrame(
            [{"id": v, "version": "1", "source": "t"} for v in ("ICD9CM", "ICD10CM", "PHECODE")]
        ),
        nodes=make_nodes(nodes),
        edges=make_edges(edges),
        edge_groups=[("MAPS_TO", "source", "gem_icd9_icd10cm"), ("MAPS_TO", "source", "phecode12")],
    )


def _site(site: str, ids: list[str]) -> SiteData:
    rows = [
        {
            "id": i,
            "site": site,
            "vocab": i.split(":")[0],
            "code": i.split(":")[1],
            "name": i,
            "domain": "diagnosis",
            "frequency": 1.0,
        }
        for i in ids
    ]
    return SiteData(site, pd.DataFrame(rows))


def test_maps_to_crosswalks_anchor_two_sites_in_different_vocabularies(graph, neo4j_settings):
    write_tables(graph, _tables())
    rows = read_crosswalks(graph, ["ICD9CM:250.00", "ICD10CM:E11.9"])
    got = set(map(tuple, rows[["id", "other_id", "source"]].values.tolist()))
    # either direction; the PheCode grouping of E11.9 is no equivalence and is left out
    assert got == {
        ("ICD9CM:250.00", "ICD10CM:E11.9", "gem_icd9_icd10cm"),
        ("ICD10CM:E11.9", "ICD9CM:250.00", "gem_icd9_icd10cm"),
    }
    old = _site("OLD", ["ICD9CM:250.00"])  # a site still coding in ICD-9-CM
    new = _site("NEW", ["ICD10CM:E11.8", "ICD10CM:E11.9"])
    crosswalk = site_crosswalks([old, new], neo4j_settings)
    assert anchor_pairs(old.codes, new.codes, crosswalk=crosswalk).tolist() == [[0, 1]]
    # without the graph there is nothing to anchor them
    assert anchor_pairs(old.codes, new.codes, crosswalk=site_crosswalks([old, new], None)).size == 0
