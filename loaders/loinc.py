"""LOINC from the user's release: LoincTableCore.csv (terms) and MultiAxialHierarchy.csv
(the multi-axial hierarchy of LOINC parts, LP codes, with terms at its leaves).

Expected: a LOINC release as Regenstrief ships it (Loinc_2.xx.zip from loinc.org, free with an
account; not in any registry), unpacked; `--file` names its folder (the two files are found
below it: LoincTableCore/LoincTableCore.csv and
AccessoryFiles/MultiAxialHierarchy/MultiAxialHierarchy.csv) or the two files. The release
recorded is --version, else the name of the first folder above the files that starts with
"Loinc" (Loinc_2.78), else the folder holding LoincTableCore.csv.

Nodes: `LOINC:2345-7` for each term (named by LONG_COMMON_NAME, SHORTNAME as a synonym,
domain lab for CLASSTYPE 1, else other) and `LOINC:LP...` for hierarchy parts. IS_A edges go
from each CODE to its IMMEDIATE_PARENT; a term can sit under several parts.
"""

from __future__ import annotations

from pathlib import Path

from mash_kg.errors import InputError
from mash_kg.loaders._common import read_rows, vocab_table
from mash_kg.tables import OntologyTables, dedupe_edges, make_edges, make_nodes

VOCAB = "LOINC"
CLASSTYPES = {"1": "lab", "2": "other", "3": "other", "4": "other"}


def _find(files: list[Path], name: str) -> Path:
    for f in map(Path, files):
        if f.is_file() and f.name.lower() == name.lower():
            return f
        if f.is_dir():
            found = sorted(p for p in f.rglob("*") if p.name.lower() == name.lower())
            if found:
                return found[0]
    raise InputError(name, "file not found", hint="--file LOINC_RELEASE_FOLDER (or the file)")


def _release_name(core: Path) -> str:
    """The release folder's name (Loinc_2.78) above LoincTableCore.csv, else its folder."""
    for parent in core.resolve().parents:
        if parent.name.lower().startswith("loinc") and parent.name.lower() != "loinctablecore":
            return parent.name
    return core.parent.name


def load(
    files: list[Path] | None = None, version: str | None = None, **_: object
) -> OntologyTables:
    if not files:
        raise InputError(
            "loinc",
            "LOINC needs the user's release",
            hint="--file FOLDER holding LoincTableCore.csv and MultiAxialHierarchy.csv",
        )
    core, mah = _find(files, "LoincTableCore.csv"), _find(files, "MultiAxialHierarchy.csv")
    nodes: dict[str, dict] = {}
    for n, row in read_rows(
        core,
        ["LOINC_NUM", "COMPONENT", "LONG_COMMON_NAME", "CLASSTYPE"],
        verbatim=("LONG_COMMON_NAME", "SHORTNAME"),
    ):
        num = row["LOINC_NUM"]
        if "-" not in num or not num.replace("-", "").isdigit():
            raise InputError(
                core, f"LOINC_NUM {num!r} is not a LOINC code (digits-check digit)", row=n
            )
        if row["CLASSTYPE"] not in CLASSTYPES:
            raise InputError(core, f"CLASSTYPE {row['CLASSTYPE']!r} is not 1-4", row=n)
        nodes[num] = {
            "id": f"{VOCAB}:{num}",
            "vocab": VOCAB,
            "code": num,
            "name": row["LONG_COMMON_NAME"],
            "domain": CLASSTYPES[row["CLASSTYPE"]],
            "kind": "term",
            "synonyms": [s for s in {row.get("SHORTNAME", "")} if s],
            "component": row["COMPONENT"],
            "system": row.get("SYSTEM") or None,
            "property": row.get("PROPERTY") or None,
            "scale": row.get("SCALE_TYP") or None,
            "loinc_class": row.get("CLASS") or None,
            "loinc_status": row.get("STATUS") or None,
        }
    edges = []
    for n, row in read_rows(mah, ["CODE", "CODE_TEXT"], verbatim=("CODE_TEXT",)):
        code, parent = row["CODE"], row.get("IMMEDIATE_PARENT", "")
        if code not in nodes:
            if not code.startswith("LP"):
                raise InputError(
                    mah, f"{code} is neither an LP part nor a term of {core.name}", row=n
                )
            nodes[code] = {
                "id": f"{VOCAB}:{code}",
                "vocab": VOCAB,
                "code": code,
                "name": row["CODE_TEXT"],
                "domain": "lab",
                "kind": "part",
            }
        if parent:
            edges.append(
                {
                    "start": f"{VOCAB}:{code}",
                    "end": f"{VOCAB}:{parent}",
                    "type": "IS_A",
                    "vocab": VOCAB,
                }
            )
    edges_df = dedupe_edges(make_edges(edges))
    if len(edges_df):
        unknown = set(edges_df["end"]) - {n["id"] for n in nodes.values()}
        if unknown:
            raise InputError(mah, f"parent {sorted(unknown)[0]} never appears as a CODE")
    return OntologyTables(
        source="loinc",
        vocabularies=vocab_table([(VOCAB, version or _release_name(core), "Regenstrief LOINC")]),
        nodes=make_nodes(list(nodes.values())),
        edges=edges_df,
        edge_groups=[("IS_A", "vocab", VOCAB)],
        origin=str(core),
    )
