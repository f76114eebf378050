"""Every failure of a command is one line and a non-zero exit (cli/errors.py)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from mash_kg.cli import cli
from tests.conftest import FIXTURES

pytestmark = pytest.mark.neo4j


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
