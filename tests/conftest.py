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


# -- the two-site example built with Stages I-III over ICD-10-CM, once per session -------------
# Used by tests/test_build.py, tests/test_evaluate.py and tests/graph/test_{reader,
# sync_hierarchy,phenotypes,views}.py. Other tests wipe the graph in between: the fixtures
# below reload ICD-10-CM only when the graph no longer holds the load they made.
EXAMPLE = Path(__file__).parent.parent / "examples" / "two_sites"
_ICD10CM_LOAD: dict[str, tuple] = {}  # the load's mark, taken right after it


def _icd10cm_mark(driver) -> tuple:
    """The ICD-10-CM vocabulary's load time and the graph's node and edge counts."""
    records, _, _ = driver.execute_query(
        "OPTIONAL MATCH (v:Vocabulary {id: 'ICD10CM'}) RETURN v.loaded_at AS at"
    )
    return (
        records[0]["at"],
        count(driver, "MATCH (n) RETURN count(n)"),
        count(driver, "MATCH ()-[r]->() RETURN count(r)"),
    )


def _load_icd10cm(driver, only: bool) -> None:
    """Make the graph hold the bundled ICD-10-CM release (`only`: and nothing else), reloading
    it only when another test wiped or changed the graph since this session's load."""
    from mash_kg.graph.writer import write_tables
    from mash_kg.loaders import get_loader

    held, now = _ICD10CM_LOAD.get("mark"), _icd10cm_mark(driver)
    if held is not None and (now == held if only else now[0] == held[0]):
        return
    wipe(driver)
    write_tables(driver, get_loader("icd10cm")())
    _ICD10CM_LOAD["mark"] = _icd10cm_mark(driver)


@pytest.fixture(scope="session")
def hier_build(driver, neo4j_settings, tmp_path_factory) -> tuple[Path, Path]:
    """(config, build folder): `mash-kg build` of the example with Stages I-III over ICD-10-CM
    (Sinkhorn alignment, the hierarchy encoder on for 20 steps). Tests that read the graph ask
    for `icd10cm_graph` or `hier_synced` as well."""
    import shutil

    from click.testing import CliRunner

    from mash_kg.cli import cli
    from tests.edits import replace_once

    _load_icd10cm(driver, only=True)
    project = tmp_path_factory.mktemp("hier") / "two_sites"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("builds"))
    cfg = project / "mash-kg.toml"
    replace_once(cfg, ('align_method = "fused"', 'align_method = "sinkhorn"'))
    s = neo4j_settings
    with cfg.open("a") as fh:  # new tables: a second [encoder] or [neo4j] would not parse
        fh.write("\n[encoder]\nenabled = true\nsteps = 20\n")
        fh.write(f'\n[neo4j]\nuri = "{s.bolt_uri}"\nuser = "{s.user}"\npassword = "{s.password}"\n')
    res = CliRunner().invoke(cli, ["--config", str(cfg), "build"])
    assert res.exit_code == 0, res.output
    assert "Stage III" in res.output
    (folder,) = (project / "builds").iterdir()
    return cfg, folder


@pytest.fixture
def icd10cm_graph(driver):
    """A driver on a graph holding the bundled ICD-10-CM release (and maybe a synced build)."""
    _load_icd10cm(driver, only=False)
    return driver


@pytest.fixture
def icd10cm_only_graph(driver):
    """A driver on a graph holding the bundled ICD-10-CM release and nothing else."""
    _load_icd10cm(driver, only=True)
    return driver


@pytest.fixture
def hier_synced(hier_build, driver) -> tuple[Path, Path]:
    """`hier_build` synced onto ICD-10-CM (what earlier tests of this state added, such as
    phenotypes, may stay)."""
    from mash_kg.graph.sync import sync_build

    _load_icd10cm(driver, only=False)
    sync_build(driver, hier_build[1])  # a no-op when already synced
    return hier_build
