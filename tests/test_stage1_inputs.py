"""Names in several languages, local multilingual model folders, and Stage I inputs that must
stop `mash-kg build` in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mash_kg.cli import cli
from mash_kg.names import choose_names, model_reading, script_warning
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


def _events(codes: list[str], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pick = rng.integers(len(codes), size=(30, 8))
    rows = [
        (f"p{p}", f"2021-{1 + d:02d}-{1 + d:02d}", codes[pick[p, d]])
        for p in range(30)
        for d in range(8)
    ]
    return pd.DataFrame(rows, columns=["patient_id", "date", "code"])


def _two_language_project(tmp_path: Path) -> Path:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    pd.DataFrame(
        {
            "code": [c for c, _, _ in ATC],
            "vocab": "ATC",
            "domain": "medication",
            "name": [en for _, en, _ in ATC],
        }
    ).to_csv(tmp_path / "a/codes.csv", index=False)
    # site B: its own drug codes, named in German, with an English column as well
    pd.DataFrame(
        {
            "code": [f"D{i}" for i in range(len(ATC))],
            "vocab": "DE_RX",
            "domain": "medication",
            "name": [de for _, _, de in ATC],
            "name_en": [en for _, en, _ in ATC],
        }
    ).to_csv(tmp_path / "b/codes.csv", index=False)
    _events([c for c, _, _ in ATC], 0).to_csv(tmp_path / "a/events.csv", index=False)
    _events([f"D{i}" for i in range(len(ATC))], 1).to_csv(tmp_path / "b/events.csv", index=False)
    cfg = tmp_path / "mash-kg.toml"
    cfg.write_text(
        "[model]\ndim = 16\n[hierarchy]\nenabled = false\n"
        '[[sites]]\nid = "A"\ncodes = "a/codes.csv"\nevents = "a/events.csv"\n'
        '[[sites]]\nid = "B"\ncodes = "b/codes.csv"\nevents = "b/events.csv"\n'
    )
    return cfg


def test_a_site_with_names_in_two_languages_builds_with_the_one_the_model_reads(tmp_path):
    cfg = _two_language_project(tmp_path)
    res = CliRunner().invoke(cli, ["--config", str(cfg), "build"])
    assert res.exit_code == 0, res.output
    (folder,) = (tmp_path / "builds").iterdir()
    manifest = json.loads((folder / "manifest.json").read_text())
    b = manifest["sites"]["B"]
    assert (
        b["names"]["name_column"] == "name_en"
        and manifest["sites"]["A"]["names"]["name_column"] == "name"
    )
    # no anchors between ATC and B's own codes: text alone ranks, and the build says so
    assert b["alignment"]["weights"] == {"medication": {"text": 1.0}}
    assert any("too few to validate a map" in w for w in manifest["warnings"])
    cp = pd.read_parquet(folder / "counterparts.parquet")
    top = cp[cp["rank"] == 1].set_index("id")["other_id"]
    right = [top[f"B/DE_RX:D{i}"] == f"ATC:{c}" for i, (c, _, _) in enumerate(ATC)]
    assert np.mean(right) > 0.9 and set(cp["evidence"]) == {"text"}
    codes = pd.read_parquet(folder / "codes.parquet")
    assert not [c for c in codes.columns if c.startswith("name_")]  # B keeps its own name
    assert "NATRIUMFLUORID" in set(codes["name"])


@pytest.mark.parametrize(
    "setting, problem",
    [
        ("sppmi_shift = 0.0", "[model].sppmi_shift = 0.0 must be >= 1"),
        ('align_method = "fused_ot"', "[model].align_method 'fused_ot' is unknown"),
        ('transport = "magic"', "[model].transport 'magic' is unknown"),
        ("min_anchors = 1", "[model].min_anchors = 1 must be >= 2"),
    ],
)
def test_bad_stage1_settings_stop_the_build_in_one_line(tmp_path, setting, problem):
    cfg = _two_language_project(tmp_path)
    cfg.write_text(cfg.read_text().replace("[model]\n", f"[model]\n{setting}\n"))
    res = CliRunner().invoke(cli, ["--config", str(cfg), "build"])
    assert res.exit_code != 0 and problem in res.output
    assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output
    assert not (tmp_path / "builds").exists()


@pytest.mark.parametrize(
    "line, problem",
    [
        ("[1,2,3]", "line 2: a JSON array, not a FHIR resource object"),
        (
            '{"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/1"}, '
            '"onsetDateTime": "2020-01-01", "code": {"coding": ["E11.9"]}}',
            "line 2: Condition coding 1 is a str, not an object",
        ),
    ],
)
def test_a_bad_fhir_line_stops_the_build_in_one_line(tmp_path, line, problem):
    good = json.dumps(
        {
            "resourceType": "Condition",
            "id": "a",
            "subject": {"reference": "P/1"},
            "onsetDateTime": "2020-01-01",
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "1"}]},
        }
    )
    (tmp_path / "fhir").mkdir()
    nd = tmp_path / "fhir" / "Condition.ndjson"
    nd.write_text(f"{good}\n{line}\n{good}\n")
    cfg = tmp_path / "mash-kg.toml"
    cfg.write_text(
        '[hierarchy]\nenabled = false\n[[sites]]\nid = "A"\nformat = "fhir"\npath = "fhir"\n'
    )
    res = CliRunner().invoke(cli, ["--config", str(cfg), "build"])
    assert res.exit_code != 0 and f"{nd}: {problem}" in res.output.replace("\n", "")
    assert "1 of 3 resources unreadable" in res.output.replace("\n", "")
    assert "Traceback" not in res.output and not (tmp_path / "builds").exists()
