"""`mash-kg neo4j` as a user meets it: what `start` says about NEO4J_URI, and the password of a
local server found whenever NEO4J_URI names it (issue 24), against the real test server."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from mash_kg.cli import cli
from mash_kg.cli.server import uri_note
from mash_kg.config import Neo4jSettings


def test_start_says_whether_the_other_commands_reach_this_server(tmp_path):
    local = Neo4jSettings(uri="bolt://localhost:7720", home=tmp_path, bolt_port=7720)
    note = uri_note(local)
    assert note.startswith("NEO4J_URI names this server (bolt://127.0.0.1:7720)")
    assert f"with the password in {tmp_path / 'password'} unless NEO4J_PASSWORD is set" in note
    other = Neo4jSettings(uri="bolt://127.0.0.1:7721", home=tmp_path, bolt_port=7720)
    note = uri_note(other)
    assert "NEO4J_URI names bolt://127.0.0.1:7721, which the other commands use" in note
    assert f"they do not read {tmp_path / 'password'}" in note
    assert "set it to bolt://127.0.0.1:7720" in note


@pytest.mark.neo4j
def test_commands_find_the_local_password_when_neo4j_uri_names_the_server(
    neo4j_settings, graph, tmp_path, monkeypatch
):
    if not neo4j_settings.names_local_server:
        pytest.skip("the test graph is an external server (MASH_KG_TEST_NEO4J_URI)")
    # the test server's password in a HOME's password file, as `neo4j start` leaves it
    home = tmp_path / "home"
    home.mkdir()
    (home / "password").write_text(neo4j_settings.password + "\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NEO4J_PASSWORD", raising=False)
    env = {
        "NEO4J_URI": f"bolt://localhost:{neo4j_settings.bolt_port}",
        "MASH_KG_NEO4J_HOME": str(home),
        "MASH_KG_BOLT_PORT": str(neo4j_settings.bolt_port),
        "NEO4J_PASSWORD": None,
    }
    res = CliRunner(env=env).invoke(
        cli, ["query", "ancestors", "-p", "code=ICD10CM:E11.9", "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    assert res.output.strip() == "[]"  # an empty graph: answered, not refused
