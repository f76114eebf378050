"""`mash-kg site summarize`: the step a site runs on its own records (registered by mash_kg.cli)."""

from __future__ import annotations

from pathlib import Path

import click

from mash_kg.errors import InputError
from mash_kg.project import SiteSpec
from mash_kg.summary import ENGINES


def _spec_from_project(ctx: click.Context, site: str) -> tuple[SiteSpec, int, int]:
    from mash_kg.project import load_project

    project = load_project(ctx.obj["config"])
    for spec in project.sites:
        if spec.id == site:
            return spec, project.model.window_days, project.model.min_cell_count
    raise InputError(
        project.path,
        f"no [[sites]] with id {site!r}",
        hint=f"sites: {', '.join(s.id for s in project.sites)}",
    )


@click.group()
def site() -> None:
    """At a site: summarize its records into aggregate counts that can leave it."""


@site.command("summarize")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--site", "site_id", required=True, help="Site id (with --config: its [[sites]]).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["tables", "omop", "fhir"]),
    default=None,
    help="Input format (default: from the project's [[sites]]).",
)
@click.option("--path", type=click.Path(path_type=Path), help="omop: folder; fhir: folder/file.")
@click.option("--codes", type=click.Path(path_type=Path), help="tables: the codes table.")
@click.option("--events", type=click.Path(path_type=Path), help="tables: the events table.")
@click.option(
    "--prefer",
    type=click.Choice(["source", "standard"]),
    default=None,
    help="omop: the site's source concepts (default) or standard ones.",
)
@click.option("--window-days", type=int, default=None, help="Co-occurrence window (30).")
@click.option(
    "--min-cell-count",
    type=int,
    default=None,
    help="Suppress cells and codes below this many (default: the project's, else 0).",
)
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default="embedded",
    show_default=True,
    help="embedded = in memory for small inputs, DuckDB (bounded memory) above.",
)
@click.option(
    "--spark-master",
    default=None,
    help="spark: master URL (default local[*], or spark-submit's session).",
)
@click.option("--memory-limit", default="1GB", show_default=True, help="duckdb: memory cap.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists (atomically).")
@click.pass_context
def summarize(
    ctx: click.Context,
    out: Path,
    site_id: str,
    fmt: str | None,
    path: Path | None,
    codes: Path | None,
    events: Path | None,
    prefer: str | None,
    window_days: int | None,
    min_cell_count: int | None,
    engine: str,
    spark_master: str | None,
    memory_limit: str,
    force: bool,
) -> None:
    """Count the site's codes and co-occurrence into OUT: codes.parquet, cooccurrence.parquet,
    manifest.json; small cells and rare codes suppressed; nothing patient-level."""
    from rich.console import Console

    from mash_kg.summary import summarize as run

    window, min_cell = 30, 0
    if fmt is None:
        spec, window, min_cell = _spec_from_project(ctx, site_id)
    else:
        spec = _spec_from_options(site_id, fmt, path, codes, events, prefer)
    if prefer:
        spec.prefer = prefer
    console = Console()
    with console.status(f"Summarizing site {site_id} ..."):
        m = run(
            spec,
            out,
            window_days=window if window_days is None else window_days,
            min_cell_count=min_cell if min_cell_count is None else min_cell_count,
            engine=engine,
            force=force,
            spark_master=spark_master,
            memory_limit=memory_limit,
        )
    console.print(f"{_summary_line(m)}\nsummary: {out}", highlight=False)


def _spec_from_options(
    site_id: str,
    fmt: str,
    path: Path | None,
    codes: Path | None,
    events: Path | None,
    prefer: str | None,
) -> SiteSpec:
    """The site as its command-line options describe it (no project file)."""
    resolve = lambda p: None if p is None else p.expanduser().resolve()  # noqa: E731
    spec = SiteSpec(
        id=site_id,
        format=fmt,
        codes=resolve(codes),
        events=resolve(events),
        path=resolve(path),
        prefer=prefer or "source",
    )
    if fmt == "tables" and (spec.codes is None or spec.events is None):
        raise InputError("--format tables", "needs --codes and --events")
    if fmt != "tables" and spec.path is None:
        raise InputError(f"--format {fmt}", "needs --path")
    return spec


def _summary_line(m: dict) -> str:
    """A summary's manifest in one line: sizes, window, dates, what was suppressed."""
    t = m["tables"]
    return (
        f"site {m['site']} ({m['engine']}, {m['seconds']} s): {t['codes']['rows']:,} codes and "
        f"{t['cooccurrence']['rows']:,} co-occurring pairs within {m['window_days']} days, "
        f"{m['date_min']} to {m['date_max']}; suppressed below {m['min_cell_count']}: "
        f"{m['codes_suppressed']:,} codes, {m['cells_suppressed_small']:,} small cells, "
        f"{m['cells_suppressed_with_code']:,} cells of suppressed codes."
    )
