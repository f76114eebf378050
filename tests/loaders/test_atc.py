"""The ATC loader (`mash_kg.loaders.atc`): GNUmed and plain CSV; bad input is one clear error."""

from __future__ import annotations

import pytest

from mash_kg.errors import InputError
from mash_kg.loaders import get_loader
from mash_kg.tables import validate
from tests.conftest import FIXTURES
from tests.loaders.helpers import chain


def test_atc_gnumed_format():
    t = get_loader("atc")(files=[FIXTURES / "atc_gnumed.csv"])
    validate(t)
    assert chain(t, "ATC:A10BA02") == ["ATC:A10BA", "ATC:A10B", "ATC:A10", "ATC:A"]
    row = t.nodes.set_index("id").loc["ATC:A10BA02"]
    assert row["name"] == "METFORMIN" and row["name_de"] == "METFORMIN" and row["level"] == 5


def test_atc_plain_csv():
    t = get_loader("atc")(files=[FIXTURES / "atc_plain.csv"])
    assert chain(t, "ATC:A10BA02") == ["ATC:A10BA", "ATC:A10B", "ATC:A10", "ATC:A"]


def test_atc_bad_code_names_file_and_row():
    with pytest.raises(InputError) as err:
        get_loader("atc")(files=[FIXTURES / "atc_bad.csv"])
    assert "atc_bad.csv, row 4" in str(err.value) and "A10BA2" in str(err.value)


def test_atc_non_utf8_and_empty(tmp_path):
    latin = tmp_path / "atc.csv"
    latin.write_bytes('"A","ALIMENT\xc4RES","x","y"\n'.encode("latin-1"))
    with pytest.raises(InputError, match=r"atc.csv, row 1: not UTF-8 text"):
        get_loader("atc")(files=[latin])
    plain = tmp_path / "plain.csv"
    plain.write_text("code,name,parent\n")
    with pytest.raises(InputError, match=r"no codes read for ATC"):
        validate(get_loader("atc")(files=[plain]))
