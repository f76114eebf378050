"""The import graph: reading the config stays light, only the graph layer talks to Neo4j, and
every module imports on its own (no cycle that only a lucky import order hides)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mash_kg"
LOADERS = ROOT / "loaders"  # installed as mash_kg.loaders
HEAVY = ("torch", "geoopt", "torch_geometric")
DRIVER_HOMES = ("mash_kg/graph/", "mash_kg/neo4j_server/")


def _modules_after(statement: str) -> set[str]:
    """Top-level names in sys.modules after running `statement` in a fresh interpreter."""
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    return {name.split(".")[0] for name in out.split()}


@pytest.mark.parametrize(
    "statement",
    [
        "import mash_kg.project",
        "import mash_kg.settings",
        "import mash_kg.config",
        "from mash_kg.config import load_config; from mash_kg.project import load_project",
    ],
)
def test_reading_the_config_imports_no_torch(statement):
    loaded = _modules_after(statement)
    assert "mash_kg" in loaded  # the statement ran
    assert not loaded & set(HEAVY), f"{statement} imports {sorted(loaded & set(HEAVY))}"


def test_the_check_sees_torch_when_it_is_imported():
    """The probe above would catch an import of torch (so its silence means something)."""
    assert "torch" in _modules_after("import mash_kg.hierarchy.hyperbolic")


def _imported_modules(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _source_files() -> list[Path]:
    files = sorted(PACKAGE.rglob("*.py")) + sorted(LOADERS.rglob("*.py"))
    return [f for f in files if "__pycache__" not in f.parts]


def driver_importers(files: list[Path]) -> list[str]:
    """Files (relative to the repository) that import the `neo4j` driver, top level or not."""
    found = []
    for path in files:
        names = _imported_modules(ast.parse(path.read_text(encoding="utf-8")))
        if any(n == "neo4j" or n.startswith("neo4j.") for n in names):
            found.append(path.relative_to(ROOT).as_posix())
    return found


def test_only_the_graph_layer_imports_the_neo4j_driver():
    importers = driver_importers(_source_files())
    assert importers, "the walk found no importer at all: is it reading the tree?"
    outside = [f for f in importers if not f.startswith(DRIVER_HOMES)]
    assert not outside, f"import the driver only in mash_kg/graph: {outside}"


def test_the_driver_walk_sees_a_nested_import():
    tree = ast.parse("def f():\n    from neo4j.exceptions import Neo4jError\n")
    assert _imported_modules(tree) == {"neo4j.exceptions"}


def _module_names() -> dict[str, Path]:
    """Dotted module name -> file, for mash_kg and the loaders it installs."""
    names = {}
    for base, prefix in ((PACKAGE, ("mash_kg",)), (LOADERS, ("mash_kg", "loaders"))):
        for path in sorted(base.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = prefix + path.relative_to(base).with_suffix("").parts
            names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def import_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One chain of modules that import each other in a circle, or [] when there is none."""
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        return list(exc.args[1])
    return []


def _top_level_imports(path: Path, known: dict[str, Path]) -> set[str]:
    """mash_kg modules a file imports when it is imported (module level, not in functions)."""
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name in known}


def test_no_import_cycle_at_module_level():
    known = _module_names()
    assert "mash_kg.project" in known and "mash_kg.loaders" in known
    # a package importing its own submodules (`from pkg import sub` in pkg/__init__) is no cycle
    graph = {name: _top_level_imports(path, known) - {name} for name, path in known.items()}
    assert import_cycle(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert set(import_cycle(graph)) == {"a", "b", "c"}


def test_the_library_does_not_import_the_cli():
    """The CLI calls the library, never the other way round (demo included), in any function."""
    offenders = []
    for path in _source_files():
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(("mash_kg/cli", "mash_kg/__main__", "mash_kg/summary/cli")):
            continue
        names = _imported_modules(ast.parse(path.read_text(encoding="utf-8")))
        if any(n == "mash_kg.cli" or n.startswith("mash_kg.cli.") for n in names):
            offenders.append(rel)
    assert not offenders, f"library modules importing the CLI: {offenders}"


CYPHER = re.compile(r"\b(MATCH|MERGE|UNWIND|OPTIONAL MATCH)\s*\(|\bRETURN\b.*\bAS\b")


def cypher_files(files: list[Path]) -> list[str]:
    """Files with a string constant that reads as Cypher (MATCH (, MERGE (, RETURN x AS y)."""
    found = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        texts = (n.value for n in ast.walk(tree) if isinstance(n, ast.Constant))
        if any(isinstance(t, str) and CYPHER.search(t) for t in texts):
            found.append(path.relative_to(ROOT).as_posix())
    return found


def test_no_cypher_outside_the_graph_layer():
    found = cypher_files(_source_files())
    assert "mash_kg/graph/phenotypes.py" in found  # the probe sees Cypher where it is
    outside = [f for f in found if not f.startswith(DRIVER_HOMES)]
    assert not outside, f"Cypher belongs in mash_kg/graph: {outside}"
