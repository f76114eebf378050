"""The normalized tables every ontology loader produces and the graph writer consumes.

`OntologyTables`
- `vocabularies`: one row per vocabulary the source owns: `id` (e.g. ICD10CM), `version`, `source`.
- `nodes`: one row per `:Code`: `id` (`VOCAB:code`, unique), `vocab`, `code`, `name`, `domain`
  (diagnosis | medication | lab | procedure | other), `synonyms` (list of str); any further
  column (`kind`, `category`, ...) becomes a node property as is.
- `edges`: one row per relationship: `start`, `end` (Code ids), `type` (IS_A | MAPS_TO) and the
  edge's owner key: `vocab` for IS_A, `source` for MAPS_TO; further columns become properties.
- `edge_groups`: the (type, key, value) groups this source owns, e.g. ("IS_A", "vocab", "ICD10CM")
  or ("MAPS_TO", "source", "phecode12"); the writer retires edges of these groups that a new
  release no longer has, and never touches edges of other groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from mash_kg.errors import InputError

DOMAINS = ("diagnosis", "medication", "lab", "procedure", "other")
EDGE_TYPES = {"IS_A": "vocab", "MAPS_TO": "source"}
NODE_COLUMNS = ["id", "vocab", "code", "name", "domain", "synonyms"]
EDGE_COLUMNS = ["start", "end", "type"]


@dataclass
class OntologyTables:
    source: str
    vocabularies: pd.DataFrame
    nodes: pd.DataFrame
    edges: pd.DataFrame
    edge_groups: list[tuple[str, str, str]] = field(default_factory=list)
    origin: str = ""  # file or package the tables were read from, for error messages

    @property
    def vocabs(self) -> list[str]:
        return self.vocabularies["id"].tolist()


def make_nodes(rows: list[dict] | pd.DataFrame) -> pd.DataFrame:
    """A nodes table with the required columns first; synonyms default to []."""
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    if "synonyms" not in df.columns:
        df["synonyms"] = [[] for _ in range(len(df))]
    if "domain" not in df.columns:
        df["domain"] = "other"
    if df.empty:
        return pd.DataFrame(columns=NODE_COLUMNS)
    rest = [c for c in df.columns if c not in NODE_COLUMNS]
    return df[NODE_COLUMNS + rest].reset_index(drop=True)


def make_edges(rows: list[dict] | pd.DataFrame) -> pd.DataFrame:
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=EDGE_COLUMNS)
    rest = [c for c in df.columns if c not in EDGE_COLUMNS]
    return df[EDGE_COLUMNS + rest].reset_index(drop=True)


def dedupe_edges(df: pd.DataFrame) -> pd.DataFrame:
    """Drop repeated edges: same ends, type and owner key (sources list some maps twice)."""
    if df.empty:
        return df
    key = [c for c in ("start", "end", "type", "vocab", "source") if c in df.columns]
    return df.drop_duplicates(key).reset_index(drop=True)


def validate(tables: OntologyTables) -> None:
    """Check the contract above; raise InputError naming the offending row."""
    origin = tables.origin or tables.source
    nodes, edges = tables.nodes, tables.edges
    if not len(nodes):
        # a load that reads nothing must not look like success (nor retire a vocabulary)
        raise InputError(
            origin,
            f"no codes read for {', '.join(tables.vocabs) or 'any vocabulary'}",
            hint="check the file is the release you meant (and --vocab, if given)",
        )
    missing = [c for c in NODE_COLUMNS if c not in nodes.columns]
    if missing:
        raise InputError(origin, f"nodes table lacks columns {missing}")
    vocabs = set(tables.vocabs)
    for i, row in enumerate(nodes.itertuples(index=False)):
        if not isinstance(row.id, str) or not row.id:
            raise InputError(origin, f"code without an id (node {i + 1})")
        if row.vocab not in vocabs:
            raise InputError(
                origin,
                f"{row.id}: vocabulary {row.vocab!r} is not one this "
                f"source owns ({sorted(vocabs)})",
            )
        if not isinstance(row.name, str) or not row.name.strip():
            raise InputError(origin, f"{row.id} has no name")
        if row.domain not in DOMAINS:
            raise InputError(origin, f"{row.id}: domain {row.domain!r} is not one of {DOMAINS}")
    dup = nodes["id"][nodes["id"].duplicated()]
    if len(dup):
        raise InputError(origin, f"code {dup.iloc[0]} appears more than once")
    if len(edges):
        for c in EDGE_COLUMNS:
            if c not in edges.columns:
                raise InputError(origin, f"edges table lacks column {c!r}")
        bad = edges[~edges["type"].isin(list(EDGE_TYPES))]
        if len(bad):
            raise InputError(origin, f"edge type {bad['type'].iloc[0]!r} is not IS_A or MAPS_TO")
        groups = set(tables.edge_groups)
        for etype, key in EDGE_TYPES.items():
            sub = edges[edges["type"] == etype]
            if not len(sub):
                continue
            if key not in sub.columns or sub[key].isna().any():
                raise InputError(origin, f"{etype} edges need a {key!r} value")
            for value in sub[key].unique():
                if (etype, key, value) not in groups:
                    raise InputError(
                        origin,
                        f"{etype} edges with {key}={value!r} are not in this source's edge groups",
                    )
        loops = edges[edges["start"] == edges["end"]]
        if len(loops):
            raise InputError(origin, f"{loops['start'].iloc[0]} is its own parent")
        cycle = is_a_cycle(edges[edges["type"] == "IS_A"])
        if cycle:
            raise InputError(
                origin,
                f"IS_A cycle {' -> '.join(cycle)}",
                hint="a code cannot be its own ancestor: remove one of these edges",
            )


def is_a_cycle(edges: pd.DataFrame) -> list[str]:
    """One IS_A cycle of `edges` (start = child, end = parent) as [a, b, ..., a], or []:
    strongly connected components find every node on a cycle; a walk inside one names it."""
    if not len(edges):
        return []
    ids, inv = np.unique(
        np.concatenate([edges["start"].astype(str), edges["end"].astype(str)]), return_inverse=True
    )
    child, parent = inv[: len(edges)], inv[len(edges) :]
    graph = sp.csr_matrix((np.ones(len(edges)), (child, parent)), shape=(len(ids), len(ids)))
    _, label = connected_components(graph, directed=True, connection="strong")
    size = np.bincount(label)
    on_cycle = np.flatnonzero(size[label] > 1)
    if not len(on_cycle):
        return []
    start = int(on_cycle.min())
    same = label == label[start]
    path, seen = [start], {start: 0}
    node = start
    while True:  # every node of a strong component has a parent inside it
        nxt = next(
            int(p) for p in graph.indices[graph.indptr[node] : graph.indptr[node + 1]] if same[p]
        )
        if nxt in seen:
            loop = path[seen[nxt] :] + [nxt]
            return [str(ids[i]) for i in loop]
        seen[nxt] = len(path)
        path.append(nxt)
        node = nxt
