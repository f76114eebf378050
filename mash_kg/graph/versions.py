"""Synced builds as versions of the graph (see graph/reconcile/learned.py for how learned
content carries the versions it is valid in): pin a version, list them, compare two, make an
earlier one active again, prune old ones.

A version is read with `VALID` (``x`` valid at version ``$v``); curated content has no
``valid_from`` and is valid in every version. Rollback and prune take the write lock like a
sync; rollback is one statement (the same activation a sync ends with), prune deletes the
:Build nodes first (one transaction), then the rows no remaining build can see, in batches (a
prune killed midway leaves only rows no build shows, and a rerun removes them).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from neo4j import Driver, RoutingControl

from mash_kg.errors import MashError
from mash_kg.graph.lock import acquire, commit
from mash_kg.graph.reconcile.learned import activate_step, edge_changes

# x (a relationship or node) is valid at version v; curated content (no valid_from) always
VALID = "coalesce({x}.valid_from, 0) <= {v} AND coalesce({x}.valid_to, {v} + 1) > {v}"
PRUNE_BATCH = 10_000
# what prune removes, per kind: the match of one row (`x`) and how it is deleted
_ROWS = {
    "MASH_IS_A": ("MATCH ()-[x:MASH_IS_A]->()", "DELETE x"),
    "ALIGNED_WITH": ("MATCH ()-[x:ALIGNED_WITH]->()", "DELETE x"),
    "CodeState": ("MATCH (x:CodeState)", "DETACH DELETE x"),
    ":Latent": ("MATCH (x:Latent)", "DETACH DELETE x"),
}


def valid(x: str, v: str = "$v") -> str:
    """The Cypher predicate: `x` is valid at version `v`."""
    return VALID.format(x=x, v=v)


@dataclass(frozen=True)
class Version:
    """A synced build and its version number."""

    build: str
    seq: int
    active: bool


def _read(driver: Driver, query: str, database: str, **params) -> list[dict]:
    records, _, _ = driver.execute_query(
        query, params, database_=database, routing_=RoutingControl.READ
    )
    return [dict(r) for r in records]


def pin(driver: Driver, build: str | None = None, database: str = "neo4j") -> Version:
    """The version of `build` (a synced build's id), or the active one: what a reader fixes
    once and passes to every view. An unknown build, or a graph no build was synced into, is
    one clear line."""
    rows = _read(
        driver,
        "MATCH (b:Build) WHERE b.seq IS NOT NULL AND "
        "(($build = '' AND b.active) OR b.id = $build) "
        "RETURN b.id AS id, b.seq AS seq, coalesce(b.active, false) AS active "
        "ORDER BY b.seq DESC LIMIT 1",
        database,
        build=build or "",
    )
    if not rows:
        if build:
            raise MashError(f"no synced build {build!r} in the graph (mash-kg builds lists them)")
        raise MashError("no build is active in the graph (mash-kg sync a build first)")
    return Version(rows[0]["id"], rows[0]["seq"], rows[0]["active"])


def list_builds(driver: Driver, database: str = "neo4j") -> list[dict]:
    """Every synced build, newest version first: id, version, created, synced, config hash,
    figures (learned rows of its version), active."""
    rows = _read(
        driver,
        "MATCH (b:Build) RETURN b.id AS id, b.seq AS version, b.created_at AS created, "
        "b.synced_at AS synced, b.config_hash AS config_hash, b.figures AS figures, "
        "coalesce(b.active, b.current, false) AS active ORDER BY b.seq DESC, b.id",
        database,
    )
    for r in rows:
        figures = json.loads(r["figures"]) if r["figures"] else {}
        r["figures"] = ", ".join(f"{k} {v:,}" for k, v in figures.items())
    return rows


# ---------------------------------------------------------------------------------- diff

_EDGES = (
    "MATCH (a)-[x:{rel}]->(b) WHERE ({in_a}) OR ({in_b}) "
    "RETURN collect([a.id, b.id, properties(x), {in_a}, {in_b}]) AS rows"
)


def diff_versions(driver: Driver, a: str, b: str, database: str = "neo4j") -> list[dict]:
    """The learned edges added, removed and rescored (or otherwise changed) from synced build
    `a` to synced build `b`: relation, child, parent, change, score_a, score_b."""
    va, vb = pin(driver, a, database), pin(driver, b, database)
    out = []
    for rel in ("MASH_IS_A", "ALIGNED_WITH"):
        query = _EDGES.format(rel=rel, in_a=valid("x", "$va"), in_b=valid("x", "$vb"))
        rows = _read(driver, query, database, va=va.seq, vb=vb.seq)[0]["rows"]
        old = {(s, e): p for s, e, p, in_a, _ in rows if in_a}
        new = {(s, e): p for s, e, p, _, in_b in rows if in_b}
        out += edge_changes(rel, old, new)
    return sorted(out, key=lambda r: (r["relation"], r["child"], r["parent"]))


# ---------------------------------------------------------------------------------- rollback


def rollback(
    driver: Driver,
    build: str | None = None,
    database: str = "neo4j",
    notify: Callable[[str], None] | None = None,
) -> tuple[str | None, Version]:
    """Make synced build `build` (default: the version before the active one) active again,
    without reading its folder; returns (the build active before, the one active now)."""
    with acquire(driver, f"rollback to {build or 'the previous build'}", database, notify) as lock:
        active = _read(
            driver, "MATCH (b:Build {active: true}) RETURN b.id AS id, b.seq AS seq", database
        )
        now = active[0] if active else None
        if build:
            to = pin(driver, build, database)
        else:
            below = _read(
                driver,
                "MATCH (b:Build) WHERE b.seq < $seq RETURN b.id AS id ORDER BY b.seq DESC LIMIT 1",
                database,
                seq=now["seq"] if now and now["seq"] is not None else 0,
            )
            if not below:
                raise MashError(
                    "no earlier synced build to roll back to (mash-kg builds lists them)"
                )
            to = pin(driver, below[0]["id"], database)
        step = activate_step(to.build)
        with driver.session(database=database) as session, session.begin_transaction() as tx:
            lock.check(tx)
            tx.run(step.query, **step.params).consume()
            commit(tx)
    return (now["id"] if now else None), Version(to.build, to.seq, True)


# ---------------------------------------------------------------------------------- prune


def prune(
    driver: Driver,
    keep: int,
    database: str = "neo4j",
    batch: int = PRUNE_BATCH,
    notify: Callable[[str], None] | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> dict:
    """Remove every version but the newest `keep` ones and the active one: their :Build nodes
    (one transaction), then in batches of `batch` rows the learned rows no remaining version
    shows. Returns the builds removed and the rows removed per kind."""
    if keep < 1:
        raise MashError("--keep must be 1 or more (the newest version is always kept)")
    with acquire(driver, f"prune to {keep} builds", database, notify) as lock:
        builds = _read(
            driver,
            "MATCH (b:Build) RETURN b.id AS id, b.seq AS seq, coalesce(b.active, false) AS active "
            "ORDER BY b.seq DESC",
            database,
        )
        kept = [b for i, b in enumerate(builds) if i < keep or b["active"]]
        gone = [b["id"] for b in builds if b not in kept]
        with driver.session(database=database) as session:
            with session.begin_transaction() as tx:
                lock.check(tx)
                tx.run("UNWIND $ids AS id MATCH (b:Build {id: id}) DELETE b", ids=gone).consume()
                commit(tx)
            seqs = [b["seq"] for b in kept if b["seq"] is not None]
            removed = {kind: 0 for kind in _ROWS}
            for kind, (match, delete) in _ROWS.items():
                query = (
                    f"{match} WHERE x.valid_from IS NOT NULL AND "
                    f"none(k IN $kept WHERE {valid('x', 'k')}) "
                    f"WITH x LIMIT $batch {delete} RETURN count(*) AS n"
                )
                while True:
                    with session.begin_transaction() as tx:
                        lock.check(tx)
                        n = tx.run(query, kept=seqs, batch=batch).single()["n"]
                        commit(tx)
                    removed[kind] += n
                    if progress and n:
                        progress(kind, n)
                    if n < batch:
                        break
    return {"builds": gone, "rows": removed}


# ---------------------------------------------------------------------------------- content

# bookkeeping, not content: timestamps, the newest version's digests, the interval itself
_BOOKKEEPING = ("loaded_at", "synced_at", "checked", "sync_hash", "edges_hash")
_BOOKKEEPING += ("valid_from", "valid_to")


def version_content(driver: Driver, build: str | None = None, database: str = "neo4j") -> tuple:
    """Everything one version of the graph shows (curated content and the learned content of
    synced build `build`, default the active one), as sorted (nodes, relationships) with their
    properties: what a reader pinned to it can see. A node's CodeState of that version is part
    of the node; builds, locks and decisions are not content. For comparing graphs in tests and
    the fault matrix."""
    try:
        v = pin(driver, build, database).seq
    except MashError:
        if build:
            raise
        v = 0
    nodes = _read(
        driver,
        "MATCH (n) WHERE NOT (n:Build OR n:SyncLock OR n:CodeState OR n:Decision) "
        f"AND (NOT n:Latent OR {valid('n')}) "
        f"OPTIONAL MATCH (n)-[:HAS_STATE]->(s:CodeState) WHERE {valid('s')} "
        "RETURN labels(n) AS l, properties(n) AS p, properties(s) AS s",
        database,
        v=v,
    )
    rels = _read(
        driver,
        f"MATCH (a)-[r]->(b) WHERE type(r) <> 'HAS_STATE' AND {valid('r')} "
        "RETURN type(r) AS t, a.id AS s, b.id AS e, properties(r) AS p",
        database,
        v=v,
    )

    def clean(p: dict | None) -> str:
        p = p or {}
        return json.dumps({k: x for k, x in p.items() if k not in _BOOKKEEPING}, sort_keys=True)

    return (
        sorted((tuple(sorted(r["l"])), clean(r["p"]), clean(r["s"])) for r in nodes),
        sorted((r["t"], r["s"], r["e"], clean(r["p"])) for r in rels),
    )


def unseen_rows(driver: Driver, database: str = "neo4j") -> int:
    """Learned rows no synced build shows (what a prune leaves when killed; 0 after it)."""
    seqs = [b["seq"] for b in _read(driver, "MATCH (b:Build) RETURN b.seq AS seq", database)]
    total = 0
    for match, _ in _ROWS.values():
        query = (
            f"{match} WHERE x.valid_from IS NOT NULL AND "
            f"none(k IN $kept WHERE {valid('x', 'k')}) RETURN count(x) AS n"
        )
        total += _read(driver, query, database, kept=[s for s in seqs if s is not None])[0]["n"]
    return total
