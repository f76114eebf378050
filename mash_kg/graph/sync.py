"""`mash-kg sync`: make Neo4j hold a build's learned content through the reconcile engine
(graph/reconcile): the difference only, in one transaction of batched statements, under the
write lock. reconcile/learned.py says what a build owns in the graph.

A sync killed or cut off midway is rolled back by Neo4j, readers see the old build or the new
one, and the next run recomputes the difference from what the graph really holds, so it
converges to exactly the state of a clean sync. One writer at a time: the lock (graph/lock.py)
is taken before the graph is read; a stale one (a killed process) is cleared with a note, or
with ``mash-kg sync --break-lock``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from neo4j import Driver

from mash_kg.content import Target, read_target
from mash_kg.graph.lock import LockLost, SyncLocked, break_lock
from mash_kg.graph.reconcile import (
    DEFAULT_BATCH,
    MAX_RETIRE_SHARE,
    Plan,
    Report,
    diff_learned,
    read_learned,
    reconcile,
)

__all__ = [
    "MAX_RETIRE_SHARE",
    "LockLost",
    "SyncLocked",
    "break_lock",
    "ensure_vector_index",
    "plan_sync",
    "read_target",
    "sync_build",
]


def sync_build(
    driver: Driver,
    folder: Path,
    *,
    database: str = "neo4j",
    batch_size: int = DEFAULT_BATCH,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    allow_retire: bool = False,
    notify: Callable[[str], None] | None = None,
) -> Report:
    """Make the graph hold the build in `folder`. The build is read and checked first; then
    the write lock is taken before the graph is read, and checked again inside the writing
    transaction. A dry run takes no lock and writes nothing. `progress` is told the rows of
    each batch written."""
    t0 = time.perf_counter()
    target = read_target(folder)  # the build and its digests, read before the lock is taken
    plan = reconcile(
        driver,
        f"sync of build {target.build}",
        lambda: plan_sync(driver, target, database),
        database=database,
        batch_size=batch_size,
        dry_run=dry_run,
        allow_retire=allow_retire,
        progress=progress and (lambda _label, n: progress(n)),
        notify=notify,
    )
    if not dry_run and target.written_dim:
        ensure_vector_index(driver, target.written_dim, database)
    plan.report.seconds = time.perf_counter() - t0
    return plan.report


def plan_sync(driver: Driver, target: Target, database: str = "neo4j") -> Plan:
    """The difference between `target` and what the graph holds now (reads only)."""
    return diff_learned(target, read_learned(driver, target, database))


def ensure_vector_index(driver: Driver, dimensions: int, database: str = "neo4j") -> None:
    """The cosine vector index `code_embedding` over Code.embedding, at the build's dimension
    (schema statements cannot share the data transaction, so this follows the commit)."""
    records, _, _ = driver.execute_query(
        "SHOW INDEXES YIELD name, options WHERE name = 'code_embedding' RETURN options",
        database_=database,
    )
    if records:
        config = records[0]["options"].get("indexConfig", {})
        if config.get("vector.dimensions") == dimensions:
            return
        driver.execute_query("DROP INDEX code_embedding", database_=database)
    driver.execute_query(
        "CREATE VECTOR INDEX code_embedding IF NOT EXISTS FOR (n:Code) ON n.embedding "
        "OPTIONS {indexConfig: {`vector.dimensions`: $dims, "
        "`vector.similarity_function`: 'cosine'}}",
        dims=dimensions,
        database_=database,
    )
    driver.execute_query("CALL db.awaitIndexes(300)", database_=database)
