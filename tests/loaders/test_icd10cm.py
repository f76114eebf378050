"""The ICD-10-CM loader (`mash_kg.loaders.icd10cm`): every code and edge of the bundled release."""

from __future__ import annotations

import pytest

from mash_kg.errors import InputError
from mash_kg.loaders import get_loader
from mash_kg.tables import validate
from tests.loaders.helpers import chain


@pytest.fixture(scope="module")
def icd10cm():
    return get_loader("icd10cm")()


def test_icd10cm_has_every_code_and_edge(icd10cm):
    validate(icd10cm)
    assert len(icd10cm.nodes) == 98505
    assert icd10cm.nodes["id"].is_unique
    assert (icd10cm.edges["type"] == "IS_A").sum() == 98483
    kinds = icd10cm.nodes["kind"].value_counts()
    assert kinds["chapter"] == 22


def test_icd10cm_ancestors_and_shared_block_names(icd10cm):
    assert chain(icd10cm, "ICD10CM:E11.9") == ["ICD10CM:E11", "ICD10CM:E08-E13", "ICD10CM:4"]
    # the block C7A and the category C7A are two codes; the category sits in the block
    assert chain(icd10cm, "ICD10CM:C7A.0") == ["ICD10CM:C7A", "ICD10CM:C7A-C7A", "ICD10CM:2"]
    node = icd10cm.nodes.set_index("id").loc["ICD10CM:E11.9"]
    assert node["name"] == "Type 2 diabetes mellitus without complications"
    assert node["domain"] == "diagnosis" and node["kind"] == "subcategory"


def test_icd10cm_inclusion_terms_become_synonyms(icd10cm):
    with_syn = icd10cm.nodes[icd10cm.nodes["synonyms"].map(len) > 0]
    assert 12000 < with_syn["synonyms"].map(len).sum() < 14000  # 12,589 in April 2026


def test_icd10cm_release_files_reported_when_incomplete(tmp_path):
    xml = tmp_path / "tabular.xml"
    xml.write_text("<ICD10CM.tabular><version>x</version></ICD10CM.tabular>")
    with pytest.raises(InputError, match="two files"):
        get_loader("icd10cm")(files=[xml])
