"""`mash-kg query` against the real Neo4j: the list, parameters checked against the view header."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mash_kg.cli import cli
from tests.cli import run
from tests.conftest import FIXTURES

pytestmark = pytest.mark.neo4j


def test_query_list_shows_headers(cli_env):
    out = run("query", "--list").output
    assert "ancestors" in out and "-p code=" in out


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
