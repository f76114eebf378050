"""Names reach the graph as published; an OBO line ends at \n only; a phenotype file that
lists one code twice with different flags is one error."""

from __future__ import annotations

import pytest

from mash_kg.errors import InputError
from mash_kg.loaders import get_loader
from mash_kg.loaders.phenotype import read_phenotypes

OBO = "format-version: 1.2\n\n"


def test_edges_names_keep_their_spaces(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("child,parent,child_name,parent_name\nA, B ,  Glucose (local) ,Panel\n")
    t = get_loader("edges")(files=[path], vocab="LAB")
    names = dict(zip(t.nodes["id"], t.nodes["name"], strict=True))
    assert names == {"LAB:A": "  Glucose (local) ", "LAB:B": "Panel"}  # codes are trimmed


def test_atc_and_obo_names_keep_their_spaces(tmp_path):
    atc = tmp_path / "atc.csv"
    atc.write_text("code,name,parent\nA, Alimentary tract ,\nA01,Stomatological ,A\n")
    t = get_loader("atc")(files=[atc])
    assert set(t.nodes["name"]) == {" Alimentary tract ", "Stomatological "}
    obo = tmp_path / "x.obo"
    obo.write_text(OBO + "[Term]\nid: HP:1\nname:  All \n")
    assert get_loader("obo")(files=[obo]).nodes["name"].tolist() == [" All "]


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\x85", "\x1b", "\x0c"])
def test_obo_separator_in_a_name_is_an_error_not_a_line(tmp_path, char):
    obo = tmp_path / "x.obo"
    obo.write_text(
        OBO + f"[Term]\nid: HP:1\nname: Root\n\n[Term]\nid: HP:2\nname: Leaf{char}is_a: HP:1\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as err:
        get_loader("obo")(files=[obo])
    assert f"U+{ord(char):04X}" in str(err.value) and "row 9" in str(err.value)


def test_obo_crlf_lines_still_read(tmp_path):
    obo = tmp_path / "x.obo"
    obo.write_bytes(b"format-version: 1.2\r\n\r\n[Term]\r\nid: HP:1\r\nname: All\r\n")
    assert get_loader("obo")(files=[obo]).nodes["name"].tolist() == ["All"]


def test_phenotype_code_twice_with_other_flags_is_one_error(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(
        "phenotype,code,include_descendants,exclude\n"
        "t2d,ICD10CM:E11,true,false\nt2d,ICD10CM:E11,true,false\nt2d,ICD10CM:E11,true,true\n"
    )
    with pytest.raises(InputError) as err:
        read_phenotypes(path)
    msg = str(err.value)
    assert "ICD10CM:E11 twice" in msg and "rows 2 and 4" in msg and "excluded False vs True" in msg
    path.write_text("phenotype,code\nt2d,ICD10CM:E11\nt2d,ICD10CM:E11\n")  # the same fact twice
    assert len(read_phenotypes(path).items) == 2


def test_atlas_item_twice_with_other_flags_is_one_error(tmp_path):
    item = '{{"concept": {{"CONCEPT_CODE": "E11", "VOCABULARY_ID": "ICD10CM"}}, "isExcluded": {}}}'
    path = tmp_path / "p.json"
    path.write_text('{"items": [' + item.format("false") + ", " + item.format("true") + "]}")
    with pytest.raises(InputError, match="items 1 and 2"):
        read_phenotypes(path)
