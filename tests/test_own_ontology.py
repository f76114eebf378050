"""A new user's own ontology and own codes, end to end through the CLI against the real Neo4j
(issue 11): a phenotype ontology in OBO with its own prefix and a lab hierarchy as an edge
CSV with names are loaded; site A codes in both (its lab vocabulary under its own name,
mapped in mash-kg.toml), site B in the OBO ontology and local codes; build, eval, sync.
Every case that used to succeed silently is an error with its real cause."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mash_kg.cli import cli

from .conftest import count

OBO = """format-version: 1.2
data-version: myph/2026-01-01
ontology: myph

[Term]
id: MYPH:0000001
name: Phenotypic abnormality

[Term]
id: MYPH:0000010
name: Abnormality of the cardiovascular system
is_a: MYPH:0000001 ! Phenotypic abnormality

[Term]
id: MYPH:0000011
name: Arrhythmia
is_a: MYPH:0000010

[Term]
id: MYPH:0000012
name: Atrial fibrillation
is_a: MYPH:0000011

[Term]
id: MYPH:0000013
name: Ventricular tachycardia
is_a: MYPH:0000011

[Term]
id: MYPH:0000014
name: Bradycardia
is_a: MYPH:0000011

[Term]
id: MYPH:0000015
name: Abnormal blood pressure
is_a: MYPH:0000010

[Term]
id: MYPH:0000016
name: Hypertension
is_a: MYPH:0000015

[Term]
id: MYPH:0000017
name: Hypotension
is_a: MYPH:0000015

[Term]
id: MYPH:0000020
name: Abnormality of metabolism
is_a: MYPH:0000001

[Term]
id: MYPH:0000021
name: Abnormal glucose homeostasis
is_a: MYPH:0000020

[Term]
id: MYPH:0000022
name: Type 2 diabetes mellitus
is_a: MYPH:0000021

[Term]
id: MYPH:0000023
name: Hypoglycemia
is_a: MYPH:0000021

[Term]
id: MYPH:0000024
name: Abnormal lipid level
is_a: MYPH:0000020

[Term]
id: MYPH:0000025
name: Hypercholesterolemia
is_a: MYPH:0000024

[Term]
id: MYPH:0000026
name: Hypertriglyceridemia
is_a: MYPH:0000024

