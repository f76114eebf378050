"""A build's learned content against the graph (`mash-kg sync`): what the graph holds of it,
and the pure difference as a `Plan`.

What a build owns in the graph (curated ontology content is never touched):
- ``:Site`` nodes; ``:Code`` nodes the build brings that no load created (``origin: 'build'``,
  e.g. a site's local lab codes), retired (``status: 'retired'``) when a later build drops them;
- on every code of the build: ``sites``, ``embedding``, ``poincare`` and ``sync_hash`` (a
  digest of the three) and ``edges_hash`` (a digest of its outgoing learned edges), so that a
  sync finds what changed without reading every vector and edge back; removed again from codes
  a later build no longer has;
- ``ALIGNED_WITH {score, transport, rank, method, build}`` edges; ``build`` names the build that
  last wrote the edge, so an unchanged edge is not rewritten;
- ``:Latent {id, name, domain, size, poincare, build}`` nodes (deleted with their edges when a
  later build no longer has them) and ``MASH_IS_A {score, rank, build}`` edges;
- ``:Build {id, created_at, config_hash, version, metrics, synced_at, current}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import NamedTuple

import pandas as pd
from neo4j import Driver

from mash_kg.content import END_LABELS, Target, aligned_edges, learned_edges
from mash_kg.graph.reconcile.engine import Counts, Plan, Report, RetireGuard, Step

# the two labels a MASH_IS_A end can have, as query text (never from data)
_END_LABELS = {label: label for label in END_LABELS}
CREATED_KEYS = ("vocab", "code", "name", "domain", "site")  # on codes a build creates
_STRIP = (
    "n.sites = null, n.embedding = null, n.poincare = null, n.sync_hash = null, n.edges_hash = null"
)


class HeldCode(NamedTuple):
    """A code as a sync sees it in the graph (no vector is read back)."""

    id: str
    hash: str | None  # sync_hash
    has_sites: bool
    origin: str | None
    status: str | None
    edges_hash: str | None


@dataclass
class LearnedHeld:
    """What the graph holds of a build's content, as far as the diff needs it: edges only of
    the `dirty` codes (those whose outgoing edges may differ from the build's)."""

    codes: dict[str, HeldCode] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    aligned: dict[tuple[str, str], dict] = field(default_factory=dict)
    learned: dict[tuple[str, str], tuple[dict, tuple[str, str]]] = field(default_factory=dict)
    latent: dict[str, dict] = field(default_factory=dict)
    sites: set[str] = field(default_factory=set)
    total: int = 0  # ALIGNED_WITH + MASH_IS_A + :Latent in the whole graph
    current: bool = False  # the build is the graph's current one


def mash_match(labels: tuple[str, str]) -> str:
    """Both ends of a MASH_IS_A row, each by its label's unique id. The label text comes from
    the fixed table _END_LABELS, never from input; anything else is a real error (not an
    assert, which `python -O` removes)."""
    try:
        start, end = (_END_LABELS[x] for x in labels)
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"MASH_IS_A end labels must be Code or Latent, got {labels!r}") from None
    return f"UNWIND $rows AS row MATCH (a:{start} {{id: row.s}}) MATCH (b:{end} {{id: row.e}}) "


def dirty_codes(target: Target, codes: dict[str, HeldCode]) -> set[str]:
    """Codes whose outgoing learned edges must be read back: the build's codes whose
    edges_hash the graph does not hold, and held codes the build no longer has."""
    dig = target.digests
    edge_hash = dict(zip(dig["id"], dig["edges_hash"], strict=True))
    dirty = {c for c, h in edge_hash.items() if c not in codes or codes[c].edges_hash != h}
    return dirty | {c for c in codes if c not in edge_hash}


# ---------------------------------------------------------------------------------- reading

# each read returns one record holding a list: far less Bolt traffic than a record per row
_CODE_FIELDS = (
    "collect([n.id, n.sync_hash, n.sites IS NOT NULL, n.origin, n.status, n.edges_hash]) AS rows"
)
_MASH_ROWS = (
    "collect([a.id, b.id, properties(r), CASE WHEN a:Latent THEN 'Latent' ELSE 'Code' END, "
    "CASE WHEN b:Latent THEN 'Latent' ELSE 'Code' END]) AS rows"
)


