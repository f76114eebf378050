"""The RxNorm loader (`mash_kg.loaders.rxnorm`) on RRF fixtures."""

from __future__ import annotations

import pytest

from mash_kg.errors import InputError
from mash_kg.loaders import get_loader
from mash_kg.tables import validate
from tests.conftest import FIXTURES
from tests.loaders.helpers import parents


def test_rxnorm_fixture():
    t = get_loader("rxnorm")(files=[FIXTURES / "rxnorm"])
    validate(t)
    nodes = t.nodes.set_index("id")
    assert "RXNORM:999999" not in nodes.index  # suppressed
    assert nodes.loc["RXNORM:860975", "tty"] == "SCD"
    assert "metFORMIN ER 500 MG 24 HR Tablet" in nodes.loc["RXNORM:860975", "synonyms"]
    p = parents(t)
    assert sorted(p["RXNORM:861007"]) == ["RXNORM:316255", "RXNORM:373444"]
    assert p["RXNORM:316255"] == ["RXNORM:6809"]
    assert p["RXNORM:861004"] == ["RXNORM:861007"]
    assert p["RXNORM:235743"] == ["RXNORM:6809"]
    assert p["RXNORM:373444"] == ["RXNORM:6809"]


def test_rxnorm_bad_rxcui(tmp_path):
    rrf = tmp_path / "rrf"
    rrf.mkdir()
    (rrf / "RXNCONSO.RRF").write_text((FIXTURES / "rxnorm_bad_RXNCONSO.RRF").read_text())
    (rrf / "RXNREL.RRF").write_text("")
    with pytest.raises(InputError, match=r"RXNCONSO.RRF, row 2: RXCUI 'ABC'"):
        get_loader("rxnorm")(files=[tmp_path])
