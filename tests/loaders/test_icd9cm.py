"""The ICD-9-CM loader (`mash_kg.loaders.icd9cm`) with the GEMs."""

from __future__ import annotations

from mash_kg.loaders import get_loader
from mash_kg.tables import validate


def test_icd9cm_and_gems():
    t = get_loader("icd9cm")()
    validate(t)
    ids = set(t.nodes["id"])
    assert "ICD9CM:250.00" in ids and "ICD9CM:E849.0" in ids and "ICD9CM:V01.0" in ids
    gem = t.edges[(t.edges["source"] == "gem_icd9_icd10cm") & (t.edges["start"] == "ICD9CM:250.00")]
    assert "ICD10CM:E11.9" in set(gem["end"])
    # every GEM row says whether it is approximate; both kinds occur in the release
    maps = t.edges.loc[t.edges["type"] == "MAPS_TO", "approximate"]
    assert len(maps) and maps.notna().all() and set(maps) == {True, False}
