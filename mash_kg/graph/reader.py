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


# ------------------------------------------------------------------ the review page's reads
# The review page reads the active version of the learned content: `v` is the active build's
# version number (0 on a graph synced before builds were versions), and `valid(x)` keeps the
# rows valid in it (curated content, without valid_from, always is).
VERSION = """
OPTIONAL MATCH (version:Build)
WHERE version.active = true OR (version.active IS NULL AND version.current = true)
WITH coalesce(max(version.seq), 0) AS v, max(version.id) AS active
"""


def valid(x: str) -> str:
    """Cypher: `x` (a relationship or node variable) is valid at version `v`."""
    return f"(coalesce({x}.valid_from, 0) <= v AND coalesce({x}.valid_to, v + 1) > v)"


QUEUE = (
    VERSION
    + f"""
CALL {{
  WITH v MATCH (a)-[r:MASH_IS_A]->(b) WHERE $relation IN ['', 'MASH_IS_A'] AND {valid("r")}
  RETURN 'MASH_IS_A' AS relation, a, b, r.score AS confidence, r.build AS build
  UNION ALL
  WITH v MATCH (a:Code)-[r:ALIGNED_WITH {{rank: 1}}]->(b:Code)
  WHERE $relation IN ['', 'ALIGNED_WITH'] AND {valid("r")}
  RETURN 'ALIGNED_WITH' AS relation, a, b,
         CASE WHEN r.transport IS NULL OR isNaN(r.transport) THEN r.score ELSE r.transport END
           AS confidence, r.build AS build
}}
WITH relation, a, b, confidence, build
WHERE ($site = '' OR a.site = $site) AND ($domain = '' OR a.domain = $domain)
  AND ($vocab = '' OR a.vocab = $vocab) AND ($build = '' OR build = $build)
OPTIONAL MATCH (d:Decision {{key: relation + '|' + a.id + '|' + b.id}})
RETURN collect([relation, a.id, a.name, a.site, a.domain, a.vocab, b.id, b.name, confidence,
                build, d.decision]) AS rows
"""
)
QUEUE_COLUMNS = [
    "relation",
    "child",
    "child_name",
    "site",
    "domain",
    "vocab",
    "parent",
    "parent_name",
    "confidence",
    "build",
    "decision",
]
FACETS = (
    VERSION
    + f"""
MATCH (a:Code)-[r:MASH_IS_A|ALIGNED_WITH]->() WHERE {valid("r")}
RETURN collect(DISTINCT a.site) AS site, collect(DISTINCT a.domain) AS domain,
       collect(DISTINCT a.vocab) AS vocab, collect(DISTINCT r.build) AS build
"""
)
# both ends of an edge by id, a code or a latent group valid in the version
ENDS = f"""
OPTIONAL MATCH (cc:Code {{id: $child}})
OPTIONAL MATCH (pc:Code {{id: $parent}})
CALL {{
  WITH v OPTIONAL MATCH (l:Latent {{id: $child}}) WHERE {valid("l")} RETURN l AS cl LIMIT 1
}}
CALL {{
  WITH v OPTIONAL MATCH (l:Latent {{id: $parent}}) WHERE {valid("l")} RETURN l AS pl LIMIT 1
}}
WITH v, active, coalesce(cc, cl) AS c, coalesce(pc, pl) AS p
"""


def read_review_queue(driver: Driver, filters: dict[str, str], database: str = "neo4j"):
    """Every learned edge the review queue may show (MASH_IS_A, rank-1 ALIGNED_WITH) under
    `filters` (relation, site, domain, vocab, build; '' = any), with its decision if any:
    a DataFrame of QUEUE_COLUMNS."""
    params = {k: filters.get(k, "") or "" for k in ("relation", "site", "domain", "vocab", "build")}
    with driver.session(database=database, default_access_mode="READ") as session:
        rows = session.execute_read(lambda tx: tx.run(QUEUE, **params).single()["rows"])
    return pd.DataFrame(rows, columns=QUEUE_COLUMNS)


def read_facets(driver: Driver, database: str = "neo4j") -> dict[str, list[str]]:
    """The values each queue filter can take (sites, domains, vocabularies, builds)."""
    with driver.session(database=database, default_access_mode="READ") as session:
        row = session.execute_read(lambda tx: tx.run(FACETS).single().data())
    return {k: sorted(str(x) for x in v if x is not None) for k, v in row.items()}


