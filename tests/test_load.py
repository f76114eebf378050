"""mash_kg/load.py: a release read into checked tables before anything connects."""

from __future__ import annotations

import pytest

from mash_kg.errors import InputError, MashError
from mash_kg.load import read_source, source_help
from tests.conftest import FIXTURES


def test_a_release_is_read_into_checked_tables():
    tables = read_source("obo", [FIXTURES / "mini.obo"], vocab="HP", domain="other")
    assert len(tables.nodes) > 0 and set(tables.nodes["vocab"]) == {"HP"}
    assert len(tables.edges) > 0


def test_unknown_source_and_bad_file_are_one_error_each():
    with pytest.raises(MashError, match="unknown source 'snomed': one of icd10cm"):
        read_source("snomed")
    with pytest.raises(InputError, match=r"atc_bad.csv, row 4"):
        read_source("atc", [FIXTURES / "atc_bad.csv"])


def test_the_help_names_every_source():
    from mash_kg.loaders import REGISTRY

    text = source_help()
    assert REGISTRY and all(f"{name}: " in text for name in REGISTRY)


def test_each_source_has_its_own_help():
    """`mash-kg load SOURCE --help` says which file of which release SOURCE reads (it printed
    the generic `load` help before) and lists only the options SOURCE takes."""
    from click.testing import CliRunner

    from mash_kg.cli import cli
    from mash_kg.loaders import REGISTRY, SOURCE_HELP

    generic = CliRunner().invoke(cli, ["load", "--help"]).output
    for source in REGISTRY:
        res = CliRunner().invoke(cli, ["load", source, "--help"])
        assert res.exit_code == 0, res.output
        assert f" load {source} [OPTIONS]" in res.output.splitlines()[0], res.output
        assert res.output != generic and " ".join(SOURCE_HELP[source].split()[:4]) in " ".join(
            res.output.split()
        )
        assert ("--vocab" in res.output) == (source in ("obo", "edges"))
        assert source in generic  # the generic help lists every source
    assert "fetch_atc.sh" in CliRunner().invoke(cli, ["load", "atc", "--help"]).output
    assert "RXNCONSO.RRF" in CliRunner().invoke(cli, ["load", "rxnorm", "--help"]).output
    assert "LoincTableCore.csv" in CliRunner().invoke(cli, ["load", "loinc", "--help"]).output


def test_unknown_source_on_the_command_line_is_one_line():
    from click.testing import CliRunner

    from mash_kg.cli import cli

    res = CliRunner().invoke(cli, ["load", "snomed"])
    assert res.exit_code == 2 and res.stderr.startswith("error: No such command 'snomed'")
    assert len(res.stderr.strip().splitlines()) == 1
