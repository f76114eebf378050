"""A build's learned content against the graph (`mash-kg sync`): what the graph holds of it,
and the pure difference as a `Plan` that writes the build as a new *version*.

Builds are versions in the graph. Every synced build is a ``:Build`` node with a version
number ``seq`` (1, 2, ...); exactly one is ``active``. Learned content carries the versions it
is valid in, as an interval ``valid_from <= v < valid_to`` (``valid_to`` null: still valid in
the newest version), never a copy per build:
- ``ALIGNED_WITH {score, transport, rank, method, build, valid_from, valid_to}`` and
  ``MASH_IS_A {score, rank, build, valid_from, valid_to}`` edges;
- ``:Latent {id, name, domain, size, poincare, build, valid_from, valid_to}`` nodes (a group
  that changes gets a new node with the same id, its edges are written again);
- per code, ``(:Code)-[:HAS_STATE]->(:CodeState {code, sites, embedding, poincare, build,
  valid_from, valid_to})``: what the build learned about the code.
A sync diffs the build against the newest version (open rows), closes the rows that change or
go (``valid_to = N``) and creates their new rows (``valid_from = N``): a 1% change writes ~1% of
the rows, and no row valid in an earlier version ever changes, so a reader pinned to a version
reads one build whatever commits meanwhile. The new ``:Build`` is written and made active by the
transaction's last statement.

Kept in place (bookkeeping of the newest version, not content): on every code of the newest
version ``sync_hash`` (a digest of its sites, embedding and point) and ``edges_hash`` (of its
outgoing learned edges), so that a sync finds what changed without reading vectors back;
``:Code`` nodes a build created (``origin: 'build'``; ``status: 'retired'`` once the newest build
drops them) and ``:Site`` nodes stay. Curated content is never touched.

Review decisions (``:Decision {key, relation, child, parent, decision}``, written by the review
page) are applied here and never changed: an edge with a 'reject' is never written; an edge with
an 'accept' stays valid in every new version even when the build lacks it (with its last score;
created without a score when no build had it).
"""

from __future__ import annotations

import hashlib
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
RELATIONS = ("MASH_IS_A", "ALIGNED_WITH")  # what a review decision is about
KINDS = ("codes", "ALIGNED_WITH", "sites", ":Latent", "MASH_IS_A")  # a sync report's order
_DIGESTS_OFF = "n.sync_hash = null, n.edges_hash = null"


class HeldCode(NamedTuple):
    """A code as a sync sees it in the graph (no vector is read back)."""

    id: str
    hash: str | None  # sync_hash: set while the newest version has a state of the code
    has_state: bool
    origin: str | None
    status: str | None
    edges_hash: str | None


@dataclass
class Decisions:
    """Review decisions by relation: (child, parent) pairs accepted and rejected."""

    accept: dict[str, set] = field(default_factory=lambda: {r: set() for r in RELATIONS})
    reject: dict[str, set] = field(default_factory=lambda: {r: set() for r in RELATIONS})
    digest: str = "-"

    def children(self) -> set[str]:
        return {c for pairs in (*self.accept.values(), *self.reject.values()) for c, _ in pairs}


@dataclass
class LearnedHeld:
    """What the graph holds of the newest version, as far as the diff needs it: edges only of
    the `dirty` codes (those whose outgoing edges may differ from the build's)."""

    codes: dict[str, HeldCode] = field(default_factory=dict)  # that differ, or the build lacks
    missing: set[str] = field(default_factory=set)  # the build's codes with no node yet
    states: int = 0  # codes with an open state (the retire guard's count)
    dirty: set[str] = field(default_factory=set)
    aligned: dict[tuple[str, str], dict] = field(default_factory=dict)
    learned: dict[tuple[str, str], tuple[dict, tuple[str, str]]] = field(default_factory=dict)
    latent: dict[str, dict] = field(default_factory=dict)
    sites: set[str] = field(default_factory=set)
    total: int = 0  # open ALIGNED_WITH + MASH_IS_A + :Latent rows
    open: dict[str, int] = field(default_factory=dict)  # open rows per kind
    current: bool = False  # the build is the newest version and the active one
    head: int = 0  # the newest version number (0: none)
    head_build: str | None = None  # the build of the newest version
    decisions: Decisions = field(default_factory=Decisions)
    same: bool = False  # the newest version is this build with these decisions: nothing to do


