"""The `mash-kg` command line (click + rich): it parses, calls the library and renders. Every
failure is one line and a non-zero exit (errors.MashGroup).

One module per command group: server (neo4j start/stop/status/shell), load, views (query),
phenotype, build (init/build/eval/sync/export), versions (builds, builds prune, diff), demo;
`mash_kg.summary.cli` adds `site`.
render.py shows reports and rows; errors.py turns exceptions into one line.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import click

from mash_kg import __version__
from mash_kg.cli.build import build, eval_, export, init, sync
from mash_kg.cli.demo import demo
from mash_kg.cli.errors import MashGroup
from mash_kg.cli.load import load
from mash_kg.cli.phenotype import phenotype
from mash_kg.cli.review import review
from mash_kg.cli.server import neo4j
from mash_kg.cli.versions import builds, diff
from mash_kg.cli.views import query
from mash_kg.config import load_config
from mash_kg.summary.cli import site

# PyTorch Geometric's import calls torch.jit.script, which torch now deprecates: not ours to fix,
# and not something a user of the CLI can act on
warnings.filterwarnings(
    "ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning
)
# the driver logs its retries and lost connections as warnings: the CLI reports the outcome in
# one line instead of letting Python print the driver's log lines on stderr
logging.getLogger("neo4j").addHandler(logging.NullHandler())
logging.getLogger("neo4j").propagate = False


@click.group(cls=MashGroup)
@click.version_option(__version__, prog_name="mash-kg")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Project file (default: ./mash-kg.toml when present).",
)
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """mash-kg: harmonise medical codes of several sites into one hierarchy in Neo4j."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = load_config(config_path)  # errors reach MashGroup.invoke


for _command in (
    neo4j,
    load,
    query,
    phenotype,
    init,
    build,
    eval_,
    sync,
    builds,
    diff,
    export,
    demo,
    site,
):
    cli.add_command(_command)
cli.add_command(review)


def main() -> None:
    cli(prog_name="mash-kg")
