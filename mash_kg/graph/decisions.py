"""Review decisions on learned edges, stored in the graph (every Cypher statement about them).

A decision is a node ``(:Decision {key, relation, child, parent, decision, reviewer,
decided_at, build, comment, score, moved_to, moved_from})`` keyed by the edge's ends, never by
a build: ``key = relation + '|' + child id + '|' + parent id``, relation ``MASH_IS_A`` or
``ALIGNED_WITH`` (child = the start of the edge), decision ``accept``, ``reject`` or
``discuss``. ``build`` is the build the edge was shown from, ``score`` its confidence then. A
move (another parent chosen) is two decisions written together: a reject of the old edge with
``moved_to`` = the new parent, and an accept of the new edge with ``moved_from`` = the old one.

`mash-kg sync` leaves rejected edges out and keeps accepted ones; the next `mash-kg build`
trains on accepted edges and never proposes a rejected pair (`decision_table`). Every write
checks the edge inside its own transaction, so a decision on an edge that is not (or no longer)
in the graph is one clear line and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from neo4j import Driver, ManagedTransaction, RoutingControl

from mash_kg.errors import MashError

RELATIONS = ("MASH_IS_A", "ALIGNED_WITH")
DECISIONS = ("accept", "reject", "discuss")
# the key is unique; IF NOT EXISTS leaves an equivalent constraint of another name alone
CONSTRAINT = "CREATE CONSTRAINT decision_key IF NOT EXISTS FOR (d:Decision) REQUIRE d.key IS UNIQUE"
TABLE_COLUMNS = ["relation", "child", "parent", "decision", "score", "moved_from", "moved_to"]


class DecisionError(MashError):
    """A decision that cannot be recorded (unknown edge, edge a newer sync removed, bad value)."""


def decision_key(relation: str, child: str, parent: str) -> str:
    return f"{relation}|{child}|{parent}"


@dataclass(frozen=True)
class Decision:
    """One decision on the edge child -[relation]-> parent."""

    relation: str
    child: str
    parent: str
    decision: str
    reviewer: str
    build: str | None = None
    comment: str = ""
    score: float | None = None
    decided_at: str = ""  # ISO 8601 UTC; empty: now
    moved_to: str | None = None
    moved_from: str | None = None

    def check(self) -> None:
        if self.relation not in RELATIONS:
            raise DecisionError(f"relation {self.relation!r} is not one of {', '.join(RELATIONS)}")
        if self.decision not in DECISIONS:
            raise DecisionError(f"decision {self.decision!r} is not one of {', '.join(DECISIONS)}")
        if not self.child or not self.parent:
            raise DecisionError("a decision needs both ends of the edge (child and parent)")
        if self.child == self.parent:
            raise DecisionError(f"{self.child} cannot be its own parent")
        if not self.reviewer.strip():
            raise DecisionError("a decision needs a reviewer name")

    def row(self) -> dict:
        return {
            "key": decision_key(self.relation, self.child, self.parent),
            "relation": self.relation,
            "child": self.child,
            "parent": self.parent,
            "decision": self.decision,
            "reviewer": self.reviewer.strip(),
            "decided_at": self.decided_at or now(),
            "build": self.build,
            "comment": self.comment or "",
            "score": self.score,
            "moved_to": self.moved_to,
            "moved_from": self.moved_from,
        }


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def ensure_schema(driver: Driver, database: str = "neo4j") -> None:
    """The uniqueness of Decision.key (idempotent)."""
    driver.execute_query(CONSTRAINT, database_=database)


# ------------------------------------------------------------------------------- the checks


def _edge_query() -> str:
    from mash_kg.graph.reader import ENDS, VERSION, valid

    return (
        VERSION
        + ENDS
        + f"""
OPTIONAL MATCH (c)-[r]->(p) WHERE type(r) = $relation AND {valid("r")}
RETURN c IS NOT NULL AS child, p IS NOT NULL AS parent, r IS NOT NULL AS edge,
       r.score AS score, r.transport AS transport, active AS current
