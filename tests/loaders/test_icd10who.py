"""The WHO ICD-10 loader (`mash_kg.loaders.icd10who`)."""

from __future__ import annotations

from mash_kg.loaders import get_loader
from tests.loaders.helpers import chain


def test_who_icd10():
    t = get_loader("icd10who")()
    assert len(t.nodes) == 12542
    assert chain(t, "ICD10:E11.9") == ["ICD10:E11", "ICD10:E10-E14", "ICD10:IV"]
