"""Data that looks like markup reaches the graph and the terminal as itself, and the views stay
within the server's means on a pathologically deep chain (issue 26)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from mash_kg.cli import cli

pytestmark = pytest.mark.neo4j

OBO = """format-version: 1.2

[Term]
id: [/]MK:1
name: root [bold]

[Term]
id: [/]MK:2
name: child
is_a: [/]MK:1
"""


def test_markup_in_an_obo_prefix_commits_and_reports_success(graph, cli_env, tmp_path):
    """Before the fix: exit 1 "internal error (MarkupError)" after the load had committed."""
    obo = tmp_path / "mk.obo"
    obo.write_text(OBO)
    res = CliRunner().invoke(cli, ["load", "obo", "--file", str(obo)])
    assert res.exit_code == 0, res.output
    assert "[/]MK" in res.output
    records, _, _ = graph.execute_query("MATCH (c:Code) RETURN c.id AS id ORDER BY id")
    assert [r["id"] for r in records] == ["[/]MK:1", "[/]MK:2"]
    res = CliRunner().invoke(cli, ["query", "ancestors", "-p", "code=[/]MK:2"])
    assert res.exit_code == 0 and "root [bold]" in res.output, res.output
    out = tmp_path / "out [/] here"
    res = CliRunner().invoke(cli, ["export", str(out)])
    assert res.exit_code == 0 and f"{out}/CONCEPT.csv" in res.output.replace("\n", ""), res.output


def test_markup_in_a_phenotype_id_commits_and_reports_success(graph, cli_env, tmp_path):
    obo = tmp_path / "mk.obo"
    obo.write_text(OBO)
    assert CliRunner().invoke(cli, ["load", "obo", "--file", str(obo)]).exit_code == 0
    pheno = tmp_path / "p.csv"
    pheno.write_text("phenotype,code,include_descendants,exclude\n[/]diab,[/]MK:1,true,false\n")
    res = CliRunner().invoke(cli, ["phenotype", "import", str(pheno)])
    assert res.exit_code == 0, res.output
    assert "([/]diab)" in res.output


def test_path_to_root_on_a_very_deep_chain_answers(graph, cli_env):
    """A 100,000-deep IS_A chain: the unbounded views walked it to the end of the server's
    stack; bounded at 100 levels they answer."""
    graph.execute_query(
        "UNWIND range(0, 100000) AS i CREATE (:Code {id: 'D:' + i, name: 'd' + i, vocab: 'D'})"
    )
    graph.execute_query(
        "MATCH (c:Code {vocab: 'D'}) WITH c, toInteger(substring(c.id, 2)) AS i WHERE i > 0 "
        "MATCH (p:Code {id: 'D:' + (i - 1)}) CREATE (c)-[:IS_A {vocab: 'D'}]->(p)"
    )
    for view in ("path_to_root", "ancestors"):
        res = CliRunner().invoke(cli, ["query", view, "-p", "code=D:100000", "--format", "json"])
        assert res.exit_code == 0, (view, res.output)
    res = CliRunner().invoke(cli, ["query", "ancestors", "-p", "code=D:100000", "--format", "csv"])
    assert len(res.output.strip().splitlines()) == 1 + 100  # header + the nearest 100 levels
