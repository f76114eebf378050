"""The shared writer against a real Neo4j: idempotent, incremental, all-or-nothing."""

from __future__ import annotations

import pandas as pd
import pytest
from neo4j.exceptions import ConstraintError

from mash_kg.graph.writer import write_tables
from mash_kg.loaders import get_loader
from mash_kg.tables import OntologyTables, make_edges, make_nodes
from tests.conftest import FIXTURES, count, snapshot

pytestmark = pytest.mark.neo4j


def edges_source(name: str):
    return get_loader("edges")(files=[FIXTURES / name], vocab="LOCAL_LAB", domain="lab")


def test_load_twice_is_a_no_op(graph):
    first = write_tables(graph, edges_source("edges_v1.csv"))
    assert (first.count("codes", "added"), first.count("edges", "added")) == (5, 4)
    before = snapshot(graph)
    second = write_tables(graph, edges_source("edges_v1.csv"))
    assert second.changes == 0
    assert snapshot(graph) == before


def test_newer_release_reports_added_changed_retired(graph):
    write_tables(graph, edges_source("edges_v1.csv"))
    dry = write_tables(graph, edges_source("edges_v2.csv"), dry_run=True)
    assert count(graph, "MATCH (n:Code {id: 'LOCAL_LAB:LAB4'}) RETURN count(n)") == 0
    report = write_tables(graph, edges_source("edges_v2.csv"))
    assert dry.changes == report.changes
    # LAB4 new; LAB1 renamed; LAB3 gone from the release
    assert (
        report.count("codes", "added"),
        report.count("codes", "changed"),
        report.count("codes", "retired"),
    ) == (1, 1, 1)
    # LAB4->PANEL, LAB2->ROOT new; LAB3->PANEL retired
    assert (
        report.count("edges", "added"),
        report.count("edges", "changed"),
        report.count("edges", "retired"),
    ) == (2, 0, 1)
    lab3 = graph.execute_query("MATCH (n:Code {id: 'LOCAL_LAB:LAB3'}) RETURN n")[0][0]["n"]
    assert lab3["status"] == "retired" and lab3["retired_in"] == "edges_v2.csv"
    assert count(graph, "MATCH (:Code {id: 'LOCAL_LAB:LAB3'})-[r]-() RETURN count(r)") == 0
    name = graph.execute_query("MATCH (n:Code {id: 'LOCAL_LAB:LAB1'}) RETURN n.name AS x")[0][0]
    assert name["x"] == "Glucose serum (local)"
    # the old release again: LAB3 comes back to life, LAB4 retires
    back = write_tables(graph, edges_source("edges_v1.csv"))
    assert (
        back.count("codes", "added"),
        back.count("codes", "changed"),
        back.count("codes", "retired"),
    ) == (0, 2, 1)
    assert count(graph, "MATCH (n:Code {status: 'active'}) RETURN count(n)") == 5


def test_other_sources_edges_and_properties_are_left_alone(graph):
    write_tables(graph, edges_source("edges_v1.csv"))
    graph.execute_query("MATCH (n:Code {id: 'LOCAL_LAB:LAB1'}) SET n.embedding = [0.5, 0.25]")
    graph.execute_query(
        "MATCH (a:Code {id: 'LOCAL_LAB:LAB1'}), (b:Code {id: 'LOCAL_LAB:LAB2'}) "
        "CREATE (a)-[:MASH_IS_A {score: 0.9, build: 'b1'}]->(b)"
    )
    report = write_tables(graph, edges_source("edges_v2.csv"))
    assert report.count("codes", "changed") == 1
    assert count(graph, "MATCH ()-[r:MASH_IS_A]->() RETURN count(r)") == 1
    assert count(graph, "MATCH (n:Code {id: 'LOCAL_LAB:LAB1'}) RETURN size(n.embedding)") == 2


def test_failure_mid_write_leaves_graph_as_before(graph):
    write_tables(graph, edges_source("edges_v1.csv"))
    before = snapshot(graph)
    # a second vocabulary whose last node collides with an existing id: the server refuses
    # it after the first rows were already written inside the transaction
    rows = [
        {"id": f"OTHER:{i}", "vocab": "OTHER", "code": str(i), "name": f"n{i}"} for i in range(30)
    ]
    rows.append({"id": "LOCAL_LAB:LAB1", "vocab": "OTHER", "code": "x", "name": "clash"})
    tables = OntologyTables(
        source="other",
        vocabularies=pd.DataFrame([{"id": "OTHER", "version": "1", "source": "t"}]),
        nodes=make_nodes(rows),
        edges=make_edges(
            [{"start": "OTHER:1", "end": "OTHER:0", "type": "IS_A", "vocab": "OTHER"}]
        ),
        edge_groups=[("IS_A", "vocab", "OTHER")],
    )
    with pytest.raises(ConstraintError):
        write_tables(graph, tables, batch_size=7)
    assert snapshot(graph) == before


