from __future__ import annotations

from dataclasses import fields

import pytest

from mash_kg.config import load_config
from mash_kg.errors import InputError, MashError


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
    monkeypatch.setenv("MASH_KG_NEO4J_HOME", str(tmp_path / "home"))
    cfg = load_config()
    assert cfg.neo4j.bolt_uri == "bolt://127.0.0.1:7687"
    assert cfg.neo4j.explicit_password is None  # no default password: start generates one
    with pytest.raises(MashError, match="no password for the local Neo4j"):
        _ = cfg.neo4j.password
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "password").write_text("generated-by-start\n")
    assert cfg.neo4j.password == "generated-by-start"
    monkeypatch.setenv("NEO4J_PASSWORD", "s3cret-pass")
    monkeypatch.setenv("MASH_KG_BOLT_PORT", "7999")
    cfg = load_config()
    assert cfg.neo4j.password == "s3cret-pass" and cfg.neo4j.bolt_uri == "bolt://127.0.0.1:7999"
    monkeypatch.setenv("NEO4J_URI", "neo4j://db.example:7687")
    assert load_config().neo4j.bolt_uri == "neo4j://db.example:7687"
    monkeypatch.delenv("NEO4J_PASSWORD")  # the local password file is never used for it
    with pytest.raises(MashError, match="NEO4J_PASSWORD is not set for the Neo4j at neo4j://db"):
        _ = load_config().neo4j.password


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


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("bolt_port = true", "[neo4j].bolt_port = true must be an integer port number 1-65535"),
        ("bolt_port = 7707.9", "[neo4j].bolt_port = 7707.9 must be an integer port number"),
        ("bolt_port = 0", "[neo4j].bolt_port = 0 must be an integer port number 1-65535"),
        ("bolt_port = 70000", "[neo4j].bolt_port = 70000 must be an integer port number"),
        ('bolt_port = "7687"', '[neo4j].bolt_port = "7687" must be an integer port number'),
        ("http_port = -1", "[neo4j].http_port = -1 must be an integer port number 0-65535"),
        ("start_timeout = false", "[neo4j].start_timeout = false must be a number of seconds"),
        ("start_timeout = 0", "[neo4j].start_timeout = 0 must be a number of seconds above 0"),
        ("heap = 2", '[neo4j].heap = 2 must be a size string like "2g"'),
        ('pagecache = "lots"', '[neo4j].pagecache = "lots" must be a size string'),
        ("password = 12345678", "[neo4j].password = 12345678 must be a non-empty string"),
        ('user = ""', '[neo4j].user = "" must be a non-empty string'),
        ("home = []", "[neo4j].home = [] must be a non-empty string"),
        ('uri = "http://x:7474"', '[neo4j].uri = "http://x:7474" must be a Neo4j URI'),
        ("database = {a = 1}", "[neo4j].database = a table must be a non-empty string"),
    ],
)
def test_wrongly_typed_neo4j_values_are_one_line(tmp_path, monkeypatch, line, problem):
    from click.testing import CliRunner

    from mash_kg.cli import cli

    monkeypatch.chdir(tmp_path)
    for var in ("NEO4J_URI", "MASH_KG_BOLT_PORT", "MASH_KG_HTTP_PORT"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "mash-kg.toml").write_text(f"[neo4j]\n{line}\n")
    with pytest.raises(InputError) as err:
        load_config()
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'mash-kg.toml'}: {problem}"), message
    assert "\n" not in message and ("write e.g." in message or "NEO4J_PASSWORD" in message)
    result = CliRunner().invoke(cli, ["neo4j", "status"])
    assert result.exit_code == 1
    assert problem in result.output and "Traceback" not in result.output


def test_neo4j_must_be_a_table(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mash-kg.toml").write_text("neo4j = 3\n")
    with pytest.raises(InputError, match="neo4j must be a table"):
        load_config()


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("MASH_KG_BOLT_PORT", "abc"),
        ("MASH_KG_BOLT_PORT", "0"),
        ("MASH_KG_HTTP_PORT", "7474.5"),
        ("MASH_KG_HTTP_PORT", "99999"),
        ("NEO4J_URI", "localhost:7687"),
    ],
)
def test_bad_environment_values_are_one_line(tmp_path, monkeypatch, var, value):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(var, value)
    with pytest.raises(MashError, match=f"environment variable {var}={value!r}"):
        load_config()


