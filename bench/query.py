"""Latency of the Cypher views on the full ICD-10-CM graph -> bench/results/query.json.

A throwaway bundled Neo4j gets ICD-10-CM, ICD-9-CM (+ GEMs) and PheCode; each view runs with
the parameters below through `run_view` (read transaction, parameters only, the driver a user
has), after 5 warm-up runs; p50/p95 over the timed runs. Views over learned content
(equivalents, similar, review_queue, unparented_local_codes) need a synced ICD-scale build and
are not timed here.

Run: python bench/query.py [--runs N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from _common import scratch_neo4j, write_results  # noqa: E402

from mash_kg.graph.connection import open_driver  # noqa: E402
from mash_kg.graph.views import run_view  # noqa: E402
from mash_kg.graph.writer import write_tables  # noqa: E402
from mash_kg.loaders import get_loader  # noqa: E402

CASES = {
    "ancestors": {"code": "ICD10CM:E11.9"},
    "descendants_of_a_chapter": {"code": "ICD10CM:4", "limit": 10000},  # the view's maximum
    "path_to_root": {"code": "ICD10CM:S52.521A"},
    "siblings": {"code": "ICD10CM:E11.9"},
    "lowest_common_ancestor": {"a": "ICD10CM:E11.9", "b": "ICD10CM:E10.9"},
    "phecode_of": {"code": "ICD10CM:E11.9"},
    "codes_per_chapter": {"vocab": "ICD10CM"},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100)
    args = ap.parse_args()
    tasks = {}
    with scratch_neo4j() as settings:
        with open_driver(settings) as driver:
            for source in ("icd10cm", "icd9cm", "phecode"):
                write_tables(driver, get_loader(source)())
            for name, params in CASES.items():
                view = "descendants" if name.startswith("descendants") else name
                rows = 0
                for _ in range(5):
                    rows = len(run_view(driver, view, params))
                times = []
                for _ in range(args.runs):
                    t = time.perf_counter()
                    run_view(driver, view, params)
                    times.append((time.perf_counter() - t) * 1000)
                tasks[name] = {
                    "n": args.runs,
                    "rows": rows,
                    "params": params,
                    "methods": {
                        "neo4j": {
                            "p50_ms": round(float(np.percentile(times, 50)), 2),
                            "p95_ms": round(float(np.percentile(times, 95)), 2),
                        }
                    },
                }
                print(name, tasks[name], flush=True)
    print(write_results("query", tasks))


if __name__ == "__main__":
    main()