def read_learned(driver: Driver, target: Target, database: str) -> LearnedHeld:
    """What the graph holds of `target`'s content: codes by their digests, edges of the codes
    whose edge digest differs, latent groups, sites, and the totals the retire guard needs."""
    q = lambda query, **p: driver.execute_query(query, database_=database, **p)[0]  # noqa: E731
    held = LearnedHeld()
    rows = q(
        "MATCH (n:Code) WHERE n.sites IS NOT NULL OR n.origin = 'build' RETURN " + _CODE_FIELDS
    )
    held.codes = {r[0]: HeldCode(*r) for r in rows[0]["rows"]}
    unseen = [c for c in target.digests["id"] if c not in held.codes]  # curated, or new codes
    if unseen:
        rows = q("UNWIND $ids AS id MATCH (n:Code {id: id}) RETURN " + _CODE_FIELDS, ids=unseen)
        held.codes.update({r[0]: HeldCode(*r) for r in rows[0]["rows"]})
    held.dirty = dirty_codes(target, held.codes)
    ids = sorted(held.dirty)
    rows = q(
        "UNWIND $ids AS id MATCH (a:Code {id: id})-[r:ALIGNED_WITH]->(b:Code) "
        "RETURN collect([a.id, b.id, properties(r)]) AS rows",
        ids=ids,
    )
    held.aligned = {(s, e): p for s, e, p in rows[0]["rows"]}
    held.sites = {r["id"] for r in q("MATCH (s:Site) RETURN s.id AS id")}
    held.latent = {
        r["id"]: r["p"] for r in q("MATCH (n:Latent) RETURN n.id AS id, properties(n) AS p")
    }
    mash = q(
        "UNWIND $ids AS id MATCH (a:Code {id: id})-[r:MASH_IS_A]->(b) RETURN " + _MASH_ROWS, ids=ids
    )
    mash += q("MATCH (a:Latent)-[r:MASH_IS_A]->(b) RETURN " + _MASH_ROWS)
    held.learned = {(a, b): (p, (la, lb)) for rec in mash for a, b, p, la, lb in rec["rows"]}
    held.total = q(
        "CALL { MATCH ()-[r:ALIGNED_WITH]->() RETURN count(r) AS a } "
        "CALL { MATCH ()-[r:MASH_IS_A]->() RETURN count(r) AS m } "
        "CALL { MATCH (n:Latent) RETURN count(n) AS l } RETURN a + m + l AS n"
    )[0]["n"]
    current = q("MATCH (b:Build {id: $id, current: true}) RETURN count(b) AS n", id=target.build)
    held.current = current[0]["n"] > 0
    return held


# ---------------------------------------------------------------------------------- the diff


def diff_learned(target: Target, held: LearnedHeld) -> Plan:
    """The plan that makes the graph hold `target`'s learned content (pure: no driver; the
    build's vectors are read only for the codes it writes)."""
    report = Report(target.build, {})  # kinds in the report's order: codes, ALIGNED_WITH, ...
    codes, stripped = _code_steps(target, held, report)
    aligned = _aligned_steps(target, held, report)
    sites = sorted(set(target.codes["site"]) - held.sites)
    report.kinds["sites"] = Counts(added=len(sites))
    latent = _latent_steps(target, held, report)
    removes, creates = _learned_steps(target, held, report)
    steps = [
        Step("UNWIND $rows AS id MERGE (:Site {id: id})", sites),
        *codes,
        *aligned,
        *removes,  # edges to groups that go, before the groups
        *latent,
        *creates,  # edges to groups that come, after them
    ]
    if report.changes or not held.current:
        steps.append(_build_step(target))
    k = report.kinds
    removed = (
        stripped
        + k["codes"].retired
        + sum(k[x].retired for x in ("ALIGNED_WITH", ":Latent", "MASH_IS_A"))
    )
    held_codes = sum(1 for c in held.codes.values() if c.has_sites)
    guard = RetireGuard(
        removed,
        held_codes + held.total,
        "this sync would remove",
        "learned items the graph holds",
        "; if that is intended, run it again with --allow-retire (check first with --dry-run)",
    )
    return Plan(report, [Step(s.query, s.rows, s.params, label="rows") for s in steps], guard)


