"""An ontology release against the graph (`mash-kg load`): what the graph holds of the
source's vocabularies and edge groups, and the pure difference as a `Plan`.

Codes that leave a release are marked ``status: 'retired'`` (never deleted: phenotypes and
learned edges may still point at them); curated edges that leave it are deleted. Edges whose
other end is in no release the graph holds are skipped and counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from neo4j import Driver

from mash_kg.graph.reconcile.engine import (
    Counts,
    Plan,
    Report,
    RetireGuard,
    Step,
    TakeoverRefused,
    batches,
)
from mash_kg.tables import EDGE_TYPES, OntologyTables

EdgeKey = tuple[str, str, str, str]  # start, end, type, owner value (vocab or source)


@dataclass
class OntologyHeld:
    """What the graph holds of a release's vocabularies and edge groups."""

    vocabularies: list[dict] = field(default_factory=list)  # id, loader, codes, node_properties
    nodes: dict[str, dict] = field(default_factory=dict)  # id -> properties
    present: set[str] = field(default_factory=set)  # ends outside the release found in the graph
    edges: dict[EdgeKey, dict] = field(default_factory=dict)


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
    ends = set(tables.edges["start"]) | set(tables.edges["end"])
    for batch in batches(sorted(ends - set(tables.nodes["id"])), 20000):
        found = q("UNWIND $ids AS id MATCH (n:Code {id: id}) RETURN id", ids=batch)
        held.present.update(r["id"] for r in found)
    for group_type, _, value in tables.edge_groups:
        etype, key = edge_query(group_type)
        found = q(
            f"MATCH (a:Code)-[r:{etype}]->(b:Code) WHERE r.{key} = $value "
            "RETURN a.id AS s, b.id AS e, properties(r) AS p",
            value=value,
        )
        held.edges.update({(r["s"], r["e"], etype, value): r["p"] for r in found})
    return held


# ---------------------------------------------------------------------------------- the diff


def diff_ontology(tables: OntologyTables, held: OntologyHeld, allow_takeover: bool = False) -> Plan:
    """The plan that makes the graph hold exactly this release (pure: no driver). A release
    of a vocabulary another source loaded is refused unless `allow_takeover`."""
    if not allow_takeover:
        check_owner(tables, held)
    report = Report(tables.source, {}, vocabularies=tables.vocabs)
    node_steps, new_ids, guard = _node_steps(tables, held, report)
    edge_steps = _edge_steps(tables, held, new_ids, report)
    return Plan(report, [*node_steps, *edge_steps, _vocabulary_step(tables)], guard)


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


def _target_edges(tables: OntologyTables, known: set[str], report: Report) -> dict[EdgeKey, dict]:
    """The release's edges whose both ends the graph will hold; the others are counted as
    skipped in `report`, with up to three examples."""
    edges = tables.edges
    columns = [c for c in edges.columns if c not in ("start", "end", "type")]
    out: dict[EdgeKey, dict] = {}
    rows = zip(edges["start"], edges["end"], edges["type"], records(edges, columns), strict=True)
    for s, e, t, props in rows:
        if s in known and e in known:
            out[(s, e, t, props[EDGE_TYPES[t]])] = props
            continue
        report.skipped += 1
        if len(report.skipped_examples) < 3:
            missing = s if s not in known else e
            report.skipped_examples.append(f"{s} -[{t}]-> {e} ({missing} not in graph)")
    return out


def _edge_steps(
    tables: OntologyTables, held: OntologyHeld, new_ids: set[str], report: Report
) -> list[Step]:
    """Create, update and delete rows per edge type of the release's edge groups."""
    new = _target_edges(tables, new_ids | held.present, report)
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
    return [Step(s.query, s.rows, label="edges") for s in steps]


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
