"""The LOINC loader (`mash_kg.loaders.loinc`) on fixture files."""

from __future__ import annotations

import pytest

from mash_kg.errors import InputError
from mash_kg.loaders import get_loader
from mash_kg.tables import validate
from tests.conftest import FIXTURES
from tests.loaders.helpers import chain, parents


def test_loinc_fixture():
    t = get_loader("loinc")(files=[FIXTURES / "loinc"])
    validate(t)
    nodes = t.nodes.set_index("id")
    assert nodes.loc["LOINC:2345-7", "domain"] == "lab"
    assert nodes.loc["LOINC:8480-6", "domain"] == "other"
    assert nodes.loc["LOINC:LP14635-4", "name"] == "Glucose"
    assert sorted(parents(t)["LOINC:4548-4"]) == ["LOINC:LP14635-4", "LOINC:LP16413-4"]
    assert chain(t, "LOINC:2345-7")[-1] == "LOINC:LP432695-7"


def test_loinc_missing_column(tmp_path):
    (tmp_path / "LoincTableCore.csv").write_text("LOINC_NUM,COMPONENT\n2345-7,Glucose\n")
    (tmp_path / "MultiAxialHierarchy.csv").write_text("CODE,CODE_TEXT,PATH_TO_ROOT\n")
    with pytest.raises(InputError, match=r"LoincTableCore.csv, row 1: missing column"):
        get_loader("loinc")(files=[tmp_path])
