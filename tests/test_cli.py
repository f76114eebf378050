"""The CLI end to end against the real Neo4j: load, views, errors, the demo."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mash_kg.cli import cli

from .conftest import FIXTURES, count

pytestmark = pytest.mark.neo4j


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


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

    # PheCode maps land on the loaded ICD-10-CM codes
    assert run("load", "phecode").exit_code == 0
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


def test_unknown_source_and_view_and_missing_param(cli_env, graph):
    bad = CliRunner().invoke(cli, ["load", "snomed"])
    assert bad.exit_code == 1 and "unknown source 'snomed'" in bad.output
    bad = CliRunner().invoke(cli, ["query", "nope"])
    assert bad.exit_code == 1 and "no view named 'nope'" in bad.output
    bad = CliRunner().invoke(cli, ["query", "ancestors"])
    assert bad.exit_code == 1 and "needs -p code=VALUE" in bad.output


def test_unreachable_neo4j_is_one_line(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEO4J_URI", "bolt://127.0.0.1:9")
    monkeypatch.setenv("NEO4J_PASSWORD", "any-password-1")
    result = CliRunner().invoke(cli, ["load", "obo", "--file", str(FIXTURES / "mini.obo")])
    assert result.exit_code == 1 and "no Neo4j answers at bolt://127.0.0.1:9" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_query_list_shows_headers(cli_env):
    out = run("query", "--list").output
    assert "ancestors" in out and "-p code=" in out


def test_demo_runs_on_the_configured_graph(cli_env, graph):
    result = run("demo")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Ancestors of ICD10CM:E11.9" in out and "ICD10CM:E08-E13" in out
    assert "PHECODE:250.2" in out and "Type 2 diabetes" in out
    assert "ICD-10-CM codes per chapter" in out
    assert "synced build" in out and "Site A counterparts of site B's LOINC:8480-6" in out
    assert "Codes embedded nearest to LOINC:8480-6" in out
    assert (
        count(graph, "MATCH ()-[r:MAPS_TO {source: 'gem_icd9_icd10cm'}]->() RETURN count(r)")
        > 20000
    )


def test_query_parameters_are_checked_against_the_view_header(cli_env, graph):
    assert (
        run(
            "load",
            "edges",
            "--file",
            str(FIXTURES / "edges_v1.csv"),
            "--vocab",
            "LAB",
            "--domain",
            "lab",
        ).exit_code
        == 0
    )

    def ids(*params: str) -> list[str]:
        res = run("query", "ancestors", *params, "--format", "json")
        assert res.exit_code == 0, res.output
        return [r["id"] for r in json.loads(res.stdout)]

    assert ids("-p", "code=LAB:LAB1") == ["LAB:PANEL", "LAB:ROOT"]
    # allowed values are matched whatever their case: CURATED is curated, not "no rows"
    assert ids("-p", "code=LAB:LAB1", "-p", "which=CURATED") == ["LAB:PANEL", "LAB:ROOT"]
    graph.execute_query(
        "CREATE (:Code {id: '123', name: 'numeric id'})-[:IS_A]->(:Code {id: '12', name: 'parent'})"
    )
    assert ids("-p", "code=123") == ["12"]  # a string parameter stays a string
    bad = {
        ("-p", "code=LAB:LAB1", "-p", "wich=both"): "did you mean which",
        ("-p", "code=LAB:LAB1", "-p", "which=all"): "not one of curated, learned, both",
        ("-p", "code=LAB:LAB1", "-p", "extra=1"): "has no parameter 'extra'",
        (
            "-p",
            "which=both",
        ): "needs -p code=VALUE",
        ("-p", "code"): "expected name=value",
        ("-p", "code=a", "-p", "code=b"): "given twice",
    }
    for params, message in bad.items():
        res = CliRunner().invoke(cli, ["query", "ancestors", *params])
        assert res.exit_code == 1 and message in res.stderr, (params, res.output)
    for view, param, message in [
        ("descendants", "limit=1180591620717411303424", "outside 1..10000"),
        ("descendants", "limit=ten", "not an integer"),
        ("similar", "k=1000000000", "outside 1..1000"),
        ("review_queue", "threshold=nan", "not a number"),
    ]:
        res = CliRunner().invoke(cli, ["query", view, "-p", "code=LAB:LAB1", "-p", param])
        if view == "review_queue":
            res = CliRunner().invoke(cli, ["query", view, "-p", param])
        assert res.exit_code == 1 and message in res.stderr, (view, res.output)
        assert len(res.stderr.strip().splitlines()) == 1


def test_an_unexpected_error_is_one_line_with_a_log(cli_env, graph, monkeypatch):
    import mash_kg.graph.views as views

    def broken(*_a, **_k):
        raise KeyError("boom")

    monkeypatch.setattr(views, "run_view", broken)
    res = CliRunner().invoke(cli, ["query", "ancestors", "-p", "code=x"])
    assert res.exit_code == 1 and "internal error (KeyError" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.output
    log = res.stderr.split("the details are in ")[1].split(";")[0]
    assert "Traceback" in open(log).read()
