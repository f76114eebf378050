from __future__ import annotations

import pytest

from mash_kg.config import DEFAULT_PASSWORD, load_config
from mash_kg.errors import InputError


def test_defaults_and_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var in (
        "NEO4J_URI",
        "NEO4J_USER",
        "NEO4J_PASSWORD",
        "MASH_KG_NEO4J_HOME",
        "MASH_KG_BOLT_PORT",
    ):
        monkeypatch.delenv(var, raising=False)
    cfg = load_config()
    assert cfg.neo4j.bolt_uri == "bolt://127.0.0.1:7687"
    assert cfg.neo4j.password == DEFAULT_PASSWORD
    monkeypatch.setenv("NEO4J_PASSWORD", "s3cret-pass")
    monkeypatch.setenv("MASH_KG_BOLT_PORT", "7999")
    cfg = load_config()
    assert cfg.neo4j.password == "s3cret-pass" and cfg.neo4j.bolt_uri == "bolt://127.0.0.1:7999"
    monkeypatch.setenv("NEO4J_URI", "neo4j://db.example:7687")
    assert load_config().neo4j.bolt_uri == "neo4j://db.example:7687"


def test_project_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MASH_KG_NEO4J_HOME", raising=False)
    monkeypatch.delenv("MASH_KG_BOLT_PORT", raising=False)
    (tmp_path / "mash-kg.toml").write_text('[neo4j]\nbolt_port = 7700\nhome = "graph"\n')
    cfg = load_config()
    assert cfg.neo4j.bolt_port == 7700 and cfg.neo4j.home == tmp_path / "graph"


def test_bad_project_file_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mash-kg.toml").write_text("[neo4j]\nbolt_prot = 7700\n")
    with pytest.raises(InputError, match=r"mash-kg.toml: unknown key \[neo4j\].bolt_prot"):
        load_config()
    (tmp_path / "mash-kg.toml").write_text("[neo4j\n")
    with pytest.raises(InputError, match="not valid TOML"):
        load_config()


def test_cli_prints_config_errors_verbatim(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from mash_kg.cli import cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "mash-kg.toml").write_text("[neo4j]\nbolt_prot = 7700\n")
    result = CliRunner().invoke(cli, ["neo4j", "status"])
    assert result.exit_code == 1
    assert "unknown key [neo4j].bolt_prot" in result.output  # not eaten as rich markup


def test_table_cells_are_printed_verbatim():
    from mash_kg.cli import console, print_rows

    with console.capture() as captured:
        print_rows([{"name": "hemoglobin [mass fraction] in blood"}])
    assert "[mass fraction]" in captured.get()
