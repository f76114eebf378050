"""`mash-kg sync` of a Stages I-III build (`mash_kg.graph.sync`): the learned hierarchy (MASH_IS_A
edges, :Latent groups) written once, curated edges untouched, views over it answer. The sync
engine's own tests: tests/graph/test_sync.py."""

from __future__ import annotations

import pandas as pd
import pytest

from mash_kg.graph.sync import sync_build
from mash_kg.graph.views import run_view
from tests.conftest import count, snapshot


@pytest.mark.neo4j
def test_sync_writes_the_learned_hierarchy_once(hier_build, icd10cm_only_graph, driver):
    _, folder = hier_build
    report = sync_build(driver, folder)
    hier = pd.read_parquet(folder / "hierarchy.parquet")
    latent = pd.read_parquet(folder / "latent.parquet")
    assert report.count("MASH_IS_A", "added") == len(hier) and report.count(
        ":Latent", "added"
    ) == len(latent)
    assert count(driver, "MATCH ()-[r:MASH_IS_A]->() RETURN count(r)") == len(hier)
    assert count(
        driver,
        "MATCH (n:Latent) WHERE n.name IS NOT NULL AND size(n.poincare) = 32 RETURN count(n)",
    ) == len(latent)
    before = snapshot(driver)
    again = sync_build(driver, folder)
    assert again.changes == 0 and snapshot(driver) == before
    # curated and learned stay apart: IS_A edges are exactly the release's
    assert count(driver, "MATCH ()-[r:IS_A]->() RETURN count(r)") == 98483
    # views over the learned hierarchy answer: a SNOMED condition's learned ancestors
    child = hier.loc[
        hier["child"].str.startswith("SNOMED:") & (hier["parent_label"] == "Code"), "child"
    ].iloc[0]
    learned = run_view(driver, "ancestors", {"code": child, "which": "learned"})
    both = run_view(driver, "ancestors", {"code": child, "which": "both"})
    parents = set(hier.loc[hier["child"] == child, "parent"])
    assert {r["id"] for r in learned} == parents  # learned edges only: its parents
    assert {r["id"] for r in both} > parents  # and through them the curated ICD-10-CM tree
    assert any(r["id"].startswith("ICD10CM:") and r["kind"] == "chapter" for r in both)
    queue = run_view(driver, "review_queue", {"threshold": 1.0, "limit": 5})
    assert 0 < len(queue) <= 5
