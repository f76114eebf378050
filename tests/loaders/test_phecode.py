"""The PheCode loader (`mash_kg.loaders.phecode`): both vocabularies and their maps."""

from __future__ import annotations

from mash_kg.loaders import get_loader
from mash_kg.tables import validate
from tests.loaders.helpers import chain


def test_phecode_vocabularies_and_maps():
    t = get_loader("phecode")()
    validate(t)
    counts = t.nodes["vocab"].value_counts()
    assert counts["PHECODE"] == 1817 and counts["PHECODEX"] == 3612
    assert chain(t, "PHECODE:250.21") == ["PHECODE:250.2", "PHECODE:250"]
    maps = t.edges[(t.edges["type"] == "MAPS_TO") & (t.edges["start"] == "ICD10CM:E11.9")]
    assert set(maps["end"]) >= {"PHECODE:250.2", "PHECODEX:EM_202.2"}
    icd9 = t.edges[t.edges["start"].str.startswith("ICD9CM:250.")]
    assert len(icd9) and icd9["start"].str.match(r"ICD9CM:250\.\d").all()
