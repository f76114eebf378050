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
