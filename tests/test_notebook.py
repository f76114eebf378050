"""examples/notebooks/demo.ipynb runs end to end against the test Neo4j: the demo's graph
(ICD-10-CM, ICD-9-CM with the GEMs, PheCode, the example build synced) and its questions, asked
through the Python API in a real Jupyter kernel (nbclient). The notebook finds the server and
the build through the environment, as a user's would."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parent.parent / "examples" / "notebooks" / "demo.ipynb"


def test_the_notebook_is_valid_and_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.neo4j
def test_the_demo_notebook_answers_every_question(hier_synced, driver, monkeypatch):
    from mash_kg.graph.writer import write_tables
    from mash_kg.loaders import get_loader

    cfg, folder = hier_synced
    for source in ("icd9cm", "phecode"):  # the rest of what `mash-kg demo` loads
        write_tables(driver, get_loader(source)())
    monkeypatch.setenv("MASH_KG_PROJECT", str(cfg.parent))  # its [neo4j] names the test server
    monkeypatch.setenv("MASH_KG_BUILD", str(folder))
    for var in ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    # the kernel inherits this environment; a cell that raises fails the test (its traceback)
    client.execute()
    last = "".join(out.get("text", "") for out in nb.cells[-1].outputs)
    answers = json.loads(last.strip().splitlines()[-1])
    assert answers["views"] >= 12
    assert answers["ancestors"] >= 3  # E11.9 -> E11 -> E08-E13 -> chapter 4
    assert answers["phecode_of"] >= 1  # PheCode 250.2
    assert answers["codes_per_chapter"] >= 20
    assert answers["type2_diabetes_at_A"] >= 1
    assert answers["learned_edges"] >= 1
    assert 0.0 <= answers["hit@1"] <= 1.0
    # the phenotype rows came back with their reasons
    expand = next(c for c in nb.cells if 'expand_phenotype("type2_diabetes"' in c.source)
    shown = "".join(o.get("data", {}).get("text/plain", "") for o in expand.outputs)
    assert "rule" in shown and "confidence" in shown
