"""`mash-kg sync`: write a build into Neo4j as a new version of the learned content, through
the reconcile engine (graph/reconcile): the difference from the newest version only, in one
transaction of batched statements, under the write lock; its last statement makes the build
active. reconcile/learned.py says what a build owns in the graph and how versions are kept;
graph/versions.py pins, lists, compares, rolls back and prunes them.

A sync killed or cut off midway is rolled back by Neo4j, readers see the old build or the new
one (a reader that pins a version sees only it, whatever commits), and the next run recomputes
the difference from what the graph really holds, so it converges to exactly the state of a
clean sync. One writer at a time: the lock (graph/lock.py) is taken before the graph is read;
a stale one (a killed process) is cleared with a note, or with ``mash-kg sync --break-lock``.
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
    plan.report.seconds = time.perf_counter() - t0
    return plan.report


def plan_sync(driver: Driver, target: Target, database: str = "neo4j") -> Plan:
    """The difference between `target` and what the graph holds now (reads only)."""
    return diff_learned(target, read_learned(driver, target, database))
