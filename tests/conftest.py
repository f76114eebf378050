"""Test session fixtures. Tests marked `neo4j` talk to a real Neo4j 5 server: the one named by
MASH_KG_TEST_NEO4J_URI (with NEO4J_USER / NEO4J_PASSWORD) when set, else a local server this
session starts with `mash_kg.neo4j_server` in a temporary folder and stops at the end. The
graph is wiped between tests, so never point MASH_KG_TEST_NEO4J_URI at a graph you need."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mash_kg.config import Neo4jSettings
from mash_kg.neo4j_server.scratch import scratch_server, wipe

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def neo4j_settings(tmp_path_factory) -> Neo4jSettings:
    uri = os.environ.get("MASH_KG_TEST_NEO4J_URI")
    if uri:
        settings = Neo4jSettings(
            uri=uri,
            user=os.environ.get("NEO4J_USER", "neo4j"),
            password=os.environ.get("NEO4J_PASSWORD"),  # None: one clear error on first use
        )
        yield settings
        return
    home = tmp_path_factory.mktemp("neo4j-home")
    with scratch_server(home, pagecache="256m", password="mash-kg-test") as settings:
        yield settings


@pytest.fixture(scope="session")
def driver(neo4j_settings):
    from mash_kg.graph import connect

    drv = connect(neo4j_settings)
    yield drv
    drv.close()


@pytest.fixture
def graph(driver):
    """A driver on an empty graph (schema applied)."""
    wipe(driver)
    return driver


@pytest.fixture
def cli_env(neo4j_settings, monkeypatch, tmp_path):
    """Environment that points the CLI at the test server."""
    monkeypatch.setenv("NEO4J_URI", neo4j_settings.bolt_uri)
    monkeypatch.setenv("NEO4J_USER", neo4j_settings.user)
    monkeypatch.setenv("NEO4J_PASSWORD", neo4j_settings.password)
    monkeypatch.chdir(tmp_path)
    return neo4j_settings


def count(driver, query: str, **params) -> int:
    records, _, _ = driver.execute_query(query, params)
    return records[0][0]


def snapshot(driver, ignore: tuple[str, ...] = ("loaded_at", "synced_at")) -> tuple:
    """Every node and relationship with its properties, in a stable order (timestamps left out),
    for comparing whole graphs."""
    import json

    nodes, _, _ = driver.execute_query("MATCH (n) RETURN labels(n) AS l, properties(n) AS p")
    rels, _, _ = driver.execute_query(
        "MATCH (a)-[r]->(b) RETURN type(r) AS t, a.id AS s, b.id AS e, properties(r) AS p"
    )
    clean = lambda p: json.dumps({k: v for k, v in p.items() if k not in ignore}, sort_keys=True)  # noqa: E731
    return (
        sorted((tuple(sorted(r["l"])), clean(r["p"])) for r in nodes),
        sorted((r["t"], r["s"], r["e"], clean(r["p"])) for r in rels),
    )
