"""`mash-kg init|build|eval|sync|export`: a project's builds, from the file to the graph."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mash_kg.cli.context import config_of
from mash_kg.cli.render import (
    console,
    line,
    notice,
    print_build,
    print_eval,
    print_sync,
    progress_bars,
)
from mash_kg.config import Config
from mash_kg.errors import MashError


@click.command()
@click.option("--force", is_flag=True, help="Overwrite an existing mash-kg.toml.")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), default=".")
def init(folder: Path, force: bool) -> None:
    """Write a commented mash-kg.toml template into FOLDER (default: here)."""
    from mash_kg.config import CONFIG_NAME
    from mash_kg.project import TEMPLATE

    target = folder / CONFIG_NAME
    if target.exists() and not force:
        raise MashError(f"{target}: already exists (use --force to overwrite)")
    folder.mkdir(parents=True, exist_ok=True)
    target.write_text(TEMPLATE, encoding="utf-8")
    console.print(f"wrote {target}: name your sites and their inputs, then run mash-kg build")


def build_with_progress(config: Config, builds: Path | None = None, transform=None) -> Path:
    """Run `mash-kg build` for a loaded config with progress bars; returns the build folder
    (under `builds` when given, else the project's builds folder). `transform` may change the
    project first (the demo replaces its sites by their summaries)."""
    from dataclasses import replace

    from mash_kg.build import run_build
    from mash_kg.project import load_project

    project = load_project(config)
    if builds is not None:
        project = replace(project, builds=builds)
    if transform is not None:
        project = transform(project)
    with progress_bars() as bar:

        def step(description: str, total: int | None):
            task = bar.add_task(description, total=total)
            return lambda n: bar.advance(task, n)

        return run_build(project, config.neo4j, step=step)


@click.command()
@click.pass_context
def build(ctx: click.Context) -> None:
    """Run Stages I-III from mash-kg.toml into a build folder: site inputs, embeddings,
    alignment; hyperbolic embeddings over the stored graph; the learned hierarchy."""
    from mash_kg.artefact import read_manifest

    folder = build_with_progress(config_of(ctx))
    print_build(folder, read_manifest(folder))


def latest_build(config: Config) -> Path:
    """The newest complete build folder of the project."""
    from mash_kg.artefact import latest_build as newest
    from mash_kg.project import load_project

    folder = newest(load_project(config).builds)
    notice(f"no build given: using {folder}, the newest by its manifest's created_at")
    return folder


@click.command("eval")
@click.argument("build_dir", required=False, type=click.Path(path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.pass_context
def eval_(ctx: click.Context, build_dir: Path | None, fmt: str) -> None:
    """Score BUILD_DIR (default: the newest build) against the curated edges it held out."""
    from mash_kg.api import eval_metrics

    metrics = eval_metrics(build_dir, config_of(ctx))
    if fmt == "json":
        click.echo(json.dumps(metrics, indent=2))
    else:
        print_eval(metrics)


@click.command()
@click.argument("build_dir", required=False, type=click.Path(path_type=Path))
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the counts and the learned edges it would change; write nothing.",
)
@click.option(
    "--rollback",
    is_flag=True,
    help="Make an earlier synced build active again (BUILD_DIR: its id; default: the build "
    "before the active one); no build folder is read.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="How --dry-run prints the learned edges it would change.",
)
@click.option(
    "--break-lock", is_flag=True, help="Clear the lock of a sync or load whose process is gone."
)
@click.option(
    "--allow-retire",
    is_flag=True,
    help="Allow removing more than half of the learned content the graph holds.",
)
@click.option("--batch-size", type=click.IntRange(1, 100000), default=5000, show_default=True)
@click.pass_context
def sync(
    ctx: click.Context,
    build_dir: Path | None,
    dry_run: bool,
    break_lock: bool,
    allow_retire: bool,
    batch_size: int,
    rollback: bool,
    fmt: str,
) -> None:
    """Write BUILD_DIR (default: the newest build of the project) into Neo4j as a new version and
    make it active: only the difference, in one transaction, one sync at a time. With
    --rollback, make an earlier synced build active again."""
    from mash_kg.graph.connection import open_driver
    from mash_kg.graph.sync import break_lock as clear_lock
    from mash_kg.graph.sync import sync_build

    config = config_of(ctx)
    with open_driver(config.neo4j) as driver:
        if break_lock:
            line(clear_lock(driver, config.neo4j.database))
            if build_dir is None and not rollback:
                return
        if rollback:
            _rollback(driver, build_dir, config.neo4j.database)
            return
        report = sync_build(
            driver,
            build_dir or latest_build(config),
            database=config.neo4j.database,
            batch_size=batch_size,
            dry_run=dry_run,
            allow_retire=allow_retire,
            notify=notice,
        )
    if dry_run:
        from mash_kg.cli.versions import show_diff

        show_diff(report.edges, fmt, f"learned edges sync {report.subject} would change")
        if fmt != "table":
            return
    print_sync(report, dry_run)


def _rollback(driver, build: Path | None, database: str) -> None:
    """`sync --rollback [BUILD]`: a build id, never a folder read."""
    from mash_kg.graph.versions import rollback

    before, now = rollback(driver, str(build) if build else None, database, notify=notice)
    line(f"active build: {now.build} (version {now.seq}; was {before})")


@click.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def export(ctx: click.Context, out: Path) -> None:
    """Write the merged hierarchy to OUT: OMOP CONCEPT, CONCEPT_RELATIONSHIP, CONCEPT_ANCESTOR
    (tab-separated) and plain edges.csv."""
    from mash_kg.graph.connection import open_driver
    from mash_kg.graph.export import export_graph

    settings = config_of(ctx).neo4j
    with open_driver(settings, schema=False) as driver, console.status("Exporting ..."):
        counts = export_graph(driver, out, settings.database)
    for name, n in counts.items():
        line(f"{out / name}: {n:,} rows")
