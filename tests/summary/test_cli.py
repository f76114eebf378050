"""`mash-kg site summarize` (summary/cli.py): the federated flow on the example, where `build` on
the summaries equals `build` on the raw sites."""

from __future__ import annotations

import shutil

import pandas as pd
from click.testing import CliRunner

from mash_kg.cli import cli
from tests.edits import replace_once
from tests.summary.helpers import EXAMPLE


def test_cli_summarize_then_build_equals_the_raw_build(tmp_path):
    """The federated flow on the example: each site summarized, the build on the summaries
    has the raw build's codes, counts, vectors and counterparts."""
    project = tmp_path / "two_sites"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("builds"))
    raw_cfg = project / "mash-kg.toml"
    text = replace_once(
        raw_cfg,
        ("epochs = 200", "epochs = 40"),
        ('align_method = "fused"', 'align_method = "procrustes"'),
        ("[hierarchy]", "[hierarchy]\nenabled = false"),
    )
    run = CliRunner()
    for site, engine in (("A", "duckdb"), ("B", "embedded")):
        res = run.invoke(
            cli,
            [
                "--config",
                str(raw_cfg),
                "site",
                "summarize",
                "--site",
                site,
                "--engine",
                engine,
                str(project / f"summary_{site}"),
            ],
        )
        assert res.exit_code == 0, res.output
        assert "co-occurring pairs within 30 days" in res.output.replace("\n", " ").replace(
            "  ", " "
        )
    res = run.invoke(
        cli,
        [
            "site",
            "summarize",
            "--site",
            "A",
            "--format",
            "tables",
            "--codes",
            str(project / "nope.csv"),
            "--events",
            str(project / "nope.csv"),
            str(tmp_path / "x"),
        ],
    )
    assert res.exit_code == 1 and "nope.csv: file not found" in res.output.replace("\n", "")
    assert "Traceback" not in res.output and not (tmp_path / "x").exists()
    fed = text.replace('builds = "builds"', 'builds = "builds_fed"')
    head, sites, _ = fed.partition("[[sites]]")
    assert fed != text and sites, f"{raw_cfg} changed: update this test"
    fed_cfg = project / "federated.toml"
    fed_cfg.write_text(
        head
        + "".join(
            f'[[sites]]\nid = "{s}"\nformat = "summary"\npath = "summary_{s}"\n\n' for s in "AB"
        )
    )
    for cfg in (raw_cfg, fed_cfg):
        res = run.invoke(cli, ["--config", str(cfg), "build"])
        assert res.exit_code == 0, res.output
    (raw,) = (project / "builds").iterdir()
    (fed_build,) = (project / "builds_fed").iterdir()
    for table in ("codes", "cooccurrence", "embeddings", "counterparts"):
        a = pd.read_parquet(raw / f"{table}.parquet")
        b = pd.read_parquet(fed_build / f"{table}.parquet")
        pd.testing.assert_frame_equal(a, b, obj=table)
    replace_once(fed_cfg, ("window_days = 30", "window_days = 14"))
    res = run.invoke(cli, ["--config", str(fed_cfg), "build"])
    assert res.exit_code == 1 and "counted with a 30-day window, the project uses 14" in (
        res.output.replace("\n", "")
    )
