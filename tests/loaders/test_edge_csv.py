"""The edge-CSV loader (`mash_kg.loaders.edge_csv`): a user's own hierarchy; bad input is one clear
line."""

from __future__ import annotations

import pytest

from mash_kg.errors import InputError
from mash_kg.loaders import get_loader
from mash_kg.tables import validate
from tests.conftest import FIXTURES


def test_edge_csv_and_its_errors():
    t = get_loader("edges")(files=[FIXTURES / "edges_v1.csv"], vocab="local_lab")
    validate(t)
    names = t.nodes.set_index("id")["name"]
    assert names["LOCAL_LAB:PANEL"] == "Chemistry panel" and names["LOCAL_LAB:ROOT"] == "All labs"
    with pytest.raises(InputError, match=r"edges_bad.csv, row 3: empty 'parent'"):
        get_loader("edges")(files=[FIXTURES / "edges_bad.csv"], vocab="X")
    with pytest.raises(InputError, match="--vocab"):
        get_loader("edges")(files=[FIXTURES / "edges_v1.csv"])


def test_edge_csv_cycle_is_refused_with_the_cycle_named(tmp_path):
    path = tmp_path / "cyc.csv"
    path.write_text("child,parent\nA,B\nB,C\nC,A\nD,A\n")
    t = get_loader("edges")(files=[path], vocab="T")
    with pytest.raises(InputError) as err:
        validate(t)
    assert "cyc.csv: IS_A cycle T:A -> T:B -> T:C -> T:A" in str(err.value)


def test_edge_csv_names_from_any_row(tmp_path):
    path = tmp_path / "named.csv"
    path.write_text(
        "child,parent,child_name,parent_name\nGLU,CHEM,Glucose,\nNA,CHEM,Sodium,"
        "Chemistry\nCHEM,ROOT,,\n"
    )
    names = get_loader("edges")(files=[path], vocab="MYLABS").nodes.set_index("id")["name"]
    assert names.to_dict() == {
        "MYLABS:GLU": "Glucose",
        "MYLABS:CHEM": "Chemistry",
        "MYLABS:NA": "Sodium",
        "MYLABS:ROOT": "ROOT",
    }


def test_edge_csv_header_only_and_non_utf8_are_errors(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("child,parent\n")
    with pytest.raises(InputError, match=r"empty.csv: no edges below the header"):
        get_loader("edges")(files=[empty], vocab="T")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("child,parent,child_name\nA,B,ok\nC,B,Gr\xf6\xdfe\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin.csv, row 3: not UTF-8 text"):
        get_loader("edges")(files=[latin], vocab="T")
