"""The loader cases of the fault matrix (bench/fault_cases_loaders.py), in-process against the
real Neo4j: each ends with one ``error:`` line, a non-zero exit and the graph unchanged."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mash_kg.cli import cli
from mash_kg.graph.writer import write_tables
from mash_kg.loaders import get_loader
from tests.conftest import FIXTURES, count, snapshot

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
import fault_cases_loaders  # noqa: E402  (bench/: the fault matrix's loader cases)

pytestmark = pytest.mark.neo4j


def _fails_cleanly(args: list[str], files: dict[str, str]) -> str | None:
    """None when `mash-kg ARGS` fails as a fault case must, else what went wrong."""
    res = CliRunner().invoke(cli, [a.format(**files) for a in args])
    lines = res.stderr.strip().splitlines()
    ok = res.exit_code not in (0, None) and len(lines) == 1 and lines[0].startswith("error:")
    return (
        None if ok and "internal error" not in lines[0] else f"exit {res.exit_code}: {res.output}"
    )


def test_loader_cases_fail_with_one_line_and_change_nothing(graph, cli_env, tmp_path):
    files = fault_cases_loaders.make_loader_files(tmp_path / "cases")
    write_tables(graph, get_loader("edges")(files=[FIXTURES / "edges_v1.csv"], vocab="LAB"))
    before = snapshot(graph)
    failed = []
    for name, args in fault_cases_loaders.CASES:
        problem = _fails_cleanly(args, files)
        if problem or snapshot(graph) != before:
            failed.append(f"{name}: {problem or 'graph changed'}")
    assert not failed, "\n".join(failed)
    assert count(graph, "MATCH ()-[r:IS_A {vocab: 'LAB'}]->() RETURN count(r)") == 4


def test_loader_sequences_refuse_their_last_load(graph, cli_env, tmp_path):
    files = fault_cases_loaders.make_loader_files(tmp_path / "cases")
    for name, setup, last in fault_cases_loaders.SEQUENCES:
        for args in setup:
            res = CliRunner().invoke(cli, [a.format(**files) for a in args])
            assert res.exit_code == 0, (name, args, res.output)
        before = snapshot(graph)
        problem = _fails_cleanly(last, files)
        assert problem is None, (name, problem)
        assert snapshot(graph) == before, name
    # the cycle case: the refusal names the cycle through the three vocabularies
    res = CliRunner().invoke(cli, ["load", "obo", "--file", files["obo_cya_cycle"]])
    assert "IS_A cycle with edges other loads wrote" in res.stderr
    assert all(f"{v}:1" in res.stderr for v in ("CYA", "CYB", "CYC"))
