"""Shared helpers of the benchmarks: the results file shape of BENCH.md, a throwaway Neo4j."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from mash_kg.neo4j_server.scratch import scratch_server

RESULTS = Path(__file__).parent / "results"


def machine() -> str:
    cores = os.cpu_count()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    gpu = "no GPU"
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return f"{cores} cores, {mem:.0f} GiB, {gpu} ({platform.processor() or platform.machine()})"


def write_results(name: str, tasks: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{name}.json"
    doc = {
        "command": "python " + " ".join([f"bench/{Path(sys.argv[0]).name}", *sys.argv[1:]]),
        "date": date.today().isoformat(),
        "machine": machine(),
        "tasks": tasks,
    }
    out.write_text(json.dumps(doc, indent=2) + "\n")
    return out


@contextlib.contextmanager
def scratch_neo4j(heap: str = "2g", pagecache: str = "512m"):
    """A fresh bundled Neo4j in a temporary folder, stopped afterwards: benchmarks wipe it."""
    with tempfile.TemporaryDirectory(prefix="mash-kg-bench-") as home:
        with scratch_server(Path(home), heap=heap, pagecache=pagecache, http=False) as settings:
            yield settings


def before(rev: str, script: str, task: str, method: str, *args: str) -> dict:
    """Run benchmark `script` (its own version, with `args`) on the code of git revision `rev`,
    in a temporary worktree with that tree's mash_kg first on the path, on this machine now: the
    figures of the code before a change, measured in the same run as the code after it.
    Returns that run's figures of `task` by `method`, with `run` (its command, date and `rev`)
    added; the worktree is removed."""
    root = Path(__file__).parent.parent
    with tempfile.TemporaryDirectory(prefix="mash-kg-before-") as tmp:
        tree = Path(tmp) / "tree"
        git = ["git", "-C", str(root), "worktree"]
        subprocess.run([*git, "add", "--detach", "-q", str(tree), rev], check=True)
        try:
            _map_packages(tree)
            env = dict(os.environ, PYTHONPATH=str(tree))
            results = tree / "bench" / "results" / f"{Path(script).stem}.json"
            results.unlink(missing_ok=True)  # the figures read are this run's, or none
            cmd = [sys.executable, f"bench/{script}", *args]
            subprocess.run(cmd, cwd=tree, env=env, check=True)
            doc = json.loads(results.read_text())
        finally:
            subprocess.run([*git, "remove", "--force", str(tree)], check=False)
    run = {"command": f"{doc['command']} (at git {rev})", "date": doc["date"], "rev": rev}
    return {**doc["tasks"][task]["methods"][method], "run": run}


def _map_packages(tree: Path) -> None:
    """Make `tree`'s subpackages that pyproject maps to other folders (mash_kg.loaders =
    loaders) importable from the tree itself: links in its package folders. Without them the
    editable install of the current checkout serves those subpackages."""
    import tomllib

    project = tomllib.loads((tree / "pyproject.toml").read_text())
    mapping = project.get("tool", {}).get("setuptools", {}).get("package-dir", {})
    for package, folder in mapping.items():
        link = tree.joinpath(*package.split("."))
        if "." in package and not link.exists():
            link.symlink_to(tree / folder, target_is_directory=True)
