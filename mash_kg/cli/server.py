"""`mash-kg neo4j start|stop|status|shell`: the bundled local Neo4j server."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from mash_kg.cli.context import config_of
from mash_kg.cli.render import console, print_status, say
from mash_kg.config import Neo4jSettings, password_path


@click.group()
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Bolt port (default 7687 or config).",
)
@click.option(
    "--home",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for the server's data and logs.",
)
@click.pass_context
def neo4j(ctx: click.Context, port: int | None, home: Path | None) -> None:
    """Run a local Neo4j 5.26 Community server (no Docker needed)."""
    settings = config_of(ctx).neo4j
    if port:
        settings.bolt_port = port
    if home:
        settings.home = home.expanduser().resolve()


def uri_note(settings: Neo4jSettings) -> str:
    """What `neo4j start` says when NEO4J_URI (or [neo4j].uri) is set: whether the other
    commands will reach this server, and where they find its password."""
    here = f"bolt://127.0.0.1:{settings.bolt_port}"
    if settings.names_local_server:
        return (
            f"NEO4J_URI names this server ({here}): the other commands use it with the password "
            f"in {password_path(settings.home)} unless NEO4J_PASSWORD is set."
        )
    return (
        f"NEO4J_URI names {settings.uri}, which the other commands use (with NEO4J_PASSWORD; "
        f"they do not read {password_path(settings.home)}); this starts the local server on "
        f"{here}: to use it, unset NEO4J_URI or set it to {here}."
    )


@neo4j.command("start")
@click.pass_context
def neo4j_start(ctx: click.Context) -> None:
    """Start the server and return once Bolt answers."""
    from mash_kg.neo4j_server import server

    config = config_of(ctx)
    settings = config.neo4j
    if settings.uri:
        say(uri_note(settings))
    with console.status(f"Starting Neo4j {server.NEO4J_VERSION} ..."):
        st = server.start(settings, echo=say, cache=config.cache.root)
    print_status(st)


@neo4j.command("stop")
@click.pass_context
def neo4j_stop(ctx: click.Context) -> None:
    """Shut the server down cleanly."""
    from mash_kg.neo4j_server import server

    if server.stop(config_of(ctx).neo4j, echo=say):
        say("Neo4j stopped.")
    else:
        say("Neo4j was not running.")


@neo4j.command("shell", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def neo4j_shell(ctx: click.Context, args: tuple[str, ...]) -> None:
    """cypher-shell on the configured graph (fetched from Maven Central once); ARGS go to
    cypher-shell, e.g. `-f cypher/views/ancestors.cypher -P "{code: 'ICD10CM:E11.9'}"`."""
    import subprocess

    from mash_kg.neo4j_server.server import ensure_cypher_shell

    config = config_of(ctx)
    settings = config.neo4j
    cmd = ensure_cypher_shell(config.cache.root, echo=say)
    env = {**os.environ, "NEO4J_PASSWORD": settings.password}  # kept off the command line
    code = subprocess.call(
        [*cmd, "-a", settings.bolt_uri, "-u", settings.user, "-d", settings.database, *args],
        env=env,
    )
    sys.exit(code)


@neo4j.command("status")
@click.pass_context
def neo4j_status(ctx: click.Context) -> None:
    """Print version, pid and address; exit 3 when the server is not running."""
    from mash_kg.neo4j_server import server

    st = server.status(config_of(ctx).neo4j, echo=say)
    print_status(st)
    if not st.running:
        sys.exit(3)
