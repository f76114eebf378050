"""The stored graph read back for Stage II: the curated neighbourhood of a build's codes.

For the codes of a build, the context is: the codes themselves where the graph has them, all
their curated ancestors (IS_A*), the children of those ancestors (siblings of the path: hard
negatives and the places a code without a parent may go), and the codes they map to (MAPS_TO)
with those codes' ancestors. Returned as two tables, so Stage II never sees the driver:

- nodes: id, vocab, name, domain, kind, excludes1 (Excludes1 notes where the source has
  them: the hierarchy encoder's hard negatives)
- edges: child, parent, type (IS_A | MAPS_TO), both ends in nodes
"""

from __future__ import annotations

import pandas as pd
from neo4j import Driver

NODES = """
UNWIND $ids AS id
MATCH (c:Code {id: id})
OPTIONAL MATCH (c)-[:MAPS_TO]->(m:Code)
WITH collect(DISTINCT c) + collect(DISTINCT m) AS seeds
UNWIND seeds AS s
OPTIONAL MATCH (s)-[:IS_A*1..]->(a:Code)
WITH collect(DISTINCT s) + collect(DISTINCT a) AS path
UNWIND path AS p
OPTIONAL MATCH (k:Code)-[:IS_A*1..2]->(p)
WITH collect(DISTINCT p) + collect(DISTINCT k) AS everything
UNWIND everything AS n
WITH DISTINCT n WHERE n IS NOT NULL
RETURN n.id AS id, n.vocab AS vocab, n.name AS name, n.domain AS domain, n.kind AS kind,
       n.excludes1 AS excludes1
"""

# every outgoing curated edge of the context; the ones leaving it are dropped in pandas (a
# `b.id IN $ids` filter here let the planner pick a plan that ran for minutes)
EDGES = """
UNWIND $ids AS id
MATCH (a:Code {id: id})-[r:IS_A|MAPS_TO]->(b:Code)
RETURN collect([a.id, b.id, type(r)]) AS rows
"""


