"""Phenotypes over the synced example build (`mash_kg.graph.phenotypes`, `mash-kg phenotype`):
expansion through learned edges with reasons, ATLAS concept sets imported and replaced, bad files
one line and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from mash_kg.cli import cli
from tests.conftest import EXAMPLE, count


def _placed_snomed(folder: Path) -> tuple[str, str, float]:
    hier = pd.read_parquet(folder / "hierarchy.parquet")
    row = hier[
        hier["child"].str.startswith("SNOMED:")
        & (hier["parent_label"] == "Code")
        & hier["parent"].str.startswith("ICD10CM:")
    ].iloc[0]
    return row["child"], row["parent"], float(row["score"])


@pytest.mark.neo4j
def test_phenotype_expands_through_learned_edges_with_reasons(hier_synced, tmp_path):
    cfg, folder = hier_synced
    child, parent, score = _placed_snomed(folder)
    csv = tmp_path / "ph.csv"
    csv.write_text(
        f"phenotype,code,include_descendants,exclude\nlearned,{parent},true,false\n"
        f"without,{parent},true,false\nwithout,{child},false,true\n"
    )
    runner = CliRunner()
    res = runner.invoke(cli, ["--config", str(cfg), "phenotype", "import", str(csv)])
    assert res.exit_code == 0, res.output
    out = runner.invoke(
        cli,
        ["--config", str(cfg), "phenotype", "expand", "learned", "--site", "B", "--format", "json"],
    )
    assert out.exit_code == 0, out.output
    rows = {r["code"]: r for r in json.loads(out.output)}
    r = rows[child]
    assert (r["concept"], r["rule"], r["edges"], r["how"]) == (
        parent,
        "descendant",
        ["MASH_IS_A"],
        "coded at the site",
    )
    assert r["confidence"] == pytest.approx(score, abs=1e-4)
    # the same definition with the code excluded leaves it out
    out2 = runner.invoke(
        cli,
        ["--config", str(cfg), "phenotype", "expand", "without", "--site", "B", "--format", "json"],
    )
    if out2.exit_code == 1:  # the child was site B's only code below the parent: said so
        msg = " ".join(out2.output.split())
        assert "phenotype 'without' has no code at site B" in msg and parent in msg
    else:
        assert child not in {r["code"] for r in json.loads(out2.output)}
    # at site A the curated descendants the site codes are listed
    out3 = runner.invoke(
        cli,
        ["--config", str(cfg), "phenotype", "expand", "learned", "--site", "A", "--format", "json"],
    )
    codes_a = pd.read_parquet(folder / "codes.parquet").query("site == 'A'")["id"]
    assert out3.exit_code == 0, out3.output
    rows_a = json.loads(out3.output)
    assert rows_a and all(
        r["code"] in set(codes_a) or r["how"].startswith("aligned") for r in rows_a
    ), rows_a


@pytest.mark.neo4j
def test_atlas_concept_set_import_and_replace(hier_synced, tmp_path, driver):
    cfg, _ = hier_synced
    doc = {
        "name": "t2dm",
        "expression": {
            "items": [
                {
                    "concept": {"CONCEPT_CODE": "E11", "VOCABULARY_ID": "ICD10CM"},
                    "includeDescendants": True,
                    "isExcluded": False,
                },
                {
                    "concept": {"CONCEPT_CODE": "E11.9", "VOCABULARY_ID": "ICD10CM"},
                    "includeDescendants": False,
                    "isExcluded": True,
                },
            ]
        },
    }
    path = tmp_path / "t2dm.json"
    path.write_text(json.dumps(doc))
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["--config", str(cfg), "phenotype", "import", str(path)]).exit_code == 0
    )
    assert count(driver, "MATCH (:Phenotype {id: 't2dm'})-[r:INCLUDES]->() RETURN count(r)") == 2
    assert (
        count(
            driver,
            "MATCH (:Phenotype {id: 't2dm'})-[r:INCLUDES {excluded: true}]->"
            "(:Code {id: 'ICD10CM:E11.9'}) RETURN count(r)",
        )
        == 1
    )
    doc["expression"]["items"] = doc["expression"]["items"][:1]
    path.write_text(json.dumps(doc))
    assert (
        runner.invoke(cli, ["--config", str(cfg), "phenotype", "import", str(path)]).exit_code == 0
    )
    assert count(driver, "MATCH (:Phenotype {id: 't2dm'})-[r:INCLUDES]->() RETURN count(r)") == 1
    out = runner.invoke(
        cli,
        ["--config", str(cfg), "phenotype", "expand", "t2dm", "--site", "A", "--format", "json"],
    )
    rows = json.loads(out.output)
    e11_a = pd.read_csv(EXAMPLE / "site_a" / "codes.csv").query("code.str.startswith('E11')")
    assert {r["code"] for r in rows} >= {f"ICD10CM:{c}" for c in e11_a["code"]}


@pytest.mark.neo4j
@pytest.mark.parametrize(
    "content, problem",
    [
        (
            "phenotype,code,include_descendants,exclude\nx,ICD10CM:NOPE,true,false\n",
            "row 2: code ICD10CM:NOPE is not in the graph",
        ),
        (
            "phenotype,code,include_descendants,exclude\nx,ICD10CM:E11,maybe,false\n",
            "row 2: include_descendants = 'maybe' is not true or false",
        ),
        (
            "phenotype,code,include_descendants,exclude\nx,E11,true,false\n",
            "row 2: code 'E11' is not a graph id",
        ),
        ("phenotype,codes\nx,ICD10CM:E11\n", "missing column(s) code"),
    ],
)
def test_bad_phenotype_files_are_one_line_and_write_nothing(
    hier_synced, tmp_path, driver, content, problem
):
    cfg, _ = hier_synced
    path = tmp_path / "bad.csv"
    path.write_text(content)
    before = count(driver, "MATCH (p:Phenotype) RETURN count(p)")
    res = CliRunner().invoke(cli, ["--config", str(cfg), "phenotype", "import", str(path)])
    assert res.exit_code == 1 and problem in res.output.replace("\n", ""), res.output
    assert count(driver, "MATCH (p:Phenotype) RETURN count(p)") == before
