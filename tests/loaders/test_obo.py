"""The OBO loader (`mash_kg.loaders.obo`): terms, synonyms, the id prefix as vocabulary; bad input a
new user hits is one clear line (issues 11 and 14)."""

from __future__ import annotations

import pytest

from mash_kg.errors import InputError
from mash_kg.loaders import get_loader
from mash_kg.tables import validate
from tests.conftest import FIXTURES
from tests.loaders.helpers import chain


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
