"""ATC from a CSV file: GNUmed's `atc_only-utf8.csv` (no header: code, English, French, German
names) or a plain CSV with a header `code,name,parent` (parent empty at the top level).

GNUmed's list is the 2009 WHO ATC list (5,469 codes on 5 levels) in the Debian package
gnumed-server (22.19-1: var/lib/gnumed/server/sql/v14-v15/data/atc_only-utf8.csv).
`bash scripts/fetch_atc.sh` downloads that package with apt-get (no install), extracts the file
to `default_file()` (CACHE/atc/atc_only-utf8.csv, CACHE being MASH_KG_CACHE, else
$XDG_CACHE_HOME/mash-kg, else ~/.cache/mash-kg) and records the package version beside it;
`mash-kg load atc` without --file reads it there. In GNUmed's format the parent is the code's
prefix at the previous ATC level (lengths 1, 3, 4, 5, 7).
"""

from __future__ import annotations

import csv
from pathlib import Path

from mash_kg.errors import InputError
from mash_kg.loaders._common import first_bad_line, read_rows, require_file, vocab_table
from mash_kg.settings import default_cache
from mash_kg.tables import OntologyTables, make_edges, make_nodes

VOCAB = "ATC"
LEVEL_LENGTHS = (1, 3, 4, 5, 7)
GNUMED_COLUMNS = ["code", "name", "name_fr", "name_de"]


def default_file() -> Path:
    """Where scripts/fetch_atc.sh puts GNUmed's list, and `load atc` looks without --file."""
    return default_cache() / "atc" / "atc_only-utf8.csv"


def _default_release() -> tuple[list[Path], str | None]:
    """([the fetched file], its recorded release), or a clear error saying how to fetch it."""
    path = default_file()
    if not path.exists():
        raise InputError(
            path,
            "no ATC list here and no --file given",
            hint="bash scripts/fetch_atc.sh (GNUmed's list from the Debian package "
            "gnumed-server), or --file a code,name,parent CSV",
        )
    source = path.with_name(path.name + ".source")
    recorded = source.read_text(encoding="utf-8").split(" sha256")[0] if source.exists() else None
    return [path], recorded


def _atc_parent(code: str) -> str | None:
    if len(code) not in LEVEL_LENGTHS:
        return None
    i = LEVEL_LENGTHS.index(len(code))
    return code[: LEVEL_LENGTHS[i - 1]] if i else None


def load(
    files: list[Path] | None = None, version: str | None = None, **_: object
) -> OntologyTables:
    if not files:
        files, recorded = _default_release()
        version = version or recorded
    path = require_file(files, "atc", "--file atc_only-utf8.csv (GNUmed) or a code,name,parent CSV")
    if path.is_dir():
        raise InputError(path, "is a folder, not a file", hint="pass atc_only-utf8.csv itself")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            first = next(csv.reader(fh), [])
    except UnicodeDecodeError as exc:
        raise InputError(
            path,
            f"not UTF-8 text ({exc.reason})",
            row=first_bad_line(path),
            hint="use GNUmed's atc_only-utf8.csv, or convert the file to UTF-8",
        ) from None
    plain = [c.strip().lower() for c in first[:3]] == ["code", "name", "parent"]
    rows: dict[str, dict] = {}
    if plain:
        for n, row in read_rows(path, ["code", "name"], verbatim=("name",)):
            code = row["code"].upper()
            if code in rows:
                if rows[code]["name"] == row["name"]:
                    continue  # GNUmed's list repeats C01EB21 verbatim: the same fact twice
                raise InputError(path, f"code {code} appears twice with different names", row=n)
            rows[code] = {
                "name": row["name"],
                "parent": row.get("parent", "").upper() or None,
                "row": n,
            }
    else:
        for n, row in read_rows(
            path, ["code", "name"], header=GNUMED_COLUMNS, verbatim=("name", "name_fr", "name_de")
        ):
            code = row["code"].upper()
            if len(code) not in LEVEL_LENGTHS:
                raise InputError(
                    path, f"{code!r} is not an ATC code (lengths 1, 3, 4, 5, 7)", row=n
                )
            if code in rows:
                if rows[code]["name"] == row["name"]:
                    continue  # GNUmed's list repeats C01EB21 verbatim: the same fact twice
                raise InputError(path, f"code {code} appears twice with different names", row=n)
            rows[code] = {
                "name": row["name"],
                "parent": _atc_parent(code),
                "row": n,
                "name_fr": row.get("name_fr") or None,
                "name_de": row.get("name_de") or None,
            }
    nodes, edges = [], []
    gnumed = "name_fr" in next(iter(rows.values()), {})
    for code, info in rows.items():
        parent = info.pop("parent")
        n = info.pop("row")
        if parent and parent not in rows and gnumed:
            # GNUmed's 2009 list lacks a few groups (C09DB, ...): in ATC the code's prefix is
            # its ancestry, so the code hangs under its nearest listed prefix instead
            parent = next(
                (code[:k] for k in reversed(LEVEL_LENGTHS) if k < len(parent) and code[:k] in rows),
                None,
            )
        if parent:
            if parent not in rows:
                raise InputError(path, f"parent {parent} of {code} is not in the file", row=n)
            edges.append(
                {
                    "start": f"{VOCAB}:{code}",
                    "end": f"{VOCAB}:{parent}",
                    "type": "IS_A",
                    "vocab": VOCAB,
                }
            )
        level = LEVEL_LENGTHS.index(len(code)) + 1 if len(code) in LEVEL_LENGTHS else None
        nodes.append(
            {
                "id": f"{VOCAB}:{code}",
                "vocab": VOCAB,
                "code": code,
                "domain": "medication",
                "level": level,
                **info,
            }
        )
    return OntologyTables(
        source="atc",
        vocabularies=vocab_table([(VOCAB, version or path.name, "WHO ATC")]),
        nodes=make_nodes(nodes),
        edges=make_edges(edges),
        edge_groups=[("IS_A", "vocab", VOCAB)],
        origin=str(path),
    )