EDGE = (
    VERSION
    + ENDS
    + f"""
OPTIONAL MATCH (c)-[r]->(p) WHERE type(r) = $relation AND {valid("r")}
OPTIONAL MATCH path = (p)-[up:IS_A|MASH_IS_A*0..20]->(root)
WHERE all(x IN up WHERE {valid("x")})
  AND NOT exists {{ MATCH (root)-[y:IS_A|MASH_IS_A]->() WHERE {valid("y")} }}
WITH c, p, r, path ORDER BY length(path) LIMIT 1
RETURN c {{.id, .name, .site, .domain, .vocab}} AS child,
       p {{.id, .name, .site, .domain, .vocab}} AS parent, properties(r) AS edge,
       [n IN nodes(path) | [n.id, n.name]] AS path
"""
)
NEIGHBOURS = (
    VERSION
    + ENDS
    + f"""
CALL {{
  WITH c, v MATCH (c)-[r:IS_A|MASH_IS_A]->(o) WHERE {valid("r")}
  RETURN 'parent' AS role, o, type(r) AS via
  UNION
  WITH c, p, v MATCH (p)<-[r:IS_A|MASH_IS_A]-(o) WHERE o <> c AND {valid("r")}
  RETURN 'sibling' AS role, o, type(r) AS via
  UNION
  WITH c, v MATCH (c)-[r:ALIGNED_WITH]-(o:Code) WHERE {valid("r")}
  RETURN 'counterpart' AS role, o, type(r) AS via
}}
WITH role, o, via ORDER BY role, o.id
WITH role, collect([o.id, o.name, via])[..$limit] AS rows
RETURN role, rows
"""
)
POINTS = (
    VERSION
    + f"""
UNWIND $ids AS id
OPTIONAL MATCH (c:Code {{id: id}})
OPTIONAL MATCH (c)-[:HAS_STATE]->(st:CodeState) WHERE {valid("st")}
OPTIONAL MATCH (l:Latent {{id: id}}) WHERE {valid("l")}
WITH id, c, head(collect(st)) AS st, head(collect(l)) AS l
WITH id, coalesce(c, l) AS n, coalesce(st.poincare, c.poincare, l.poincare) AS point
WHERE n IS NOT NULL
RETURN collect([id, n.name, point]) AS rows
"""
)


def read_review_edge(
    driver: Driver, relation: str, child: str, parent: str, database: str = "neo4j"
) -> dict | None:
    """The edge child -[relation]-> parent as the review page shows it: both ends, the edge's
    properties (None when the graph no longer has it), the parent's path to a root and a few
    neighbours (the child's parents, the parent's other children, cross-site counterparts).
    None when either end is unknown."""
    with driver.session(database=database, default_access_mode="READ") as session:
        row = session.execute_read(
            lambda tx: tx.run(EDGE, relation=relation, child=child, parent=parent).single()
        )
        if row is None or row["child"] is None or row["parent"] is None:
            return None
        out = row.data()
        near = session.execute_read(
            lambda tx: tx.run(NEIGHBOURS, child=child, parent=parent, limit=8).data()
        )
    out["neighbours"] = {r["role"]: r["rows"] for r in near}
    return out


def read_points(driver: Driver, ids: list[str], database: str = "neo4j") -> dict[str, tuple]:
    """id -> (name, synced Poincaré point or None) of the codes and groups among `ids`."""
    with driver.session(database=database, default_access_mode="READ") as session:
        rows = session.execute_read(lambda tx: tx.run(POINTS, ids=list(ids)).single()["rows"])
    return {r[0]: (r[1], r[2]) for r in rows}


def search_codes(driver: Driver, text: str, limit: int = 20, database: str = "neo4j") -> list[dict]:
    """Codes and groups whose name or synonyms match `text` (the full-text index code_text;
    Lucene's special characters are escaped, so any text is a plain search), and the code
    whose id is `text` itself, first."""
    from neo4j.exceptions import ClientError

    text = text.strip()
    if not text:
        return []
    escaped = "".join("\\" + ch if ch in _LUCENE else ch for ch in text)
    try:
        with driver.session(database=database, default_access_mode="READ") as session:
            exact = session.execute_read(
                lambda tx: tx.run(
                    "MATCH (x:Code {id: $text}) RETURN [[x.id, x.name, x.vocab, 0.0]] AS rows",
                    text=text,
                ).single()
            )
            found = session.execute_read(
                lambda tx: tx.run(SEARCH, lucene=escaped, limit=limit).single()["rows"]
            )
    except ClientError as exc:  # a query Lucene still cannot parse: no match, said plainly
        if "fulltext" in str(exc).lower() or "parse" in str(exc).lower():
            return []
        raise
    rows = (exact["rows"] if exact else []) + found
    seen, out = set(), []
    for cid, name, vocab, score in rows:
        if cid not in seen:
            seen.add(cid)
            out.append({"id": cid, "name": name, "vocab": vocab, "score": score})
    return out[:limit]


SEARCH = (
    VERSION
    + f"""
CALL db.index.fulltext.queryNodes('code_text', $lucene) YIELD node, score
WITH v, node, score WHERE NOT node:Latent OR {valid("node")}
WITH node, score ORDER BY score DESC LIMIT $limit
RETURN collect([node.id, node.name, node.vocab, score]) AS rows
"""
)
_LUCENE = set('+-&|!(){}[]^"~*?:\\/')


def read_decisions(driver: Driver, database: str = "neo4j") -> pd.DataFrame:
    """The review decisions the next build learns from (graph.decisions.decision_table)."""
    from mash_kg.graph.decisions import decision_table

    return decision_table(driver, database)


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
