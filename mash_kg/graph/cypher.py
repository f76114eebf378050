"""Cypher of the user's own, run read-only: the Python API's `Graph.cypher` (and its
`Graph.phenotypes`).

The statement runs in a read transaction of a read-only session, so Neo4j refuses any write
in it; values go in as parameters, never into the text.
"""

from __future__ import annotations

from collections.abc import Mapping

from neo4j import Driver
from neo4j.exceptions import ClientError

from mash_kg.errors import MashError

__all__ = ["PHENOTYPES", "Driver", "read_rows"]

# the phenotypes the graph holds, with their included and excluded concepts (Graph.phenotypes)
PHENOTYPES = """
MATCH (p:Phenotype) OPTIONAL MATCH (p)-[i:INCLUDES]->()
RETURN p.id AS id, p.name AS name, p.source AS source,
       sum(CASE WHEN i.excluded THEN 0 ELSE 1 END) AS included,
       sum(CASE WHEN i.excluded THEN 1 ELSE 0 END) AS excluded
ORDER BY id
"""


def read_rows(
    driver: Driver, query: str, params: Mapping[str, object] | None = None, database: str = "neo4j"
) -> tuple[list[str], list[dict]]:
    """(column names, rows) of `query` with `params`, in a read-only transaction."""

    def work(tx):
        result = tx.run(query, dict(params or {}))
        rows = [dict(r) for r in result]
        return list(result.keys()), rows

    try:
        with driver.session(database=database, default_access_mode="READ") as session:
            return session.execute_read(work)
    except ClientError as exc:
        if exc.code and "AccessMode" in exc.code:  # a write: refused whole, nothing changed
            raise MashError(
                "Graph.cypher runs read-only and this query writes: nothing was changed (write "
                "through mash-kg load, sync and phenotype import)"
            ) from None
        raise MashError(f"Cypher error: {exc.message or exc.code}") from None
