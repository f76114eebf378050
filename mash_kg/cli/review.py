"""`mash-kg review serve|export|import`: the review web page and decisions as CSV."""

from __future__ import annotations

import getpass
from pathlib import Path

import click

from mash_kg.cli.context import config_of
from mash_kg.cli.render import line
from mash_kg.config import Config


def _reviewer(name: str | None) -> str:
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "reviewer"


def _builds(config: Config, given: Path | None) -> Path | None:
    """The folder of build folders: --builds, else the project's when there is a project."""
    if given is not None or config.path is None:
        return given
    from mash_kg.project import load_project

    return load_project(config).builds


@click.group()
def review() -> None:
    """Review learned edges: a local web page, and decisions as CSV."""


@review.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow an address other than the loopback (the page then needs the printed token).",
)
@click.option("--reviewer", help="Name recorded with each decision (default: your user name).")
@click.option(
    "--builds",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of the build folders (default: the project's), for candidates and evidence.",
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    allow_remote: bool,
    reviewer: str | None,
    builds: Path | None,
) -> None:
    """Start the review page on http://127.0.0.1:8765/ (prints its URL; Ctrl-C stops)."""
    from mash_kg.graph.connection import open_driver
    from mash_kg.review.server import access_token
    from mash_kg.review.server import serve as run

    access_token(host, allow_remote)  # refuse a remote bind before connecting
    config = config_of(ctx)
    with open_driver(config.neo4j) as driver:
        run(
            driver,
            host=host,
            port=port,
            allow_remote=allow_remote,
            builds=_builds(config, builds),
            reviewer=_reviewer(reviewer),
            database=config.neo4j.database,
            say=line,
        )


@review.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def export(ctx: click.Context, file: Path) -> None:
    """Write every decision to FILE as CSV (Usagi-like columns; docs/reviewer.md)."""
    from mash_kg.graph.connection import open_driver
    from mash_kg.graph.decisions import export_rows
    from mash_kg.review.usagi import write_csv

    settings = config_of(ctx).neo4j
    with open_driver(settings, schema=False) as driver:
        n = write_csv(export_rows(driver, settings.database), file)
    line(f"{file}: {n} decisions")


@review.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--reviewer", help="Reviewer of rows without statusSetBy (default: your user name).")
@click.pass_context
def import_(ctx: click.Context, file: Path, reviewer: str | None) -> None:
    """Store the decisions of FILE (CSV as `review export` writes it): every row is checked
    first, and all are written in one transaction or none."""
    from mash_kg.graph.connection import open_driver
    from mash_kg.graph.decisions import ensure_schema, import_decisions
    from mash_kg.review.usagi import read_csv

    decisions, numbers = read_csv(file, _reviewer(reviewer))
    settings = config_of(ctx).neo4j
    with open_driver(settings) as driver:
        ensure_schema(driver, settings.database)
        n = import_decisions(driver, decisions, str(file), numbers, settings.database)
    line(f"imported {n} decisions from {file}")
