"""Fixtures of the graph layer's tests: a small real build (the two-site example, Stage I) and
a runner that kills a real `mash-kg` process inside its writing transaction. The Neo4j
fixtures (`graph`, `driver`, `cli_env`, ...) are in tests/conftest.py."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mash_kg.build import run_build
from mash_kg.config import load_config
from mash_kg.project import load_project
from tests.edits import replace_once

EXAMPLE = Path(__file__).parents[2] / "examples" / "two_sites"
SECRET = "never-in-a-build-7"  # a password in the project file: must never reach a build


@pytest.fixture(scope="session")
def build(tmp_path_factory) -> Path:
    """The example project built (Stage I, Sinkhorn alignment), with a [neo4j] password."""
    project = tmp_path_factory.mktemp("sync") / "two_sites"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("builds"))
    cfg = project / "mash-kg.toml"
    text = replace_once(
        cfg, ('"fused"', '"sinkhorn"'), ("[hierarchy]", "[hierarchy]\nenabled = false")
    )
    cfg.write_text(text + f'\n[neo4j]\npassword = "{SECRET}"\n')
    return run_build(load_project(load_config(cfg)))


def _blocked(driver, statement: str) -> bool:
    """Is a transaction waiting for a lock while running a query that contains `statement`
    (the command's last statement: so all its batches before it were written)?"""
    records, _, _ = driver.execute_query(
        "SHOW TRANSACTIONS YIELD currentQuery, status "
        "WHERE status STARTS WITH 'Blocked' AND currentQuery CONTAINS $statement "
        "RETURN count(*) AS n",
        statement=statement,
    )
    return records[0]["n"] > 0


def _transactions(driver) -> list[tuple[str, str]]:
    """(status, query) of every transaction the server runs: what a command waited on."""
    records, _, _ = driver.execute_query(
        "SHOW TRANSACTIONS YIELD currentQuery, status RETURN status, currentQuery"
    )
    return [(r["status"], r["currentQuery"][:120]) for r in records]


def _others_running(driver) -> int:
    records, _, _ = driver.execute_query(
        "SHOW TRANSACTIONS YIELD currentQuery "
        "WHERE NOT currentQuery STARTS WITH 'SHOW TRANSACTIONS' RETURN count(*) AS n"
    )
    return records[0]["n"]


@pytest.fixture
def kill_inside_transaction(driver, neo4j_settings) -> Callable[..., int]:
    """`run(args, block, statement)`: start `python -m mash_kg ARGS` against the test server
    and SIGKILL it while its writing transaction is open and has written. The test's own
    transaction first runs `block` (a write on nodes the command's last statement writes,
    never committed), so the command stops inside its transaction, after its batches; once the
    server shows it blocked in a query containing `statement` (or, when `statement` is a
    function of the driver, once it says True), the process is killed, the blocker rolled
    back, and `run` returns the process's exit status after the server has dropped the dead
    transaction."""
    env = {
        **os.environ,
        "NEO4J_URI": neo4j_settings.bolt_uri,
        "NEO4J_USER": neo4j_settings.user,
        "NEO4J_PASSWORD": neo4j_settings.password,
    }

    def run(args: list[str], block: str, statement: str | Callable[[object], bool]) -> int:
        reached = statement if callable(statement) else lambda drv: _blocked(drv, statement)
        with driver.session() as session:
            tx = session.begin_transaction()
            tx.run(block).consume()
            proc = subprocess.Popen(
                [sys.executable, "-m", "mash_kg", *args],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                deadline = time.monotonic() + 300
                while not reached(driver):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        out, err = (
                            proc.communicate(timeout=5) if proc.poll() is not None else ("", "")
                        )
                        seen = _transactions(driver)
                        pytest.fail(f"{args} never blocked in {statement!r}: {err or out}; {seen}")
                    time.sleep(0.05)
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                tx.rollback()
        deadline = time.monotonic() + 60
        while _others_running(driver) and time.monotonic() < deadline:
            time.sleep(0.1)  # the server notices the closed connection and rolls back
        return proc.returncode

    return run