def stamp(target: Target, decisions: Decisions) -> str:
    """A digest of what a version of `target` holds: its codes' digests and the decisions."""
    dig = target.digests
    h = hashlib.blake2b(digest_size=16)
    for col in ("id", "sync_hash", "edges_hash"):
        h.update("\x1f".join(map(str, dig[col].tolist())).encode())  # tolist: no per-row box
    h.update(decisions.digest.encode())
    return h.hexdigest()


def mash_match(labels: tuple[str, str]) -> str:
    """Both ends of a MASH_IS_A row, each by its label's unique id (a group: its node of the
    newest version). The label text comes from the fixed table _END_LABELS, never from input;
    anything else is a real error (not an assert, which `python -O` removes)."""
    try:
        start, end = (_END_LABELS[x] for x in labels)
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"MASH_IS_A end labels must be Code or Latent, got {labels!r}") from None
    text = f"UNWIND $rows AS row MATCH (a:{start} {{id: row.s}}) "
    text += "WHERE a.valid_to IS NULL " if start == "Latent" else ""
    text += f"MATCH (b:{end} {{id: row.e}}) "
    return text + ("WHERE b.valid_to IS NULL " if end == "Latent" else "")


def dirty_codes(target: Target, codes: dict[str, HeldCode], missing: set[str]) -> set[str]:
    """Codes whose outgoing learned edges must be read back: the build's codes whose
    edges_hash the graph does not hold (`missing`: no node yet; `codes`: the held codes that
    may differ, a code not in it holds the build's digests), and held codes the build no
    longer has."""
    rows = target.digest_rows
    dirty = {c for c in missing if c in rows}
    dirty |= {
        c for c, old in codes.items() if c in rows and old.edges_hash != rows[c]["edges_hash"]
    }
    return dirty | {c for c in codes if c not in rows}


# ---------------------------------------------------------------------------------- reading

# each read returns one record holding a list: far less Bolt traffic than a record per row
_CODE_FIELD = "[n.id, n.sync_hash, n.sync_hash IS NOT NULL, n.origin, n.status, n.edges_hash]"
_CODE_ROWS = "RETURN collect(" + _CODE_FIELD + ") AS rows"
_MASH_ROWS = (
    "collect([a.id, b.id, properties(r), CASE WHEN a:Latent THEN 'Latent' ELSE 'Code' END, "
    "CASE WHEN b:Latent THEN 'Latent' ELSE 'Code' END]) AS rows"
)
_OPEN_COUNTS = (
    "CALL { MATCH ()-[r:ALIGNED_WITH]->() WHERE r.valid_to IS NULL RETURN count(r) AS a } "
    "CALL { MATCH ()-[r:MASH_IS_A]->() WHERE r.valid_to IS NULL RETURN count(r) AS m } "
    "CALL { MATCH (n:Latent) WHERE n.valid_to IS NULL RETURN count(n) AS l } "
    "RETURN a, m, l"
)


def read_decisions(driver: Driver, database: str) -> Decisions:
    """Every review decision of the graph, by relation (accept and reject; 'discuss' is none)."""
    rows = driver.execute_query(
        "MATCH (d:Decision) WHERE d.relation IN $relations "
        "RETURN collect([d.relation, d.child, d.parent, d.decision]) AS rows",
        relations=list(RELATIONS),
        database_=database,
    )[0][0]["rows"]
    out = Decisions()
    for relation, child, parent, decision in sorted(rows, key=lambda r: [str(x) for x in r]):
        if decision in ("accept", "reject") and child and parent:
            getattr(out, decision)[relation].add((child, parent))
    out.digest = hashlib.blake2b(repr(sorted(map(repr, rows))).encode(), digest_size=8).hexdigest()
    return out