def _node_props(target: Target, row: dict, cid: str) -> dict:
    """What a build writes on code `cid` (its digest `row`; vectors as lists; None removes a
    property)."""
    poincare = target.poincare
    return {
        "sites": [str(x) for x in row["sites"]],
        "embedding": target.embedding[cid].tolist(),
        "poincare": poincare[cid].tolist() if cid in poincare else None,
        "sync_hash": row["sync_hash"],
        "edges_hash": row["edges_hash"],
    }


def _digest_rows(target: Target) -> dict[str, dict]:
    """id -> sites, sync_hash, edges_hash of each code of the build."""
    dig = target.digests
    rows = dig[["sites", "sync_hash", "edges_hash"]].to_dict("records")
    return dict(zip(dig["id"], rows, strict=True))


def _created_props(target: Target, digest: dict, cids: list[str]) -> dict[str, dict]:
    """Properties of the codes a build creates, from the first row of each in its codes table;
    a standard code (one with a vocabulary) has no site."""
    codes = target.codes
    first = codes[codes["id"].isin(cids)].drop_duplicates("id").set_index("id").to_dict("index")
    out = {}
    for cid in cids:
        row = first[cid]
        extra = {k: row[k] for k in CREATED_KEYS if k in row and not pd.isna(row[k])}
        if extra.get("vocab") and not str(cid).startswith(f"{extra.get('site')}/"):
            extra.pop("site", None)
        props = {k: v for k, v in _node_props(target, digest[cid], cid).items() if v is not None}
        out[cid] = {**extra, **props, "origin": "build", "status": "active"}
    return out


def _code_steps(target: Target, held: LearnedHeld, report: Report) -> tuple[list[Step], int]:
    """Codes created, rewritten, edge-digest-only marked, retired (a build's own) or stripped
    of learned properties (curated codes the build no longer has; their count is returned)."""
    digest = _digest_rows(target)
    missing = [c for c in digest if c not in held.codes]
    created = _created_props(target, digest, missing)
    create, update = [], []
    for cid, row in digest.items():
        old = held.codes.get(cid)
        if old is None:
            create.append({"id": cid, "props": created[cid]})
        elif old.hash != row["sync_hash"] or (old.origin == "build" and old.status != "active"):
            props = _node_props(target, row, cid)
            if old.origin == "build":
                props["status"] = "active"
            update.append({"id": cid, "props": props})
    rewritten = {r["id"] for r in create + update}
    marks = [
        {"id": c, "h": digest[c]["edges_hash"]}
        for c in sorted(held.dirty)
        if c in digest and c not in rewritten
    ]  # edges changed, the code did not
    retire, strip = [], []
    for c in held.codes.values():
        if c.id in digest:
            continue
        if c.origin == "build" and c.status != "retired":
            retire.append({"id": c.id})
        elif c.has_sites:
            strip.append({"id": c.id})
    report.kinds["codes"] = Counts(len(create), len(update) + len(strip), len(retire))
    match = "UNWIND $rows AS row MATCH (n:Code {id: row.id}) "
    steps = [
        Step("UNWIND $rows AS row CREATE (n:Code {id: row.id}) SET n += row.props", create),
        Step(match + "SET n += row.props", update),
        Step(match + "SET n.edges_hash = row.h", marks),
        Step(match + "SET n.status = 'retired', " + _STRIP, retire),
        Step(match + "SET " + _STRIP, strip),
    ]
    return steps, len(strip)


def _aligned_steps(target: Target, held: LearnedHeld, report: Report) -> list[Step]:
    """ALIGNED_WITH edges from the dirty codes; an unchanged edge keeps the build that wrote it."""
    build, wanted = target.build, aligned_edges(target, held.dirty)
    create = [
        {"s": s, "e": e, "p": {**p, "build": build}}
        for (s, e), p in wanted.items()
        if (s, e) not in held.aligned
    ]
    update = [
        {"s": s, "e": e, "p": {**p, "build": build}}
        for (s, e), p in wanted.items()
        if (s, e) in held.aligned and _without(held.aligned[(s, e)], "build") != p
    ]
    delete = [{"s": s, "e": e} for (s, e) in held.aligned if (s, e) not in wanted]
    report.kinds["ALIGNED_WITH"] = Counts(len(create), len(update), len(delete))
    match = "UNWIND $rows AS row MATCH (a:Code {id: row.s}) MATCH (b:Code {id: row.e}) "
    return [
        Step(match + "CREATE (a)-[r:ALIGNED_WITH]->(b) SET r = row.p", create),
        Step(match + "MATCH (a)-[r:ALIGNED_WITH]->(b) SET r = row.p", update),
        Step(match + "MATCH (a)-[r:ALIGNED_WITH]->(b) DELETE r", delete),
    ]


