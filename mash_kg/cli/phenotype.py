"""`mash-kg phenotype import|expand`: concept-set definitions in, a site's code lists out."""

from __future__ import annotations

from pathlib import Path

import click

from mash_kg.cli.context import config_of
from mash_kg.cli.render import line
from mash_kg.cli.views import show_rows
from mash_kg.inputs import InputPath


@click.group()
def phenotype() -> None:
    """Phenotype definitions: import concept sets, expand them into a site's codes."""


@phenotype.command("import")
@click.argument("file", type=InputPath(dir_ok=False, what="phenotype file"))
@click.option("--name", help="Phenotype id for an ATLAS JSON file (default: its name or file).")
@click.pass_context
def phenotype_import(ctx: click.Context, file: Path, name: str | None) -> None:
    """Read FILE (ATLAS concept-set JSON, or CSV: phenotype, code, include_descendants,
    exclude) and store it as :Phenotype -[:INCLUDES]-> :Code, replacing an earlier version."""
    from mash_kg.api import import_phenotypes

    done = import_phenotypes(config_of(ctx).neo4j, file, name)
    ids = ", ".join(done["ids"])
    line(f"imported {done['phenotypes']} phenotype(s) ({ids}), {done['items']} items")


@phenotype.command("expand")
@click.argument("name")
@click.option("--site", required=True, help="The site whose codes to list.")
@click.option(
    "--max-rank",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Deepest ALIGNED_WITH rank followed to reach the site's codes.",
)
@click.option(
    "--learned",
    type=click.Choice(["all", "accepted", "none"]),
    default="all",
    show_default=True,
    help="Learned edges followed: all of the build's, only those a reviewer accepted, or none.",
)
@click.option(
    "--build", "build", help="A synced build id (mash-kg builds); default: the active one."
)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@click.pass_context
def phenotype_expand(
    ctx: click.Context,
    name: str,
    site: str,
    max_rank: int,
    learned: str,
    build: str | None,
    fmt: str,
) -> None:
    """The codes of phenotype NAME at SITE, each with the rule, edges and scores that bring it
    in (the phenotype_codes view), read from one synced build, which every row names."""
    from mash_kg.api import expand_phenotype_rows

    settings = config_of(ctx).neo4j
    rows = expand_phenotype_rows(settings, name, site, max_rank, build=build, learned=learned)
    used = (rows[0].get("build") if rows else None) or "no synced build"
    show_rows(rows, fmt, f"{name} at site {site}: {len(rows)} codes (build {used})")