[Term]
id: MYPH:0000099
name: obsolete term
is_obsolete: true
"""

EDGES = """child,parent,child_name,parent_name
GLU,CHEM,Glucose [Mass/volume] in Serum or Plasma,Chemistry panel
NA,CHEM,Sodium [Moles/volume] in Serum or Plasma,
K,CHEM,Potassium [Moles/volume] in Serum or Plasma,
CHEM,LABROOT,,All laboratory tests
HGB,CBC,Hemoglobin [Mass/volume] in Blood,Complete blood count
WBC,CBC,Leukocytes [#/volume] in Blood,
PLT,CBC,Platelets [#/volume] in Blood,
CBC,LABROOT,,
"""

SITE_A = [  # code, vocab, name, domain
    ("0000012", "MYPH", "Atrial fibrillation", "diagnosis"),
    ("0000013", "MYPH", "Ventricular tachycardia", "diagnosis"),
    ("0000014", "MYPH", "Bradycardia", "diagnosis"),
    ("0000016", "MYPH", "Hypertension", "diagnosis"),
    ("0000017", "MYPH", "Hypotension", "diagnosis"),
    ("0000022", "MYPH", "Type 2 diabetes mellitus", "diagnosis"),
    ("0000023", "MYPH", "Hypoglycemia", "diagnosis"),
    ("0000025", "MYPH", "Hypercholesterolemia", "diagnosis"),
    ("0000026", "MYPH", "Hypertriglyceridemia", "diagnosis"),
    ("GLU", "LABS", "Glucose serum", "lab"),
    ("NA", "LABS", "Sodium serum", "lab"),
    ("K", "LABS", "Potassium serum", "lab"),
    ("HGB", "LABS", "Hemoglobin blood", "lab"),
    ("WBC", "LABS", "White cell count", "lab"),
    ("PLT", "LABS", "Platelet count", "lab"),
    ("POC1", "LOCAL", "Glucose [Mass/volume] in Capillary blood by Glucometer", "lab"),
]
SITE_B = [
    ("0000012", "MYPH", "Atrial fibrillation", "diagnosis"),
    ("0000016", "MYPH", "Hypertension", "diagnosis"),
    ("0000022", "MYPH", "Type 2 diabetes mellitus", "diagnosis"),
    ("0000025", "MYPH", "Hypercholesterolemia", "diagnosis"),
    ("0000014", "MYPH", "Bradycardia", "diagnosis"),
    ("0000023", "MYPH", "Hypoglycemia", "diagnosis"),
    ("AF2", "LOCAL", "Paroxysmal atrial fibrillation", "diagnosis"),
    ("HTN9", "LOCAL", "Essential hypertension, uncontrolled", "diagnosis"),
]


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def _site(folder: Path, rows: list[tuple], seed: int) -> None:
    folder.mkdir(parents=True)
    pd.DataFrame(rows, columns=["code", "vocab", "name", "domain"]).to_csv(
        folder / "codes.csv", index=False
    )
    rng = np.random.default_rng(seed)
    events = []
    for patient in range(60):
        for k in rng.choice(len(rows), size=min(len(rows), rng.integers(3, 7)), replace=False):
            day = pd.Timestamp("2020-01-01") + pd.Timedelta(days=int(rng.integers(0, 20)))
            events.append((f"p{patient}", f"{day:%Y-%m-%d}", rows[k][0], rows[k][1]))
    pd.DataFrame(events, columns=["patient_id", "date", "code", "vocab"]).to_csv(
        folder / "events.csv", index=False
    )


def _project(root: Path, site_a=SITE_A, site_b=SITE_B, holdout=0.3, vocabularies=True) -> Path:
    _site(root / "a", list(site_a), 1)
    _site(root / "b", list(site_b), 2)
    mapping = 'vocabularies = {LABS = "MYLABS"}\n' if vocabularies else ""
    cfg = root / "mash-kg.toml"
    cfg.write_text(
        '[project]\nname = "own"\n\n[model]\ndim = 16\nalign_method = "procrustes"\n\n'
        f"[hierarchy]\nholdout = {holdout}\n\n"
        '[[sites]]\nid = "A"\nformat = "tables"\ncodes = "a/codes.csv"\n'
        f'events = "a/events.csv"\n{mapping}\n'
        '[[sites]]\nid = "B"\nformat = "tables"\ncodes = "b/codes.csv"\n'
        'events = "b/events.csv"\n'
    )
    return cfg


@pytest.fixture(scope="module")
def own_graph(neo4j_settings, tmp_path_factory):
    """The two outside hierarchies loaded through the CLI into a wiped graph."""
    from mash_kg.graph import connect
    from mash_kg.neo4j_server.scratch import wipe

    driver = connect(neo4j_settings)
    wipe(driver)
    folder = tmp_path_factory.mktemp("own")
    (folder / "own.obo").write_text(OBO)
    (folder / "labs.csv").write_text(EDGES)
    env = {
        "NEO4J_URI": neo4j_settings.bolt_uri,
        "NEO4J_USER": neo4j_settings.user,
        "NEO4J_PASSWORD": neo4j_settings.password,
    }
    runner = CliRunner(env=env)
    res = runner.invoke(
        cli, ["load", "obo", "--file", str(folder / "own.obo"), "--domain", "diagnosis"]
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        cli,
        [
            "load",
            "edges",
            "--file",
            str(folder / "labs.csv"),
            "--vocab",
            "MYLABS",
            "--domain",
            "lab",
        ],
    )
    assert res.exit_code == 0, res.output
    yield driver, folder, env
    driver.close()


@pytest.fixture(scope="module")
def own_build(own_graph, tmp_path_factory):
    driver, _, env = own_graph
    cfg = _project(tmp_path_factory.mktemp("project"))
    res = CliRunner(env=env).invoke(cli, ["--config", str(cfg), "build"])
    assert res.exit_code == 0, res.output
    (folder,) = (cfg.parent / "builds").iterdir()
    return cfg, folder, res.output, env


@pytest.mark.neo4j
def test_loaded_ontologies_keep_their_prefix_and_names(own_graph):
    driver, _, _ = own_graph
    assert count(driver, "MATCH (c:Code {vocab: 'MYPH'}) RETURN count(c)") == 16
    assert (
        count(
            driver,
            "MATCH (:Code {id: 'MYPH:0000012'})-[:IS_A]->(:Code {id: "
            "'MYPH:0000011'}) RETURN count(*)",
        )
        == 1
    )
    names = dict(
        driver.execute_query("MATCH (c:Code {vocab: 'MYLABS'}) RETURN c.code, c.name").records
    )
    # a name given on any row; a code never named is named by its code
    assert names["CHEM"] == "Chemistry panel" and names["CBC"] == "Complete blood count"
    assert names["NA"] == "Sodium [Moles/volume] in Serum or Plasma"
    assert names["LABROOT"] == "All laboratory tests"


@pytest.mark.neo4j
def test_site_codes_of_loaded_vocabularies_share_the_graph_ids(own_build):
    _, folder, output, _ = own_build
    codes = pd.read_parquet(folder / "codes.parquet").set_index(["site", "code"])
    assert codes.loc[("A", "0000012"), "id"] == "MYPH:0000012"  # OBO: shared by prefix
    assert codes.loc[("B", "0000012"), "id"] == "MYPH:0000012"
    assert codes.loc[("A", "GLU"), ["id", "vocab"]].tolist() == ["MYLABS:GLU", "MYLABS"]
    assert codes.loc[("A", "POC1"), "id"] == "A/LOCAL:POC1"  # local stays local
    manifest = json.loads((folder / "manifest.json").read_text())
    # Stage III may say how it weighed its sources (a tiny tree has few fit codes); no other
    site_warnings = [w for w in manifest["warnings"] if not w.startswith("Stage III:")]
    assert site_warnings == [], manifest["warnings"]
    s3 = manifest["stage3"]
    assert s3["heldout_codes"] >= 3 and s3["codes_with_curated_parent"] >= 13
    # progress without a terminal: one plain line per step
    assert "reading site inputs: started" in output and "Stage III" in output


@pytest.mark.neo4j
def test_own_codes_are_placed_among_every_curated_node_of_their_domain(own_build):
    _, folder, _, _ = own_build
    cand = pd.read_parquet(folder / "candidates.parquet")
    poc = cand[cand["id"] == "A/LOCAL:POC1"]
    assert len(poc) and poc["candidate"].str.startswith("MYLABS:").all()  # labs among labs
    assert poc["leaf"].any()  # leaves are candidates too
    local_af = cand[(cand["id"] == "B/LOCAL:AF2")]
    assert local_af["candidate"].str.startswith("MYPH:").all()
    hier = pd.read_parquet(folder / "hierarchy.parquet")
    assert len(hier[hier["parent_label"] == "Code"]) > 0


@pytest.mark.neo4j
def test_eval_counts_every_held_out_code_and_reports_coverage(own_build):
    cfg, folder, _, env = own_build
    res = CliRunner(env=env).invoke(cli, ["--config", str(cfg), "eval", "--format", "json"])
    assert res.exit_code == 0, res.output
    m = json.loads(res.output)
    holdout = pd.read_parquet(folder / "holdout.parquet")
    assert m["heldout_codes"] == holdout["id"].nunique() >= 3
    assert m["coverage"] == 1.0 and m["not_a_candidate"] == 0  # leaves are candidates
    assert 0 <= m["model"]["hit@1"] <= m["model"]["hit@10"] <= 1
    table = CliRunner(env=env).invoke(cli, ["--config", str(cfg), "eval"])
    assert table.exit_code == 0 and "coverage 100.0%" in table.output


@pytest.mark.neo4j
def test_sync_links_the_site_codes_to_the_loaded_nodes(own_build, own_graph):
    cfg, _, _, env = own_build
    driver = own_graph[0]
    res = CliRunner(env=env).invoke(cli, ["--config", str(cfg), "sync"])
    assert res.exit_code == 0, res.output
    # the loaded node itself carries the sites (its state in the synced version): no second
    # node for the site's code
    state = "(c)-[:HAS_STATE]->(s:CodeState) WHERE s.valid_to IS NULL AND "
    assert (
        count(
            driver,
            "MATCH (c:Code {id: 'MYPH:0000012'})-[:IS_A]->() MATCH "
            + state
            + "'A' IN s.sites AND 'B' IN s.sites RETURN count(DISTINCT c)",
        )
        == 1
    )
    assert (
        count(
            driver,
            "MATCH (c:Code {id: 'MYLABS:GLU'})-[:IS_A]->() MATCH "
            + state
            + "'A' IN s.sites RETURN count(DISTINCT c)",
        )
        == 1
    )
    assert count(driver, "MATCH (c:Code) WHERE c.id CONTAINS '/MYPH:' RETURN count(c)") == 0


# -- what used to succeed silently -------------------------------------------------------------
@pytest.mark.neo4j
def test_obo_vocab_matching_no_id_is_an_error_naming_the_prefixes(own_graph):
    _, folder, env = own_graph
    res = CliRunner(env=env).invoke(
        cli, ["load", "obo", "--file", str(folder / "own.obo"), "--vocab", "HPO"]
    )
    assert res.exit_code == 1
    assert "no term id has the prefix HPO; the file has MYPH (17 terms)" in res.output


@pytest.mark.neo4j
def test_header_only_edge_csv_loads_nothing_and_retires_nothing(own_graph):
    driver, folder, env = own_graph
    empty = folder / "empty.csv"
    empty.write_text("child,parent\n")
    res = CliRunner(env=env).invoke(
        cli, ["load", "edges", "--file", str(empty), "--vocab", "MYLABS"]
    )
    assert res.exit_code == 1 and "no edges below the header" in res.output
    assert (
        count(driver, "MATCH (c:Code {vocab: 'MYLABS'}) WHERE c.status = 'active' RETURN count(c)")
        == 9
    )


@pytest.mark.neo4j
def test_nothing_to_place_into_is_an_error_naming_the_cause_before_any_text_is_embedded(
    own_graph, tmp_path
):
    _, _, env = own_graph
    # no code in the graph, no vocabulary mapped, and no loaded tree of the codes' domain
    renamed = [(c, "HPO" if v == "MYPH" else v, n, "procedure") for c, v, n, _ in SITE_B]
    cfg = _project(tmp_path, site_a=renamed, site_b=renamed, vocabularies=False)
    res = CliRunner(env=env).invoke(cli, ["--config", str(cfg), "build"])
    assert res.exit_code == 1
    out = " ".join(res.output.split())
    assert "no site code is in the curated graph: the sites code in HPO (12), LOCAL (4)" in out
    assert "(domains procedure); the graph holds MYLABS (lab), MYPH (diagnosis)" in out
    assert "vocabularies" in out and "place codes only into loaded trees" in out
    assert "text embeddings" not in res.output  # said before Stage I embeds anything
    assert not (tmp_path / "builds").exists() or not any((tmp_path / "builds").iterdir())


LOCAL_LABS = [  # a site whose lab codes are all its own: none is in the loaded MYLABS tree
    ("L100", "LABS", "Glucose [Mass/volume] in Capillary blood", "lab"),
    ("L101", "LABS", "Sodium [Moles/volume] in Blood", "lab"),
    ("L102", "LABS", "Hemoglobin [Mass/volume] in Capillary blood", "lab"),
    ("L103", "LABS", "Platelets [#/volume] in Capillary blood", "lab"),
]
LOCAL_DX = [
    ("AF2", "LOCAL", "Paroxysmal atrial fibrillation", "diagnosis"),
    ("HTN9", "LOCAL", "Essential hypertension, uncontrolled", "diagnosis"),
    ("DM7", "LOCAL", "Type 2 diabetes mellitus with hyperglycaemia", "diagnosis"),
]


@pytest.mark.neo4j
def test_a_site_of_local_codes_only_is_placed_into_the_tree_its_entry_names(own_graph, tmp_path):
    _, _, env = own_graph
    # site A maps its lab vocabulary onto the loaded MYLABS (issue 24: the same error as
    # before the mapping); site B names nothing: its codes go into the trees of their domain
    cfg = _project(tmp_path, site_a=LOCAL_LABS, site_b=LOCAL_DX, holdout=0.0)
    res = CliRunner(env=env).invoke(cli, ["--config", str(cfg), "build"])
    assert res.exit_code == 0, res.output
    (folder,) = (tmp_path / "builds").iterdir()
    cand = pd.read_parquet(folder / "candidates.parquet")
    labs = cand[cand["id"].str.startswith("MYLABS:L10")]
    assert set(labs["id"]) == {f"MYLABS:L10{i}" for i in range(4)}
    assert labs["candidate"].str.startswith("MYLABS:").all()
    dx = cand[cand["id"].str.startswith("B/LOCAL:")]
    assert len(dx) and dx["candidate"].str.startswith("MYPH:").all()
    hier = pd.read_parquet(folder / "hierarchy.parquet")
    placed = hier[hier["parent_label"] == "Code"]
    assert placed["parent"].str.startswith("MYLABS:").any()
    manifest = json.loads((folder / "manifest.json").read_text())
    (note,) = [w for w in manifest["warnings"] if not w.startswith("Stage III:")]
    assert note.startswith("site B: none of its 3 codes (LOCAL (3)) is in the curated graph")
    assert "the loaded trees of its domains: MYPH" in note


@pytest.mark.neo4j
def test_a_site_meeting_nothing_is_a_warning_and_eval_names_the_real_cause(own_graph, tmp_path):
    _, _, env = own_graph
    # site A codes only the ontology's root (no curated parent); site B only local codes
    cfg = _project(
        tmp_path,
        site_a=[
            ("0000001", "MYPH", "Phenotypic abnormality", "diagnosis"),
            ("X1", "LOCAL", "Irregular heart beat", "diagnosis"),
        ],
        site_b=[
            ("Y1", "LOCAL", "Fast heart beat", "diagnosis"),
            ("Y2", "LOCAL", "High blood sugar", "diagnosis"),
        ],
        vocabularies=False,
    )
    res = CliRunner(env=env).invoke(cli, ["--config", str(cfg), "build"])
    assert res.exit_code == 0, res.output
    assert "warning: site B: none of its 2 codes (LOCAL (2)) is in the curated graph" in " ".join(
        res.output.split()
    )
    ev = CliRunner(env=env).invoke(cli, ["--config", str(cfg), "eval"])
    assert ev.exit_code == 1
    msg = " ".join(ev.output.split())
    assert "none of the build's codes has a curated parent in the graph" in msg
    assert "set [hierarchy] holdout" not in msg


@pytest.mark.neo4j
def test_a_phenotype_that_expands_to_nothing_is_an_error_saying_why(own_build, own_graph):
    cfg, _, _, env = own_build
    runner = CliRunner(env=env)
    assert runner.invoke(cli, ["--config", str(cfg), "sync"]).exit_code == 0
    csv = own_graph[1] / "ph.csv"
    csv.write_text("phenotype,code,include_descendants,exclude\nlipids,MYPH:0000026,false,false\n")
    assert (
        runner.invoke(cli, ["--config", str(cfg), "phenotype", "import", str(csv)]).exit_code == 0
    )
    res = runner.invoke(cli, ["--config", str(cfg), "phenotype", "expand", "lipids", "--site", "B"])
    assert res.exit_code == 1
    msg = " ".join(res.output.split())
    assert "phenotype 'lipids' has no code at site B" in msg and "MYPH:0000026" in msg
    ok = runner.invoke(
        cli,
        ["--config", str(cfg), "phenotype", "expand", "lipids", "--site", "A", "--format", "json"],
    )
    assert ok.exit_code == 0 and [r["code"] for r in json.loads(ok.output)] == ["MYPH:0000026"]


# -- bad input through the CLI: one line, exit 1, graph unchanged (issue 14) ---------------------
BAD_INPUTS = [
    (
        "cycle.csv",
        b"child,parent\nA,B\nB,C\nC,A\n",
        ["load", "edges", "--vocab", "CYC"],
        "IS_A cycle CYC:A -> CYC:B -> CYC:C -> CYC:A",
    ),
    (
        "two.obo",
        b"[Term]\nid: TC:1\nname: a\nis_a: TC:2\n\n[Term]\nid: TC:2\nname: b\nis_a: TC:1\n",
        ["load", "obo"],
        "IS_A cycle TC:1 -> TC:2 -> TC:1",
    ),
    (
        "noval.obo",
        b"[Term]\nid: NV:1\nname: a\nis_a:\n",
        ["load", "obo"],
        "noval.obo, row 4: is_a without a parent id",
    ),
    (
        "latin.csv",
        "child,parent,child_name\nA,B,Gr\xf6\xdfe\n".encode("latin-1"),
        ["load", "edges", "--vocab", "LAT"],
        "latin.csv, row 2: not UTF-8 text",
    ),
    (
        "atc.csv",
        '"A","ALIMENT\xc4RES","x","y"\n'.encode("latin-1"),
        ["load", "atc"],
        "atc.csv, row 1: not UTF-8 text",
    ),
    (
        "ph.csv",
        b"phenotype,code,include_descendants,exclude\n",
        ["phenotype", "import"],
        "ph.csv: no phenotype rows below the header",
    ),
]


@pytest.mark.neo4j
@pytest.mark.parametrize(
    "name, content, command, problem", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
)
def test_bad_input_is_one_line_and_changes_nothing(own_graph, name, content, command, problem):
    from .conftest import snapshot

    driver, folder, env = own_graph
    path = folder / name
    path.write_bytes(content)
    before = snapshot(driver)
    args = [*command, str(path)] if command[0] == "phenotype" else [*command, "--file", str(path)]
    res = CliRunner(env=env).invoke(cli, args)
    assert res.exit_code == 1, res.output
    assert problem in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1, res.output
    assert snapshot(driver) == before
