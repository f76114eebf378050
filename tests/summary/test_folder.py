"""The summary folder (`mash_kg.summary.folder`): small-cell suppression at the threshold, atomic
and byte-identical on a rerun, a changed table refused."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from mash_kg.errors import InputError
from mash_kg.summary import summarize
from mash_kg.summary.folder import read_summary
from mash_kg.summary.site import load_site
from tests.summary.helpers import EMBEDDED, edge_case_events, pairs_of, write_tables_site


@pytest.mark.parametrize("engine", EMBEDDED)
def test_suppression_at_the_threshold(tmp_path, engine):
    spec = write_tables_site(tmp_path, edge_case_events())
    _, codes, pairs, figures = pairs_of(spec, engine, k=2)
    # cells of exactly 2 stay, 1 goes; codes in exactly 2 patients stay, E (1) and F (0) go
    got = {(a, b): n for _, a, _, b, n in pairs.itertuples(index=False)}
    assert got == {("A", "B"): 3, ("A", "C"): 2, ("C", "D"): 2}
    assert list(codes["code"]) == ["A", "B", "C", "D"]
    assert figures == {
        "codes_suppressed": 2,
        "cells_suppressed_small": 1,
        "cells_suppressed_with_code": 0,
    }
    _, codes3, pairs3, fig3 = pairs_of(spec, engine, k=3)
    assert list(codes3["code"]) == ["A"] and pairs3.empty
    assert fig3["cells_suppressed_with_code"] == 1  # A-B (3) goes with B (2 patients)


def _digests(folder: Path) -> dict[str, str]:
    return {
        f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.glob("*.parquet"))
    }


def test_summary_folder_is_atomic_and_reruns_byte_identical(tmp_path, monkeypatch):
    spec = write_tables_site(tmp_path / "in", edge_case_events())
    out = tmp_path / "summary"
    m1 = summarize(spec, out, min_cell_count=2, engine="duckdb")
    first = _digests(out)
    assert set(first) == {"codes.parquet", "cooccurrence.parquet"}
    with pytest.raises(InputError, match="already exists"):
        summarize(spec, out, engine="duckdb")
    m2 = summarize(spec, out, min_cell_count=2, engine="in_memory", force=True)
    assert _digests(out) == first  # another engine, same bytes
    assert m1["tables"] == m2["tables"] and m2["engine"] == "in_memory"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["min_cell_count"] == 2 and manifest["codes_suppressed"] == 2
    assert "patient_id" not in json.dumps(manifest) and manifest["date_min"] == "1969-12-20"

    import mash_kg.summary.folder as folder

    def fail(df, path):
        raise OSError("disk full")

    monkeypatch.setattr(folder, "_write_parquet", fail)
    with pytest.raises(OSError):
        summarize(spec, out, min_cell_count=5, engine="duckdb", force=True)
    assert _digests(out) == first  # the old summary stands, no temporary folder is left
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_changed_summary_table_is_refused(tmp_path):
    spec = write_tables_site(tmp_path / "in", edge_case_events())
    summarize(spec, tmp_path / "s", engine="duckdb")
    assert len(load_site("S", tmp_path / "s").counts) == 4
    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "s" / "codes.parquet")
    with pytest.raises(InputError, match="does not match the sha256"):
        read_summary(tmp_path / "s")
