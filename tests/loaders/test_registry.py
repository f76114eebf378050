"""`mash_kg.loaders.REGISTRY`: every `mash-kg load` source word has a loader, and a file source
without its file says what to pass."""

from __future__ import annotations

import pytest

from mash_kg.errors import InputError
from mash_kg.loaders import REGISTRY, get_loader


def test_every_registered_source_has_a_loader():
    builtin = {"icd10cm", "icd10who", "icd9cm", "phecode", "atc", "rxnorm", "loinc", "obo", "edges"}
    assert builtin <= set(REGISTRY)
    for source in REGISTRY:
        assert callable(get_loader(source))


def test_file_sources_without_file_say_what_to_pass():
    for source, hint in (
        ("atc", "atc_only-utf8.csv"),
        ("obo", "ontology.obo"),
        ("rxnorm", "RXNCONSO"),
        ("loinc", "LoincTableCore"),
    ):
        with pytest.raises(InputError, match=hint):
            get_loader(source)()