def test_cli_port_option_is_range_checked(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from mash_kg.cli import cli

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["neo4j", "--port", "70000", "status"])
    assert result.exit_code == 2 and "70000 is not in the range 1<=x<=65535" in result.output


def test_the_cache_has_its_own_section(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MASH_KG_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert load_config().cache.root == tmp_path / "xdg" / "mash-kg"
    (tmp_path / "mash-kg.toml").write_text('[cache]\nroot = "store"\n')
    cfg = load_config()
    assert cfg.cache.root == tmp_path / "store" and cfg.cache.text == tmp_path / "store" / "text"
    assert "cache" not in {f.name for f in fields(cfg.neo4j)}  # not a Neo4j setting
    (tmp_path / "mash-kg.toml").write_text('[neo4j]\ncache = "old"\n')  # its former home
    assert load_config().cache.root == tmp_path / "old"
    monkeypatch.setenv("MASH_KG_CACHE", str(tmp_path / "env"))
    assert load_config().cache.root == tmp_path / "env"  # the environment wins
    (tmp_path / "mash-kg.toml").write_text("[cache]\nroot = 3\n")
    with pytest.raises(InputError, match=r"\[cache\].root = 3 must be a non-empty string"):
        load_config()
    (tmp_path / "mash-kg.toml").write_text('[cache]\nrot = "x"\n')
    with pytest.raises(InputError, match=r"unknown key \[cache\].rot"):
        load_config()


def _no_graph_env(monkeypatch) -> None:
    for var in ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "MASH_KG_BOLT_PORT"):
        monkeypatch.delenv(var, raising=False)


@pytest.mark.parametrize(
    "uri", ["bolt://127.0.0.1:7712", "neo4j://localhost:7712", "bolt://[::1]:7712"]
)
def test_a_uri_naming_the_local_server_reads_its_password_file(tmp_path, monkeypatch, uri):
    # issue 24: a second local server on other ports, named by NEO4J_URI, lost its password
    monkeypatch.chdir(tmp_path)
    _no_graph_env(monkeypatch)
    home = tmp_path / "home"
    home.mkdir()
    (home / "password").write_text("generated-by-start\n")
    monkeypatch.setenv("MASH_KG_NEO4J_HOME", str(home))
    monkeypatch.setenv("MASH_KG_BOLT_PORT", "7712")
    monkeypatch.setenv("NEO4J_URI", uri)
    settings = load_config().neo4j
    assert settings.names_local_server and settings.password == "generated-by-start"
    monkeypatch.setenv("NEO4J_PASSWORD", "given-explicitly")  # an explicit one still wins
    assert load_config().neo4j.password == "given-explicitly"


def test_the_port_a_server_was_started_on_counts_as_its_address(tmp_path, monkeypatch):
    # `neo4j start --port 7713` remembers the port only in HOME/conf/neo4j.conf
    monkeypatch.chdir(tmp_path)
    _no_graph_env(monkeypatch)
    home = tmp_path / "home"
    (home / "conf").mkdir(parents=True)
    (home / "password").write_text("generated-by-start\n")
    (home / "conf" / "neo4j.conf").write_text(
        "server.bolt.listen_address=127.0.0.1:7713\nserver.http.listen_address=127.0.0.1:7474\n"
    )
    monkeypatch.setenv("MASH_KG_NEO4J_HOME", str(home))
    monkeypatch.setenv("NEO4J_URI", "bolt://127.0.0.1:7713")
    assert load_config().neo4j.password == "generated-by-start"
    for other in ("bolt://127.0.0.1:7714", "bolt://db.example:7713", "bolt+s://localhost:7713"):
        monkeypatch.setenv("NEO4J_URI", other)  # another server: its password is not ours
        settings = load_config().neo4j
        assert not settings.names_local_server
        with pytest.raises(MashError, match="NEO4J_PASSWORD is not set") as err:
            _ = settings.password
        assert f"reads {home / 'password'} only for the local server" in str(err.value)
