"""The local server's password and folders (neo4j_server/credentials.py): generated once,
owner-only, never echoed; no default password for another server."""

from __future__ import annotations

import os
import stat

import pytest

from mash_kg.errors import MashError
from mash_kg.neo4j_server import credentials
from tests.neo4j_server import settings_in


def test_generated_password_is_owner_only_and_never_echoed(tmp_path):
    home = tmp_path / "home"
    settings = settings_in(home)
    with pytest.raises(
        MashError, match=r"no password for the local Neo4j .* `mash-kg neo4j start`"
    ):
        _ = settings.password  # nothing generated yet, and no default to fall back on
    credentials.secure_home(home)
    lines: list[str] = []
    password = credentials.local_password(settings, lines.append)
    assert len(password) >= 24
    assert credentials.local_password(settings, lines.append) == password  # generated once
    assert settings.password == password  # what the CLI and the tests read
    assert stat.S_IMODE((home / "password").stat().st_mode) == 0o600
    for folder in (home, *(home / sub for sub in credentials.SUBDIRS)):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert len(lines) == 1 and str(home / "password") in lines[0]
    assert password not in lines[0] and password not in repr(settings)
    assert settings_in(home, password="explicit-pw").password == "explicit-pw"


def test_secure_home_tightens_an_older_world_readable_home(tmp_path):
    home = tmp_path / "home"
    for sub in credentials.SUBDIRS:
        (home / sub).mkdir(parents=True, mode=0o755)
    (home / "password").write_text("x" * 12)
    os.chmod(home, 0o755)
    os.chmod(home / "password", 0o644)
    credentials.secure_home(home)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "data").stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "password").stat().st_mode) == 0o600


def test_no_default_password_for_another_server(tmp_path):
    settings = settings_in(tmp_path)
    settings.uri = "neo4j://db.example.org:7687"
    (tmp_path / "password").write_text("local-only-password\n")  # never sent elsewhere
    with pytest.raises(MashError, match="NEO4J_PASSWORD is not set for the Neo4j at neo4j://db"):
        _ = settings.password