"""
    )


def _edge_state(tx: ManagedTransaction, relation: str, child: str, parent: str) -> dict:
    return tx.run(_edge_query(), relation=relation, child=child, parent=parent).single().data()


def _need_edge(tx: ManagedTransaction, d: Decision) -> float | None:
    """The edge's confidence, or the one line saying why it cannot be decided on: it was never
    in the graph (unknown edge) or the sync of a newer build removed it."""
    s = _edge_state(tx, d.relation, d.child, d.parent)
    edge = f"{d.child} -[{d.relation}]-> {d.parent}"
    if not s["child"] or not s["parent"]:
        missing = d.child if not s["child"] else d.parent
        raise DecisionError(f"unknown edge {edge}: the graph has no code or group {missing}")
    if not s["edge"]:
        if d.build and s["current"] and s["current"] != d.build:
            raise DecisionError(
                f"edge {edge} (shown from build {d.build}) was removed by the sync of build "
                f"{s['current']}: nothing recorded; reload the queue"
            )
        raise DecisionError(f"unknown edge {edge}: the graph holds no such learned edge")
    if d.relation == "ALIGNED_WITH" and s["transport"] is not None:
        return float(s["transport"])
    return None if s["score"] is None else float(s["score"])  # an accepted edge kept unscored


_WRITE = """
UNWIND $rows AS row
MERGE (d:Decision {key: row.key})
SET d += row
"""


def _write(tx: ManagedTransaction, rows: list[dict]) -> None:
    tx.run(_WRITE, rows=rows).consume()


def record(driver: Driver, decision: Decision, database: str = "neo4j") -> dict:
    """Record one decision on an edge the graph holds now (replacing an earlier decision on
    the same ends); returns the stored row."""
    decision.check()

    def work(tx: ManagedTransaction) -> dict:
        score = _need_edge(tx, decision)
        row = decision.row()
        row["score"] = score if row["score"] is None else row["score"]
        _write(tx, [row])
        return row

    with driver.session(database=database) as session:
        return session.execute_write(work)


def record_move(
    driver: Driver,
    child: str,
    old_parent: str,
    new_parent: str,
    reviewer: str,
    build: str | None,
    comment: str = "",
    database: str = "neo4j",
) -> tuple[dict, dict]:
    """Another parent for `child`: a reject of child -> old_parent (which must be in the graph)
    and an accept of child -> new_parent (any code or group but the child), in one
    transaction."""
    old = Decision(
        "MASH_IS_A", child, old_parent, "reject", reviewer, build, comment, moved_to=new_parent
    )
    new = Decision(
        "MASH_IS_A", child, new_parent, "accept", reviewer, build, comment, moved_from=old_parent
    )
    old.check()
    new.check()
    if new_parent == old_parent:
        raise DecisionError(f"{new_parent} is already the proposed parent of {child}")

    def work(tx: ManagedTransaction) -> tuple[dict, dict]:
        score = _need_edge(tx, old)
        s = _edge_state(tx, "MASH_IS_A", child, new_parent)
        if not s["parent"]:
            raise DecisionError(f"unknown code {new_parent}: choose a parent the graph holds")
        at = now()
        rows = [{**old.row(), "score": score, "decided_at": at}]
        rows.append({**new.row(), "score": s["score"], "decided_at": at})
        _write(tx, rows)
        return rows[0], rows[1]

    with driver.session(database=database) as session:
        return session.execute_write(work)


_ENDS = """
UNWIND $rows AS row
RETURN row.n AS n,
       exists { MATCH (:Code {id: row.child}) } OR exists { MATCH (:Latent {id: row.child}) }
         AS child,
       exists { MATCH (:Code {id: row.parent}) } OR exists { MATCH (:Latent {id: row.parent}) }
         AS parent
