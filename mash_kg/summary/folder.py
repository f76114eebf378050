"""The summary folder a site ships: what `mash-kg site summarize` writes and `build` reads.

Layout (nothing patient-level; every table sorted, so a rerun on the same input gives
byte-identical files):

- ``codes.parquet``: vocab, code, name, domain, frequency (as the site's adapter reports it:
  events, or the codes table's own column), patients (distinct patients with the code), and
  any extra columns of the adapter's codes table (``name_<lang>``, ...); in the adapter's order
- ``cooccurrence.parquet``: vocab_a, code_a, vocab_b, code_b, count; one row per unordered
  pair (a before b in codes.parquet's order), sorted by that order
- ``crosswalk.parquet`` (when the adapter gives one): vocab, code, other_vocab, other_code,
  source
- ``manifest.json``: format, site, engine, version, window_days, min_cell_count, date range,
  source rows, what was suppressed, row counts and sha256 of the tables

Small cells are suppressed here, at the site: a pair counted fewer than ``min_cell_count``
times is dropped, and so is every code seen in fewer patients (with its pairs).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mash_kg import __version__
from mash_kg.errors import InputError

FORMAT = "mash-kg-site-summary/1"
TABLES = ("codes", "cooccurrence", "crosswalk")
ROW_GROUP = 1_000_000


@dataclass
class SiteCounts:
    """What an engine counts, before suppression: the codes (adapter order) and the pairs.

    codes: vocab, code, name, domain, frequency, patients (+ extra columns);
    pairs: a, b (row positions in `codes`, a < b), count (int64).
    """

    codes: pd.DataFrame
    pairs: pa.Table
    date_min: str | None
    date_max: str | None
    source_rows: dict[str, int]
    crosswalk: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def suppress(
    counts: SiteCounts, min_cell_count: int
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """The shareable codes and pairs (vocab/code on both ends) and what was suppressed."""
    codes = counts.codes.reset_index(drop=True)
    a = counts.pairs.column("a").to_numpy().astype(np.int64)
    b = counts.pairs.column("b").to_numpy().astype(np.int64)
    n = counts.pairs.column("count").to_numpy().astype(np.int64)
    keep_code = codes["patients"].to_numpy() >= min_cell_count
    small = n < min_cell_count
    with_code = ~(keep_code[a] & keep_code[b]) & ~small
    keep = ~small & ~with_code
    order = np.lexsort((b[keep], a[keep]))
    kept_codes = codes[keep_code]
    pairs = pd.DataFrame(
        {
            "vocab_a": codes["vocab"].to_numpy()[a[keep]][order],
            "code_a": codes["code"].to_numpy()[a[keep]][order],
            "vocab_b": codes["vocab"].to_numpy()[b[keep]][order],
            "code_b": codes["code"].to_numpy()[b[keep]][order],
            "count": n[keep][order],
        }
    )
    figures = {
        "codes_suppressed": int((~keep_code).sum()),
        "cells_suppressed_small": int(small.sum()),
        "cells_suppressed_with_code": int(with_code.sum()),
    }
    return kept_codes.reset_index(drop=True), pairs, figures


def _write_parquet(df: pd.DataFrame, path: Path) -> str:
    """Write deterministically (no pandas metadata, fixed row groups); returns the sha256."""
    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
    pq.write_table(table, path, row_group_size=ROW_GROUP, compression="zstd")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_summary(
    out: Path,
    counts: SiteCounts,
    *,
    site: str,
    engine: str,
    window_days: int,
    min_cell_count: int,
    source: dict,
    force: bool = False,
) -> dict:
    """Suppress and write the summary folder atomically (temp folder, then rename)."""
    out = Path(out)
    if out.exists() and not force:
        raise InputError(out, "already exists", hint="choose another folder or pass --force")
    codes, pairs, suppressed = suppress(counts, min_cell_count)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.{os.getpid()}-{time.time_ns()}.tmp"
    tmp.mkdir()
    try:
        tables = {"codes": codes, "cooccurrence": pairs}
        if counts.crosswalk is not None:
            cw = counts.crosswalk
            known = set(zip(codes["vocab"], codes["code"], strict=True))
            kept = [(v, c) in known for v, c in zip(cw["vocab"], cw["code"], strict=True)]
            tables["crosswalk"] = cw[kept].reset_index(drop=True)
        files = {}
        for name, df in tables.items():
            digest = _write_parquet(df, tmp / f"{name}.parquet")
            files[name] = {"rows": len(df), "sha256": digest}
        manifest = {
            "format": FORMAT,
            "site": site,
            "engine": engine,
            "version": __version__,
            "window_days": window_days,
            "min_cell_count": min_cell_count,
            "date_min": counts.date_min,
            "date_max": counts.date_max,
            "source": source,
            "source_rows": counts.source_rows,
            "codes_counted": len(counts.codes),
            "cells_counted": counts.pairs.num_rows,
            **suppressed,
            "tables": files,
            "notes": counts.notes,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # never half a summary
        raise
    old = None
    if out.exists():  # --force: the old folder is moved aside only once the new one is whole
        old = out.parent / f".{out.name}.{os.getpid()}-{time.time_ns()}.old"
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return manifest


def read_manifest(folder: Path) -> dict:
    """The manifest of a summary folder; a folder that is not one is a clear error."""
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        raise InputError(
            folder,
            "not a site summary (no manifest.json)",
            hint="run `mash-kg site summarize` at the site",
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"unreadable manifest ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise InputError(path, f"format {manifest.get('format')!r} is not {FORMAT}")
    return manifest


def read_summary(folder: Path) -> tuple[dict, dict[str, pd.DataFrame]]:
    """The manifest and tables of a summary folder, each checked against its sha256."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    tables = {}
    for name, meta in manifest["tables"].items():
        path = folder / f"{name}.parquet"
        if not path.is_file():
            raise InputError(
                path, "missing from the summary folder", hint="copy the whole folder the site wrote"
            )
        if hashlib.sha256(path.read_bytes()).hexdigest() != meta["sha256"]:
            raise InputError(
                path,
                "does not match the sha256 in manifest.json (changed or partly copied)",
                hint="copy the folder the site wrote again",
            )
        tables[name] = pd.read_parquet(path)
    return manifest, tables


def check_window(folder: Path, window_days: int) -> None:
    """A summary counted with another window than the project's cannot be used as is."""
    manifest = read_manifest(folder)
    if manifest["window_days"] != window_days:
        raise InputError(
            Path(folder) / "manifest.json",
            f"counted with a {manifest['window_days']}-day window, the project uses {window_days}",
            hint=f"summarize the site again with --window-days {window_days}",
        )
