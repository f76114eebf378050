"""Names in several languages (`mash_kg.names`): the column a site is read in, the scripts a model
reads, and any local multilingual model folder as the text model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mash_kg.names import (
    choose_names,
    identical_warning,
    model_reading,
    script_warning,
    table_names,
)
from mash_kg.text_embed import TextEmbedder, resolve_model

# real ATC substance names (GNUmed's list): English and German
ATC = [
    ("A01AA01", "SODIUM FLUORIDE", "NATRIUMFLUORID"),
    ("A02BC01", "OMEPRAZOLE", "OMEPRAZOL"),
    ("A10BA02", "METFORMIN", "METFORMIN"),
    ("B01AC06", "ACETYLSALICYLIC ACID", "ACETYLSALICYLSÄURE"),
    ("C03CA01", "FUROSEMIDE", "FUROSEMID"),
    ("C07AB02", "METOPROLOL", "METOPROLOL"),
    ("C09AA05", "RAMIPRIL", "RAMIPRIL"),
    ("J01CA04", "AMOXICILLIN", "AMOXICILLIN"),
    ("N02BE01", "PARACETAMOL", "PARACETAMOL"),
    ("A11CC05", "COLECALCIFEROL", "COLECALCIFEROL"),
    ("B03AA07", "FERROUS SULFATE", "EISEN(II)-SULFAT"),
    ("A12AA04", "CALCIUM CARBONATE", "CALCIUMCARBONAT"),
    ("V03AB15", "NALOXONE", "NALOXON"),
    ("D08AC02", "CHLORHEXIDINE", "CHLORHEXIDIN"),
    ("H02AB06", "PREDNISOLONE", "PREDNISOLON"),
    ("J01MA02", "CIPROFLOXACIN", "CIPROFLOXACIN"),
    ("A06AD11", "LACTULOSE", "LACTULOSE"),
    ("N05BA01", "DIAZEPAM", "DIAZEPAM"),
    ("R06AE07", "CETIRIZINE", "CETIRIZIN"),
    ("B05XA03", "SODIUM CHLORIDE", "NATRIUMCHLORID"),
    ("A07DA03", "LOPERAMIDE", "LOPERAMID"),
    ("N02AA01", "MORPHINE", "MORPHIN"),
    ("C10AA01", "SIMVASTATIN", "SIMVASTATIN"),
    ("A12BA01", "POTASSIUM CHLORIDE", "KALIUMCHLORID"),
]


@pytest.fixture(scope="module")
def minilm():
    return model_reading(resolve_model())


def test_the_bundled_model_reads_latin_script_only(minilm):
    _, scripts = minilm
    assert scripts == {"LATIN"}


def test_a_site_with_two_languages_is_read_in_the_one_the_model_reads(minilm):
    tokenize, scripts = minilm
    codes = pd.DataFrame(
        {"site": "B", "name": [de for _, _, de in ATC], "name_en": [en for _, en, _ in ATC]}
    )
    texts, fig = choose_names(codes, tokenize, scripts)
    assert fig["name_column"] == "name_en" and texts == [en for _, en, _ in ATC]
    assert fig["pieces_per_word"]["name"] > fig["pieces_per_word"]["name_en"]
    # an empty cell of the chosen column falls back to the site's own name
    codes.loc[0, "name_en"] = ""
    texts, _ = choose_names(codes, tokenize, scripts)
    assert texts[0] == "NATRIUMFLUORID"


def test_names_mostly_in_an_unread_script_warn_with_their_share(minilm):
    tokenize, scripts = minilm
    names = ["Глюкоза в сыворотке", "Гемоглобин", "Креатинин в крови", "Sodium"]
    codes = pd.DataFrame({"site": "RU", "name": names})
    _, fig = choose_names(codes, tokenize, scripts)
    assert fig["untrained_script_share"] == 0.75
    line = script_warning("RU", fig, "all-MiniLM-L6-v2", scripts)
    assert line.startswith("site RU: 75% of the names (name) are in a script the text model")
    assert "reads LATIN" in line and "multilingual model" in line
    assert script_warning("B", {**fig, "untrained_script_share": 0.2}, "m", scripts) is None


def _tiny_multilingual_model(folder: Path) -> Path:
    """A local BERT folder (random weights) whose vocabulary holds Latin and Cyrillic words:
    the shape of any multilingual model a user points text_model at."""
    import transformers

    latin = [a + b for a in "abcdefghijklmnopqrstuvwxyz" for b in "aeiou"]
    cyr = [a + b for a in "бвгдежзклмнпрстфхцчшщ" for b in "аеиоуыэюя"]
    vocab = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        *latin,
        *cyr,
        *[f"##{p}" for p in latin + cyr],
        *"abcdefghijklmnopqrstuvwxyz",
        *"абвгдежзийклмнопрстуфхцчшщъыьэюя",
    ]
    folder.mkdir()
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tok = transformers.BertTokenizerFast(vocab={p: i for i, p in enumerate(vocab)})
    tok.save_pretrained(folder)
    config = transformers.BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
    )
    transformers.BertModel(config).save_pretrained(folder)
    return folder


def test_any_local_multilingual_model_folder_works_as_text_model(tmp_path):
    folder = _tiny_multilingual_model(tmp_path / "multi")
    tokenize, scripts = model_reading(folder)
    assert scripts == {"LATIN", "CYRILLIC"}
    names = ["Глюкоза в сыворотке", "Гемоглобин", "Креатинин в крови"]
    _, fig = choose_names(pd.DataFrame({"site": "RU", "name": names}), tokenize, scripts)
    assert fig["untrained_script_share"] == 0.0
    assert script_warning("RU", fig, str(folder), scripts) is None
    vectors = TextEmbedder(str(folder)).embed(names)
    assert vectors.shape == (3, 32) and np.allclose(np.linalg.norm(vectors, axis=1), 1)


def test_names_are_chosen_per_code_and_a_placeholder_is_no_name(minilm):
    tokenize, scripts = minilm
    # a site's diagnoses: most own displays are the source system's placeholder, a secondary
    # coding names them; two codes have their own display; one has the placeholder only
    dx = ["Asthma", "Migraine", "Gout", "Anemia", "Sepsis", "Obesity", "Epilepsy", "Psoriasis"]
    ph = "uncoded disease name"
    codes = pd.DataFrame(
        {
            "site": "B",
            "name": [ph] * 8 + ["Acute bronchitis", "Hypertension", ph],
            "name_coding": [*dx, "Bronchitis, acute", "", ""],
        }
    )
    texts, fig = choose_names(codes, tokenize, scripts)
    assert texts == [*dx, "Acute bronchitis", "Hypertension", ph]
    assert fig["name_sources"] == {"name": 2, "name_coding": 8, "placeholder": 1}
    assert fig["name_column"] == "name_coding" and fig["placeholders"] == {ph: 9}
    assert table_names(codes, texts) == texts  # the build's codes table: no placeholder
    # one of 11 codes named by the placeholder: no warning; all of them: one line
    assert identical_warning("B", fig, len(codes)) is None
    only = pd.DataFrame({"site": "B", "name": [ph] * 10 + ["Asthma"]})
    _, fig = choose_names(only, tokenize, scripts)
    line = identical_warning("B", fig, len(only))
    assert line.startswith(f"site B: 10 of 11 codes (91%) are named '{ph}'")
