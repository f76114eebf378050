"""Tests of the bundled Neo4j server (mash_kg/neo4j_server), one file per module."""

from __future__ import annotations

from pathlib import Path

from mash_kg.config import Neo4jSettings
from mash_kg.neo4j_server.scratch import free_port


def settings_in(home: Path, **kw) -> Neo4jSettings:
    """Settings of a local server in `home` on a free Bolt port, without HTTP."""
    return Neo4jSettings(home=home, bolt_port=free_port(), http_port=0, **kw)


def pid_file(home: Path) -> Path:
    """Where `start` records the server of `home` (its run/ folder made)."""
    (home / "run").mkdir(parents=True, exist_ok=True)
    return home / "run" / "mash-kg-neo4j.pid"
