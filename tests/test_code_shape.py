"""The shape the code keeps (issue 12): formatted and linted by ruff, and no function in the
library longer than a screen."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREE = ["mash_kg", "loaders", "bench", "tests", "scripts"]
MAX_LINES = 100


def _functions(folder: Path):
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield path.relative_to(ROOT), node


def test_no_library_function_is_longer_than_a_screen():
    found = list(_functions(ROOT / "mash_kg")) + list(_functions(ROOT / "loaders"))
    long = [
        f"{path}:{fn.lineno} {fn.name} ({fn.end_lineno - fn.lineno + 1} lines)"
        for path, fn in found
        if fn.end_lineno - fn.lineno + 1 > MAX_LINES
    ]
    assert len(found) > 300 and long == []


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, *TREE],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_the_tree_is_formatted_without_opt_outs():
    result = _ruff("format", "--check")
    assert result.returncode == 0, result.stdout + result.stderr
    skips = [
        f"{p.relative_to(ROOT)}:{n}"
        for folder in TREE
        for p in (ROOT / folder).rglob("*.py")
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if "fmt: " + "skip" in line or "fmt: " + "off" in line
    ]
    assert skips == []


def test_the_tree_passes_ruff_check():
    result = _ruff("check")
    assert result.returncode == 0, result.stdout + result.stderr
