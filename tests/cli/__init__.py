"""Tests of the command line (mash_kg/cli): one file per command module."""

from __future__ import annotations

from click.testing import CliRunner, Result

from mash_kg.cli import cli


def run(*args: str) -> Result:
    """`mash-kg ARGS` in-process; an exception escaping the CLI fails the test."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)
