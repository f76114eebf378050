"""Phenotype definitions into the graph: ``(:Phenotype {id, name, source})-[:INCLUDES
{descendants, mapped, excluded}]->(:Code)``, one transaction per import; a phenotype
imported again is replaced (its INCLUDES edges are rewritten), never merged with the old
definition. Every code must already be in the graph: the first missing one is reported with
its file and row, and nothing is written."""

from __future__ import annotations

from neo4j import Driver

from mash_kg.errors import InputError, MashError
from mash_kg.graph.versions import pin, valid
from mash_kg.graph.views import run_view
from mash_kg.loaders.phenotype import PhenotypeTables


def write_phenotypes(driver: Driver, tables: PhenotypeTables, database: str = "neo4j") -> dict:
    items = tables.items
    found, _, _ = driver.execute_query(
        "UNWIND $ids AS id MATCH (c:Code {id: id}) RETURN collect(c.id) AS ids",
        ids=sorted(set(items["code"])),
        database_=database,
    )
    known = set(found[0]["ids"])
    missing = items[~items["code"].isin(known)]
    if len(missing):
        first = missing.iloc[0]
        source = tables.phenotypes.set_index("id").loc[first["phenotype"], "source"]
        raise InputError(
            source,
            f"code {first['code']} is not in the graph",
            row=int(first["row"]),
            hint="load its vocabulary first (mash-kg load SOURCE) or fix the code",
        )
    rows = [
        {
            "id": p.id,
            "name": p.name,
            "source": p.source,
            "items": [
                {
                    "code": r.code,
                    "descendants": bool(r.descendants),
                    "mapped": bool(r.mapped),
                    "excluded": bool(r.excluded),
                }
                for r in items[items["phenotype"] == p.id].itertuples()
            ],
        }
        for p in tables.phenotypes.itertuples()
    ]
    with driver.session(database=database) as session:
        session.execute_write(
            lambda tx: tx.run(
                "UNWIND $rows AS row MERGE (p:Phenotype {id: row.id}) "
                "SET p.name = row.name, p.source = row.source "
                "WITH p, row OPTIONAL MATCH (p)-[old:INCLUDES]->() DELETE old "
                "WITH DISTINCT p, row UNWIND row.items AS item MATCH (c:Code {id: item.code}) "
                "MERGE (p)-[r:INCLUDES]->(c) "
                "SET r.descendants = item.descendants, r.mapped = item.mapped, "
                "r.excluded = item.excluded",
                rows=rows,
            ).consume()
        )
    return {"phenotypes": len(rows), "items": len(items)}


EMPTY_EXPANSION = (
    """
MATCH (p:Phenotype {id: $phenotype})-[inc:INCLUDES]->(root:Code)
OPTIONAL MATCH (c:Code)-[rels:IS_A|MASH_IS_A*1..]->(root)
WHERE inc.descendants AND all(r IN rels WHERE """
    + valid("r")
    + """)
WITH inc, root, count(DISTINCT c) AS below
RETURN sum(CASE WHEN inc.excluded THEN 0 ELSE 1 END) AS included,
       sum(CASE WHEN inc.excluded THEN 1 ELSE 0 END) AS excluded,
       sum(CASE WHEN inc.excluded THEN 0 ELSE below END) AS descendants,
       collect(CASE WHEN NOT inc.excluded THEN root.id END)[..3] AS examples
"""
)


def why_empty(
    driver: Driver,
    phenotype: str,
    site: str,
    max_rank: int,
    database: str = "neo4j",
    version: int = 0,
) -> str:
    """One line saying why `phenotype` expands to no code at `site` (in `version`) and what to
    try."""
    rec = driver.execute_query(
        EMPTY_EXPANSION, phenotype=phenotype, v=version, database_=database
    ).records[0]
    site_codes = driver.execute_query(
        "MATCH (c:Code)-[:HAS_STATE]->(s:CodeState) WHERE $site IN s.sites AND "
        + valid("s")
        + " RETURN count(c) AS n",
        site=site,
        v=version,
        database_=database,
    ).records[0]["n"]
    if not rec["included"]:
        return (
            f"phenotype {phenotype!r} expands to nothing: every one of its "
            f"{rec['excluded']} concepts is excluded (fix the definition and import it "
            "again)"
        )
    concepts = ", ".join(rec["examples"]) + (", ..." if rec["included"] > 3 else "")
    return (
        f"phenotype {phenotype!r} has no code at site {site}: its {rec['included']} included "
        f"concept(s) ({concepts}) and their {rec['descendants']} descendant(s) are neither "
        f"coded at site {site} (which has {site_codes} codes in the graph) nor ALIGNED_WITH "
        f"one of its codes within rank {max_rank} (try --max-rank 5, include descendants, "
        "or sync a build whose site codes in these vocabularies)"
    )


def expand_phenotype(
    driver: Driver,
    phenotype: str,
    site: str,
    max_rank: int = 1,
    database: str = "neo4j",
    build: str | None = None,
    learned: str = "all",
) -> list[dict]:
    """The codes of `phenotype` at `site` in synced build `build` (default: the active one),
    each with the rule, edges and scores that bring it in (the phenotype_codes view) and the
    build it was read from (column ``build``). `learned`: 'all' learned edges of that build,
    only those a reviewer 'accepted', or 'none' (curated edges only). An unknown phenotype,
    site or build, or an expansion to nothing, is one MashError saying why and what to try."""
    known = driver.execute_query(
        "OPTIONAL MATCH (p:Phenotype {id: $p}) OPTIONAL MATCH (s:Site {id: $s}) "
        "RETURN p IS NOT NULL AS p, s IS NOT NULL AS s",
        p=phenotype,
        s=site,
        database_=database,
    ).records[0]
    if not known["p"]:
        raise MashError(f"no phenotype {phenotype!r} in the graph (mash-kg phenotype import)")
    if not known["s"]:
        raise MashError(f"no site {site!r} in the graph (mash-kg sync a build that has it)")
    version = pin_or_none(driver, build, database)
    params = {
        "phenotype": phenotype,
        "site": site,
        "max_rank": max_rank,
        "learned": learned,
        "build": version.build if version else "",
    }
    rows = run_view(driver, "phenotype_codes", params, database)
    if not rows:  # asked for the site's codes and there are none: say why
        seq = version.seq if version else 0
        raise MashError(why_empty(driver, phenotype, site, max_rank, database, seq))
    return [{**r, "build": version.build if version else None} for r in rows]


def pin_or_none(driver: Driver, build: str | None, database: str):
    """The version of `build`, or the active one; None when no build was ever synced (and
    none was asked for): curated content only."""
    try:
        return pin(driver, build, database)
    except MashError:
        if build:
            raise
        return None