ORDER BY n
"""


def import_decisions(
    driver: Driver,
    decisions: list[Decision],
    origin: str,
    numbers: list[int] | None = None,
    database: str = "neo4j",
) -> int:
    """Store decisions read from a file (`numbers`: each one's row in `origin`; default its
    index + 2, after a header): both
    ends of every edge must be in the graph (the edge itself need not be: a shared review may
    come before the build that proposes it); the first row that fails is one line and nothing
    is written. Returns the decisions stored."""
    from mash_kg.errors import InputError

    numbers = numbers or [i + 2 for i in range(len(decisions))]
    for n, d in zip(numbers, decisions, strict=True):
        try:
            d.check()
        except DecisionError as exc:
            raise InputError(origin, str(exc), row=n) from None
    rows = [d.row() for d in decisions]

    def work(tx: ManagedTransaction) -> int:
        ends = [{"n": i, "child": r["child"], "parent": r["parent"]} for i, r in enumerate(rows)]
        ends = tx.run(_ENDS, rows=ends).data()
        for e in ends:
            if not e["child"] or not e["parent"]:
                r = rows[e["n"]]
                missing = r["child"] if not e["child"] else r["parent"]
                raise InputError(
                    origin,
                    f"the graph has no code or group {missing}",
                    row=numbers[e["n"]],
                    hint="load its ontology or sync the build that has it, then import again",
                )
        _write(tx, rows)
        return len(rows)

    with driver.session(database=database) as session:
        return session.execute_write(work)


# ---------------------------------------------------------------------------------- reading

_ALL = """
MATCH (d:Decision)
RETURN d.relation AS relation, d.child AS child, d.parent AS parent, d.decision AS decision,
       d.score AS score, d.moved_from AS moved_from, d.moved_to AS moved_to,
       d.reviewer AS reviewer, d.decided_at AS decided_at, d.build AS build,
       d.comment AS comment
ORDER BY d.key
"""


def all_decisions(driver: Driver, database: str = "neo4j") -> list[dict]:
    records, _, _ = driver.execute_query(_ALL, database_=database, routing_=RoutingControl.READ)
    return [dict(r) for r in records]


def decision_table(driver: Driver, database: str = "neo4j") -> pd.DataFrame:
    """Every decision as a table (TABLE_COLUMNS): what the next build learns from."""
    return pd.DataFrame(all_decisions(driver, database), columns=TABLE_COLUMNS + ["reviewer"])[
        TABLE_COLUMNS
    ]


def decisions_for(driver: Driver, keys: list[str], database: str = "neo4j") -> dict[str, dict]:
    """key -> decision row for the given edge keys."""
    records, _, _ = driver.execute_query(
        "UNWIND $keys AS k MATCH (d:Decision {key: k}) RETURN k AS key, properties(d) AS d",
        keys=list(keys),
        database_=database,
        routing_=RoutingControl.READ,
    )
    return {r["key"]: r["d"] for r in records}


_EXPORT = """
MATCH (d:Decision)
OPTIONAL MATCH (c:Code {id: d.child})
OPTIONAL MATCH (p:Code {id: d.parent})
RETURN d.relation AS relation, d.child AS child,
       coalesce(c.name, COLLECT { MATCH (l:Latent {id: d.child}) RETURN l.name }[0]) AS child_name,
       c.site AS site, d.parent AS parent,
       coalesce(p.name, COLLECT { MATCH (l:Latent {id: d.parent}) RETURN l.name }[0])
         AS parent_name,
       d.decision AS decision, d.score AS score,
       d.reviewer AS reviewer, d.decided_at AS decided_at, d.comment AS comment,
       d.build AS build, d.moved_to AS moved_to, d.moved_from AS moved_from
ORDER BY d.decided_at, d.key
"""


def export_rows(driver: Driver, database: str = "neo4j") -> list[dict]:
    """Every decision with the names of its ends (for `mash-kg review export`)."""
    records, _, _ = driver.execute_query(_EXPORT, database_=database, routing_=RoutingControl.READ)
    return [dict(r) for r in records]
