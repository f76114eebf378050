"""The bundled local Neo4j (neo4j_server/server.py): real server, version, restart keeps the
graph, Java checks, ports, concurrent starts."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import psutil
import pytest

from mash_kg.errors import MashError
from mash_kg.neo4j_server import credentials, process, server
from mash_kg.neo4j_server.scratch import free_port
from tests.neo4j_server import pid_file, settings_in


@pytest.mark.neo4j
def test_status_reports_version_pid_address(neo4j_settings):
    if os.environ.get("MASH_KG_TEST_NEO4J_URI"):
        pytest.skip("an external server was named; the bundled one is not running")
    st = server.status(neo4j_settings)
    assert st.running and st.pid
    assert st.version == f"{server.NEO4J_VERSION} community"
    assert st.address == f"bolt://127.0.0.1:{neo4j_settings.bolt_port}"


@pytest.mark.neo4j
def test_restart_finds_the_same_graph(neo4j_settings, graph):
    if os.environ.get("MASH_KG_TEST_NEO4J_URI"):
        pytest.skip("an external server was named; the bundled one is not running")
    graph.execute_query("CREATE (:Code {id: 'T:1', name: 'kept across restarts'})")
    assert server.stop(neo4j_settings)
    assert not server.status(neo4j_settings).running
    server.start(neo4j_settings)  # the session's driver reconnects on its own
    rows = graph.execute_query("MATCH (n:Code {id: 'T:1'}) RETURN n.name AS name")[0]
    assert rows[0]["name"] == "kept across restarts"
    # start on a running server is harmless
    assert server.start(neo4j_settings).running


def _fake_java(tmp_path, version_line: str):
    bin_dir = tmp_path / "jdk" / "bin"
    bin_dir.mkdir(parents=True)
    java = bin_dir / "java"
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    return tmp_path / "jdk"


def test_too_old_java_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(_fake_java(tmp_path, 'openjdk version "11.0.22" 2024')))
    with pytest.raises(MashError, match=r"Java 11 .* too old: Neo4j 5.26 needs Java 17 or 21"):
        server.check_java()


def test_java_8_style_version(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(_fake_java(tmp_path, 'java version "1.8.0_402"')))
    with pytest.raises(MashError, match="Java 8"):
        server.check_java()


def test_missing_java_is_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MashError, match="Java not found"):
        server.check_java()


def test_supported_java_passes(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(_fake_java(tmp_path, 'openjdk version "17.0.15" 2025')))
    assert server.check_java().endswith("bin/java")


def test_port_in_use_is_one_clear_line(tmp_path):
    import socket

    from mash_kg.config import Neo4jSettings

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        settings = Neo4jSettings(home=tmp_path, bolt_port=port, http_port=0)
        with pytest.raises(MashError, match=f"Bolt port {port} on 127.0.0.1 is already in use"):
            server.start(settings)


def test_stale_pid_file_is_reported_and_cleaned_by_the_cli(tmp_path):
    from click.testing import CliRunner

    from mash_kg.cli import cli

    gone = subprocess.Popen(["true"])
    gone.wait()
    pid_file(tmp_path).write_text(f"{gone.pid}\n")
    result = CliRunner().invoke(cli, ["neo4j", "--home", str(tmp_path), "stop"])
    assert result.exit_code == 0, result.output
    assert f"process {gone.pid} is gone" in result.output
    assert "no process was signalled" in result.output
    assert "Neo4j was not running." in result.output
    assert not pid_file(tmp_path).exists()
    pid_file(tmp_path).write_text("not a pid\n")
    result = CliRunner().invoke(cli, ["neo4j", "--home", str(tmp_path), "status"])
    assert result.exit_code == 3 and "it does not hold a pid" in result.output
    assert not pid_file(tmp_path).exists()


def test_too_short_password_is_refused_before_launching(tmp_path):
    settings = settings_in(tmp_path, password="short")
    with pytest.raises(MashError, match="at least 8 characters"):
        server.start(settings)
    assert not pid_file(tmp_path).exists()


def _cli(*args, env, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "mash_kg", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _servers_of(home):
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if process._names_home(proc.info["cmdline"] or [], home):
            found.append(proc)
    return found


@pytest.mark.neo4j
def test_concurrent_starts_leave_one_secured_server_of_its_own(tmp_path):
    """Two `mash-kg neo4j start` at once, with NEO4J_URI naming another server and no
    NEO4J_PASSWORD: one server, on its own port with a generated password that is never
    printed, owner-only folders, tracked by status and stopped by stop."""
    from neo4j import GraphDatabase
    from neo4j.exceptions import AuthError

    home = tmp_path / "home"
    bolt = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "MASH_KG_"))}
    env.update(
        NEO4J_URI=f"bolt://127.0.0.1:{free_port()}",
        MASH_KG_NEO4J_HOME=str(home),
        MASH_KG_BOLT_PORT=str(bolt),
        MASH_KG_HTTP_PORT=str(free_port()),
        COLUMNS="200",
    )
    try:
        starts = [
            subprocess.Popen(
                [sys.executable, "-m", "mash_kg", "neo4j", "start"],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=600) for p in starts]
        for p, (out, err) in zip(starts, outputs, strict=True):
            assert p.returncode == 0, out + err
        password = (home / "password").read_text().strip()
        every = "".join(out + err for out, err in outputs)
        assert password not in every
        assert every.count("Generated a password for the local Neo4j") == 1
        assert "Another `mash-kg neo4j start` or `stop` is running" in every
        servers = _servers_of(home)
        assert len(servers) == 1, "two starts at once launched more than one server"
        record = json.loads((home / "run" / "mash-kg-neo4j.pid").read_text())
        assert record["pid"] == servers[0].pid
        # the launched server answers on its own port to its own password, not neo4j/neo4j
        uri = f"bolt://127.0.0.1:{bolt}"
        with GraphDatabase.driver(uri, auth=("neo4j", password)) as drv:
            drv.verify_connectivity()
        with pytest.raises(AuthError), GraphDatabase.driver(uri, auth=("neo4j", "neo4j")) as drv:
            drv.verify_connectivity()
        # owner-only folders and password; files Neo4j wrote inherit the owner-only umask
        assert stat.S_IMODE((home / "password").stat().st_mode) == 0o600
        for folder in (home, *(home / sub for sub in credentials.SUBDIRS)):
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        assert stat.S_IMODE((home / "logs" / "neo4j.log").stat().st_mode) & 0o077 == 0
        for path in [*(home / "logs").rglob("*"), *(home / "conf").rglob("*")]:
            if path.is_file():
                assert password.encode() not in path.read_bytes(), path
        st = _cli("neo4j", "status", env=env)
        assert st.returncode == 0 and f"pid {servers[0].pid}, bolt {uri}" in st.stdout, st.stdout
        # a store left with the former documented default (older mash-kg) moves to a new one
        with GraphDatabase.driver(uri, auth=("neo4j", password)) as drv:
            drv.execute_query(
                "ALTER CURRENT USER SET PASSWORD FROM $o TO $n",
                o=password,
                n=credentials.LEGACY_PASSWORD,
                database_="system",
            )
        (home / "password").unlink()
        again = _cli("neo4j", "start", env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "former documented default password: replaced it" in again.stdout
        new = (home / "password").read_text().strip()
        assert new != password and new not in again.stdout + again.stderr
        with (
            pytest.raises(AuthError),
            GraphDatabase.driver(uri, auth=("neo4j", credentials.LEGACY_PASSWORD)) as drv,
        ):
            drv.verify_connectivity()
        assert [p.pid for p in _servers_of(home)] == [servers[0].pid]
        stop = _cli("neo4j", "stop", env=env)
        assert stop.returncode == 0 and "Neo4j stopped." in stop.stdout, stop.stdout + stop.stderr
        assert not _servers_of(home) and not (home / "run" / "mash-kg-neo4j.pid").exists()
    finally:
        for proc in _servers_of(home):
            proc.kill()