def read_head(driver: Driver, database: str) -> dict:
    """The newest version (seq, build id, stamp) and the active build's id."""
    rec = driver.execute_query(
        "OPTIONAL MATCH (h:Build) WHERE h.seq IS NOT NULL WITH h ORDER BY h.seq DESC LIMIT 1 "
        "OPTIONAL MATCH (a:Build {active: true}) "
        "RETURN h.seq AS seq, h.id AS id, h.stamp AS stamp, a.id AS active",
        database_=database,
    )[0][0]
    return dict(rec)


def read_learned(driver: Driver, target: Target, database: str) -> LearnedHeld:
    """What the newest version holds of `target`'s content: codes by their digests, open edges
    of the codes whose edge digest differs (and of every group and its members), open groups,
    sites, decisions, and the totals the retire guard needs."""
    q = lambda query, **p: driver.execute_query(query, database_=database, **p)[0]  # noqa: E731
    head = read_head(driver, database)
    held = LearnedHeld(head=head["seq"] or 0, head_build=head["id"])
    held.current = head["id"] == target.build and head["active"] == target.build
    held.decisions = read_decisions(driver, database)
    if head["id"] == target.build and head["stamp"] == stamp(target, held.decisions):
        held.same = True  # the newest version is this build: nothing to read or write
        return held
    want = target.digest_rows
    rows = q("MATCH (n:Code) WHERE n.sync_hash IS NOT NULL OR n.origin = 'build' " + _CODE_ROWS)
    seen = set()
    for row in rows[0]["rows"]:  # kept: the codes that differ from the build or it lacks
        cid, sync_hash, has_state, origin, status, edges_hash = row
        seen.add(cid)
        held.states += bool(has_state)
        w = want.get(cid)
        same = w is not None and (w["sync_hash"], w["edges_hash"]) == (sync_hash, edges_hash)
        if not same or (origin == "build" and status != "active"):
            held.codes[cid] = HeldCode(*row)
    unseen = [c for c in want if c not in seen]  # curated codes without a state, or new codes
    if unseen:
        rows = q("UNWIND $ids AS id MATCH (n:Code {id: id}) " + _CODE_ROWS, ids=unseen)
        held.codes.update({r[0]: HeldCode(*r) for r in rows[0]["rows"]})
        held.missing = set(unseen) - set(held.codes)
    members = q(
        "MATCH (a:Code)-[r:MASH_IS_A]->(:Latent) WHERE r.valid_to IS NULL "
        "RETURN collect(DISTINCT a.id) AS ids"
    )[0]["ids"]
    h = target.hierarchy
    held.dirty = (
        dirty_codes(target, held.codes, held.missing)
        | set(members)
        | set(h.loc[h["parent_label"] == "Latent", "child"])
        | held.decisions.children()
    )
    ids = sorted(held.dirty)
    rows = q(
        "UNWIND $ids AS id MATCH (a:Code {id: id})-[r:ALIGNED_WITH]->(b:Code) "
        "USING INDEX a:Code(id) "  # from each id: never a scan of every code per id
        "WHERE r.valid_to IS NULL RETURN collect([a.id, b.id, properties(r)]) AS rows",
        ids=ids,
    )
    held.aligned = {(s, e): p for s, e, p in rows[0]["rows"]}
    held.sites = {r["id"] for r in q("MATCH (s:Site) RETURN s.id AS id")}
    held.latent = {
        r["id"]: r["p"]
        for r in q(
            "MATCH (n:Latent) WHERE n.valid_to IS NULL RETURN n.id AS id, properties(n) AS p"
        )
    }
    mash = q(
        "UNWIND $ids AS id MATCH (a:Code {id: id})-[r:MASH_IS_A]->(b) USING INDEX a:Code(id) "
        "WHERE r.valid_to IS NULL "
        "RETURN " + _MASH_ROWS,
        ids=ids,
    )
    mash += q(
        "MATCH (a:Latent)-[r:MASH_IS_A]->(b) WHERE a.valid_to IS NULL AND r.valid_to IS NULL "
        "RETURN " + _MASH_ROWS
    )
    held.learned = {(a, b): (p, (la, lb)) for rec in mash for a, b, p, la, lb in rec["rows"]}
    counts = q(_OPEN_COUNTS)[0]
    held.open = {"ALIGNED_WITH": counts["a"], "MASH_IS_A": counts["m"], ":Latent": counts["l"]}
    held.total = sum(held.open.values())
    return held


