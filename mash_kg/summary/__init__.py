"""Site summaries: a site's records in, shareable aggregate counts out (`mash-kg site summarize`).

`summarize(spec, out, ...)` counts a site's codes and windowed co-occurrence with one engine
and writes the summary folder (`mash_kg.summary.folder`); `mash-kg build` reads such a folder
as a site of format ``summary`` (`mash_kg.summary.site.load_site`).

Engines, all giving identical tables on the same input:
- ``in_memory``: the site's adapter and `mash_kg.cooccurrence` (the reference; memory grows
  with the input);
- ``duckdb``: the SQL plan of `mash_kg.summary.plan` in DuckDB with a memory limit (spills to
  disk: memory bounded whatever the input size);
- ``embedded`` (default): ``in_memory`` below `IN_MEMORY_MAX_EVENTS` events (estimated from
  the files), else ``duckdb`` (the threshold is chosen on bench/cooccurrence.py's figures);
- ``spark``: the same SQL plan in Spark (``--spark-master``, or spark-submit's session).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from mash_kg.errors import InputError
from mash_kg.project import SiteSpec
from mash_kg.summary.folder import SiteCounts, write_summary

ENGINES = ("embedded", "in_memory", "duckdb", "spark")
# `embedded` counts in memory below this many events, with DuckDB above: measured on 2 cores
# (bench/cooccurrence.py), DuckDB takes 2.4 s against 5.6 s at 1M events, about as long at
# 10M with a third of the memory (1.3 against 4.0 GiB), and alone runs 100M in bounded memory;
# the in-memory path starts faster on small sites (16,509 events: 0.16 s against 0.27 s)
IN_MEMORY_MAX_EVENTS = 50_000
BYTES_PER_EVENT = {"csv": 60, "ndjson": 1000}  # rough sizes of one event's row in a file


def _event_files(spec: SiteSpec) -> list[Path]:
    if spec.format == "tables":
        return [Path(p) for p in (spec.events, spec.counts) if p is not None]
    root = Path(spec.path) if spec.path is not None else None
    if root is None or not root.exists():
        return []
    files = sorted(f for f in root.rglob("*") if f.is_file()) if root.is_dir() else [root]
    return [f for f in files if not f.name.lower().startswith("concept")]


def estimated_events(spec: SiteSpec) -> int:
    """About how many events the site's files hold (Parquet: exact, from its metadata)."""
    import pyarrow.parquet as pq

    total = 0
    for f in _event_files(spec):
        if not f.is_file():
            continue
        if f.suffix.lower() in (".parquet", ".pq"):
            total += pq.ParquetFile(f).metadata.num_rows
        else:
            kind = "ndjson" if f.suffix.lower() in (".ndjson", ".json") else "csv"
            total += f.stat().st_size // BYTES_PER_EVENT[kind]
    return total


def choose_engine(spec: SiteSpec, engine: str) -> str:
    """The engine `engine` names; `embedded` picks by the site's size."""
    if engine not in ENGINES:
        raise InputError("--engine", f"{engine!r} is not one of {', '.join(ENGINES)}")
    if engine != "embedded":
        return engine
    return "in_memory" if estimated_events(spec) < IN_MEMORY_MAX_EVENTS else "duckdb"


def count_site(
    spec: SiteSpec,
    window_days: int,
    engine: str = "embedded",
    *,
    work: Path | None = None,
    spark_master: str | None = None,
    memory_limit: str = "1GB",
    threads: int | None = None,
) -> tuple[SiteCounts, str]:
    """The site's counts (before suppression) and the engine that made them."""
    from mash_kg.summary.engine import count_in_memory, count_with_backend

    if window_days < 0:
        raise InputError("--window-days", f"window of {window_days} days: must be >= 0")
    engine = choose_engine(spec, engine)
    if engine == "in_memory":
        return count_in_memory(spec, window_days), engine
    if engine == "spark":
        if spec.format not in ("tables", "omop"):
            raise InputError(
                spec.path or spec.id,
                f"the spark engine reads events tables or OMOP CDM tables, not {spec.format!r}",
                hint="summarize this site with --engine embedded",
            )
        from mash_kg.summary.backends import SparkBackend

        be = SparkBackend(spark_master)
        try:
            return count_with_backend(be, spec, window_days), engine
        finally:
            be.close()
    from mash_kg.summary.backends import DuckDBBackend

    own = work is None
    work = Path(tempfile.mkdtemp(prefix="mash-kg-duckdb-")) if own else Path(work)
    be = DuckDBBackend(work, memory_limit=memory_limit, threads=threads)
    try:
        return count_with_backend(be, spec, window_days), engine
    finally:
        be.close()
        if own:
            shutil.rmtree(work, ignore_errors=True)


def summarize(
    spec: SiteSpec,
    out: Path,
    *,
    window_days: int = 30,
    min_cell_count: int = 0,
    engine: str = "embedded",
    force: bool = False,
    spark_master: str | None = None,
    memory_limit: str = "1GB",
) -> dict:
    """Count the site `spec` and write its summary folder `out` atomically; the manifest."""
    if min_cell_count < 0:
        raise InputError("--min-cell-count", f"{min_cell_count} must be >= 0")
    out = Path(out)
    if out.exists() and not force:
        raise InputError(out, "already exists", hint="choose another folder or pass --force")
    started = time.perf_counter()
    counts, used = count_site(
        spec, window_days, engine, spark_master=spark_master, memory_limit=memory_limit
    )
    source = {
        "format": spec.format,
        **{
            k: str(v)
            for k, v in (("codes", spec.codes), ("events", spec.events), ("path", spec.path))
            if v is not None
        },
    }
    manifest = write_summary(
        out,
        counts,
        site=spec.id,
        engine=used,
        window_days=window_days,
        min_cell_count=min_cell_count,
        source=source,
        force=force,
    )
    manifest["seconds"] = round(time.perf_counter() - started, 2)
    return manifest
