"""Write an ontology's tables into Neo4j: diff against what the graph holds, then apply the
difference with batched `UNWIND` statements inside one transaction.

One transaction makes a load all-or-nothing: a failure anywhere (bad row found by the server,
a lost connection, Ctrl-C) rolls back, and readers never see half a release. The diff makes a
repeated load a no-op and a newer release a short list of additions, changes and retirements.
Codes that leave a release are marked `status: 'retired'` (never deleted: phenotypes and learned
edges may still point at them); edges that leave it are deleted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from neo4j import Driver

from mash_kg.errors import MashError
from mash_kg.graph.lock import commit
from mash_kg.tables import EDGE_TYPES, OntologyTables, validate

DEFAULT_BATCH = 5000
# a load that would retire more than this share of a vocabulary's active codes stops unless
# allowed (`--allow-retire`): a new release retires a few percent, an empty or wrong file all
MAX_RETIRE_SHARE = 0.5


class RetireRefused(MashError):
    """The change would retire or remove more than the allowed share without --allow-retire."""


class TakeoverRefused(MashError):
    """A source would take over a vocabulary another source loaded."""


@dataclass
class LoadReport:
    source: str
    vocabularies: list[str]
    nodes_added: int = 0
    nodes_changed: int = 0
    nodes_retired: int = 0
    edges_added: int = 0
    edges_changed: int = 0
    edges_retired: int = 0
    edges_skipped: int = 0
    skipped_examples: list[str] = field(default_factory=list)
    nodes_total: int = 0
    edges_total: int = 0
    seconds: float = 0.0
    dry_run: bool = False

    @property
    def changes(self) -> int:
        return (
            self.nodes_added
            + self.nodes_changed
            + self.nodes_retired
            + self.edges_added
            + self.edges_changed
            + self.edges_retired
        )


def _clean(value):
    """A table cell as Neo4j stores it: None for missing, plain Python scalars and lists."""
    if value is None:
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return _clean(value.item())
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _records(df: pd.DataFrame, columns: list[str]) -> list[dict]:
    """Rows as property maps; missing values are left out (an absent property)."""
    out = []
    cols = [[_clean(v) for v in df[c].tolist()] for c in columns]
    for vals in zip(*cols, strict=True):
        out.append({c: v for c, v in zip(columns, vals, strict=True) if v is not None})
    return out


def _batches(rows: list, size: int) -> Iterable[list]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


# ---------------------------------------------------------------------------------- reading


def _existing_nodes(driver: Driver, vocabs: list[str], db: str) -> dict[str, dict]:
    records, _, _ = driver.execute_query(
        "MATCH (n:Code) WHERE n.vocab IN $vocabs RETURN n.id AS id, properties(n) AS p",
        vocabs=vocabs,
        database_=db,
    )
    return {r["id"]: r["p"] for r in records}


def _edge_query(etype: str) -> tuple[str, str]:
    """(relationship type, owner key) as query text, from the fixed table EDGE_TYPES: the
    graph's shape never comes from data."""
    for name, key in EDGE_TYPES.items():
        if name == etype:
            return name, key
    raise ValueError(f"edge type {etype!r} is not one of {sorted(EDGE_TYPES)}")


def _existing_edges(driver: Driver, groups: list[tuple[str, str, str]], db: str) -> dict:
    out: dict[tuple, dict] = {}
    for group_type, _, value in groups:
        etype, key = _edge_query(group_type)
        records, _, _ = driver.execute_query(
            f"MATCH (a:Code)-[r:{etype}]->(b:Code) WHERE r.{key} = $value "
            "RETURN a.id AS s, b.id AS e, properties(r) AS p",
            value=value,
            database_=db,
        )
        for r in records:
            out[(r["s"], r["e"], etype, value)] = r["p"]
    return out


def _previous_node_keys(driver: Driver, vocabs: list[str], db: str) -> set[str]:
    records, _, _ = driver.execute_query(
        "MATCH (v:Vocabulary) WHERE v.id IN $vocabs RETURN v.node_properties AS k",
        vocabs=vocabs,
        database_=db,
    )
    return {k for r in records for k in (r["k"] or [])}


