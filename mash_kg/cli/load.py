"""`mash-kg load SOURCE`: a terminology release into the graph; one subcommand per source,
each with its own --help (which file of which release it reads)."""

from __future__ import annotations

from pathlib import Path

import click

from mash_kg.cli.context import config_of
from mash_kg.cli.render import console, notice, print_report, progress_bars
from mash_kg.config import Config
from mash_kg.errors import MashError
from mash_kg.inputs import InputPath
from mash_kg.load import read_source

# the options only some sources take; every source takes the others
NAMED_SOURCES = ("obo", "edges")  # --vocab and --domain
VERSIONED_SOURCES = ("obo", "edges", "atc", "rxnorm", "loinc")  # --version
NO_FILE_SOURCES = ("icd10who",)


def _common_options(source: str) -> list[click.Option]:
    opts = []
    if source not in NO_FILE_SOURCES:
        opts.append(
            click.Option(
                ["--file", "files"],
                multiple=True,
                type=InputPath(),  # a FIFO or a device is one clear line, never read
                help="Release file or folder (repeat when the source has several).",
            )
        )
    if source in NAMED_SOURCES:
        opts += [
            click.Option(["--vocab"], default=None, help="Vocabulary id of the codes."),
            click.Option(
                ["--domain"],
                default="other",
                show_default=True,
                type=click.Choice(["diagnosis", "medication", "lab", "procedure", "other"]),
                help="Domain of the codes.",
            ),
        ]
    if source in VERSIONED_SOURCES:
        opts.append(click.Option(["--version"], default=None, help="Release version to record."))
    return opts + [
        click.Option(
            ["--batch-size"],
            default=5000,
            show_default=True,
            type=click.IntRange(1, 100000),
            help="Rows per UNWIND statement.",
        ),
        click.Option(["--dry-run"], is_flag=True, help="Report what would change; write nothing."),
        click.Option(
            ["--allow-retire"],
            is_flag=True,
            help="Allow retiring more than half of the codes or edges the graph holds of it.",
        ),
        click.Option(
            ["--allow-takeover"],
            is_flag=True,
            help="Allow replacing a vocabulary that another source loaded.",
        ),
    ]


def _source_command(source: str) -> click.Command:
    from mash_kg.loaders import REGISTRY, SOURCE_HELP

    def run(files: tuple[Path, ...] = (), **options) -> None:
        ctx = click.get_current_context()
        print_report(load_with_progress(config_of(ctx), source, list(files), **options))

    return click.Command(
        source,
        callback=run,
        params=_common_options(source),
        help=SOURCE_HELP[source],
        short_help=REGISTRY[source][1],
    )


class LoadGroup(click.Group):
    """The sources in the registry's order (not alphabetical)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """A source not in the registry is one line naming the known ones (exit 1)."""
        command = super().get_command(ctx, cmd_name)
        if command is None and not cmd_name.startswith("-"):
            raise MashError(
                f"unknown source {cmd_name!r}: known sources are {', '.join(self.commands)}"
            )
        return command


@click.group(cls=LoadGroup)
def load() -> None:
    """Load an ontology SOURCE into Neo4j: `mash-kg load SOURCE [--file ...]`; each source's
    --help says which file of which release it reads. A load prints what changed, the edges
    it skipped by cause and the release's count table."""


def _register() -> None:
    from mash_kg.loaders import REGISTRY

    for source in REGISTRY:
        load.add_command(_source_command(source))


_register()


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
