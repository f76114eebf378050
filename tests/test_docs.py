"""The user guide (docs/, mkdocs.yml) builds in strict mode, so a broken link, a missing
anchor or an API reference that no longer resolves fails CI; the README stays a doorway."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_the_guide_builds_in_strict_mode_with_the_api_reference(tmp_path):
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    res = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml")]
        + ["-d", str(site)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    reference = (site / "analyst" / "api-reference" / "index.html").read_text()
    for name in ("open_graph", "Graph", "view_rows", "expand_phenotype_rows", "eval_figures"):
        assert f'id="mash_kg.api.{name}"' in reference, name
    # every page under docs/ is in the site, whoever wrote it (no nav list to forget)
    for page in DOCS.rglob("*.md"):
        rel = page.relative_to(DOCS).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "index" else rel.parts
        assert (site.joinpath(*parts) / "index.html").is_file(), page


def test_the_readme_is_a_doorway_with_the_two_commands_and_working_links():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) < 200
    assert "bash scripts/bootstrap.sh && .venv/bin/mash-kg demo" in text
    assert 'bash scripts/bootstrap.sh && .venv/bin/python -m pytest -m "not slow"' in text
    targets = [t for t in LINK.findall(text) if not t.startswith(("http://", "https://"))]
    assert any(t.startswith("docs/") for t in targets)
    for target in targets:
        assert (ROOT / target.split("#")[0]).exists(), f"README links to missing {target}"


def test_every_benchmark_result_is_reported_in_the_guide():
    cited = " ".join(p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md"))
    for result in sorted((ROOT / "bench" / "results").glob("*.json")):
        assert f"bench/results/{result.name}" in cited, f"{result.name} is reported nowhere"