# ---------------------------------------------------------------------------------- the diff


def diff_learned(target: Target, held: LearnedHeld) -> Plan:
    """The plan that writes `target` as version ``held.head + 1`` (pure: no driver; the build's
    vectors are read only for the codes it writes). A build the newest version already holds
    is only made active again, when it is not."""
    report = Report(target.build, {})  # kinds in the report's order: codes, ALIGNED_WITH, ...
    if held.same:
        report.kinds = {k: Counts() for k in KINDS}
        steps = [] if held.current else [activate_step(target.build)]
        return Plan(report, steps)
    v = held.head + 1
    codes, stripped = _code_steps(target, held, report)
    aligned = _aligned_steps(target, held, report)
    sites = sorted(set(target.codes["site"]) - held.sites)
    report.kinds["sites"] = Counts(added=len(sites))
    latent, renewed = _latent_steps(target, held, report)
    closes, creates = _learned_steps(target, held, report, renewed)
    steps = [
        Step("UNWIND $rows AS id MERGE (:Site {id: id})", sites),
        *codes,
        *aligned,
        *closes,  # edges of groups that go or change, before the groups
        *latent,
        *creates,  # edges to groups that come, after them
    ]
    k = report.kinds
    removed = (
        stripped
        + k["codes"].retired
        + sum(k[x].retired for x in ("ALIGNED_WITH", ":Latent", "MASH_IS_A"))
    )
    guard = RetireGuard(
        removed,
        held.states + held.total,
        "this sync would remove",
        "learned items the graph holds",
        "; if that is intended, run it again with --allow-retire (check first with --dry-run)",
    )
    figures = {"codes": len(target.digests)}
    for kind in ("ALIGNED_WITH", "MASH_IS_A", ":Latent"):
        figures[kind] = held.open.get(kind, 0) + k[kind].added - k[kind].retired
    steps = [Step(s.query, s.rows, {**s.params, "v": v}, label="rows") for s in steps]
    steps.append(_build_step(target, v, stamp(target, held.decisions), figures))
    report.version = v
    report.edges.sort(key=lambda r: (r["relation"], r["child"], r["parent"]))
    return Plan(report, steps, guard)


def _state(target: Target, row: dict, cid: str) -> dict:
    """The CodeState a build writes for code `cid` (its digest `row`; vectors as lists; a None
    is not stored). ``valid_from`` is the statement's ``$v``."""
    poincare = target.poincare
    return {
        "code": cid,
        "build": target.build,
        "sites": [str(x) for x in row["sites"]],
        "embedding": target.embedding[cid].tolist(),
        "poincare": poincare[cid].tolist() if cid in poincare else None,
    }


def _created_props(target: Target, cids: list[str]) -> dict[str, dict]:
    """Node properties of the codes a build creates, from the first row of each in its codes
    table; a standard code (one with a vocabulary) has no site."""
    codes = target.codes
    first = codes[codes["id"].isin(cids)].drop_duplicates("id").set_index("id").to_dict("index")
    out = {}
    for cid in cids:
        row = first[cid]
        extra = {k: row[k] for k in CREATED_KEYS if k in row and not pd.isna(row[k])}
        if extra.get("vocab") and not str(cid).startswith(f"{extra.get('site')}/"):
            extra.pop("site", None)
        out[cid] = {**extra, "origin": "build", "status": "active"}
    return out


