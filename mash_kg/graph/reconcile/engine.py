"""The one way mash-kg writes the graph: a plan of batched statements, applied in one
transaction under the write lock.

A caller (a load, a sync) reads what the graph holds and turns the difference into a `Plan`
with a pure function; `reconcile` takes the lock before that read, refuses a plan that removes
too much, and `write` applies it: the lock is checked inside the transaction, every `Step` runs
as batched ``UNWIND $rows`` statements, and the commit is all-or-nothing. A dry run reads and
plans but takes no lock and writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from neo4j import Driver

from mash_kg.errors import MashError
from mash_kg.graph.lock import WriteLock, acquire, commit

DEFAULT_BATCH = 5000
# a change that would remove more than this share of what the graph holds of its kind stops
# unless allowed (`--allow-retire`): a new release or build removes a few percent, a wrong
# file or an empty build everything
MAX_RETIRE_SHARE = 0.5

Progress = Callable[[str, int], None]  # (label of the step, rows just written)


class RetireRefused(MashError):
    """The change would retire or remove more than the allowed share without --allow-retire."""


class TakeoverRefused(MashError):
    """A source would take over a vocabulary another source loaded."""


@dataclass
class Counts:
    """One kind of graph content in a report: rows added, changed, retired (or removed), and
    how many the target holds (0 where not counted)."""

    added: int = 0
    changed: int = 0
    retired: int = 0
    total: int = 0


@dataclass
class Report:
    """What a load or sync changed (or would change, in a dry run): per kind of content, in the
    order a report shows them ("codes", "edges" for a load; "codes", "ALIGNED_WITH", "sites",
    ":Latent", "MASH_IS_A" for a sync). `subject` is the source loaded or the build synced."""

    subject: str
    kinds: dict[str, Counts]
    vocabularies: list[str] = field(default_factory=list)
    skipped: int = 0  # edges left out because an end is not in the graph
    skipped_examples: list[str] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0
    refused: str | None = None  # dry run: the retire guard's refusal the real run would meet
    # a sync: the learned edges added, removed, rescored (versions.edge_changes rows)
    edges: list[dict] = field(default_factory=list)
    version: int | None = None  # a sync: the version it wrote (None: none new)

    @property
    def changes(self) -> int:
        return sum(c.added + c.changed + c.retired for c in self.kinds.values())

    def count(self, kind: str, what: str) -> int:
        """`what` (added, changed, retired or total) of `kind` ("codes", "ALIGNED_WITH", ...)."""
        return getattr(self.kinds[kind], what)


@dataclass(frozen=True)
class Step:
    """One statement of a plan. With `rows` it runs as ``UNWIND $rows`` batches (nothing when
    there are none); with rows None it runs once. `query` is text from fixed tables in the
    graph layer, never from data; every value is a parameter (``$now`` is the write's time)."""

    query: str
    rows: list | None
    params: dict = field(default_factory=dict)
    label: str | None = None  # what progress counts the rows as; None: not counted


@dataclass(frozen=True)
class RetireGuard:
    """How much a plan removes of what the graph held, and how to say it when refused."""

    removed: int
    held: int
    lead: str  # e.g. "this sync would remove"
    what: str  # e.g. "learned items the graph holds"
    tail: str  # what to do

    def refusal(self, limit: float = MAX_RETIRE_SHARE) -> str | None:
        """The refusal message when more than `limit` of what is held would go, else None."""
        if not self.held:
            return None
        share = self.removed / self.held
        if share <= limit:
            return None
        return (
            f"{self.lead} {self.removed:,} of the {self.held:,} {self.what} ({share:.0%}, over "
            f"the {limit:.0%} limit){self.tail}"
        )


@dataclass
class Plan:
    """What a write will do: its statements in order, the report it makes, and its guard."""

    report: Report
    steps: list[Step]
    guard: RetireGuard | None = None


def batches(rows: list, size: int) -> Iterable[list]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def apply(plan: Plan, tx, batch_size: int = DEFAULT_BATCH, progress: Progress | None = None):
    """Run every step of `plan` in the open transaction `tx` (which the caller commits)."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for step in plan.steps:
        if step.rows is None:
            tx.run(step.query, now=now, **step.params).consume()
            continue
        for batch in batches(step.rows, batch_size):
            tx.run(step.query, rows=batch, now=now, **step.params).consume()
            if progress and step.label:
                progress(step.label, len(batch))


def write(
    driver: Driver,
    plan: Plan,
    lock: WriteLock,
    *,
    database: str = "neo4j",
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
) -> None:
    """Apply `plan` in one transaction, after checking inside it that `lock` is still held
    (LockLost otherwise: a plan made while another writer committed is never applied)."""
    with driver.session(database=database) as session, session.begin_transaction() as tx:
        lock.check(tx)
        apply(plan, tx, batch_size, progress)
        commit(tx)


def check_retire(plan: Plan, allow_retire: bool) -> None:
    """Refuse a plan that removes more than MAX_RETIRE_SHARE of what the graph held."""
    message = None if allow_retire or plan.guard is None else plan.guard.refusal()
    if message:
        raise RetireRefused(message)


def reconcile(
    driver: Driver,
    what: str,
    make_plan: Callable[[], Plan],
    *,
    database: str = "neo4j",
    batch_size: int = DEFAULT_BATCH,
    dry_run: bool = False,
    allow_retire: bool = False,
    progress: Progress | None = None,
    notify: Callable[[str], None] | None = None,
) -> Plan:
    """Make the graph hold a target: `make_plan` reads the graph and diffs. For a write, the
    lock (named `what`) is taken before it reads and held until the commit; a dry run takes no
    lock, writes nothing and is not refused by the retire guard: it shows what would go, and
    its report's `refused` says what the real run would be refused for."""
    t0 = time.perf_counter()
    if dry_run:
        plan = make_plan()
        plan.report.dry_run = True
        if not allow_retire and plan.guard is not None:
            plan.report.refused = plan.guard.refusal()
    else:
        with acquire(driver, what, database, notify) as lock:
            plan = make_plan()
            check_retire(plan, allow_retire)
            write(driver, plan, lock, database=database, batch_size=batch_size, progress=progress)
    plan.report.seconds = time.perf_counter() - t0
    return plan
