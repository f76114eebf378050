"""`mash-kg load SOURCE`: a terminology release into the graph."""

from __future__ import annotations

from pathlib import Path

import click

from mash_kg.cli.context import config_of
from mash_kg.cli.render import console, notice, print_report, progress_bars
from mash_kg.config import Config
from mash_kg.inputs import InputPath
from mash_kg.load import read_source, source_help


@click.command()
@click.argument("source")
@click.option(
    "--file",
    "files",
    multiple=True,
    type=InputPath(),  # a FIFO or a device is one clear line, never read
    help="Release file or folder (repeat when a source has several).",
)
@click.option("--vocab", default=None, help="Vocabulary id for obo / edges sources.")
@click.option("--version", "version", default=None, help="Release version to record.")
@click.option(
    "--domain",
    default="other",
    type=click.Choice(["diagnosis", "medication", "lab", "procedure", "other"]),
    help="Domain of codes for obo / edges sources.",
)
@click.option(
    "--batch-size",
    default=5000,
    show_default=True,
    type=click.IntRange(1, 100000),
    help="Rows per UNWIND statement.",
)
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option(
    "--allow-retire",
    is_flag=True,
    help="Allow retiring more than half of a vocabulary's active codes.",
)
@click.option(
    "--allow-takeover",
    is_flag=True,
    help="Allow replacing a vocabulary that another source loaded.",
)
@click.pass_context
def load(ctx: click.Context, source: str, files: tuple[Path, ...], **options) -> None:
    """Load an ontology SOURCE into Neo4j (see `mash-kg load --help` for sources)."""
    print_report(load_with_progress(config_of(ctx), source, list(files), **options))


load.help = (load.help or "") + "\n\nSources: " + source_help()


def load_with_progress(
    config: Config,
    source: str,
    files: list[Path] | None = None,
    *,
    batch_size: int = 5000,
    dry_run: bool = False,
    allow_retire: bool = False,
    allow_takeover: bool = False,
    **loader_options,
):
    """Read SOURCE (a spinner), then write it (a progress bar); the load's report. Bad input
    stops before anything connects; the bar starts once the graph answers."""
    from mash_kg.graph.connection import open_driver
    from mash_kg.graph.writer import write_tables

    with console.status(f"Reading {source} ..."):
        tables = read_source(source, files, **loader_options)
    settings = config.neo4j
    with open_driver(settings) as driver, progress_bars(transient=True) as bar:
        task = bar.add_task(f"Writing {source}", total=len(tables.nodes) + len(tables.edges))
        return write_tables(
            driver,
            tables,
            database=settings.database,
            batch_size=batch_size,
            dry_run=dry_run,
            progress=lambda _label, n: bar.advance(task, n),
            allow_retire=allow_retire,
            allow_takeover=allow_takeover,
            notify=notice,
        )
