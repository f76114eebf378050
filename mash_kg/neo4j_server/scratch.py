"""Throwaway local Neo4j servers for the test suite and the benchmarks, which wipe them.

Never point these helpers at a graph you need: `wipe` deletes every node.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

from neo4j import Driver

from mash_kg.config import Neo4jSettings
from mash_kg.neo4j_server import server


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def scratch_server(
    home: Path,
    *,
    heap: str = "2g",
    pagecache: str = "512m",
    http: bool = True,
    password: str | None = None,
) -> Iterator[Neo4jSettings]:
    """Start the bundled Neo4j in `home` on free ports with `password` (default: a fresh random
    one, so no other local user can guess it); stop it when the block ends."""
    settings = Neo4jSettings(
        home=Path(home),
        bolt_port=free_port(),
        http_port=free_port() if http else 0,
        heap=heap,
        pagecache=pagecache,
        password=password or secrets.token_urlsafe(18),
    )
    server.start(settings)
    try:
        yield settings
    finally:
        server.stop(settings)


def wipe(driver: Driver) -> None:
    """Delete every node and relationship (in batches; schema stays)."""
    with driver.session() as session:  # CALL IN TRANSACTIONS needs an auto-commit query
        session.run(
            "MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 20000 ROWS"
        ).consume()