_MATCH_CODE = "UNWIND $rows AS row MATCH (n:Code {id: row.id}) "


def _code_steps(target: Target, held: LearnedHeld, report: Report) -> tuple[list[Step], int]:
    """Codes created; a new CodeState where a code's sites or vectors changed (the open one
    closed); edge digests marked; a build's own codes retired and curated codes' states closed
    when the build no longer has them (the count of the latter is returned)."""
    digest = target.digest_rows
    created = _created_props(target, [c for c in digest if c in held.missing])
    create, update = [], []
    # only the codes that may change: new ones and held ones that differ (a build code not in
    # held.codes holds this build's digests already); in the build's order
    for cid in (c for c in digest if c in held.missing or c in held.codes):
        row = digest[cid]
        marks = {"sync_hash": row["sync_hash"], "edges_hash": row["edges_hash"]}
        if cid in held.missing:
            create.append({"id": cid, "props": {**created[cid], **marks}})
            continue
        old = held.codes[cid]
        if old.hash != row["sync_hash"] or (old.origin == "build" and old.status != "active"):
            props = {**marks, **({"status": "active"} if old.origin == "build" else {})}
            update.append({"id": cid, "props": props})
    states = [{"id": r["id"], "state": _state(target, digest[r["id"]], r["id"])} for r in create]
    states += [{"id": r["id"], "state": _state(target, digest[r["id"]], r["id"])} for r in update]
    rewritten = {r["id"] for r in states}
    marks = [
        {"id": c, "h": digest[c]["edges_hash"]}
        for c in sorted(held.dirty)
        if c in digest and c not in rewritten and c in held.codes
    ]  # edges changed, the code did not
    retire, strip = [], []
    for c in held.codes.values():
        if c.id in digest:
            continue
        if c.origin == "build" and c.status != "retired":
            retire.append({"id": c.id})
        elif c.has_state:
            strip.append({"id": c.id})
    report.kinds["codes"] = Counts(len(create), len(update) + len(strip), len(retire))
    closed = [{"id": r["id"]} for r in update] + retire + strip
    return [
        Step("UNWIND $rows AS row CREATE (n:Code {id: row.id}) SET n += row.props", create),
        Step(
            _MATCH_CODE + "MATCH (n)-[:HAS_STATE]->(s:CodeState) WHERE s.valid_to IS NULL "
            "SET s.valid_to = $v",
            closed,
        ),
        Step(_MATCH_CODE + "SET n += row.props", update),
        Step(
            _MATCH_CODE + "CREATE (n)-[:HAS_STATE]->(s:CodeState) SET s = row.state, "
            "s.valid_from = $v",
            states,
        ),
        Step(_MATCH_CODE + "SET n.edges_hash = row.h", marks),
        Step(_MATCH_CODE + "SET n.status = 'retired', " + _DIGESTS_OFF, retire),
        Step(_MATCH_CODE + "SET " + _DIGESTS_OFF, strip),
    ], len(strip)


def _decide(wanted: dict, held: dict, decisions: Decisions, relation: str, new) -> None:
    """Apply the review decisions to the edges a version will hold (`wanted`, from the build):
    a rejected edge is dropped; an accepted one the build lacks keeps its open row's values
    (`held`), or is made by `new(pair)` when no version had it."""
    for pair in decisions.reject[relation]:
        wanted.pop(pair, None)
    for pair in decisions.accept[relation]:
        if pair in wanted:
            continue
        wanted[pair] = held[pair] if pair in held else new(pair)


