"""The Python API (mash_kg.api): the same checks and the same rows as the command line, since
the CLI calls it; DataFrames of views, phenotypes, build tables and eval figures, on the real
test Neo4j."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

import mash_kg.api as mk
from mash_kg.cli import cli
from mash_kg.config import Neo4jSettings
from mash_kg.errors import InputError, MashError
from mash_kg.graph.views import list_views

NOWHERE = Neo4jSettings(uri="bolt://127.0.0.1:9", password="never-used")  # nothing listens


def test_views_lists_every_named_view_with_its_header():
    frame = mk.views()
    assert list(frame.columns) == ["name", "purpose", "parameters", "example"]
    assert list(frame["name"]) == list(list_views())
    ancestors = frame.set_index("name").loc["ancestors"]
    assert ancestors["purpose"] and "code" in ancestors["parameters"]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"code": "X", "wich": "both"}, "has no parameter 'wich' (did you mean which?"),
        ({}, "view descendants needs -p code=VALUE"),
        ({"code": "X", "which": "official"}, "which='official' is not one of"),
        ({"code": "X", "limit": 0}, "limit=0 is outside 1..10000"),
    ],
)
def test_view_parameters_are_checked_before_connecting_as_the_cli_checks_them(
    params, message, monkeypatch, tmp_path
):
    with pytest.raises(MashError) as err:
        mk.view_rows(NOWHERE, "descendants", params)  # raised before any connection is tried
    assert message in str(err.value)
    # the command line says the same line: it calls the same function
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEO4J_URI", NOWHERE.bolt_uri)
    monkeypatch.setenv("NEO4J_PASSWORD", "never-used")
    pairs = [arg for k, v in params.items() for arg in ("-p", f"{k}={v}")]
    res = CliRunner().invoke(cli, ["query", "descendants", *pairs])
    assert res.exit_code != 0 and str(err.value) in " ".join(res.output.split())


def test_typed_values_are_checked_like_their_text():
    checked = mk.check_view_params("descendants", {"code": "ICD10CM:E11", "limit": 5})
    # defaults filled in, as the CLI fills them (build '' = the active build)
    assert checked == {"code": "ICD10CM:E11", "which": "curated", "limit": 5, "build": ""}
    with pytest.raises(MashError, match="is not an integer"):
        mk.check_view_params("descendants", {"code": "X", "limit": 2.5})
    with pytest.raises(MashError, match="no view named 'ancestor'"):
        mk.check_view_params("ancestor", {})


def test_phenotype_rank_and_unknown_tables_are_clear_errors(tmp_path):
    with pytest.raises(MashError, match="max_rank=0 is outside 1..100"):
        mk.expand_phenotype_rows(NOWHERE, "t2d", "A", max_rank=0)
    with pytest.raises(MashError, match="no build table named 'edges': known tables are codes"):
        mk.build_table("edges", build=tmp_path)
    with pytest.raises(InputError, match="config file not found"):
        mk.open_graph(tmp_path)  # no mash-kg.toml there: said before connecting


def test_a_graph_nobody_serves_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "mash-kg.toml").write_text('[neo4j]\nuri = "bolt://127.0.0.1:9"\n')
    monkeypatch.setenv("NEO4J_PASSWORD", "never-used")
    monkeypatch.delenv("NEO4J_URI", raising=False)
    with pytest.raises(MashError, match=r"no Neo4j answers at bolt://127\.0\.0\.1:9"):
        mk.open_graph(tmp_path)


@pytest.mark.neo4j
def test_views_phenotypes_and_cypher_as_dataframes(hier_synced, tmp_path, monkeypatch):
    cfg, _ = hier_synced
    with mk.open_graph(config=cfg) as g:
        assert "password" not in repr(g) and g.settings.password not in repr(g)
        anc = g.view("ancestors", code="ICD10CM:E11.9")
        assert isinstance(anc, pd.DataFrame) and "ICD10CM:E11" in set(anc["id"])
        args = ["query", "ancestors", "-p", "code=ICD10CM:E11.9", "--format", "json"]
        cli_rows = CliRunner().invoke(cli, ["--config", str(cfg), *args])
        assert json.loads(cli_rows.output) == json.loads(anc.to_json(orient="records"))
        csv = tmp_path / "ph.csv"
        csv.write_text(
            "phenotype,code,include_descendants,exclude\nt2d_api,ICD10CM:E11,true,false\n"
        )
        assert g.import_phenotypes(csv) == {"phenotypes": 1, "items": 1, "ids": ["t2d_api"]}
        assert "t2d_api" in set(g.phenotypes()["id"])
        rows = g.expand_phenotype("t2d_api", site="A")
        assert len(rows) and {"code", "rule"} <= set(rows.columns)
        with pytest.raises(MashError, match="no site 'Z' in the graph"):
            g.expand_phenotype("t2d_api", site="Z")
        counted = g.cypher(
            "MATCH (c:Code {vocab: $v}) RETURN count(c) AS n, $v AS vocab", v="ICD10CM"
        )
        assert list(counted.columns) == ["n", "vocab"] and counted["n"].iloc[0] > 90000
        with pytest.raises(MashError, match="runs read-only and this query writes"):
            g.cypher("CREATE (n:Scratch {id: $id}) RETURN n.id AS id", id="x")
        assert g.cypher("MATCH (n:Scratch) RETURN count(n) AS n")["n"].iloc[0] == 0
    with pytest.raises(MashError, match="this Graph is closed"):
        g.view("ancestors", code="ICD10CM:E11.9")


@pytest.mark.neo4j
def test_build_tables_and_eval_figures_match_the_cli(hier_build):
    cfg, folder = hier_build
    tables = mk.build_tables(folder)
    assert {"codes", "counterparts", "hierarchy", "candidates", "holdout"} <= set(tables)
    assert tables["codes"].equals(mk.build_table("codes", project_dir=cfg.parent))  # newest
    figures = mk.eval_figures(folder, config=cfg)
    assert list(figures.columns) == ["section", "figure", "value"]
    res = CliRunner().invoke(cli, ["--config", str(cfg), "eval", str(folder), "--format", "json"])
    assert res.exit_code == 0, res.output
    metrics = json.loads(res.output)
    model = figures[figures["section"] == "model"].set_index("figure")["value"]
    assert model.to_dict() == metrics["model"]
    text = figures[figures["section"] == "text_only"].set_index("figure")["value"]
    assert text.to_dict() == metrics["text_only"]
    top = figures[figures["section"] == ""].set_index("figure")["value"]
    assert top["heldout_codes"] == metrics["heldout_codes"] and top["build"] == folder.name
