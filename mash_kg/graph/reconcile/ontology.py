"""An ontology release against the graph (`mash-kg load`): what the graph holds of the
source's vocabularies and edge groups, and the pure difference as a `Plan`.

Codes that leave a release are marked ``status: 'retired'`` (never deleted: phenotypes and
learned edges may still point at them); curated edges that leave it are deleted. Edges whose
other end is not in the graph are skipped and reported by cause: the code is absent from a
vocabulary the graph holds (named with its release), or its vocabulary is not loaded. An IS_A
edge that would close a cycle with the IS_A edges other loads wrote is refused, and so is a
release that removes more than half of the edges (or codes) the graph holds of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from neo4j import Driver

from mash_kg.errors import InputError
from mash_kg.graph.reconcile.engine import (
    Counts,
    Plan,
    Report,
    RetireGuard,
    Step,
    TakeoverRefused,
    batches,
)
from mash_kg.tables import EDGE_TYPES, OntologyTables, is_a_cycle

EdgeKey = tuple[str, str, str, str]  # start, end, type, owner value (vocab or source)


@dataclass
class OntologyHeld:
    """What the graph holds of a release's vocabularies and edge groups."""

    vocabularies: list[dict] = field(default_factory=list)  # id, loader, codes, node_properties
    nodes: dict[str, dict] = field(default_factory=dict)  # id -> properties
    present: set[str] = field(default_factory=set)  # ends outside the release found in the graph
    edges: dict[EdgeKey, dict] = field(default_factory=dict)
    loaded: dict[str, str] = field(default_factory=dict)  # every :Vocabulary id -> its version
    # IS_A edges (child, parent) other loads wrote above the release's outside ends
    outside_is_a: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Skipped:
    """Edges of one group left out for one cause (`absent`: the code is not in a vocabulary
    the graph holds; `not_loaded`: its vocabulary is not in the graph)."""

    group: str  # the edge group's owner value (a vocabulary for IS_A, a map source)
    etype: str
    vocab: str  # the vocabulary of the missing end
    cause: str
    count: int = 0
    example: str = ""
    codes: set[str] = field(default_factory=set)  # the missing ends


@dataclass
class LoadReport(Report):
    """A load's `Report` with its skipped edges by cause and the release's count table."""

    release: str = ""  # the release's version, as its :Vocabulary nodes record it
    skipped_by: list[Skipped] = field(default_factory=list)
    counts: list[dict] = field(default_factory=list)  # release_counts rows
    versions: dict[str, str] = field(default_factory=dict)  # vocabulary -> release, graph-wide

    def skipped_lines(self) -> list[str]:
        """One line per (group, vocabulary, cause), naming both sides' releases."""
        out = []
        for s in self.skipped_by:
            why = (
                f"{s.vocab} codes absent from the loaded {s.vocab}"
                + (f" ({self.versions[s.vocab]})" if s.vocab in self.versions else "")
                if s.cause == "absent"
                else f"vocabulary {s.vocab} is not loaded"
            )
            codes = sorted(s.codes)
            listed = ", ".join(codes[:5]) + (
                f" and {len(codes) - 5:,} more" if len(codes) > 5 else ""
            )
            out.append(
                f"{s.count:,} {s.etype} edges of {s.group} ({self.release}) skipped: {why} "
                f"({len(codes):,} codes: {listed}); e.g. {s.example}"
            )
        return out


