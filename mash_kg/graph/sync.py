"""`mash-kg sync`: make Neo4j hold a build's learned content, writing only the difference.

What a build owns in the graph (curated ontology content is never touched):
- ``:Site`` nodes; ``:Code`` nodes the build brings that no load created (``origin: 'build'``,
  e.g. a site's local lab codes), retired (``status: 'retired'``) when a later build drops them;
- on every code of the build: ``sites`` (where it is seen), ``embedding`` (aligned vector, unit
  norm), ``poincare`` (Stage II) and ``sync_hash`` (a digest of the three, so that the next
  sync finds changed codes without reading every vector back); removed again from codes a
  later build no longer has;
- ``ALIGNED_WITH {score, transport, rank, method, build}`` edges; ``build`` names the build that
  last wrote the edge, so an unchanged edge is not rewritten;
- Stages II-III: ``:Latent {id, name, domain, size, poincare, build}`` nodes (deleted with
  their edges when a later build no longer has them), ``MASH_IS_A {score, rank, build}`` edges
  from codes and latent groups to their learned parents;
- ``:Build {id, created_at, config_hash, version, metrics, synced_at, current}``.

The difference is applied in ONE transaction of batched UNWIND statements: a sync killed or
cut off midway is rolled back by Neo4j, readers see the old build or the new one, and the
next run recomputes the difference from what the graph really holds, so it converges to
exactly the state of a clean sync. One sync at a time: a ``:SyncLock`` node (unique id) is
created before and deleted after; a stale one (a killed process) is cleared with
``mash-kg sync --break-lock``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from neo4j import Driver

from mash_kg.content import (
    END_LABELS,
    Target,
    Vectors,
    aligned_edges,
    content_hashes,
    learned_edges,
    read_target,
)
from mash_kg.graph.lock import LockLost, SyncLocked, WriteLock, acquire, break_lock, commit
from mash_kg.graph.writer import DEFAULT_BATCH, RetireRefused, _batches

__all__ = [
    "LockLost",
    "SyncLocked",
    "SyncReport",
    "Target",
    "Vectors",
    "break_lock",
    "content_hashes",
    "read_target",
    "sync_build",
]
# the two labels a MASH_IS_A end can have, as query text (never from data)
_END_LABELS = {label: label for label in END_LABELS}
# a sync that would remove more than this share of the learned content the graph holds stops
# unless allowed (`--allow-retire`): an empty or foreign build must not wipe it
MAX_RETIRE_SHARE = 0.5
# properties a build owns on its codes; sync_hash digests the first three, edges_hash the
# code's outgoing ALIGNED_WITH and MASH_IS_A edges (only codes whose edges_hash changed have
# their edges read back and compared)
NODE_KEYS = ("sites", "embedding", "poincare", "sync_hash", "edges_hash")
CREATED_KEYS = ("vocab", "code", "name", "domain", "site")  # on codes it creates


@dataclass
class SyncReport:
    build: str
    codes_added: int = 0
    codes_changed: int = 0
    codes_retired: int = 0
    aligned_added: int = 0
    aligned_changed: int = 0
    aligned_removed: int = 0
    sites_added: int = 0
    latent_added: int = 0
    latent_changed: int = 0
    latent_removed: int = 0
    learned_added: int = 0
    learned_changed: int = 0
    learned_removed: int = 0
    dry_run: bool = False
    seconds: float = 0.0

    @property
    def changes(self) -> int:
        return (
            self.codes_added
            + self.codes_changed
            + self.codes_retired
            + self.aligned_added
            + self.aligned_changed
            + self.aligned_removed
            + self.sites_added
            + self.latent_added
            + self.latent_changed
            + self.latent_removed
            + self.learned_added
            + self.learned_changed
            + self.learned_removed
        )


@dataclass
class SyncPlan:
    """What a sync will write: the difference between a build and what the graph held when it
    was read (rows for each batched statement), and its report."""

    report: SyncReport
    manifest: dict
    dim: int
    build_changed: bool
    rows: dict[str, list] = field(default_factory=dict)
    held_total: int = 0  # learned items the graph held (codes with sites, edges, groups)

    @property
    def removals(self) -> int:
        r = self.report
        return (
            r.codes_retired
            + len(self.rows["strip"])
            + r.aligned_removed
            + r.latent_removed
            + r.learned_removed
        )


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
    _fail_after: int | None = None,
) -> SyncReport:
    """Make the graph hold the build in `folder` (see the module docstring). The build is read
    and checked first; then the write lock is taken before the graph is read, and checked again
    inside the writing transaction. A dry run takes no lock and writes nothing."""
    t0 = time.perf_counter()
    target = read_target(folder)
    target.digests  # noqa: B018 - read (or computed) before the lock is taken
    if dry_run:
        plan = plan_sync(driver, target, database)
        plan.report.dry_run = True
        plan.report.seconds = time.perf_counter() - t0
        return plan.report
    with acquire(driver, f"sync of build {target.build}", database, notify) as lock:
        plan = plan_sync(driver, target, database)
        check_retire(plan, allow_retire)
        apply_sync(
            driver,
            plan,
            lock,
            database=database,
            batch_size=batch_size,
            progress=progress,
            _fail_after=_fail_after,
        )
    if plan.dim:
        ensure_vector_index(driver, plan.dim, database)
    plan.report.seconds = time.perf_counter() - t0
    return plan.report


def check_retire(plan: SyncPlan, allow_retire: bool) -> None:
    """Refuse a plan that removes more than MAX_RETIRE_SHARE of the learned content held."""
    if allow_retire or not plan.held_total:
        return
    share = plan.removals / plan.held_total
    if share > MAX_RETIRE_SHARE:
        raise RetireRefused(
            f"this sync would remove {plan.removals:,} of the {plan.held_total:,} learned items "
            f"the graph holds ({share:.0%}, over the {MAX_RETIRE_SHARE:.0%} limit); if that is "
            "intended, run it again with --allow-retire (check first with --dry-run)"
        )


def plan_sync(driver: Driver, target: Target, database: str = "neo4j") -> SyncPlan:
    """The difference between `target` and what the graph holds now (reads only)."""
    manifest, build, codes = target.manifest, target.build, target.codes
    report = SyncReport(build=build)

    # target state: per code a digest of what it carries; vectors are read only for codes
    # that have to be written ---------------------------------------------------------------
    dig = target.digests
    ids = dig["id"].tolist()
    target_hash = dict(zip(ids, dig["sync_hash"], strict=True))
    edge_hash = dict(zip(ids, dig["edges_hash"], strict=True))
    where = dict(zip(ids, dig["sites"], strict=True))

    def node_props(i: str) -> dict:  # what a build writes on a code (vectors as lists)
        embedding, poincare = target.embedding, target.poincare
        return {
            "sites": [str(x) for x in where[i]],
            "embedding": embedding[i].tolist(),
            "poincare": poincare[i].tolist() if i in poincare else None,
            "sync_hash": target_hash[i],
            "edges_hash": edge_hash[i],
        }

    latent = target.latent
    points = target.poincare if len(latent) else None
    target_latent = {
        r.id: {
            "name": r.name,
            "size": int(r.size),
            "poincare": points[r.id].tolist() if r.id in points else None,
            **({} if r.domain is None or pd.isna(r.domain) else {"domain": r.domain}),
        }
        for r in latent.itertuples()
    }

    # what the graph holds ----------------------------------------------------------------
    # codes are compared by their content hash: no vector is read back
    # (each read returns one record holding a list: far less Bolt traffic than a record per row)
    fields = (
        "collect([n.id, n.sync_hash, n.sites IS NOT NULL, n.origin, n.status, "
        "n.edges_hash]) AS rows"
    )
    held, _, _ = driver.execute_query(
        "MATCH (n:Code) WHERE n.sites IS NOT NULL OR n.origin = 'build' RETURN " + fields,
        database_=database,
    )
    keys = ("id", "hash", "has_sites", "origin", "status", "edges_hash")
    held_nodes = {r[0]: dict(zip(keys, r, strict=True)) for r in held[0]["rows"]}
    unseen = [cid for cid in target_hash if cid not in held_nodes]  # curated, or new codes
    if unseen:
        more, _, _ = driver.execute_query(
            "UNWIND $ids AS id MATCH (n:Code {id: id}) RETURN " + fields,
            ids=unseen,
            database_=database,
        )
        held_nodes.update({r[0]: dict(zip(keys, r, strict=True)) for r in more[0]["rows"]})
    dirty = {
        cid
        for cid, d in edge_hash.items()
        if cid not in held_nodes or held_nodes[cid]["edges_hash"] != d
    }
    dirty |= {cid for cid in held_nodes if cid not in target_hash}
    edges, _, _ = driver.execute_query(
        "UNWIND $ids AS id MATCH (a:Code {id: id})-[r:ALIGNED_WITH]->(b:Code) "
        "RETURN collect([a.id, b.id, properties(r)]) AS rows",
        ids=sorted(dirty),
        database_=database,
    )
    held_edges = {(s_, e): p for s_, e, p in edges[0]["rows"]}
    target_edges = aligned_edges(target, dirty)
    sites_held, _, _ = driver.execute_query("MATCH (s:Site) RETURN s.id AS id", database_=database)
    new_sites = sorted(set(codes["site"]) - {r["id"] for r in sites_held})
    held_lat, _, _ = driver.execute_query(
        "MATCH (n:Latent) RETURN n.id AS id, properties(n) AS p", database_=database
    )
    held_latent = {r["id"]: r["p"] for r in held_lat}
    mash_rows = (
        "collect([a.id, b.id, properties(r), "
        "CASE WHEN a:Latent THEN 'Latent' ELSE 'Code' END, "
        "CASE WHEN b:Latent THEN 'Latent' ELSE 'Code' END]) AS rows"
    )
    from_codes, _, _ = driver.execute_query(
        "UNWIND $ids AS id MATCH (a:Code {id: id})-[r:MASH_IS_A]->(b) RETURN " + mash_rows,
        ids=sorted(dirty),
        database_=database,
    )
    from_latent, _, _ = driver.execute_query(
        "MATCH (a:Latent)-[r:MASH_IS_A]->(b) RETURN " + mash_rows, database_=database
    )
    held_mash = from_codes[0]["rows"] + from_latent[0]["rows"]
    held_learned = {(a, b): p for a, b, p, _, _ in held_mash}
    held_labels = {(a, b): (la, lb) for a, b, _, la, lb in held_mash}
    target_learned = learned_edges(target, dirty | set(target_latent))

    # the difference --------------------------------------------------------------------
    create, update, retire, strip = [], [], [], []
    missing = [cid for cid in target_hash if cid not in held_nodes]
    first = codes[codes["id"].isin(missing)].drop_duplicates("id").set_index("id").to_dict("index")
    for cid, digest in target_hash.items():
        old = held_nodes.get(cid)
        if old is None:
            row = first[cid]
            extra = {k: row[k] for k in CREATED_KEYS if k in row and not pd.isna(row[k])}
            if extra.get("vocab") and not str(cid).startswith(f"{extra.get('site')}/"):
                extra.pop("site", None)  # standard codes have no site
            props = {k: v for k, v in node_props(cid).items() if v is not None}
            create.append(
                {"id": cid, "props": {**extra, **props, "origin": "build", "status": "active"}}
            )
        elif old["hash"] != digest or (old["origin"] == "build" and old["status"] != "active"):
            props = node_props(cid)  # a None (a code losing its point) removes the property
            update.append(
                {
                    "id": cid,
                    "props": {**props, "status": "active"} if old["origin"] == "build" else props,
                }
            )
    rewritten = {r["id"] for r in create + update}
    marks = [
        {"id": cid, "h": edge_hash[cid]}
        for cid in sorted(dirty)
        if cid in target_hash and cid not in rewritten
    ]  # edges changed, the code did not
    for cid, old in held_nodes.items():
        if cid in target_hash:
            continue
        if old["origin"] == "build" and old["status"] != "retired":
            retire.append({"id": cid})
        elif old["has_sites"]:
            strip.append({"id": cid})
    e_create = [
        {"s": s, "e": e, "p": {**p, "build": build}}
        for (s, e), p in target_edges.items()
        if (s, e) not in held_edges
    ]
    e_update = [
        {"s": s, "e": e, "p": {**p, "build": build}}
        for (s, e), p in target_edges.items()
        if (s, e) in held_edges
        and {k: v for k, v in held_edges[(s, e)].items() if k != "build"} != p
    ]
    e_delete = [{"s": s, "e": e} for (s, e) in held_edges if (s, e) not in target_edges]
    l_create = [
        {"id": i, "p": {**p, "id": i, "build": build}}
        for i, p in target_latent.items()
        if i not in held_latent
    ]
    l_update = [
        {"id": i, "p": {**p, "id": i, "build": build}}
        for i, p in target_latent.items()
        if i in held_latent
        and {k: v for k, v in held_latent[i].items() if k not in ("build", "id")}
        != {k: v for k, v in p.items() if v is not None}
    ]
    l_delete = [{"id": i} for i in held_latent if i not in target_latent]
    m_create, m_update = [], []
    for (a, b), p in target_learned.items():
        row = {
            "s": a,
            "e": b,
            "labels": p["labels"],
            "p": {"score": p["score"], "rank": p["rank"], "build": build},
        }
        old = held_learned.get((a, b))
        if old is None:
            m_create.append(row)
        elif old.get("score") != p["score"] or old.get("rank") != p["rank"]:
            m_update.append(row)
    m_delete = [
        {"s": a, "e": b, "labels": held_labels[(a, b)]}
        for (a, b) in held_learned
        if (a, b) not in target_learned
    ]
    report.latent_added, report.latent_changed = len(l_create), len(l_update)
    report.latent_removed = len(l_delete)
    report.learned_added, report.learned_changed = len(m_create), len(m_update)
    report.learned_removed = len(m_delete)
    report.codes_added, report.codes_changed = len(create), len(update) + len(strip)
    report.codes_retired = len(retire)
    report.aligned_added, report.aligned_changed = len(e_create), len(e_update)
    report.aligned_removed, report.sites_added = len(e_delete), len(new_sites)
    build_changed = report.changes > 0 or not _is_current(driver, build, database)
    totals, _, _ = driver.execute_query(
        "CALL { MATCH ()-[r:ALIGNED_WITH]->() RETURN count(r) AS a } "
        "CALL { MATCH ()-[r:MASH_IS_A]->() RETURN count(r) AS m } "
        "CALL { MATCH (n:Latent) RETURN count(n) AS l } RETURN a + m + l AS n",
        database_=database,
    )
    held_codes = sum(1 for d in held_nodes.values() if d["has_sites"])
    rows = {
        "sites": new_sites,
        "create": create,
        "update": update,
        "marks": marks,
        "retire": retire,
        "strip": strip,
        "e_create": e_create,
        "e_update": e_update,
        "e_delete": e_delete,
        "l_create": l_create,
        "l_update": l_update,
        "l_delete": l_delete,
        "m_create": m_create,
        "m_update": m_update,
        "m_delete": m_delete,
    }
    # the vector index is checked when vectors were written (then their dimension is known)
    return SyncPlan(
        report, manifest, target.written_dim, build_changed, rows, held_codes + totals[0]["n"]
    )


def apply_sync(
    driver: Driver,
    plan: SyncPlan,
    lock: WriteLock,
    *,
    database: str = "neo4j",
    batch_size: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
    _fail_after: int | None = None,
) -> None:
    """Write `plan` in one transaction, after checking (inside it) that `lock` is still held."""
    r, build, manifest = plan.rows, plan.report.build, plan.manifest
    done = 0

    def run(tx, query: str, rows: list, **params) -> None:
        nonlocal done
        for batch in _batches(rows, batch_size):
            tx.run(query, rows=batch, **params).consume()
            done += 1
            if _fail_after is not None and done >= _fail_after:
                os._exit(137)  # test hook: the process dies mid-transaction, like kill -9
            if progress:
                progress(len(batch))

    with driver.session(database=database) as session, session.begin_transaction() as tx:
        lock.check(tx)
        run(tx, "UNWIND $rows AS id MERGE (:Site {id: id})", r["sites"])
        run(tx, "UNWIND $rows AS row CREATE (n:Code {id: row.id}) SET n += row.props", r["create"])
        run(tx, "UNWIND $rows AS row MATCH (n:Code {id: row.id}) SET n += row.props", r["update"])
        run(
            tx,
            "UNWIND $rows AS row MATCH (n:Code {id: row.id}) SET n.edges_hash = row.h",
            r["marks"],
        )
        run(
            tx,
            "UNWIND $rows AS row MATCH (n:Code {id: row.id}) "
            "SET n.status = 'retired', n.sites = null, n.embedding = null, n.poincare = null, "
            "n.sync_hash = null, n.edges_hash = null",
            r["retire"],
        )
        run(
            tx,
            "UNWIND $rows AS row MATCH (n:Code {id: row.id}) "
            "SET n.sites = null, n.embedding = null, n.poincare = null, n.sync_hash = null, "
            "n.edges_hash = null",
            r["strip"],
        )
        match = "UNWIND $rows AS row MATCH (a:Code {id: row.s}) MATCH (b:Code {id: row.e}) "
        run(tx, match + "CREATE (a)-[r:ALIGNED_WITH]->(b) SET r = row.p", r["e_create"])
        run(tx, match + "MATCH (a)-[r:ALIGNED_WITH]->(b) SET r = row.p", r["e_update"])
        run(tx, match + "MATCH (a)-[r:ALIGNED_WITH]->(b) DELETE r", r["e_delete"])
        for labels in sorted({row["labels"] for row in r["m_delete"]}):
            run(
                tx,
                _mash_match(labels) + "MATCH (a)-[r:MASH_IS_A]->(b) DELETE r",
                [row for row in r["m_delete"] if row["labels"] == labels],
            )
        run(tx, "UNWIND $rows AS row MATCH (n:Latent {id: row.id}) DETACH DELETE n", r["l_delete"])
        run(tx, "UNWIND $rows AS row CREATE (n:Latent) SET n = row.p", r["l_create"])
        run(tx, "UNWIND $rows AS row MATCH (n:Latent {id: row.id}) SET n = row.p", r["l_update"])
        for labels in sorted({row["labels"] for row in r["m_create"] + r["m_update"]}):
            m = _mash_match(labels)
            run(
                tx,
                m + "CREATE (a)-[r:MASH_IS_A]->(b) SET r = row.p",
                [row for row in r["m_create"] if row["labels"] == labels],
            )
            run(
                tx,
                m + "MATCH (a)-[r:MASH_IS_A]->(b) SET r = row.p",
                [row for row in r["m_update"] if row["labels"] == labels],
            )
        if plan.build_changed:
            tx.run(
                "MATCH (b:Build) WHERE b.id <> $id SET b.current = false "
                "WITH count(*) AS _ MERGE (b:Build {id: $id}) "
                "SET b.created_at = $created, b.config_hash = $hash, b.version = $version, "
                "b.metrics = $metrics, b.synced_at = $now, b.current = true",
                id=build,
                created=manifest.get("created_at"),
                hash=manifest.get("config_hash"),
                version=manifest.get("version"),
                metrics=json.dumps(manifest.get("sites", {}), sort_keys=True, default=str),
                now=datetime.now(UTC).isoformat(timespec="seconds"),
            ).consume()
        commit(tx)


def _mash_match(labels: tuple[str, str]) -> str:
    """Both ends of a MASH_IS_A row, each by its label's unique id. The label text comes from
    the fixed table _END_LABELS, never from input; anything else is a real error (not an
    assert, which `python -O` removes)."""
    try:
        start, end = (_END_LABELS[x] for x in labels)
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"MASH_IS_A end labels must be Code or Latent, got {labels!r}") from None
    return f"UNWIND $rows AS row MATCH (a:{start} {{id: row.s}}) MATCH (b:{end} {{id: row.e}}) "


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


def _is_current(driver: Driver, build: str, database: str) -> bool:
    records, _, _ = driver.execute_query(
        "MATCH (b:Build {id: $id, current: true}) RETURN count(b) AS n",
        id=build,
        database_=database,
    )
    return records[0]["n"] > 0
