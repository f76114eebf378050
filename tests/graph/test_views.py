"""The Cypher views (`mash_kg.graph.views`, cypher/views/*.cypher) over the synced example build:
every file runs as is in the real cypher-shell and answers what `run_view` answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from mash_kg.graph.views import run_view


@pytest.mark.neo4j
def test_every_view_runs_as_is_in_cypher_shell(hier_synced, driver, neo4j_settings, tmp_path):
    """Each view file, after its header's :param lines, through the real cypher-shell; the
    rows match what `run_view` returns for the same parameters."""
    import os
    import subprocess

    from mash_kg.graph.views import list_views
    from mash_kg.neo4j_server.server import ensure_cypher_shell

    shell = ensure_cypher_shell()
    shown: dict[str, tuple[int, int]] = {}  # view: (rows of run_view, lines cypher-shell printed)
    for view in list_views().values():
        params = [p.strip() for p in view.example.split(";") if p.strip()]
        script = tmp_path / f"{view.name}.cypher"
        text = Path(__file__).parents[2] / "cypher" / "views" / f"{view.name}.cypher"
        script.write_text("\n".join(params) + "\n" + text.read_text())
        res = subprocess.run(
            [
                *shell,
                "-a",
                neo4j_settings.bolt_uri,
                "-u",
                neo4j_settings.user,
                "--format",
                "plain",
                "-f",
                str(script),
            ],
            env={**os.environ, "NEO4J_PASSWORD": neo4j_settings.password},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert res.returncode == 0, f"{view.name}: {res.stderr}"
        values = {}
        for p in params:  # ':param code => 'X'' -> evaluate the literal in Cypher
            name, _, literal = p.removeprefix(":param").partition("=>")
            values[name.strip()] = driver.execute_query(f"RETURN {literal} AS v").records[0]["v"]
        rows = run_view(driver, view.name, values)
        lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
        shown[view.name] = (len(rows), len(lines))
    # a header line and a line per row; a view with no row here prints at most its header
    answered = {name: n for name, n in shown.items() if n[0]}
    assert len(answered) >= 5 and all(lines == rows + 1 for rows, lines in answered.values()), shown
    assert all(lines <= 1 for rows, lines in shown.values() if not rows), shown
