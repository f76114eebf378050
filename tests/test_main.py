"""`python -m mash_kg` works like `mash-kg` (mash_kg/__main__.py, pyproject's script)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_python_dash_m_and_the_script_entry_point_agree():
    script = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert script == {"mash-kg": "mash_kg.cli:main"}
    res = subprocess.run(
        [sys.executable, "-m", "mash_kg", "--version"], capture_output=True, text=True, cwd=ROOT
    )
    assert res.returncode == 0 and res.stdout.strip() == "mash-kg, version 0.1.0"
    bad = subprocess.run(
        [sys.executable, "-m", "mash_kg", "no-such-command"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "No such command 'no-such-command'" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
