"""The bundled local Neo4j: real server, version, restart keeps the graph, Java checks."""

from __future__ import annotations

import os
import stat

import pytest

from mash_kg.errors import MashError
from mash_kg.neo4j_server import server


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
