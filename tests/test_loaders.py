"""Loaders produce normalized tables (no Neo4j needed); bad input is one clear error."""

from __future__ import annotations

import pytest

from mash_kg.errors import InputError
from mash_kg.loaders import REGISTRY, get_loader
from mash_kg.tables import validate

from .conftest import FIXTURES


def parents(tables) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for s, e, t in zip(
        tables.edges["start"], tables.edges["end"], tables.edges["type"], strict=True
    ):
        if t == "IS_A":
            out.setdefault(s, []).append(e)
    return out


def chain(tables, code: str) -> list[str]:
    p = parents(tables)
    out = []
    while code in p:
        code = p[code][0]
        out.append(code)
    return out


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


def test_who_icd10():
    t = get_loader("icd10who")()
    assert len(t.nodes) == 12542
    assert chain(t, "ICD10:E11.9") == ["ICD10:E11", "ICD10:E10-E14", "ICD10:IV"]


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


def test_icd9cm_and_gems():
    t = get_loader("icd9cm")()
    validate(t)
    ids = set(t.nodes["id"])
    assert "ICD9CM:250.00" in ids and "ICD9CM:E849.0" in ids and "ICD9CM:V01.0" in ids
    gem = t.edges[(t.edges["source"] == "gem_icd9_icd10cm") & (t.edges["start"] == "ICD9CM:250.00")]
    assert "ICD10CM:E11.9" in set(gem["end"])
    assert set(t.edges["approximate"].dropna().unique()) <= {True, False}


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


def test_obo():
    t = get_loader("obo")(files=[FIXTURES / "mini.obo"])
    validate(t)
    assert set(t.nodes["id"]) == {"HP:0000001", "HP:0000118", "HP:0000819"}
    assert chain(t, "HP:0000819") == ["HP:0000118", "HP:0000001"]
    assert t.nodes.set_index("id").loc["HP:0000819", "synonyms"] == ["DM"]


def test_obo_malformed(tmp_path):
    bad = tmp_path / "bad.obo"
    bad.write_text("format-version: 1.2\n\n[Term]\nid: HP:1\nname: a\nsynonym: no quotes\n")
    with pytest.raises(InputError, match=r"bad.obo, row 6: synonym without a quoted text"):
        get_loader("obo")(files=[bad])


def test_edge_csv_and_its_errors():
    t = get_loader("edges")(files=[FIXTURES / "edges_v1.csv"], vocab="local_lab")
    validate(t)
    names = t.nodes.set_index("id")["name"]
    assert names["LOCAL_LAB:PANEL"] == "Chemistry panel" and names["LOCAL_LAB:ROOT"] == "All labs"
    with pytest.raises(InputError, match=r"edges_bad.csv, row 3: empty 'parent'"):
        get_loader("edges")(files=[FIXTURES / "edges_bad.csv"], vocab="X")
    with pytest.raises(InputError, match="--vocab"):
        get_loader("edges")(files=[FIXTURES / "edges_v1.csv"])


def test_every_registered_source_has_a_loader():
    for source in REGISTRY:
        assert callable(get_loader(source))


def test_file_sources_without_file_say_what_to_pass():
    for source, hint in (
        ("atc", "atc_only-utf8.csv"),
        ("obo", "ontology.obo"),
        ("rxnorm", "RXNCONSO"),
        ("loinc", "LoincTableCore"),
    ):
        with pytest.raises(InputError, match=hint):
            get_loader(source)()


# -- bad input a new user hits: one clear line each (issues 11 and 14) -------------------------
def _obo(tmp_path, body: str):
    path = tmp_path / "own.obo"
    path.write_text("format-version: 1.2\nontology: own\n\n" + body)
    return path


OWN_OBO = """[Term]
id: MYPH:001
name: Phenotype root

[Term]
id: MYPH:002
name: Abnormal heart rhythm
is_a: MYPH:001 ! root

[Term]
id: MYPH:003
name: Atrial fibrillation
is_a: MYPH:002
is_a: GO:0001 ! another ontology
"""


def test_obo_takes_the_ids_prefix_as_its_vocabulary(tmp_path):
    t = get_loader("obo")(files=[_obo(tmp_path, OWN_OBO)])
    validate(t)
    assert t.vocabs == ["MYPH"] and set(t.nodes["vocab"]) == {"MYPH"}
    assert chain(t, "MYPH:003") == ["MYPH:002", "MYPH:001"]
    # --vocab names the prefix; any case
    assert get_loader("obo")(files=[_obo(tmp_path, OWN_OBO)], vocab="myph").vocabs == ["MYPH"]


def test_obo_vocab_that_matches_no_id_names_the_prefixes_found(tmp_path):
    with pytest.raises(InputError) as err:
        get_loader("obo")(files=[FIXTURES / "mini.obo"], vocab="HPO")
    msg = str(err.value)
    assert "no term id has the prefix HPO" in msg and "HP (4 terms)" in msg
    assert "\n" not in msg


def test_obo_is_a_without_a_value(tmp_path):
    path = _obo(tmp_path, "[Term]\nid: X:1\nname: a\nis_a:\n")
    with pytest.raises(InputError, match=r"own.obo, row 7: is_a without a parent id"):
        get_loader("obo")(files=[path])


def test_obo_two_cycle_is_refused_with_the_cycle_named(tmp_path):
    body = (
        "[Term]\nid: X:1\nname: a\nis_a: X:2\n\n[Term]\nid: X:2\nname: b\nis_a: X:1\n\n"
        "[Term]\nid: X:3\nname: c\nis_a: X:2\n"
    )
    t = get_loader("obo")(files=[_obo(tmp_path, body)])
    with pytest.raises(InputError, match=r"own.obo: IS_A cycle X:1 -> X:2 -> X:1"):
        validate(t)


def test_obo_all_obsolete_loads_nothing_and_says_so(tmp_path):
    path = _obo(tmp_path, "[Term]\nid: X:1\nname: a\nis_obsolete: true\n")
    with pytest.raises(InputError, match="every X term is obsolete"):
        get_loader("obo")(files=[path])


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


def test_atc_non_utf8_and_empty(tmp_path):
    latin = tmp_path / "atc.csv"
    latin.write_bytes('"A","ALIMENT\xc4RES","x","y"\n'.encode("latin-1"))
    with pytest.raises(InputError, match=r"atc.csv, row 1: not UTF-8 text"):
        get_loader("atc")(files=[latin])
    plain = tmp_path / "plain.csv"
    plain.write_text("code,name,parent\n")
    with pytest.raises(InputError, match=r"no codes read for ATC"):
        validate(get_loader("atc")(files=[plain]))


def test_header_only_phenotype_csv(tmp_path):
    from mash_kg.loaders.phenotype import read_phenotypes

    path = tmp_path / "ph.csv"
    path.write_text("phenotype,code,include_descendants,exclude\n")
    with pytest.raises(InputError, match=r"ph.csv: no phenotype rows below the header"):
        read_phenotypes(path)