def _aligned_steps(target: Target, held: LearnedHeld, report: Report) -> list[Step]:
    """ALIGNED_WITH edges from the dirty codes: new ones created, changed ones closed and
    created again, gone ones closed; an unchanged edge keeps the build that wrote it."""
    build, wanted = target.build, aligned_edges(target, held.dirty)
    kept = {
        pair: _without(p, "build", "valid_from", "valid_to") for pair, p in held.aligned.items()
    }
    _decide(wanted, kept, held.decisions, "ALIGNED_WITH", lambda pair: {"decision": "accept"})
    create = [
        {"s": s, "e": e, "p": {**p, "build": build}}
        for (s, e), p in wanted.items()
        if (s, e) not in kept or kept[(s, e)] != p
    ]
    changed = sum(1 for r in create if (r["s"], r["e"]) in kept)
    close = [{"s": s, "e": e} for (s, e), p in kept.items() if wanted.get((s, e)) != p]
    report.kinds["ALIGNED_WITH"] = Counts(len(create) - changed, changed, len(close) - changed)
    report.edges += edge_changes(
        "ALIGNED_WITH",
        {(r["s"], r["e"]): kept[(r["s"], r["e"])] for r in close},
        {(r["s"], r["e"]): r["p"] for r in create},
    )
    match = "UNWIND $rows AS row MATCH (a:Code {id: row.s}) MATCH (b:Code {id: row.e}) "
    return [
        Step(
            match + "MATCH (a)-[r:ALIGNED_WITH]->(b) WHERE r.valid_to IS NULL SET r.valid_to = $v",
            close,
        ),
        Step(match + "CREATE (a)-[r:ALIGNED_WITH]->(b) SET r = row.p, r.valid_from = $v", create),
    ]


_NOT_CONTENT = ("build", "valid_from", "valid_to")


def edge_changes(relation: str, old: dict, new: dict) -> list[dict]:
    """Rows of the diff of one relation: `old` and `new` map (child, parent) to properties."""
    rows = []
    for pair in sorted(set(old) | set(new)):
        p, q = old.get(pair), new.get(pair)
        if p is not None and q is not None:
            same = {k: v for k, v in p.items() if k not in _NOT_CONTENT} == {
                k: v for k, v in q.items() if k not in _NOT_CONTENT
            }
            if same:
                continue
            change = "rescored" if p.get("score") != q.get("score") else "changed"
        else:
            change = "added" if p is None else "removed"
        rows.append(
            {
                "relation": relation,
                "child": pair[0],
                "parent": pair[1],
                "change": change,
                "score_a": None if p is None else p.get("score"),
                "score_b": None if q is None else q.get("score"),
            }
        )
    return rows


def _without(props: dict, *keys: str) -> dict:
    return {k: v for k, v in props.items() if k not in keys}


def _latent_steps(target: Target, held: LearnedHeld, report: Report) -> tuple[list[Step], set[str]]:
    """:Latent groups closed (gone or changed) and created (new or changed); returns the
    steps and the ids of the changed groups (their edges are written again)."""
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
    renewed = {
        i
        for i, p in wanted.items()
        if i in held.latent
        and _without(held.latent[i], "build", "id", "valid_from", "valid_to")
        != {k: v for k, v in p.items() if v is not None}
    }
    gone = [i for i in held.latent if i not in wanted]
    report.kinds[":Latent"] = Counts(len(create), len(renewed), len(gone))
    match = "UNWIND $rows AS row MATCH (n:Latent {id: row.id}) WHERE n.valid_to IS NULL "
    return [
        Step(match + "SET n.valid_to = $v", [{"id": i} for i in sorted({*gone, *renewed})]),
        Step(
            "UNWIND $rows AS row CREATE (n:Latent) SET n = row.p, n.valid_from = $v",
            create + [row(i, wanted[i]) for i in sorted(renewed)],
        ),
    ], renewed


