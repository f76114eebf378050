"""Speed of loading all of ICD-10-CM into Neo4j: the batched diff writer of `mash-kg load`
against a naive load (one transaction per row, MERGE by id), on a throwaway local Neo4j.

    python bench/load_ontology.py [--runs 3] [--naive-sample 3000] [--quick]

`batched` times the whole `mash-kg load icd10cm` path (read the release, diff, write) into an
empty graph, median of --runs. `naive` writes a sample of the same rows one transaction each
and scales the per-row time to all rows (a full naive run takes tens of minutes); the file
says so. Writes bench/results/load.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import scratch_neo4j, write_results  # noqa: E402

from mash_kg.graph.connection import open_driver  # noqa: E402
from mash_kg.graph.reconcile.ontology import records  # noqa: E402
from mash_kg.graph.writer import write_tables  # noqa: E402
from mash_kg.loaders import get_loader  # noqa: E402
from mash_kg.neo4j_server.scratch import wipe  # noqa: E402


def naive_load(driver, tables, n_nodes: int) -> tuple[int, int, float]:
    """One transaction per row: MERGE each node, then MERGE each edge between sample nodes."""
    nodes = records(tables.nodes.head(n_nodes), list(tables.nodes.columns))
    ids = {n["id"] for n in nodes}
    edges = tables.edges[tables.edges["start"].isin(ids) & tables.edges["end"].isin(ids)]
    t0 = time.perf_counter()
    with driver.session() as session:
        for row in nodes:
            session.execute_write(
                lambda tx, r=row: tx.run(
                    "MERGE (n:Code {id: $id}) SET n += $props", id=r["id"], props=r
                ).consume()
            )
        for s, e in zip(edges["start"], edges["end"], strict=True):
            session.execute_write(
                lambda tx, s=s, e=e: tx.run(
                    "MATCH (a:Code {id: $s}), (b:Code {id: $e}) "
                    "MERGE (a)-[r:IS_A {vocab: 'ICD10CM'}]->(b)",
                    s=s,
                    e=e,
                ).consume()
            )
    return len(nodes), len(edges), time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--naive-sample", type=int, default=3000)
    ap.add_argument("--quick", action="store_true", help="1 run, 500-row naive sample")
    args = ap.parse_args()
    runs, sample = (1, 500) if args.quick else (args.runs, args.naive_sample)

    with scratch_neo4j() as settings:
        with open_driver(settings) as driver:
            batched, report = [], None
            for i in range(runs):
                wipe(driver)
                t0 = time.perf_counter()
                tables = get_loader("icd10cm")()
                report = write_tables(driver, tables)
                batched.append(time.perf_counter() - t0)
                print(f"batched run {i + 1}: {batched[-1]:.1f} s", flush=True)
            nodes = driver.execute_query("MATCH (n:Code {vocab:'ICD10CM'}) RETURN count(n)")[0][0][
                0
            ]
            edges = driver.execute_query(
                "MATCH (:Code)-[r:IS_A {vocab:'ICD10CM'}]->(:Code) RETURN count(r)"
            )[0][0][0]
            wipe(driver)
            n_nodes, n_edges, naive_s = naive_load(driver, get_loader("icd10cm")(), sample)
    per_row = naive_s / (n_nodes + n_edges)
    naive_full = per_row * (report.count("codes", "total") + report.count("edges", "total"))
    median = statistics.median(batched)
    print(
        f"batched median {median:.1f} s; naive {naive_s:.1f} s for {n_nodes + n_edges} rows "
        f"-> {naive_full:.0f} s for all; speed-up {naive_full / median:.0f}x"
    )
    write_results(
        "load",
        {
            "icd10cm": {
                "n": report.count("codes", "total"),
                "speedup_batched_over_naive": round(naive_full / median, 1),
                "methods": {
                    "batched": {
                        "nodes": nodes,
                        "edges": edges,
                        "seconds": round(median, 2),
                        "runs": runs,
                        "seconds_each": [round(s, 2) for s in batched],
                        "includes": "reading the release from simple-icd-10-cm, diff, write",
                    },
                    "naive": {
                        "nodes": report.count("codes", "total"),
                        "edges": report.count("edges", "total"),
                        "seconds": round(naive_full, 1),
                        "extrapolated": True,
                        "sample_nodes": n_nodes,
                        "sample_edges": n_edges,
                        "sample_seconds": round(naive_s, 2),
                        "note": "one transaction per row (MERGE); measured on the sample, per-row "
                        "time scaled to all rows",
                    },
                },
            }
        },
    )


if __name__ == "__main__":
    main()
