"""`mash-kg review export|import|serve` through the CLI: a round trip, and every malformed row
one line naming the file and row, with nothing written."""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner

from mash_kg.cli import cli
from mash_kg.graph.decisions import Decision, record, record_move
from tests.conftest import count

pytestmark = pytest.mark.neo4j


ALL = "MATCH (d:Decision) RETURN properties(d) AS p ORDER BY d.key"


def _flat(text: str) -> str:
    """The output as one line (the console wraps long lines at its width)."""
    return " ".join(text.split())


def _n(driver) -> int:
    return count(driver, "MATCH (d:Decision) RETURN count(d)")


def test_export_then_import_restores_every_decision(cli_env, review_graph, tmp_path):
    record(review_graph, Decision("ALIGNED_WITH", "B/LAB:9", "A/LAB:1", "reject", "bo", "B2", "no"))
    record_move(review_graph, "A/LAB:2", "T:CHEM", "T:HEM", "ana", "B2", "blood")
    before = review_graph.execute_query(ALL)
    out = tmp_path / "decisions.csv"
    res = CliRunner().invoke(cli, ["review", "export", str(out)])
    assert res.exit_code == 0 and "3 decisions" in _flat(res.output)
    rows = list(csv.DictReader(out.open()))
    assert rows[0]["sourceCode"] == "B/LAB:9" and rows[0]["mappingStatus"] == "REJECTED"
    assert {r["mappingStatus"] for r in rows} == {"REJECTED", "APPROVED"}
    assert rows[0]["targetName"] == "glucose serum" and rows[0]["sourceSite"] == "B"
    review_graph.execute_query("MATCH (d:Decision) DELETE d")
    res = CliRunner().invoke(cli, ["review", "import", str(out)])
    assert res.exit_code == 0 and "imported 3 decisions" in _flat(res.output)
    after = review_graph.execute_query(ALL)
    assert [r["p"] for r in after.records] == [r["p"] for r in before.records]


HEADER = "sourceCode,targetCode,relation,mappingStatus,statusSetBy,statusSetOn,matchScore\n"
GOOD = "A/LAB:1,T:GLU,MASH_IS_A,APPROVED,ana,2026-12-01T10:00:00Z,0.4\n"
BAD = {
    "mappingStatus 'MAYBE' is not APPROVED": "A/LAB:2,T:CHEM,MASH_IS_A,MAYBE,ana,,\n",
    "relation 'IS_A' is not one of": "A/LAB:2,T:CHEM,IS_A,APPROVED,ana,,\n",
    "empty targetCode": "A/LAB:2,,MASH_IS_A,APPROVED,ana,,\n",
    "statusSetOn 'yesterday' is not a date": "A/LAB:2,T:CHEM,MASH_IS_A,APPROVED,ana,yesterday,\n",
    "matchScore 'high' is not a number": "A/LAB:2,T:CHEM,MASH_IS_A,APPROVED,ana,,high\n",
    "the same edge as row 2": GOOD,
    "the graph has no code or group T:NOPE": "A/LAB:2,T:NOPE,MASH_IS_A,REJECTED,ana,,\n",
    "more fields than the header has": "A/LAB:2,T:CHEM,MASH_IS_A,APPROVED,ana,,,extra\n",
}


@pytest.mark.parametrize("problem", list(BAD))
def test_a_malformed_row_is_one_line_and_nothing_is_written(
    cli_env, review_graph, tmp_path, problem
):
    path = tmp_path / "in.csv"
    path.write_text(HEADER + GOOD + BAD[problem])
    res = CliRunner().invoke(cli, ["review", "import", str(path)])
    assert res.exit_code == 1
    assert f"{path}, row 3: {problem}" in _flat(res.stderr), res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert _n(review_graph) == 0


def test_a_file_without_the_needed_columns(cli_env, review_graph, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("source,target\nA/LAB:1,T:GLU\n")
    res = CliRunner().invoke(cli, ["review", "import", str(path)])
    assert res.exit_code == 1
    assert "row 1: missing column(s) sourceCode, targetCode" in _flat(res.stderr)
    assert _n(review_graph) == 0


def test_serve_refuses_a_remote_bind_without_the_flag(cli_env):
    res = CliRunner().invoke(cli, ["review", "serve", "--host", "0.0.0.0"])
    assert res.exit_code == 1 and "pass --allow-remote" in _flat(res.stderr)


def test_serve_prints_its_url_and_serves_the_queue(cli_env, review_graph):
    import os
    import re
    import subprocess
    import sys
    import urllib.request

    proc = subprocess.Popen(
        [sys.executable, "-m", "mash_kg", "review", "serve", "--port", "0", "--reviewer", "ana"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        first = proc.stdout.readline()
        url = re.search(r"reviewing as ana at (http://127\.0\.0\.1:\d+/) ", first).group(1)
        page = urllib.request.urlopen(url, timeout=60).read().decode()
        assert 'remaining <b id="n-open">4</b>' in page
    finally:
        proc.terminate()
        proc.wait(timeout=60)
