"""`mash-kg eval` (`hierarchy.evaluate`): held-out curated edges scored for the model and the text
model alone; a build without Stage III is one clear line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mash_kg.cli import cli
from tests.test_build import two_language_project


@pytest.mark.neo4j
def test_eval_scores_the_held_out_edges(hier_build):
    cfg, folder = hier_build
    res = CliRunner().invoke(cli, ["--config", str(cfg), "eval", "--format", "json"])
    assert res.exit_code == 0, res.output
    m = json.loads(res.output)
    assert m["build"] == folder.name and m["heldout_codes"] > 10
    for key in ("model", "text_only"):
        assert 0 <= m[key]["hit@1"] <= m[key]["hit@10"] <= 1 and m[key]["mean_rank"] >= 1
    assert json.loads((folder / "eval.json").read_text()) == m
    table = CliRunner().invoke(cli, ["--config", str(cfg), "eval"])
    assert table.exit_code == 0 and "text model alone" in table.output


def test_eval_of_a_build_without_holdout_is_one_clear_line(tmp_path):
    cfg = two_language_project(tmp_path)  # [hierarchy] enabled = false: a Stage I build
    built = CliRunner().invoke(cli, ["--config", str(cfg), "build"])
    assert built.exit_code == 0, built.output
    (folder,) = (tmp_path / "builds").iterdir()
    res = CliRunner().invoke(cli, ["eval", str(folder)])
    assert res.exit_code == 1 and "has no Stage III" in res.output
