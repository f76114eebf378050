"""What the CLI prints (mash_kg/cli/render.py): cells verbatim, rows as CSV / JSON."""

from __future__ import annotations

import json

from mash_kg.cli.render import console, format_rows, print_rows


def test_table_cells_are_printed_verbatim():
    with console.capture() as captured:
        print_rows([{"name": "hemoglobin [mass fraction] in blood"}])
    assert "[mass fraction]" in captured.get()


def test_rows_as_csv_and_json():
    rows = [{"id": "ICD10CM:E11.9", "depth": 3}, {"id": "ICD10CM:E11", "depth": None}]
    assert format_rows(rows, "csv").splitlines() == ["id,depth", "ICD10CM:E11.9,3", "ICD10CM:E11,"]
    assert json.loads(format_rows(rows, "json")) == rows
    assert format_rows([], "csv") == ""
