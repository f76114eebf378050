"""Driver construction and the idempotent schema."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from importlib import resources

from neo4j import Driver, GraphDatabase
from neo4j.exceptions import AuthError, Neo4jError, ServiceUnavailable, SessionExpired

from mash_kg.config import Neo4jSettings
from mash_kg.errors import Neo4jUnavailable


def schema_statements() -> list[str]:
    """The statements of cypher/schema.cypher, comments stripped."""
    text = resources.files("mash_kg.cypher").joinpath("schema.cypher").read_text("utf-8")
    text = re.sub(r"//[^\n]*", "", text)
    return [s.strip() for s in text.split(";") if s.strip()]


def apply_schema(driver: Driver, database: str = "neo4j") -> None:
    """Create the constraints and indexes that are missing (all statements are IF NOT EXISTS)."""
    for statement in schema_statements():
        driver.execute_query(statement, database_=database)
    driver.execute_query("CALL db.awaitIndexes(300)", database_=database)


def connect(settings: Neo4jSettings, schema: bool = True) -> Driver:
    """A verified driver for the configured graph; the schema is applied unless told not to."""
    driver = GraphDatabase.driver(
        settings.bolt_uri, auth=(settings.user, settings.password), notifications_min_severity="OFF"
    )
    try:
        driver.verify_connectivity()
    except AuthError:
        driver.close()
        raise Neo4jUnavailable(
            f"Neo4j at {settings.bolt_uri} rejected user {settings.user!r}: "
            "check NEO4J_USER / NEO4J_PASSWORD"
        ) from None
    except (ServiceUnavailable, OSError, ValueError) as exc:
        driver.close()
        raise Neo4jUnavailable(
            f"no Neo4j answers at {settings.bolt_uri} ({exc}); start one with "
            "`mash-kg neo4j start` or set NEO4J_URI"
        ) from None
    if schema:
        try:
            apply_schema(driver, settings.database)
        except BaseException:
            driver.close()
            raise
    return driver


@contextlib.contextmanager
def open_driver(settings: Neo4jSettings, schema: bool = True) -> Iterator[Driver]:
    """`with open_driver(settings) as driver:` a verified driver (schema applied unless told
    not to), closed when the block ends, whatever happens in it."""
    driver = connect(settings, schema=schema)
    try:
        yield driver
    finally:
        driver.close()


def _first_line(text: object) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    return lines[0] if lines else ""


def neo4j_error_line(exc: BaseException) -> str | None:
    """The one line a user sees for an error of the driver or the server; None for others."""
    if isinstance(exc, (ServiceUnavailable, SessionExpired)):
        return (
            f"lost the connection to Neo4j ({_first_line(exc)}): a change in progress was "
            "rolled back unless it was being committed; run the same command again once "
            "Neo4j answers (it converges either way)"
        )
    if isinstance(exc, Neo4jError):
        if "MemoryPoolOutOfMemoryError" in (exc.code or ""):
            return (
                "the release does not fit in one transaction on this Neo4j (loads are "
                "all-or-nothing): raise server.memory.heap.max_size or "
                "dbms.memory.transaction.total.max (the local server uses 2g); nothing was "
                "committed"
            )
        # Neo4j's messages carry the query and a caret line below the first line
        return f"Neo4j refused: {_first_line(exc.message)} ({exc.code}); nothing was committed"
    return None
