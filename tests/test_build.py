"""`mash-kg build` (mash_kg/build.py) end to end: a site named in two languages builds with the one
the model reads; bad Stage I settings and inputs stop the build in one line; Stages I-III on the
two-site example write the learned hierarchy tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mash_kg.build import in_graph
from mash_kg.cli import cli
from mash_kg.text_embed import TextEmbedder
from tests.test_names import ATC


def _events(codes: list[str], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pick = rng.integers(len(codes), size=(30, 8))
    rows = [
        (f"p{p}", f"2021-{1 + d:02d}-{1 + d:02d}", codes[pick[p, d]])
        for p in range(30)
        for d in range(8)
    ]
    return pd.DataFrame(rows, columns=["patient_id", "date", "code"])


def two_language_project(tmp_path: Path, model: str = "") -> Path:
    """Two sites of ATC drugs, B's named in German and English; `model`: extra [model] lines."""
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
        f"[model]\ndim = 16\n{model}\n[hierarchy]\nenabled = false\n"
        '[[sites]]\nid = "A"\ncodes = "a/codes.csv"\nevents = "a/events.csv"\n'
        '[[sites]]\nid = "B"\ncodes = "b/codes.csv"\nevents = "b/events.csv"\n'
    )
    return cfg


def test_a_site_with_names_in_two_languages_builds_with_the_one_the_model_reads(tmp_path):
    cfg = two_language_project(tmp_path)
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
    cfg = two_language_project(tmp_path, model=setting)
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


# -- Stages I-III on the example, built once per session (tests/conftest.py: hier_build) ----
@pytest.mark.neo4j
def test_build_writes_the_learned_hierarchy_tables(hier_build):
    _, folder = hier_build
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["stages"] == ["I", "II", "III"]
    s2, s3 = manifest["stage2"], manifest["stage3"]
    assert s2["train_edges"] > 1000 and s2["heldout_edges"] > 10
    assert s2["encoder_steps"] == 20 and s2["reconstruction_map"] > 0.9
    assert s2["depth_norm_spearman"] > 0.9
    codes = pd.read_parquet(folder / "codes.parquet")
    points = pd.read_parquet(folder / "poincare.parquet")
    assert set(codes["id"]) <= set(points["id"])
    assert np.isfinite(np.stack(points["point"])).all() and (points["norm"] < 1).all()
    assert points["point"].map(lambda p: p.dtype == np.float64).all()
    # the hierarchy encoder: an ordinary model folder the text embedder reads, and its table
    training = pd.read_parquet(folder / "encoder_training.parquet")
    assert training["step"].max() == 20
    assert list(training.columns) == [
        "step",
        "pairs",
        "loss",
        "clustering",
        "centripetal",
        "infonce",
        "seconds",
    ]
    vec = TextEmbedder(str(folder / "encoder")).embed(["Type 2 diabetes mellitus"])
    assert vec.shape == (1, 384) and np.isclose(np.linalg.norm(vec), 1, atol=1e-5)
    cand = pd.read_parquet(folder / "candidates.parquet")
    # site B's SNOMED conditions have no curated parent: they get ICD-10-CM candidates
    snomed = cand[cand["id"].str.startswith("SNOMED:") & (cand["rank"] == 1)]
    assert len(snomed) > 30 and snomed["candidate"].str.startswith("ICD10CM:").all()
    assert (cand.groupby("id")["score"].sum() <= 1 + 1e-6).all()
    # each candidate row says what every evidence source scored it; the manifest what weighed
    assert {"by_name", "by_family", "by_spelling", "by_encoder", "by_counterparts"} <= set(cand)
    assert cand["by_name"].notna().all() and cand["by_encoder"].notna().all()
    placement = manifest["placement"]
    assert set(placement["sources_with_weight"]) <= set(placement["sources_available"])
    assert {"name", "family", "spelling", "encoder"} <= set(placement["sources_available"])
    weights = pd.read_parquet(folder / "placement_weights.parquet")
    assert list(weights.columns) == ["domain", "feature", "weight"] and len(weights)
    hier = pd.read_parquet(folder / "hierarchy.parquet")
    latent = pd.read_parquet(folder / "latent.parquet")
    assert s3["latent_groups"] == len(latent) > 0 and (latent["size"] >= 2).all()
    assert set(hier.loc[hier["parent_label"] == "Latent", "parent"]) == set(latent["id"])
    # labs have no curated hierarchy here: they end in latent groups, never under a diagnosis
    lab_ids = set(codes.loc[codes["domain"] == "lab", "id"])
    assert not (hier["child"].isin(lab_ids) & (hier["parent_label"] == "Code")).any()
    assert latent["name"].str.endswith("codes)").all()


def test_a_shared_code_keeps_the_reference_sites_vector():
    codes = pd.DataFrame({"id": ["X:1", "X:2", "X:1", "X:3"], "site": ["B", "B", "A", "B"]})
    assert in_graph(codes, "A").tolist() == [False, True, True, True]
    assert in_graph(codes, "B").tolist() == [True, True, False, True]
