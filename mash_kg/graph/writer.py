"""`mash-kg load`: make the graph hold exactly one release of a source's vocabularies and edge
groups, through the reconcile engine (graph/reconcile): the difference only, in one
transaction of batched statements, under the write lock.

One transaction makes a load all-or-nothing: a failure anywhere (a bad row found by the
server, a lost connection, Ctrl-C) rolls back, and readers never see half a release. The diff
makes a repeated load a no-op and a newer release a short list of additions, changes and
retirements (reconcile/ontology.py says what a release owns).
"""

from __future__ import annotations

from collections.abc import Callable

from neo4j import Driver

from mash_kg.graph.reconcile import (
    DEFAULT_BATCH,
    Report,
    RetireRefused,
    TakeoverRefused,
    diff_ontology,
    read_ontology,
    reconcile,
)
from mash_kg.tables import OntologyTables, validate

__all__ = ["DEFAULT_BATCH", "RetireRefused", "TakeoverRefused", "write_tables"]


def write_tables(
    driver: Driver,
    tables: OntologyTables,
    *,
    database: str = "neo4j",
    batch_size: int = DEFAULT_BATCH,
    dry_run: bool = False,
    progress: Callable[[str, int], None] | None = None,
    allow_retire: bool = False,
    allow_takeover: bool = False,
    notify: Callable[[str], None] | None = None,
) -> Report:
    """Make the graph hold exactly this release of the source's vocabularies and edge groups.
    The tables are validated first; then the write lock is taken before the graph is read (a
    dry run takes none) and checked again inside the writing transaction. `progress` is told
    ("nodes" or "edges", rows) after each batch."""
    validate(tables)

    def plan():
        return diff_ontology(tables, read_ontology(driver, tables, database), allow_takeover)

    return reconcile(
        driver,
        f"load {tables.source}",
        plan,
        database=database,
        batch_size=batch_size,
        dry_run=dry_run,
        allow_retire=allow_retire,
        progress=progress,
        notify=notify,
    ).report