def _learned_steps(
    target: Target, held: LearnedHeld, report: Report, renewed: set[str]
) -> tuple[list[Step], list[Step]]:
    """MASH_IS_A edges from the dirty codes and every group: (closings, creations), one
    statement per pair of end labels; an edge of a group written again is written again."""
    build = target.build
    groups = set(target.latent["id"])
    wanted = learned_edges(target, held.dirty | groups)
    wanted = {pair: {**p, "labels": tuple(p["labels"])} for pair, p in wanted.items()}
    kept = {
        pair: {"score": p.get("score"), "rank": p.get("rank"), "labels": tuple(labels)}
        for pair, (p, labels) in held.learned.items()
    }

    def new(pair):
        labels = tuple("Latent" if x in groups or x in held.latent else "Code" for x in pair)
        return {"score": None, "rank": None, "labels": labels, "decision": "accept"}

    _decide(wanted, kept, held.decisions, "MASH_IS_A", new)
    same = lambda pair: (  # noqa: E731
        pair in kept and kept[pair] == _without(wanted[pair], "decision") and not renewed & {*pair}
    )
    create, close = [], []
    for (a, b), p in wanted.items():
        if not same((a, b)):
            props = {"score": p["score"], "rank": p["rank"], "build": build}
            if p.get("decision"):
                props["decision"] = p["decision"]
            create.append({"s": a, "e": b, "labels": p["labels"], "p": props})
    for (a, b), p in kept.items():
        if (a, b) not in wanted or not same((a, b)):
            close.append({"s": a, "e": b, "labels": p["labels"]})
    changed = sum(1 for r in create if (r["s"], r["e"]) in kept)
    report.kinds["MASH_IS_A"] = Counts(len(create) - changed, changed, len(close) - changed)
    report.edges += edge_changes(
        "MASH_IS_A",
        {(r["s"], r["e"]): _without(kept[(r["s"], r["e"])], "labels") for r in close},
        {(r["s"], r["e"]): r["p"] for r in create},
    )
    closes = [
        Step(
            mash_match(labels) + "MATCH (a)-[r:MASH_IS_A]->(b) WHERE r.valid_to IS NULL "
            "SET r.valid_to = $v",
            _of(close, labels),
        )
        for labels in sorted({r["labels"] for r in close})
    ]
    creates = [
        Step(
            mash_match(labels) + "CREATE (a)-[r:MASH_IS_A]->(b) SET r = row.p, r.valid_from = $v",
            _of(create, labels),
        )
        for labels in sorted({r["labels"] for r in create})
    ]
    return closes, creates


def _of(rows: list[dict], labels: tuple[str, str]) -> list[dict]:
    return [r for r in rows if r["labels"] == labels]


# the last statement of every sync and rollback: one build active, every other not
_ACTIVATE = (
    "WITH b OPTIONAL MATCH (o:Build) WHERE (o.active OR o.current) AND o.id <> b.id "
    "SET o.active = false, o.current = false"
)


def activate_step(build: str) -> Step:
    """Make the synced build `build` the active one again (no new version)."""
    return Step(
        "MATCH (b:Build {id: $id}) SET b.active = true, b.current = true " + _ACTIVATE,
        None,
        {"id": build},
    )


def _build_step(target: Target, v: int, digest: str, figures: dict) -> Step:
    """The build becomes version `v` and the active one (`now`: the write's time)."""
    manifest = target.manifest
    return Step(
        "MERGE (b:Build {id: $id}) "
        "SET b.created_at = $created, b.config_hash = $hash, b.version = $version, "
        "b.metrics = $metrics, b.synced_at = $now, b.seq = $v, b.stamp = $stamp, "
        "b.figures = $figures, b.active = true, b.current = true " + _ACTIVATE,
        None,
        {
            "id": target.build,
            "created": manifest.get("created_at"),
            "hash": manifest.get("config_hash"),
            "version": manifest.get("version"),
            "metrics": json.dumps(manifest.get("sites", {}), sort_keys=True, default=str),
            "v": v,
            "stamp": digest,
            "figures": json.dumps(figures, sort_keys=True),
        },
    )
