"""One writer at a time: the graph's write lock, taken by `mash-kg load` and `mash-kg sync`
before they read what the graph holds, and checked again inside their writing transaction.

The lock is a ``:SyncLock {id: 'sync'}`` node (a uniqueness constraint makes creating it
exclusive) carrying a random token and its holder (host, pid, the process's start time, what it
is doing, since when). A writer plans its change while holding the lock; its transaction then
matches the lock by its own token and sets a property on it, which takes Neo4j's write lock on
that node: if the lock was broken meanwhile (and perhaps taken by another writer), the token no
longer matches and the stale plan is rolled back instead of applied.

A lock whose holder is gone from this host (no such pid, or a pid now used by a process that
started later) is stale and cleared with a message; `--break-lock` refuses while the holder is
alive on this host and otherwise names host, pid and age.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from neo4j import Driver
from neo4j.exceptions import ConstraintError

from mash_kg.errors import MashError

LOCK_ID = "sync"


class SyncLocked(MashError):
    """Another writer holds the lock."""


class LockLost(MashError):
    """The lock was broken while this writer planned; nothing was written."""


def process_start(pid: int) -> str | None:
    """The start time of process `pid` in clock ticks since boot (Linux /proc), or None when
    there is no such process; together with the pid it names one process, even after the pid
    is reused."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return None
    # the command name (2nd field) may hold spaces and parentheses: split after the last ')'
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def holder_alive(holder: dict) -> bool | None:
    """True/False when the holder ran on this host (is that process still there?); None when it
    ran elsewhere (cannot be checked from here)."""
    if holder.get("host") != socket.gethostname():
        return None
    try:
        pid = int(holder.get("pid"))
    except (TypeError, ValueError):
        return False
    started = process_start(pid)
    return started is not None and started == str(holder.get("started"))


def describe(holder: dict) -> str:
    since = holder.get("since")
    age = ""
    try:
        seconds = (datetime.now(UTC) - datetime.fromisoformat(since)).total_seconds()
        age = f", {_age(seconds)} ago"
    except (TypeError, ValueError):
        pass
    what = holder.get("what") or holder.get("build") or "?"
    return f"{what}, pid {holder.get('pid')} on {holder.get('host')}, since {since}{age}"


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def read_holder(driver: Driver, database: str = "neo4j") -> dict | None:
    records, _, _ = driver.execute_query(
        "MATCH (l:SyncLock {id: $id}) RETURN properties(l) AS p", id=LOCK_ID, database_=database
    )
    return records[0]["p"] if records else None


def _delete(driver: Driver, token: str | None, database: str) -> bool:
    records, _, _ = driver.execute_query(
        "MATCH (l:SyncLock {id: $id}) WHERE $token IS NULL OR l.token = $token "
        "DELETE l RETURN count(*) AS n",
        id=LOCK_ID,
        token=token,
        database_=database,
    )
    return records[0]["n"] > 0


def break_lock(driver: Driver, database: str = "neo4j") -> str:
    """Clear the lock for `--break-lock`: refused (SyncLocked) while its holder is alive on this
    host; returns what was cleared, for the user."""
    holder = read_holder(driver, database)
    if holder is None:
        return "there was no lock"
    alive = holder_alive(holder)
    if alive:
        raise SyncLocked(
            f"the lock is held by a running process ({describe(holder)}): wait for it to "
            "finish, or stop it first; --break-lock only clears the lock of a process that is gone"
        )
    _delete(driver, holder.get("token"), database)
    where = "" if alive is False else " (on another host: make sure it stopped)"
    return f"cleared the lock of {describe(holder)}{where}"


@dataclass
class WriteLock:
    """The held lock; use as a context manager (released on exit, also on errors)."""

    driver: Driver
    token: str
    database: str

    def check(self, tx) -> None:
        """Inside the writing transaction: still ours? Takes the lock node's write lock, so a
        concurrent break cannot slip between this check and the commit."""
        rec = tx.run(
            "MATCH (l:SyncLock {id: $id, token: $token}) SET l.checked = $now RETURN count(l) AS n",
            id=LOCK_ID,
            token=self.token,
            now=datetime.now(UTC).isoformat(timespec="seconds"),
        ).single()
        if not rec or rec["n"] != 1:
            raise LockLost(
                "the write lock was broken while this run was planning its change, so its plan "
                "may be stale: nothing was written; run the command again"
            )

    def release(self) -> None:
        try:
            _delete(self.driver, self.token, self.database)
        except Exception:  # noqa: BLE001 - a lost server: the next writer finds a stale lock
            pass

    def __enter__(self) -> WriteLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def acquire(
    driver: Driver,
    what: str,
    database: str = "neo4j",
    notify: Callable[[str], None] | None = None,
) -> WriteLock:
    """Take the graph's write lock for `what` (e.g. "sync build X", "load icd10cm"); a stale
    lock of a process gone from this host is cleared (and `notify` told); a live one raises
    SyncLocked naming its holder."""
    token = secrets.token_hex(8)
    props = {
        "token": token,
        "what": what,
        "pid": os.getpid(),
        "started": process_start(os.getpid()),
        "host": socket.gethostname(),
    }
    for attempt in range(2):
        try:
            driver.execute_query(
                "CREATE (l:SyncLock {id: $id}) SET l += $props, l.since = $since",
                id=LOCK_ID,
                props=props,
                since=datetime.now(UTC).isoformat(timespec="seconds"),
                database_=database,
            )
            return WriteLock(driver, token, database)
        except ConstraintError:
            holder = read_holder(driver, database) or {}
            if attempt == 0 and holder and holder_alive(holder) is False:
                if _delete(driver, holder.get("token"), database) and notify:
                    notify(f"cleared a stale lock ({describe(holder)}: that process is gone)")
                continue
            if not holder:  # released between our attempt and the read
                continue
            hint = (
                "wait for it to finish"
                if holder_alive(holder)
                else "if that process is gone, run `mash-kg sync --break-lock`"
            )
            raise SyncLocked(
                f"another sync or load holds the lock ({describe(holder)}); {hint}"
            ) from None
    raise SyncLocked("could not take the write lock (it changed hands twice); try again")


def commit(tx) -> None:
    """Commit; a connection lost during the commit itself leaves its outcome unknown, and the
    user is told so (a rerun converges either way)."""
    from neo4j.exceptions import ServiceUnavailable, SessionExpired

    try:
        tx.commit()
    except (ServiceUnavailable, SessionExpired, OSError) as exc:
        raise CommitUnknown(
            f"lost the connection to Neo4j while committing ({exc.__class__.__name__}): the "
            "change may or may not have been applied; run the same command again once Neo4j "
            "is back (it converges to the same graph either way)"
        ) from None


class CommitUnknown(MashError):
    """The connection was lost during a commit: its outcome is unknown."""
