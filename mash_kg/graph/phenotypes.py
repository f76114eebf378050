"""Phenotype definitions into the graph: ``(:Phenotype {id, name, source})-[:INCLUDES
{descendants, mapped, excluded}]->(:Code)``, one transaction per import; a phenotype
imported again is replaced (its INCLUDES edges are rewritten), never merged with the old
definition. Every code must already be in the graph: the first missing one is reported with
its file and row, and nothing is written."""

from __future__ import annotations

from neo4j import Driver

from mash_kg.errors import InputError
from mash_kg.loaders.phenotype import PhenotypeTables


def write_phenotypes(driver: Driver, tables: PhenotypeTables, database: str = "neo4j") -> dict:
    items = tables.items
    found, _, _ = driver.execute_query(
        "UNWIND $ids AS id MATCH (c:Code {id: id}) RETURN collect(c.id) AS ids",
        ids=sorted(set(items["code"])), database_=database,
    )  # fmt: skip
    known = set(found[0]["ids"])
    missing = items[~items["code"].isin(known)]
    if len(missing):
        first = missing.iloc[0]
        source = tables.phenotypes.set_index("id").loc[first["phenotype"], "source"]
        raise InputError(source, f"code {first['code']} is not in the graph",
                         row=int(first["row"]), hint="load its vocabulary first "
                         "(mash-kg load SOURCE) or fix the code")  # fmt: skip
    rows = [
        {"id": p.id, "name": p.name, "source": p.source,
         "items": [{"code": r.code, "descendants": bool(r.descendants), "mapped": bool(r.mapped),
                    "excluded": bool(r.excluded)}
                   for r in items[items["phenotype"] == p.id].itertuples()]}
        for p in tables.phenotypes.itertuples()
    ]  # fmt: skip
    with driver.session(database=database) as session:
        session.execute_write(lambda tx: tx.run(
            "UNWIND $rows AS row MERGE (p:Phenotype {id: row.id}) "
            "SET p.name = row.name, p.source = row.source "
            "WITH p, row OPTIONAL MATCH (p)-[old:INCLUDES]->() DELETE old "
            "WITH DISTINCT p, row UNWIND row.items AS item MATCH (c:Code {id: item.code}) "
            "MERGE (p)-[r:INCLUDES]->(c) "
            "SET r.descendants = item.descendants, r.mapped = item.mapped, "
            "r.excluded = item.excluded", rows=rows).consume())  # fmt: skip
    return {"phenotypes": len(rows), "items": len(items)}