def _present_ids(driver: Driver, ids: list[str], db: str) -> set[str]:
    found: set[str] = set()
    for batch in _batches(ids, 20000):
        records, _, _ = driver.execute_query(
            "UNWIND $ids AS id MATCH (n:Code {id: id}) RETURN id", ids=batch, database_=db
        )
        found.update(r["id"] for r in records)
    return found


# ---------------------------------------------------------------------------------- writing


def write_tables(
    driver: Driver,
    tables: OntologyTables,
    *,
    database: str = "neo4j",
    batch_size: int = DEFAULT_BATCH,
    dry_run: bool = False,
    progress: Callable[[str, int], None] | None = None,
    allow_retire: bool = False,
    allow_takeover: bool = False,
    notify: Callable[[str], None] | None = None,
) -> LoadReport:
    """Make the graph hold exactly this release of the source's vocabularies and edge groups.
    The tables are validated first; then the write lock is taken before the graph is read (a
    dry run takes none) and checked again inside the writing transaction."""
    from mash_kg.graph.lock import acquire

    t0 = time.perf_counter()
    validate(tables)
    if dry_run:
        return _write(
            driver,
            tables,
            None,
            database,
            batch_size,
            True,
            progress,
            allow_retire,
            allow_takeover,
            t0,
        )
    with acquire(driver, f"load {tables.source}", database, notify) as lock:
        return _write(
            driver,
            tables,
            lock,
            database,
            batch_size,
            False,
            progress,
            allow_retire,
            allow_takeover,
            t0,
        )


def _check_owner(driver: Driver, tables: OntologyTables, db: str) -> None:
    records, _, _ = driver.execute_query(
        "MATCH (v:Vocabulary) WHERE v.id IN $vocabs AND v.loader IS NOT NULL "
        "AND v.loader <> $source RETURN v.id AS id, v.loader AS source, v.codes AS codes",
        vocabs=tables.vocabs,
        source=tables.source,
        database_=db,
    )
    if records:
        r = records[0]
        raise TakeoverRefused(
            f"vocabulary {r['id']} was loaded by source {r['source']!r} ({r['codes'] or 0:,} "
            f"codes); loading it from {tables.source!r} would replace that release: use "
            f"another --vocab name, or pass --allow-takeover if replacing it is intended"
        )