def read_context(
    driver: Driver, ids: list[str], database: str = "neo4j"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(nodes, edges) of the curated neighbourhood of `ids` (see the module docstring)."""
    with driver.session(database=database, default_access_mode="READ") as session:
        nodes = session.execute_read(lambda tx: tx.run(NODES, ids=list(ids)).data())
        node_ids = [n["id"] for n in nodes]
        edges = session.execute_read(lambda tx: tx.run(EDGES, ids=node_ids).single()["rows"])
    cols = ["id", "vocab", "name", "domain", "kind", "excludes1"]
    node_df = pd.DataFrame(nodes, columns=cols).sort_values("id", ignore_index=True)
    edge_df = pd.DataFrame(edges, columns=["child", "parent", "type"])
    edge_df = edge_df[edge_df["parent"].isin(set(node_ids))]
    return node_df, edge_df.sort_values(["type", "child", "parent"], ignore_index=True)


SUBTREE = """
MATCH (root:Code {id: $root})
MATCH path = (n)-[:IS_A|MASH_IS_A*0..]->(root)
WHERE length(path) <= $depth
WITH DISTINCT n
OPTIONAL MATCH (n)-[r:IS_A|MASH_IS_A]->(m)
RETURN n.id AS id, n.name AS name, collect({parent: m.id, type: type(r)}) AS parents
"""


def read_subtree(
    driver: Driver, root: str, depth: int = 3, database: str = "neo4j"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(nodes: id, name; edges: child, parent, type) of everything within `depth` curated or
    learned steps below `root`, codes and latent groups alike."""
    with driver.session(database=database, default_access_mode="READ") as session:
        rows = session.execute_read(lambda tx: tx.run(SUBTREE, root=root, depth=depth).data())
    nodes = pd.DataFrame([{"id": r["id"], "name": r["name"]} for r in rows], columns=["id", "name"])
    ids = set(nodes["id"])
    edges = pd.DataFrame(
        [
            {"child": r["id"], "parent": p["parent"], "type": p["type"]}
            for r in rows
            for p in r["parents"]
            if p["parent"] in ids
        ],
        columns=["child", "parent", "type"],
    )
    return nodes, edges


def read_vocabularies(driver: Driver, database: str = "neo4j") -> dict[str, int]:
    """Every vocabulary a load put in the graph (`:Vocabulary` nodes) -> its current codes:
    the vocabularies whose codes a site shares by id (sites.share_ids)."""
    with driver.session(database=database, default_access_mode="READ") as session:
        rows = session.execute_read(
            lambda tx: tx.run(
                "MATCH (v:Vocabulary) OPTIONAL MATCH (c:Code {vocab: v.id}) "
                "WHERE coalesce(c.status, 'active') <> 'retired' AND c.origin IS NULL "
                "RETURN v.id AS id, count(c) AS codes"
            ).data()
        )
    return {r["id"]: int(r["codes"]) for r in rows}


# groupings (PheCode) are not the same concept: two codes of one phecode are no anchor pair
CROSSWALKS = """
UNWIND $ids AS id
MATCH (a:Code {id: id})-[r:MAPS_TO]-(b:Code)
WHERE NOT coalesce(r.source, '') STARTS WITH 'phecode'
RETURN collect([a.id, b.id, coalesce(r.source, '')]) AS rows
"""


def read_crosswalks(driver: Driver, ids: list[str], database: str = "neo4j") -> pd.DataFrame:
    """MAPS_TO crosswalks touching `ids`, either direction (GEMs, user-loaded maps; not the
    PheCode groupings): id (one of `ids`), other_id, source -> Stage I anchors."""
    with driver.session(database=database, default_access_mode="READ") as session:
        rows = session.execute_read(lambda tx: tx.run(CROSSWALKS, ids=list(ids)).single()["rows"])
    out = pd.DataFrame(rows, columns=["id", "other_id", "source"])
    return out.drop_duplicates(ignore_index=True)


# a loaded code: of a vocabulary a load put in the graph, not a node an earlier sync created
LOADED_TREES = """
MATCH (v:Vocabulary)
MATCH (c:Code {vocab: v.id})
WHERE coalesce(c.status, 'active') <> 'retired' AND c.origin IS NULL
RETURN v.id AS vocab, collect(DISTINCT coalesce(c.domain, '')) AS domains
"""


def read_loaded_trees(driver: Driver, database: str = "neo4j") -> dict[str, list[str]]:
    """Every loaded vocabulary -> the domains of its codes: the trees a site of local codes
    only can be placed into (build.context_seeds)."""
    with driver.session(database=database, default_access_mode="READ") as session:
        rows = session.execute_read(lambda tx: tx.run(LOADED_TREES).data())
    return {r["vocab"]: sorted(r["domains"]) for r in rows}


def read_loaded_codes(
    driver: Driver, ids: list[str], vocabs: list[str], database: str = "neo4j"
) -> list[str]:
    """The loaded codes among `ids` together with every loaded code of the vocabularies
    `vocabs` (their whole trees), sorted: the seeds of a build's curated context."""
    query = (
        "CALL { UNWIND $ids AS id MATCH (c:Code {id: id}) RETURN c "
        "UNION UNWIND $vocabs AS v MATCH (c:Code {vocab: v}) RETURN c } "
        "WITH c WHERE coalesce(c.status, 'active') <> 'retired' AND c.origin IS NULL "
        "AND EXISTS { MATCH (:Vocabulary {id: c.vocab}) } RETURN collect(DISTINCT c.id) AS ids"
    )
    with driver.session(database=database, default_access_mode="READ") as session:
        found = session.execute_read(
            lambda tx: tx.run(query, ids=list(ids), vocabs=list(vocabs)).single()["ids"]
        )
    return sorted(found)
