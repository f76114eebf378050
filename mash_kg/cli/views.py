"""`mash-kg query VIEW -p name=value`: a named Cypher view, as a table, CSV or JSON."""

from __future__ import annotations

import click

from mash_kg.cli.context import config_of
from mash_kg.cli.render import format_rows, print_rows, print_views
from mash_kg.errors import MashError


def parse_params(pairs: tuple[str, ...]) -> dict[str, str]:
    """`-p name=value` pairs as strings; the view types and checks them (views.View.check)."""
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise MashError(f"-p {pair!r}: expected name=value")
        if key.strip() in params:
            raise MashError(f"-p {key.strip()} is given twice")
        params[key.strip()] = value
    return params


def show_rows(rows: list[dict], fmt: str, title: str) -> None:
    """Rows as a table (with `title`) or as CSV / JSON text on stdout."""
    if fmt == "table":
        print_rows(rows, title)
    else:
        click.echo(format_rows(rows, fmt), nl=False)


@click.command()
@click.argument("view", required=False)
@click.option("-p", "--param", "params", multiple=True, help="name=value (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@click.option("--list", "list_only", is_flag=True, help="List the views and their parameters.")
@click.pass_context
def query(
    ctx: click.Context, view: str | None, params: tuple[str, ...], fmt: str, list_only: bool
) -> None:
    """Run a named Cypher VIEW (cypher/views) with parameters."""
    from mash_kg.api import view_rows
    from mash_kg.graph import views

    if list_only or not view:
        print_views(views.list_views().values())
        return
    rows = view_rows(config_of(ctx).neo4j, view, parse_params(params))  # checked, then run
    show_rows(rows, fmt, view)
