"""`mash-kg export`: OMOP vocabulary-style tables and edge lists of the merged hierarchy."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from mash_kg.cli import cli
from mash_kg.graph.export import ancestors
from mash_kg.graph.writer import write_tables
from mash_kg.loaders import get_loader

pytestmark = pytest.mark.neo4j


def test_ancestors_of_a_dag_with_min_and_max_levels():
    edges = pd.DataFrame({"start": ["c", "c", "b", "a"], "end": ["b", "a", "a", "r"]})
    anc = ancestors(edges).set_index(["ancestor", "descendant"])
    assert tuple(anc.loc[("a", "c")]) == (1, 2)  # c -> a directly and via b
    assert tuple(anc.loc[("r", "c")]) == (2, 3)
    assert tuple(anc.loc[("c", "c")]) == (0, 0)
    assert len(anc) == 4 + 3 + 2 + 1  # each node with itself and its ancestors


def test_export_writes_omop_tables_with_learned_edges_told_apart(graph, cli_env, tmp_path):
    tree = tmp_path / "tree.csv"
    tree.write_text("child,parent,child_name,parent_name\nB,A,Bee,Ay\nC,B,Cee,Bee\n")
    write_tables(graph, get_loader("edges")(files=[tree], vocab="LOCALTREE"))
    graph.execute_query(  # a learned edge, as Stage III will sync them
        "MATCH (c:Code {id: 'LOCALTREE:C'}), (a:Code {id: 'LOCALTREE:A'}) "
        "CREATE (c)-[:MASH_IS_A {score: 0.9, build: 'b1'}]->(a)"
    )
    res = CliRunner().invoke(cli, ["export", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    out = tmp_path / "out"
    concept = pd.read_csv(out / "CONCEPT.csv", sep="\t", dtype=str)
    assert list(concept["concept_code"]) == ["A", "B", "C"]
    assert (concept["concept_id"].astype(int) > 2_000_000_000).all()
    rel = pd.read_csv(out / "CONCEPT_RELATIONSHIP.csv", sep="\t")
    assert sorted(rel["relationship_id"]) == sorted(
        ["Is a", "Subsumes", "Is a", "Subsumes", "MASH is a", "MASH subsumes"]
    )
    anc = pd.read_csv(out / "CONCEPT_ANCESTOR.csv", sep="\t")
    ids = dict(zip(concept["concept_code"], concept["concept_id"].astype(int), strict=True))
    row = anc[(anc["ancestor_concept_id"] == ids["A"]) & (anc["descendant_concept_id"] == ids["C"])]
    assert row[["min_levels_of_separation", "max_levels_of_separation"]].values.tolist() == [[1, 2]]
    edges = pd.read_csv(out / "edges.csv")
    assert set(edges["type"]) == {"IS_A", "MASH_IS_A"} and len(edges) == 3
