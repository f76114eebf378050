"""What every command reads from the click context: the loaded `mash-kg.toml`."""

from __future__ import annotations

import click

from mash_kg.config import Config


def config_of(ctx: click.Context) -> Config:
    """The config the `mash-kg` group loaded (its --config option, else ./mash-kg.toml)."""
    return ctx.find_root().obj["config"]
