"""Phenotype definitions -> tables (no Neo4j here; graph/phenotypes.py writes them).

Two formats:
- OHDSI ATLAS concept-set expression JSON: ``{"items": [{"concept": {"CONCEPT_CODE": "E11",
  "VOCABULARY_ID": "ICD10CM", ...}, "includeDescendants": true, "includeMapped": false,
  "isExcluded": false}, ...]}``, or the export that wraps it (``{"name": ..., "expression":
  {"items": [...]}}``). One file = one phenotype, named by --name, else the export's name,
  else the file name.
- CSV with a header ``phenotype, code, include_descendants, exclude`` (optional
  ``include_mapped``, ``name``); ``code`` is a graph id (``ICD10CM:E11``); flags are
  true/false/1/0/yes/no/empty. One file may hold several phenotypes.

Tables: phenotypes (id, name, source) and items (phenotype, code, descendants, mapped,
excluded, row), `row` being where the item came from (CSV row, JSON item number) for errors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mash_kg.errors import InputError
from mash_kg.inputs import load_json
from mash_kg.sites import read_table

# OMOP vocabulary_id -> mash-kg vocabulary id (where they differ)
OMOP_VOCABS = {
    "RxNorm": "RXNORM",
    "SNOMED": "SNOMED",
    "PHECODE": "PHECODE",
    "ICD9CM": "ICD9CM",
    "ICD10CM": "ICD10CM",
    "ICD10": "ICD10",
    "LOINC": "LOINC",
    "ATC": "ATC",
}
TRUE, FALSE = {"true", "1", "yes", "y", "t"}, {"false", "0", "no", "n", "f", ""}


@dataclass
class PhenotypeTables:
    phenotypes: pd.DataFrame  # id, name, source
    items: pd.DataFrame  # phenotype, code, descendants, mapped, excluded, row


def _flag(value: object, path: Path, row: int, column: str) -> bool:
    if isinstance(value, bool):
        return value
    text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
    text = text.strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise InputError(path, f"{column} = {value!r} is not true or false", row=row)


def check_repeats(path: Path, rows: list[dict], what: str = "row") -> None:
    """One code listed twice in one phenotype with different flags is an error naming both
    places (the same item twice is the same fact, and harmless)."""
    seen: dict[tuple[str, str], dict] = {}
    for r in rows:
        first = seen.setdefault((r["phenotype"], r["code"]), r)
        flags = ("descendants", "mapped", "excluded")
        if any(first[f] != r[f] for f in flags):
            differ = ", ".join(f"{f} {first[f]} vs {r[f]}" for f in flags if first[f] != r[f])
            raise InputError(
                path,
                f"phenotype {r['phenotype']!r} lists {r['code']} twice with different flags "
                f"({what} {first['row']} and {r['row']}: {differ})",
                row=r["row"],
                hint="keep one of the two, with the flags you mean",
            )


def read_atlas(path: Path, name: str | None = None) -> PhenotypeTables:
    path = Path(path)
    try:
        doc = load_json(path, "phenotype file")  # bounded: size, file type, nesting
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not readable JSON ({exc})") from None
    expression = doc.get("expression", doc) if isinstance(doc, dict) else None
    items = expression.get("items") if isinstance(expression, dict) else None
    if not isinstance(items, list) or not items:
        raise InputError(
            path,
            'no concept-set items (expected {"items": [...]})',
            hint="export the concept set from ATLAS as JSON",
        )
    pid = name or (doc.get("name") if isinstance(doc.get("name"), str) else None) or path.stem
    rows = []
    for n, item in enumerate(items, start=1):
        concept = item.get("concept") if isinstance(item, dict) else None
        if not isinstance(concept, dict):
            raise InputError(path, "item has no concept", row=n)
        code, vocab = concept.get("CONCEPT_CODE"), concept.get("VOCABULARY_ID")
        if not code or not vocab:
            raise InputError(path, "concept lacks CONCEPT_CODE or VOCABULARY_ID", row=n)
        rows.append(
            {
                "phenotype": pid,
                "code": f"{OMOP_VOCABS.get(vocab, str(vocab).upper())}:{code}",
                "descendants": _flag(
                    item.get("includeDescendants", False), path, n, "includeDescendants"
                ),
                "mapped": _flag(item.get("includeMapped", False), path, n, "includeMapped"),
                "excluded": _flag(item.get("isExcluded", False), path, n, "isExcluded"),
                "row": n,
            }
        )
    check_repeats(path, rows, what="items")
    phenotypes = pd.DataFrame([{"id": pid, "name": pid, "source": str(path)}])
    return PhenotypeTables(phenotypes, pd.DataFrame(rows))


def read_csv(path: Path) -> PhenotypeTables:
    path = Path(path)
    df, first = read_table(path, required=["phenotype", "code"])  # empty cells are errors there
    if df.empty:
        raise InputError(
            path,
            "no phenotype rows below the header: nothing to import",
            hint="one row per concept: phenotype,code,include_descendants,exclude",
        )
    rows = []
    for i, r in enumerate(df.to_dict("records"), start=first):
        pid, code = str(r["phenotype"]), str(r["code"])
        if ":" not in code:
            raise InputError(
                path,
                f"code {code!r} is not a graph id",
                row=i,
                hint="write codes as VOCAB:code, e.g. ICD10CM:E11",
            )
        rows.append(
            {
                "phenotype": pid,
                "code": code,
                "descendants": _flag(r.get("include_descendants"), path, i, "include_descendants"),
                "mapped": _flag(r.get("include_mapped"), path, i, "include_mapped"),
                "excluded": _flag(r.get("exclude"), path, i, "exclude"),
                "row": i,
                "name": r.get("name"),
            }
        )
    check_repeats(path, rows, what="rows")
    items = pd.DataFrame(rows)
    names = items.groupby("phenotype")["name"].first()
    phenotypes = pd.DataFrame(
        {
            "id": names.index,
            "source": str(path),
            "name": [n if isinstance(n, str) and n else p for p, n in names.items()],
        }
    )
    return PhenotypeTables(phenotypes, items.drop(columns=["name"]))


def read_phenotypes(path: Path, name: str | None = None) -> PhenotypeTables:
    """ATLAS JSON (.json) or CSV (anything else)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    if path.suffix.lower() == ".json":
        return read_atlas(path, name)
    tables = read_csv(path)
    if name:
        raise InputError(
            path, "--name is for ATLAS JSON; a CSV names its phenotypes in the phenotype column"
        )
    return tables