def clean(value):
    """A table cell as Neo4j stores it: None for missing, plain Python scalars and lists."""
    if value is None:
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        return [clean(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return clean(value.item())
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def records(df: pd.DataFrame, columns: list[str]) -> list[dict]:
    """Rows as property maps; missing values are left out (an absent property)."""
    cols = [[clean(v) for v in df[c].tolist()] for c in columns]
    return [
        {c: v for c, v in zip(columns, vals, strict=True) if v is not None}
        for vals in zip(*cols, strict=True)
    ]


def edge_query(etype: str) -> tuple[str, str]:
    """(relationship type, owner key) as query text, from the fixed table EDGE_TYPES: the
    graph's shape never comes from data."""
    for name, key in EDGE_TYPES.items():
        if name == etype:
            return name, key
    raise ValueError(f"edge type {etype!r} is not one of {sorted(EDGE_TYPES)}")


# ---------------------------------------------------------------------------------- reading


def read_ontology(driver: Driver, tables: OntologyTables, database: str) -> OntologyHeld:
    """What the graph holds of `tables`' vocabularies, edge groups and outside edge ends."""
    q = lambda query, **p: driver.execute_query(query, database_=database, **p)[0]  # noqa: E731
    vocabularies = q(
        "MATCH (v:Vocabulary) WHERE v.id IN $vocabs RETURN v.id AS id, v.loader AS loader, "
        "v.codes AS codes, v.node_properties AS node_properties",
        vocabs=tables.vocabs,
    )
    nodes = q(
        "MATCH (n:Code) WHERE n.vocab IN $vocabs RETURN n.id AS id, properties(n) AS p",
        vocabs=tables.vocabs,
    )
    held = OntologyHeld([dict(r) for r in vocabularies], {r["id"]: r["p"] for r in nodes})
    loaded = q("MATCH (v:Vocabulary) RETURN v.id AS id, v.version AS version")
    held.loaded = {r["id"]: str(r["version"]) for r in loaded}
    ends = set(tables.edges["start"]) | set(tables.edges["end"])
    for batch in batches(sorted(ends - set(tables.nodes["id"])), 20000):
        found = q("UNWIND $ids AS id MATCH (n:Code {id: id}) RETURN id", ids=batch)
        held.present.update(r["id"] for r in found)
    held.outside_is_a = _outside_is_a(q, tables, held.present)
    for group_type, _, value in tables.edge_groups:
        etype, key = edge_query(group_type)
        found = q(
            f"MATCH (a:Code)-[r:{etype}]->(b:Code) WHERE r.{key} = $value "
            "RETURN a.id AS s, b.id AS e, properties(r) AS p",
            value=value,
        )
        held.edges.update({(r["s"], r["e"], etype, value): r["p"] for r in found})
    return held


def _outside_is_a(q, tables: OntologyTables, present: set[str]) -> list[tuple[str, str]]:
    """The IS_A edges other loads wrote that lie above the release's IS_A parents outside it
    (walked upwards level by level): what a new edge could close a cycle with."""
    is_a = tables.edges[tables.edges["type"] == "IS_A"] if len(tables.edges) else tables.edges
    frontier = sorted(set(is_a["end"]) & present) if len(is_a) else []
    own = [v for t, _, v in tables.edge_groups if t == "IS_A"]
    seen, out = set(frontier), []
    while frontier:
        found = []
        for batch in batches(frontier, 20000):
            found += q(
                "UNWIND $ids AS id MATCH (a:Code {id: id})-[r:IS_A]->(b:Code) "
                "WHERE NOT r.vocab IN $own RETURN a.id AS a, b.id AS b",
                ids=batch,
                own=own,
            )
        out += [(r["a"], r["b"]) for r in found]
        frontier = sorted({r["b"] for r in found} - seen)
        seen.update(frontier)
    return out


# ---------------------------------------------------------------------------------- the diff


def diff_ontology(tables: OntologyTables, held: OntologyHeld, allow_takeover: bool = False) -> Plan:
    """The plan that makes the graph hold exactly this release (pure: no driver). A release
    of a vocabulary another source loaded is refused unless `allow_takeover`."""
    if not allow_takeover:
        check_owner(tables, held)
    version = "; ".join(tables.vocabularies["version"].astype(str).unique())
    report = LoadReport(tables.source, {}, vocabularies=tables.vocabs, release=version)
    report.versions = {**held.loaded, **dict.fromkeys(tables.vocabs, version)}
    node_steps, new_ids, guard = _node_steps(tables, held, report)
    target = _target_edges(tables, held, new_ids | held.present, report)
    check_cycle_across_loads(tables, target, held)
    edge_steps, edge_guard = _edge_steps(tables, held, target, report)
    report.counts = release_counts(tables, target)
    worst = max((guard, edge_guard), key=lambda g: g.removed / g.held if g.held else 0.0)
    return Plan(report, [*node_steps, *edge_steps, _vocabulary_step(tables)], worst)


def check_cycle_across_loads(
    tables: OntologyTables, target: dict[EdgeKey, dict], held: OntologyHeld
) -> None:
    """An InputError when the release's IS_A edges and those other loads wrote form a cycle
    (a cycle inside the release alone is refused earlier, by `tables.validate`)."""
    if not held.outside_is_a:
        return
    rows = [(s, e) for (s, e, t, _) in target if t == "IS_A"] + held.outside_is_a
    cycle = is_a_cycle(pd.DataFrame(rows, columns=["start", "end"]))
    if cycle:
        raise InputError(
            tables.origin or tables.source,
            f"IS_A cycle with edges other loads wrote: {' -> '.join(cycle)}",
            hint="a code cannot be its own ancestor: remove the edge of this release on it",
        )


def check_owner(tables: OntologyTables, held: OntologyHeld) -> None:
    """TakeoverRefused when a vocabulary of the release was loaded by another source."""
    for v in held.vocabularies:
        if v.get("loader") is not None and v["loader"] != tables.source:
            raise TakeoverRefused(
                f"vocabulary {v['id']} was loaded by source {v['loader']!r} ("
                f"{v.get('codes') or 0:,} codes); loading it from {tables.source!r} would "
                "replace that release: use another --vocab name, or pass --allow-takeover if "
                "replacing it is intended"
            )


def _node_steps(
    tables: OntologyTables, held: OntologyHeld, report: Report
) -> tuple[list[Step], set[str], RetireGuard]:
    """Create, update and retire rows for the release's codes; the properties a release owns
    are its columns, status, retired_in and those earlier releases wrote (which may go)."""
    columns = list(tables.nodes.columns)
    new = records(tables.nodes, columns)
    owned = set(columns) | {"status", "retired_in"}
    owned |= {k for v in held.vocabularies for k in (v.get("node_properties") or [])}
    create, update = [], []
    for row in new:
        row["status"] = "active"
        old = held.nodes.get(row["id"])
        if old is None:
            create.append({"id": row["id"], "props": row})
            continue
        old_owned = {k: v for k, v in old.items() if k in owned}
        if old_owned != row:
            props = {k: None for k in old_owned if k not in row}  # null removes a property
            update.append({"id": row["id"], "props": {**props, **row}})
    new_ids = {row["id"] for row in new}
    active = [i for i, p in held.nodes.items() if p.get("status") != "retired"]
    retire = [{"id": i} for i in active if i not in new_ids]
    report.kinds["codes"] = Counts(len(create), len(update), len(retire), len(new))
    version = "; ".join(tables.vocabularies["version"].astype(str).unique())
    match = "UNWIND $rows AS row MATCH (n:Code {id: row.id}) "
    retired = "SET n.status = 'retired', n.retired_in = $version"
    created = "UNWIND $rows AS row CREATE (n:Code {id: row.id}) SET n += row.props"
    steps = [
        Step(created, create, label="nodes"),
        Step(match + "SET n += row.props", update, label="nodes"),
        Step(match + retired, retire, {"version": version}, label="nodes"),
    ]
    guard = RetireGuard(
        len(retire),
        len(active),
        f"{tables.origin or tables.source}: this load would retire",
        f"active codes of {', '.join(tables.vocabs)}",
        ": is it the right file and --vocab? If the release really drops them, run it again "
        "with --allow-retire (check first with --dry-run)",
    )
    return steps, new_ids, guard


def _target_edges(
    tables: OntologyTables, held: OntologyHeld, known: set[str], report: LoadReport
) -> dict[EdgeKey, dict]:
    """The release's edges whose both ends the graph will hold; the others are counted in
    `report` by group, missing vocabulary and cause, with one example each."""
    edges = tables.edges
    columns = [c for c in edges.columns if c not in ("start", "end", "type")]
    out: dict[EdgeKey, dict] = {}
    skipped: dict[tuple[str, str, str], Skipped] = {}
    rows = zip(edges["start"], edges["end"], edges["type"], records(edges, columns), strict=True)
    for s, e, t, props in rows:
        group = props[EDGE_TYPES[t]]
        if s in known and e in known:
            out[(s, e, t, group)] = props
            continue
        report.skipped += 1
        missing = s if s not in known else e
        vocab = missing.split(":", 1)[0]
        cause = "absent" if vocab in held.loaded or vocab in tables.vocabs else "not_loaded"
        entry = skipped.setdefault(
            (group, vocab, cause), Skipped(group, t, vocab, cause, 0, f"{s} -[{t}]-> {e}")
        )
        entry.count += 1
        entry.codes.add(missing)
        if len(report.skipped_examples) < 3:
            report.skipped_examples.append(f"{s} -[{t}]-> {e} ({missing} not in graph)")
    report.skipped_by = sorted(skipped.values(), key=lambda k: (k.group, k.vocab, k.cause))
    return out


def _edge_steps(
    tables: OntologyTables, held: OntologyHeld, new: dict[EdgeKey, dict], report: Report
) -> tuple[list[Step], RetireGuard]:
    """Create, update and delete rows per edge type of the release's edge groups, and the
    guard on how many of the edges the graph holds of those groups would go."""
    create = {k: p for k, p in new.items() if k not in held.edges}
    update = {k: p for k, p in new.items() if k in held.edges and held.edges[k] != p}
    delete = [k for k in held.edges if k not in new]
    report.kinds["edges"] = Counts(len(create), len(update), len(delete), len(new))
    steps = []
    for group_type in EDGE_TYPES:
        etype, key = edge_query(group_type)
        match = "UNWIND $rows AS row MATCH (a:Code {id: row.s}) MATCH (b:Code {id: row.e}) "
        same = match + f"MATCH (a)-[r:{etype}]->(b) WHERE r.{key} = row.v "
        steps += [
            Step(match + f"CREATE (a)-[r:{etype}]->(b) SET r = row.p", _rows(create, etype)),
            Step(same + "SET r = row.p", _rows(update, etype, owner=True)),
            Step(same + "DELETE r", _rows(dict.fromkeys(delete), etype, owner=True)),
        ]
    guard = RetireGuard(
        len(delete),
        len(held.edges),
        f"{tables.origin or tables.source}: this load would remove",
        f"edges the graph holds of {', '.join(sorted({g[2] for g in tables.edge_groups}))}",
        ": is it the right file (a release without is_a lines, a flat list)? If the release "
        "really drops them, run it again with --allow-retire (check first with --dry-run)",
    )
    return [Step(s.query, s.rows, label="edges") for s in steps], guard


def _rows(edges: dict[EdgeKey, dict | None], etype: str, owner: bool = False) -> list[dict]:
    """Statement rows for the edges of type `etype`: ends, owner value, properties."""
    out = []
    for (s, e, t, v), p in edges.items():
        if t == etype:
            row = {"s": s, "e": e, **({"v": v} if owner else {})}
            out.append(row if p is None else {**row, "p": p})
    return out


def _vocabulary_step(tables: OntologyTables) -> Step:
    """The release's :Vocabulary nodes: version, code count, the node properties it wrote (so
    that the next release can remove those it drops) and who loaded it."""
    rows = records(tables.vocabularies, list(tables.vocabularies.columns))
    counts = tables.nodes["vocab"].value_counts().to_dict()
    for v in rows:
        v["codes"] = int(counts.get(v["id"], 0))
    return Step(
        "UNWIND $rows AS row MERGE (v:Vocabulary {id: row.id}) "
        "SET v += row, v.node_properties = $keys, v.loaded_at = $now, v.loader = $loader",
        rows,
        {"keys": sorted(set(tables.nodes.columns) | {"status"}), "loader": tables.source},
    )


# ---------------------------------------------------------------------------------- counts


def release_counts(tables: OntologyTables, target: dict[EdgeKey, dict]) -> list[dict]:
    """Per vocabulary of the release, what the graph holds once it is loaded: codes, IS_A
    edges (its own), MAPS_TO edges of the release with an end in it, roots (codes with
    children and no parent), max depth (edges from the deepest code up to a root) and codes
    without a parent (roots and codes outside any hierarchy)."""
    out = []
    for vocab in tables.vocabs:
        ids = set(tables.nodes.loc[tables.nodes["vocab"] == vocab, "id"])
        parents: dict[str, list[str]] = {}
        maps = 0
        for s, e, t, owner in target:
            if t == "IS_A" and owner == vocab:
                parents.setdefault(s, []).append(e)
            elif t == "MAPS_TO" and (s in ids or e in ids):
                maps += 1
        has_child = {p for ps in parents.values() for p in ps}
        orphans = ids - set(parents)
        out.append(
            {
                "vocabulary": vocab,
                "codes": len(ids),
                "IS_A": sum(map(len, parents.values())),
                "MAPS_TO": maps,
                "roots": len(orphans & has_child),
                "max_depth": _max_depth(parents),
                "without_parent": len(orphans),
            }
        )
    return out


def _max_depth(parents: dict[str, list[str]]) -> int:
    """The longest chain of IS_A edges from a code up to a code without a parent."""
    depth: dict[str, int] = {}
    for start in parents:
        stack = [start]
        while stack:
            node = stack[-1]
            todo = [p for p in parents.get(node, []) if p not in depth]
            if todo:
                stack.extend(todo)
                continue
            stack.pop()
            depth[node] = (
                1 + max((depth[p] for p in parents[node]), default=-1) if (node in parents) else 0
            )
    return max(depth.values(), default=0)