def _without(props: dict, *keys: str) -> dict:
    return {k: v for k, v in props.items() if k not in keys}


def _latent_steps(target: Target, held: LearnedHeld, report: Report) -> list[Step]:
    """:Latent groups deleted (with their edges), created, rewritten when they differ."""
    build, points = target.build, target.poincare if len(target.latent) else None
    wanted = {
        r.id: {
            "name": r.name,
            "size": int(r.size),
            "poincare": points[r.id].tolist() if r.id in points else None,
            **({} if r.domain is None or pd.isna(r.domain) else {"domain": r.domain}),
        }
        for r in target.latent.itertuples()
    }
    row = lambda i, p: {"id": i, "p": {**p, "id": i, "build": build}}  # noqa: E731
    create = [row(i, p) for i, p in wanted.items() if i not in held.latent]
    update = [
        row(i, p)
        for i, p in wanted.items()
        if i in held.latent
        and _without(held.latent[i], "build", "id") != {k: v for k, v in p.items() if v is not None}
    ]
    delete = [{"id": i} for i in held.latent if i not in wanted]
    report.kinds[":Latent"] = Counts(len(create), len(update), len(delete))
    return [
        Step("UNWIND $rows AS row MATCH (n:Latent {id: row.id}) DETACH DELETE n", delete),
        Step("UNWIND $rows AS row CREATE (n:Latent) SET n = row.p", create),
        Step("UNWIND $rows AS row MATCH (n:Latent {id: row.id}) SET n = row.p", update),
    ]


def _learned_steps(
    target: Target, held: LearnedHeld, report: Report
) -> tuple[list[Step], list[Step]]:
    """MASH_IS_A edges from the dirty codes and every group: (deletions, creations+updates),
    one statement per pair of end labels."""
    build = target.build
    wanted = learned_edges(target, held.dirty | set(target.latent["id"]))
    create, update = [], []
    for (a, b), p in wanted.items():
        props = {"score": p["score"], "rank": p["rank"], "build": build}
        row = {"s": a, "e": b, "labels": p["labels"], "p": props}
        old = held.learned.get((a, b))
        if old is None:
            create.append(row)
        elif old[0].get("score") != p["score"] or old[0].get("rank") != p["rank"]:
            update.append(row)
    delete = [
        {"s": a, "e": b, "labels": labels}
        for (a, b), (_, labels) in held.learned.items()
        if (a, b) not in wanted
    ]
    report.kinds["MASH_IS_A"] = Counts(len(create), len(update), len(delete))
    removes = [
        Step(mash_match(labels) + "MATCH (a)-[r:MASH_IS_A]->(b) DELETE r", _of(delete, labels))
        for labels in sorted({r["labels"] for r in delete})
    ]
    creates = []
    for labels in sorted({r["labels"] for r in create + update}):
        m = mash_match(labels)
        creates += [
            Step(m + "CREATE (a)-[r:MASH_IS_A]->(b) SET r = row.p", _of(create, labels)),
            Step(m + "MATCH (a)-[r:MASH_IS_A]->(b) SET r = row.p", _of(update, labels)),
        ]
    return removes, creates


def _of(rows: list[dict], labels: tuple[str, str]) -> list[dict]:
    return [r for r in rows if r["labels"] == labels]


def _build_step(target: Target) -> Step:
    """The build becomes the graph's current one (`now`: the write's time)."""
    manifest = target.manifest
    return Step(
        "MATCH (b:Build) WHERE b.id <> $id SET b.current = false "
        "WITH count(*) AS _ MERGE (b:Build {id: $id}) "
        "SET b.created_at = $created, b.config_hash = $hash, b.version = $version, "
        "b.metrics = $metrics, b.synced_at = $now, b.current = true",
        None,
        {
            "id": target.build,
            "created": manifest.get("created_at"),
            "hash": manifest.get("config_hash"),
            "version": manifest.get("version"),
            "metrics": json.dumps(manifest.get("sites", {}), sort_keys=True, default=str),
        },
    )