def test_maps_to_with_missing_end_is_skipped_and_reported(graph):
    write_tables(graph, edges_source("edges_v1.csv"))
    tables = OntologyTables(
        source="map",
        vocabularies=pd.DataFrame([{"id": "LOINC", "version": "1", "source": "t"}]),
        nodes=make_nodes(
            [
                {
                    "id": "LOINC:2345-7",
                    "vocab": "LOINC",
                    "code": "2345-7",
                    "name": "Glucose",
                    "domain": "lab",
                }
            ]
        ),
        edges=make_edges(
            [
                {
                    "start": "LOCAL_LAB:LAB1",
                    "end": "LOINC:2345-7",
                    "type": "MAPS_TO",
                    "source": "k",
                },
                {
                    "start": "LOCAL_LAB:NOPE",
                    "end": "LOINC:2345-7",
                    "type": "MAPS_TO",
                    "source": "k",
                },
            ]
        ),
        edge_groups=[("MAPS_TO", "source", "k")],
    )
    report = write_tables(graph, tables)
    assert report.count("edges", "added") == 1 and report.skipped == 1
    assert "LOCAL_LAB:NOPE" in report.skipped_examples[0]


def test_full_text_index_finds_names_and_synonyms(graph):
    write_tables(graph, get_loader("obo")(files=[FIXTURES / "mini.obo"]))
    graph.execute_query("CALL db.awaitIndexes(60)")
    hits = graph.execute_query(
        "CALL db.index.fulltext.queryNodes('code_text', $q) YIELD node RETURN node.id AS id",
        q="organ",
    )[0]
    assert [h["id"] for h in hits] == ["HP:0000118"]  # only through its synonym


def test_schema_is_idempotent(graph):
    from mash_kg.graph.connection import apply_schema

    apply_schema(graph)
    apply_schema(graph)
    names = {r["name"] for r in graph.execute_query("SHOW CONSTRAINTS YIELD name")[0]}
    # a latent group is unique per version it was written in (builds are versions)
    want = {"code_id", "latent_version", "vocabulary_id", "site_id", "build_id", "phenotype_id"}
    assert want | {"decision_key"} <= names and "latent_id" not in names
    indexes = {r["name"] for r in graph.execute_query("SHOW INDEXES YIELD name")[0]}
    assert {"code_vocab", "code_site", "code_text"} <= indexes
    with pytest.raises(ConstraintError):
        graph.execute_query("CREATE (:Code {id: 'X:1'}), (:Code {id: 'X:1'})")


def test_a_foreign_or_empty_file_never_retires_a_vocabulary(graph, tmp_path, cli_env):
    from click.testing import CliRunner

    from mash_kg.cli import cli

    write_tables(graph, edges_source("edges_v1.csv"))
    before = snapshot(graph)
    foreign = tmp_path / "foreign.csv"
    foreign.write_text("child,parent\nX1,X0\n")
    header_only = tmp_path / "header.csv"
    header_only.write_text("child,parent\n")
    for path in (foreign, header_only):
        res = CliRunner().invoke(
            cli, ["load", "edges", "--file", str(path), "--vocab", "LOCAL_LAB", "--domain", "lab"]
        )
        assert res.exit_code == 1 and res.stderr.startswith("error:"), res.output
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr
        assert snapshot(graph) == before
    assert (
        "--allow-retire"
        in CliRunner()
        .invoke(cli, ["load", "edges", "--file", str(foreign), "--vocab", "LOCAL_LAB"])
        .output
    )
    # a dry run shows what the guard would stop, and writes nothing
    dry = write_tables(graph, get_loader("edges")(files=[foreign], vocab="LOCAL_LAB"), dry_run=True)
    assert dry.dry_run and dry.count("codes", "retired") == 5 and "--allow-retire" in dry.refused
    args = ["load", "edges", "--file", str(foreign), "--vocab", "LOCAL_LAB", "--dry-run"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0 and "would change" in res.output, res.output
    assert "the real run would be refused" in res.output
    assert snapshot(graph) == before
    res = CliRunner().invoke(
        cli, ["load", "edges", "--file", str(foreign), "--vocab", "LOCAL_LAB", "--allow-retire"]
    )
    assert res.exit_code == 0, res.output
    assert (
        count(graph, "MATCH (n:Code {vocab: 'LOCAL_LAB', status: 'retired'}) RETURN count(n)") == 5
    )


def test_a_source_cannot_take_over_another_sources_vocabulary(graph, tmp_path, cli_env):
    from click.testing import CliRunner

    from mash_kg.cli import cli

    write_tables(graph, edges_source("edges_v1.csv"))
    before = snapshot(graph)
    obo = tmp_path / "lab.obo"
    obo.write_text("format-version: 1.2\n\n[Term]\nid: LOCAL_LAB:LAB1\nname: Glucose\n")
    res = CliRunner().invoke(cli, ["load", "obo", "--file", str(obo), "--vocab", "LOCAL_LAB"])
    assert res.exit_code == 1 and "--allow-takeover" in res.output, res.output
    assert snapshot(graph) == before
    res = CliRunner().invoke(
        cli,
        [
            "load",
            "obo",
            "--file",
            str(obo),
            "--vocab",
            "LOCAL_LAB",
            "--allow-takeover",
            "--allow-retire",
        ],
    )
    assert res.exit_code == 0, res.output


def test_a_load_takes_the_write_lock(graph):
    from mash_kg.graph.lock import SyncLocked, acquire

    with acquire(graph, "a sync still running"):
        with pytest.raises(SyncLocked, match="wait for it to finish"):
            write_tables(graph, edges_source("edges_v1.csv"))
    assert count(graph, "MATCH (n:Code) RETURN count(n)") == 0
