"""`mash-kg demo` on the configured (test) graph."""

from __future__ import annotations

import pytest

from tests.cli import run
from tests.conftest import count

pytestmark = pytest.mark.neo4j


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
