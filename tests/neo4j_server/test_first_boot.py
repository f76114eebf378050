"""A first boot no one else can take over, in any home folder (neo4j_server/server.py): the
password is set before Neo4j first starts, a start interrupted by a signal leaves no server,
and neo4j.conf carries only ASCII (Neo4j reads it as Latin-1)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from mash_kg.errors import MashError
from mash_kg.neo4j_server import server
from mash_kg.neo4j_server.scratch import free_port, scratch_server
from tests.neo4j_server import settings_in

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
from fault_cases_safety import initial_password_works, interrupted_first_boot  # noqa: E402

HOME_NAME = 'José\'s hö me "x"'  # a space, both quotes and non-ASCII letters


def _dist(tmp_path: Path) -> Path:
    dist = tmp_path / "dïst ü" / "neo4j"
    (dist / "plugins").mkdir(parents=True)
    return dist


def test_conf_is_ascii_and_names_folders_relative_to_home(tmp_path):
    settings = settings_in(tmp_path / HOME_NAME)
    dist = _dist(tmp_path)
    conf = server.write_conf(settings, dist)
    text = conf.read_bytes().decode("ascii")  # raises if anything non-ASCII slipped in
    values = dict(ln.split("=", 1) for ln in text.splitlines() if not ln.startswith("#"))
    for key in ("data", "logs", "run", "import", "plugins"):
        assert values[f"server.directories.{key}"] == key
    assert (settings.home / "plugins").resolve() == (dist / "plugins").resolve()
    server.write_conf(settings, dist)  # a second start re-points the link
    assert (settings.home / "plugins").is_symlink()


def test_conf_refuses_a_value_that_would_add_a_setting(tmp_path):
    settings = settings_in(tmp_path / "home", heap="1g\ndbms.security.auth_enabled=false")
    with pytest.raises(MashError, match="only printable ASCII"):
        server.write_conf(settings, _dist(tmp_path))


def test_argfile_quoting_keeps_any_password():
    assert server._argfile_quote('a"b\\c d\ne') == '"a\\"b\\\\c d\\ne"'


@pytest.mark.neo4j
def test_non_ascii_home_keeps_everything_inside_and_never_takes_the_initial_password(tmp_path):
    """Data, logs and run land inside a home named with a space, quotes and `ü`; the store
    takes only its own password, never neo4j/neo4j, from its first connection on."""
    from neo4j import GraphDatabase

    home = tmp_path / HOME_NAME / "neo4j"
    with scratch_server(home, heap="512m", pagecache="64m", http=False) as settings:
        assert not initial_password_works(settings.bolt_port)
        with GraphDatabase.driver(settings.bolt_uri, auth=("neo4j", settings.password)) as drv:
            records, _, _ = drv.execute_query("RETURN apoc.text.join(['a', 'b'], '-') AS j")
            assert records[0]["j"] == "a-b"  # APOC found through HOME/plugins
        assert (home / "data" / "databases" / "neo4j").is_dir()
        assert (home / "logs" / "neo4j.log").is_file()
        assert (home / "run" / "mash-kg-neo4j.pid").is_file()
        assert not (home / "data" / "dbms" / "auth.ini").exists()  # removed once secured
    strays = [p for p in tmp_path.rglob("*") if p.name in ("databases", "neo4j.log")]
    assert all(home in p.parents for p in strays), strays


@pytest.mark.neo4j
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_during_first_boot_leaves_no_server(tmp_path, signum):
    """SIGTERM or SIGHUP (the terminal closed) 2 s after the JVM appears: before the fix the
    JVM kept running with neo4j/neo4j for anyone to claim; now the start stops it and says so
    in one line."""
    home = tmp_path / HOME_NAME / "neo4j"
    r = interrupted_first_boot(home, signum, 2.0, free_port())
    assert r["jvm_seen"] and not r["finished_before_signal"], r
    assert r["left_running"] == 0, r
    assert not r["initial_password_works"], r
    assert r["exit"] != 0 and len(r["stderr"].splitlines()) == 1, r
    assert r["stderr"].startswith("error:") and "interrupted by" in r["stderr"], r


def test_a_password_that_starts_with_a_dash_is_set(tmp_path):
    """Generated passwords (token_urlsafe) start with "-" one time in 32: neo4j-admin took it
    for an option ("Missing required parameter: '<password>'", seen in a benchmark's start)."""
    settings = settings_in(tmp_path / "home")
    server.secure_home(settings.home)
    dist = server.ensure_server_jars(None, echo=lambda m: None)
    conf = server.write_conf(settings, dist)
    server.set_initial_password(settings, "-starts-with-a-dash", server.check_java(), dist, conf)
    auth = (settings.home / "data" / "dbms" / "auth.ini").read_text()
    assert auth.startswith("neo4j:") and "-starts-with-a-dash" not in auth