def _write(
    driver: Driver,
    tables: OntologyTables,
    lock,
    database: str,
    batch_size: int,
    dry_run: bool,
    progress,
    allow_retire: bool,
    allow_takeover: bool,
    t0: float,
) -> LoadReport:
    if not allow_takeover:
        _check_owner(driver, tables, database)
    report = LoadReport(source=tables.source, vocabularies=tables.vocabs, dry_run=dry_run)
    version = "; ".join(tables.vocabularies["version"].astype(str).unique())

    # nodes -------------------------------------------------------------------------------
    node_cols = list(tables.nodes.columns)
    new_nodes = _records(tables.nodes, node_cols)
    for row in new_nodes:
        row["status"] = "active"
    owned_keys = set(node_cols) | {"status", "retired_in"}
    owned_keys |= _previous_node_keys(driver, tables.vocabs, database)
    old_nodes = _existing_nodes(driver, tables.vocabs, database)
    create_nodes, update_nodes = [], []
    for row in new_nodes:
        old = old_nodes.get(row["id"])
        if old is None:
            create_nodes.append({"id": row["id"], "props": row})
            continue
        old_owned = {k: v for k, v in old.items() if k in owned_keys}
        if old_owned != row:
            props = {k: None for k in old_owned if k not in row}  # null removes a property
            props.update(row)
            update_nodes.append({"id": row["id"], "props": props})
    new_ids = {row["id"] for row in new_nodes}
    retire_nodes = [
        {"id": i} for i, p in old_nodes.items() if i not in new_ids and p.get("status") != "retired"
    ]
    report.nodes_added, report.nodes_changed = len(create_nodes), len(update_nodes)
    report.nodes_retired = len(retire_nodes)
    report.nodes_total = len(new_nodes)
    active = sum(1 for p in old_nodes.values() if p.get("status") != "retired")
    if active and not allow_retire and len(retire_nodes) > MAX_RETIRE_SHARE * active:
        raise RetireRefused(
            f"{tables.origin or tables.source}: this load would retire {len(retire_nodes):,} of "
            f"the {active:,} active codes of {', '.join(tables.vocabs)} "
            f"({len(retire_nodes) / active:.0%}, over the {MAX_RETIRE_SHARE:.0%} limit): is it "
            "the right file and --vocab? If the release really drops them, run it again with "
            "--allow-retire (check first with --dry-run)"
        )

    # edges -------------------------------------------------------------------------------
    edges = tables.edges
    edge_cols = [c for c in edges.columns if c not in ("start", "end", "type")]
    new_edges: dict[tuple, dict] = {}
    if len(edges):
        external = sorted((set(edges["start"]) | set(edges["end"])) - new_ids)
        present = _present_ids(driver, external, database) if external else set()
        known = new_ids | present
        for s, e, t, props in zip(
            edges["start"], edges["end"], edges["type"], _records(edges, edge_cols), strict=True
        ):
            if s not in known or e not in known:
                report.edges_skipped += 1
                if len(report.skipped_examples) < 3:
                    missing = s if s not in known else e
                    report.skipped_examples.append(f"{s} -[{t}]-> {e} ({missing} not in graph)")
                continue
            new_edges[(s, e, t, props[EDGE_TYPES[t]])] = props
    old_edges = _existing_edges(driver, tables.edge_groups, database)
    create_edges = {k: p for k, p in new_edges.items() if k not in old_edges}
    update_edges = {k: p for k, p in new_edges.items() if k in old_edges and old_edges[k] != p}
    retire_edges = [k for k in old_edges if k not in new_edges]
    report.edges_added, report.edges_changed = len(create_edges), len(update_edges)
    report.edges_retired = len(retire_edges)
    report.edges_total = len(new_edges)

    if dry_run:
        report.seconds = time.perf_counter() - t0
        return report

    def run(tx, query: str, rows: list, label: str, **params) -> None:
        for batch in _batches(rows, batch_size):
            tx.run(query, rows=batch, **params).consume()
            if progress:
                progress(label, len(batch))

    with driver.session(database=database) as session, session.begin_transaction() as tx:
        lock.check(tx)
        run(
            tx,
            "UNWIND $rows AS row CREATE (n:Code {id: row.id}) SET n += row.props",
            create_nodes,
            "nodes",
        )
        run(
            tx,
            "UNWIND $rows AS row MATCH (n:Code {id: row.id}) SET n += row.props",
            update_nodes,
            "nodes",
        )
        run(
            tx,
            "UNWIND $rows AS row MATCH (n:Code {id: row.id}) "
            "SET n.status = 'retired', n.retired_in = $version",
            retire_nodes,
            "nodes",
            version=version,
        )
        for group_type in EDGE_TYPES:
            etype, key = _edge_query(group_type)
            match = "UNWIND $rows AS row MATCH (a:Code {id: row.s}) MATCH (b:Code {id: row.e}) "
            rows = [
                {"s": k[0], "e": k[1], "p": p} for k, p in create_edges.items() if k[2] == etype
            ]
            run(tx, match + f"CREATE (a)-[r:{etype}]->(b) SET r = row.p", rows, "edges")
            rows = [
                {"s": k[0], "e": k[1], "v": k[3], "p": p}
                for k, p in update_edges.items()
                if k[2] == etype
            ]
            run(
                tx,
                match + f"MATCH (a)-[r:{etype}]->(b) WHERE r.{key} = row.v SET r = row.p",
                rows,
                "edges",
            )
            rows = [{"s": k[0], "e": k[1], "v": k[3]} for k in retire_edges if k[2] == etype]
            run(
                tx,
                match + f"MATCH (a)-[r:{etype}]->(b) WHERE r.{key} = row.v DELETE r",
                rows,
                "edges",
            )
        now = datetime.now(UTC).isoformat(timespec="seconds")
        vocab_rows = _records(tables.vocabularies, list(tables.vocabularies.columns))
        counts = tables.nodes["vocab"].value_counts().to_dict()
        for v in vocab_rows:
            v["codes"] = int(counts.get(v["id"], 0))
        tx.run(
            "UNWIND $rows AS row MERGE (v:Vocabulary {id: row.id}) "
            "SET v += row, v.node_properties = $keys, v.loaded_at = $now, v.loader = $loader",
            rows=vocab_rows,
            keys=sorted(set(node_cols) | {"status"}),
            now=now,
            loader=tables.source,
        ).consume()
        commit(tx)
    report.seconds = time.perf_counter() - t0
    return report
