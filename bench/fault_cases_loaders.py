"""Loader cases of the fault matrix (issue 25 point 6, integrity gaps of `mash-kg load` and
`phenotype import`): each a command that failed before the fix, run like bench/fault_cases.py's
CASES (one ``error:`` line on stderr, a non-zero exit, the graph unchanged) on the graph those
cases run on (vocabulary LAB loaded by `load edges` from tests/fixtures/edges_v1.csv), with
files from `make_loader_files`.

`SEQUENCES` holds the case that needs graph content made by earlier loads: its setup commands
must succeed (exit 0), then its last command must fail like a case; the graph after it equals
the graph after the setup. Runners: tests/loaders/test_fault_cases.py (both lists).
"""

from __future__ import annotations

from pathlib import Path

OBO = "format-version: 1.2\n\n"


def _write(path: Path, text: str | bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def _term(tid: str, name: str, parents: tuple[str, ...] = ()) -> str:
    return f"[Term]\nid: {tid}\nname: {name}\n" + "".join(f"is_a: {p}\n" for p in parents) + "\n"


def make_loader_files(folder: Path) -> dict[str, str]:
    """Write every file the cases below name under `folder`; {placeholder: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    f: dict[str, str] = {}
    # LAB's codes as edges_v1.csv names them, as a flat release (no is_a line): a reload that
    # keeps every code and drops every edge
    lab = [
        ("LAB:LAB1", "Glucose (local)"),
        ("LAB:LAB2", "Potassium (local)"),
        ("LAB:LAB3", "Sodium (local)"),
        ("LAB:PANEL", "Chemistry panel"),
        ("LAB:ROOT", "All labs"),
    ]
    f["obo_lab_flat"] = _write(folder / "lab_flat.obo", OBO + "".join(_term(*t) for t in lab))
    # a U+2028 (line separator) inside a name: before the fix the text after it became an
    # is_a line of the term
    f["obo_line_separator"] = _write(
        folder / "line_separator.obo",
        OBO + _term("LSP:1", "Root") + _term("LSP:2", "Leaf\u2028is_a: LSP:1"),
    )
    f["pheno_conflict"] = _write(
        folder / "pheno_conflict.csv",
        "phenotype,code,include_descendants,exclude\n"
        "labs,LAB:PANEL,true,false\n"
        "labs,LAB:LAB1,false,false\n"
        "labs,LAB:PANEL,true,true\n",
    )
    # three vocabularies, each loaded on its own: CYA:1 <- CYB:1 <- CYC:1, then a release of
    # CYA whose CYA:1 is_a CYC:1 closes CYA:1 -> CYC:1 -> CYB:1 -> CYA:1
    f["obo_cya"] = _write(folder / "cya.obo", OBO + _term("CYA:1", "A"))
    f["obo_cyb"] = _write(folder / "cyb.obo", OBO + _term("CYB:1", "B", ("CYA:1",)))
    f["obo_cyc"] = _write(folder / "cyc.obo", OBO + _term("CYC:1", "C", ("CYB:1",)))
    f["obo_cya_cycle"] = _write(folder / "cya2.obo", OBO + _term("CYA:1", "A", ("CYC:1",)))
    return f


CASES: list[tuple[str, list[str]]] = [
    # the retire guard counted codes only: every code kept, all 4 IS_A edges gone, exit 0
    (
        "load_release_without_edges",
        ["load", "obo", "--file", "{obo_lab_flat}", "--vocab", "LAB", "--allow-takeover"],
    ),
    ("load_obo_line_separator_in_name", ["load", "obo", "--file", "{obo_line_separator}"]),
    ("phenotype_code_twice_conflicting_flags", ["phenotype", "import", "{pheno_conflict}"]),
]

SEQUENCES: list[tuple[str, list[list[str]], list[str]]] = [
    (
        "load_cycle_across_loads",
        [
            ["load", "obo", "--file", "{obo_cya}"],
            ["load", "obo", "--file", "{obo_cyb}"],
            ["load", "obo", "--file", "{obo_cyc}"],
        ],
        ["load", "obo", "--file", "{obo_cya_cycle}"],
    ),
]
