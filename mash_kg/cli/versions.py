"""`mash-kg builds`, `mash-kg builds prune`, `mash-kg diff`: the synced builds as versions of
the graph (graph/versions.py); `mash-kg sync --rollback` and `--dry-run` (cli/build.py) use the
same functions."""

from __future__ import annotations

import click

from mash_kg.cli.context import config_of
from mash_kg.cli.render import line, notice
from mash_kg.cli.views import show_rows

FORMATS = click.Choice(["table", "csv", "json"])


@click.group(invoke_without_command=True)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
def builds(ctx: click.Context, fmt: str) -> None:
    """List the synced builds, newest version first: id, version, dates, config hash, figures
    (learned rows of its version), and which one is active."""
    if ctx.invoked_subcommand is not None:
        return
    from mash_kg.graph.connection import open_driver
    from mash_kg.graph.versions import list_builds

    settings = config_of(ctx).neo4j
    with open_driver(settings, schema=False) as driver:
        rows = list_builds(driver, settings.database)
    show_rows(rows, fmt, f"{len(rows)} synced builds")


@builds.command("prune")
@click.option(
    "--keep",
    type=click.IntRange(1),
    required=True,
    help="How many of the newest versions to keep (the active one is always kept too).",
)
@click.option("--batch-size", type=click.IntRange(1, 100000), default=10000, show_default=True)
@click.pass_context
def builds_prune(ctx: click.Context, keep: int, batch_size: int) -> None:
    """Remove the versions of old builds: their :Build nodes, then in batches the learned rows
    no remaining version shows. Never the active build; decisions are never touched."""
    from mash_kg.graph.connection import open_driver
    from mash_kg.graph.versions import prune

    settings = config_of(ctx).neo4j
    with open_driver(settings) as driver:
        done = prune(driver, keep, settings.database, batch_size, notify=notice)
    rows = ", ".join(f"{k} {n:,}" for k, n in done["rows"].items())
    gone = ", ".join(done["builds"]) or "none"
    line(f"pruned {len(done['builds'])} builds ({gone}); rows removed: {rows}")


def show_diff(rows: list[dict], fmt: str, title: str) -> None:
    """A diff of learned edges (graph.versions.diff_versions rows) and its counts."""
    show_rows(rows, fmt, title)
    if fmt == "table":
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["change"]] = counts.get(r["change"], 0) + 1
        said = ", ".join(f"{n:,} {change}" for change, n in sorted(counts.items()))
        line(f"{len(rows):,} learned edges differ" + (f": {said}" if rows else ""))


@click.command()
@click.argument("a")
@click.argument("b")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.pass_context
def diff(ctx: click.Context, a: str, b: str, fmt: str) -> None:
    """The learned edges (MASH_IS_A, ALIGNED_WITH) added, removed and rescored from synced build
    A to synced build B (ids as `mash-kg builds` lists them)."""
    from mash_kg.graph.connection import open_driver
    from mash_kg.graph.versions import diff_versions

    settings = config_of(ctx).neo4j
    with open_driver(settings, schema=False) as driver:
        rows = diff_versions(driver, a, b, settings.database)
    show_diff(rows, fmt, f"{a} -> {b}")
