"""Test session fixtures. Tests marked `neo4j` talk to a real Neo4j 5 server: the one named by
MASH_KG_TEST_NEO4J_URI (with NEO4J_USER / NEO4J_PASSWORD) when set, else a local server this
session starts with `mash_kg.neo4j_server` in a temporary folder and stops at the end. The
graph is wiped between tests, so never point MASH_KG_TEST_NEO4J_URI at a graph you need."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from mash_kg.config import Neo4jSettings

FIXTURES = Path(__file__).parent / "fixtures"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def neo4j_settings(tmp_path_factory) -> Neo4jSettings:
    uri = os.environ.get("MASH_KG_TEST_NEO4J_URI")
    if uri:
        settings = Neo4jSettings(
            uri=uri,
            user=os.environ.get("NEO4J_USER", "neo4j"),
            password=os.environ.get("NEO4J_PASSWORD", "mash-kg-local"),
        )
        yield settings
        return
    from mash_kg.neo4j_server import server

    settings = Neo4jSettings(
        home=tmp_path_factory.mktemp("neo4j-home"),
        bolt_port=_free_port(),
        http_port=_free_port(),
        heap="2g",
        pagecache="256m",
        password="mash-kg-test",
    )
    server.start(settings)
    yield settings
    server.stop(settings)


@pytest.fixture(scope="session")
def driver(neo4j_settings):
    from mash_kg.graph import connect

    drv = connect(neo4j_settings)
    yield drv
    drv.close()


def wipe(driver) -> None:
    with driver.session() as session:  # CALL IN TRANSACTIONS needs an auto-commit query
        session.run(
            "MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 20000 ROWS"
        ).consume()


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
