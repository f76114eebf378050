"""The build folder as an artefact: its manifest's contract, the per-table index written when a
build is sealed, and checked reading for everything that opens a build (sync, eval, plot).

``manifest.json`` is a JSON object with at least ``id`` (a non-empty string); builds from
this version on also carry ``schema_version`` and ``tables``: for every Parquet table its row
count and SHA-256, so that a truncated, replaced or half-copied table is refused with one line
before anything reads it (or writes the graph from it).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mash_kg.errors import InputError

SCHEMA_VERSION = 2
_HINT = "rebuild it with `mash-kg build` (or copy the whole folder again)"


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def table_index(folder: Path) -> dict[str, dict]:
    """{table file: {rows, sha256}} of the Parquet tables in `folder` (for the manifest)."""
    out = {}
    for path in sorted(Path(folder).glob("*.parquet")):
        rows = pq.ParquetFile(path).metadata.num_rows
        out[path.name] = {"rows": int(rows), "sha256": file_digest(path)}
    return out


def read_manifest(folder: Path) -> dict:
    """The manifest of a build folder, checked: one clear line when it is missing, unreadable,
    not an object, without an id, or from a newer layout."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(
            folder,
            "not a build folder (no such directory)",
            hint="pass a folder that `mash-kg build` printed",
        )
    path = folder / "manifest.json"
    if not path.is_file():
        raise InputError(
            folder,
            "not a build folder (no manifest.json)",
            hint="pass a folder that `mash-kg build` printed",
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            path,
            f"damaged manifest ({exc.__class__.__name__}: {str(exc).splitlines()[0]})",
            hint=_HINT,
        ) from None
    if not isinstance(manifest, dict):
        raise InputError(
            path, f"damaged manifest (a JSON {type(manifest).__name__}, not an object)", hint=_HINT
        )
    if not isinstance(manifest.get("id"), str) or not manifest["id"].strip():
        raise InputError(path, "damaged manifest (no build id)", hint=_HINT)
    version = manifest.get("schema_version", 1)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise InputError(
            path,
            f"build layout version {version!r} is newer than this mash-kg reads ({SCHEMA_VERSION})",
            hint="upgrade mash-kg",
        )
    if "tables" in manifest and not isinstance(manifest["tables"], dict):
        raise InputError(path, "damaged manifest (tables is not an object)", hint=_HINT)
    return manifest


def verify(folder: Path, manifest: dict, names: list[str]) -> None:
    """Check that the tables `names` (and every table the manifest lists) are present and,
    where the manifest indexes them, unchanged (SHA-256): a damaged build is refused whole."""
    folder = Path(folder)
    index = manifest.get("tables") or {}
    if "III" in (manifest.get("stages") or []):  # a Stage III build is complete or refused
        names = [*names, "hierarchy.parquet", "latent.parquet", "poincare.parquet"]
    for name in dict.fromkeys([*names, *index]):  # every table the manifest lists, once
        path = folder / name
        if not path.is_file():
            raise InputError(path, "missing from the build folder", hint=_HINT)
        entry = index.get(name)
        if entry is None:
            continue
        if not isinstance(entry, dict) or file_digest(path) != entry.get("sha256"):
            raise InputError(
                path,
                "differs from the build's manifest (truncated, replaced or half-copied)",
                hint=_HINT,
            )


def read_table(folder: Path, name: str, columns: list[str] | None = None) -> pa.Table:
    """A Parquet table of a build; a damaged or incomplete file is one clear line."""
    path = Path(folder) / name
    try:
        table = pq.read_table(path, columns=columns)
    except FileNotFoundError:
        raise InputError(path, "missing from the build folder", hint=_HINT) from None
    except (pa.ArrowException, OSError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise InputError(path, f"not a readable Parquet table ({first})", hint=_HINT) from None
    return table


def read_frame(folder: Path, name: str, required: list[str]) -> pd.DataFrame:
    """A build table as a DataFrame with at least the columns `required`."""
    table = read_table(folder, name)
    missing = [c for c in required if c not in table.column_names]
    if missing:
        raise InputError(Path(folder) / name, f"missing column(s) {', '.join(missing)}", hint=_HINT)
    return table.to_pandas()


def write_manifest(folder: Path, manifest: dict) -> None:
    """Seal a build folder: write its content digests (content.py), then `manifest` with a
    fresh table index; the manifest is written last and atomically (a temporary file renamed),
    so a folder with a manifest is complete. Used by `mash-kg build` and by tools that derive a
    build from another (benchmarks, tests)."""
    from mash_kg.content import CONTENT, write_digests

    folder = Path(folder)
    (folder / CONTENT).unlink(missing_ok=True)
    write_digests(folder, manifest)  # what the graph should hold per code, for sync
    manifest = {**manifest, "schema_version": SCHEMA_VERSION, "tables": table_index(folder)}
    tmp = folder / ".manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(folder / "manifest.json")
