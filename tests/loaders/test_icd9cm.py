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


def test_icd9cm_tabular_hierarchy_down_to_every_billable_code():
    from tests.loaders.helpers import chain, parents

    t = get_loader("icd9cm")()
    nodes = t.nodes.set_index("id")
    assert chain(t, "ICD9CM:250.00") == [
        "ICD9CM:250.0",
        "ICD9CM:250",
        "ICD9CM:249-259",
        "ICD9CM:240-279",
    ]
    assert nodes.loc["ICD9CM:240-279", "kind"] == "chapter"
    assert nodes.loc["ICD9CM:250", "name"] == "Diabetes mellitus"
    assert not nodes.loc["ICD9CM:250", "billable"] and nodes.loc["ICD9CM:250.00", "billable"]
    # names of billable codes are the CMS v32 long descriptions
    assert nodes.loc["ICD9CM:250.00", "name"].startswith("Diabetes mellitus without mention")
    assert chain(t, "ICD9CM:E849.0")[-1] == "ICD9CM:E000-E999"
    assert chain(t, "ICD9CM:V01.0")[-1] == "ICD9CM:V01-V91"
    assert nodes.loc["ICD9CM:042", "billable"]  # a 3-digit billable code, under its section
    # one parent each, and every code but the 19 chapters has one
    p = parents(t)
    assert all(len(v) == 1 for v in p.values())
    assert set(nodes.index) - set(p) == set(nodes.index[nodes["kind"] == "chapter"])


def test_icd9cm_tree_file_holds_nothing_but_nodes(tmp_path):
    """The pickle is read with an unpickler that builds only the package's Node class."""
    import pickle

    import pytest

    from mash_kg.errors import InputError
    from mash_kg.loaders.icd9cm import read_tree

    bad = tmp_path / "hierarchy.pickle"
    bad.write_bytes(pickle.dumps(print))
    with pytest.raises(InputError, match="unexpected object builtins.print"):
        read_tree(bad)
