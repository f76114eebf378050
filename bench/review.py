"""Latency of the review page's queue -> bench/results/review.json (task `queue_page`,
method `server`, metrics `p50_ms`, `p95_ms`).

A throwaway bundled Neo4j gets what `mash-kg demo` loads (ICD-10-CM, ICD-9-CM + GEMs,
PheCode) and the bundled two-site example's build (Stages I-III; Sinkhorn alignment instead of
the example's neural OT, to bound the run: the graph's size is what the page's time depends
on), synced. The review page is then served by waitress on 127.0.0.1 exactly as
`mash-kg review serve` serves it, and a page of 100 queue rows (every learned edge, lowest
confidence first) is fetched over HTTP after 5 warm-up requests; p50/p95 over the timed ones.
Task `edge_page`: one edge's page (candidates, path, neighbours, Poincaré picture) the same way.

`--build DIR` syncs that build folder of the same example instead of building it again (a
build `mash-kg build` made of examples/two_sites over ICD-10-CM, e.g. by the test session):
the page's time depends on the graph, not on who built it; the results file names the build.

Run: python bench/review.py [--runs N] [--build DIR]
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from _common import scratch_neo4j, write_results  # noqa: E402

from mash_kg.build import run_build  # noqa: E402
from mash_kg.config import load_config  # noqa: E402
from mash_kg.graph.connection import open_driver  # noqa: E402
from mash_kg.graph.sync import sync_build  # noqa: E402
from mash_kg.graph.writer import write_tables  # noqa: E402
from mash_kg.loaders import get_loader  # noqa: E402
from mash_kg.project import load_project  # noqa: E402
from mash_kg.review.app import create_app  # noqa: E402
from mash_kg.review.server import make_server  # noqa: E402

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "two_sites"


def demo_graph(settings, work: Path, given: Path | None = None) -> Path:
    """The demo's graph: its ontologies and the example's build (`given`, else built here),
    synced; the build folder."""
    with open_driver(settings) as driver:
        for source in ("icd10cm", "icd9cm", "phecode"):
            write_tables(driver, get_loader(source)())
    if given is not None:
        folder = work / "builds" / given.name
        shutil.copytree(given, folder)
        with open_driver(settings) as driver:
            sync_build(driver, folder)
        return folder
    project_dir = work / "two_sites"
    shutil.copytree(EXAMPLE, project_dir, ignore=shutil.ignore_patterns("builds"))
    config = replace(load_config(project_dir / "mash-kg.toml"), neo4j=settings)
    project = load_project(config)
    project = replace(project, model=replace(project.model, align_method="sinkhorn"))
    folder = run_build(project, settings)
    with open_driver(settings) as driver:
        sync_build(driver, folder)
    return folder


def timed(url: str, runs: int) -> tuple[list[float], str]:
    page = ""
    for _ in range(5):
        page = urllib.request.urlopen(url).read().decode()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        page = urllib.request.urlopen(url).read().decode()
        times.append((time.perf_counter() - t) * 1000)
    return times, page


def figures(times: list[float], n: int) -> dict:
    return {
        "n": n,
        "methods": {
            "server": {
                "p50_ms": round(float(np.percentile(times, 50)), 1),
                "p95_ms": round(float(np.percentile(times, 95)), 1),
                "runs": len(times),
            }
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--build", type=Path, help="an example build folder to sync (see above)")
    args = ap.parse_args()
    tasks = {}
    with scratch_neo4j() as settings, tempfile.TemporaryDirectory() as tmp:
        folder = demo_graph(settings, Path(tmp), args.build)
        with open_driver(settings) as driver:
            app = create_app(driver, builds=folder.parent, reviewer="bench")
            server = make_server(app, "127.0.0.1", 0)
            threading.Thread(target=server.run, daemon=True).start()
            base = f"http://127.0.0.1:{server.effective_port}"
            try:
                times, page = timed(base + "/?status=all", args.runs)
                rows = re.findall(r'class="edge-link" href="([^"]+)"', page)
                total = int(re.search(r"of (\d+) learned edges", page).group(1))
                tasks["queue_page"] = figures(times, len(rows))
                tasks["queue_page"]["learned_edges"] = total
                tasks["queue_page"]["build"] = folder.name
                first = rows[0].replace("&amp;", "&")
                times, _ = timed(base + first, args.runs)
                tasks["edge_page"] = figures(times, 1)
            finally:
                server.close()
    assert tasks["queue_page"]["n"] == 100, f"the page had {tasks['queue_page']['n']} rows"
    print(write_results("review", tasks))
    for name, task in tasks.items():
        print(name, task)


if __name__ == "__main__":
    main()
