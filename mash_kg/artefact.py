"""The build folder: the one module that knows its layout. `mash-kg build` writes it through
`BuildWriter`; sync, eval and the CLI open it with `Build.open`; benchmarks and tests that
derive a build from another go through `content.derive` (which reseals it).

A build folder ``<builds>/<build id>/`` holds one Parquet file per table of `TABLES` (columns
below; vectors are fixed-size float lists) and ``manifest.json``: the build id,
``schema_version`` (`SCHEMA_VERSION`), settings, per-stage figures, and ``tables``: each table's
row count and SHA-256, so that a truncated, replaced or half-copied table is refused with one
line before anything reads it (or writes the graph from it). A build is written into a
temporary folder and renamed when sealed: a folder with a manifest is complete.

Opening a build reads each table's bytes once: the digest is taken of those bytes and the
tables are parsed from them, so a file replaced after the check is never what is read. Its
values are then checked (`validate`): finite scores and vectors, Poincaré points inside the
unit ball, counterparts and hierarchy edges whose ends the build defines. A reader that may not
need a table at all (sync: the vectors of the embeddings table, needed only for codes whose
vectors changed) can defer it: at open it must be present with a readable Parquet footer of the
manifest's row count; its digest and value checks are made when it is first read, on the bytes
then read, so nothing unverified is ever used.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mash_kg.errors import InputError

# 3: embeddings.in_graph (the build, not sync, decides which site's vector a shared code keeps)
SCHEMA_VERSION = 3
_HINT = "rebuild it with `mash-kg build` (or copy the whole folder again)"
_NOT_A_BUILD = "pass a folder that `mash-kg build` printed"


@dataclass(frozen=True)
class TableSpec:
    """One table of a build: the columns every reader may rely on, and what it is for."""

    columns: tuple[str, ...]
    about: str
    stage: str = "I"  # I: every build; III: builds with the hierarchy; "" optional

    def file(self, name: str) -> str:
        return f"{name}.parquet"


TABLES: dict[str, TableSpec] = {
    "codes": TableSpec(
        ("id", "site", "vocab", "code", "name", "domain", "frequency"),
        "every site's codes (a code several sites have: one row per site)",
    ),
    "cooccurrence": TableSpec(
        ("site", "code_a", "code_b", "count"), "co-occurrence counts after the small-cell rule"
    ),
    "embeddings": TableSpec(
        ("id", "site", "text", "cooc", "context", "vector", "aligned", "in_graph"),
        "Stage I vectors per site row; aligned: in the reference site's space; in_graph: the "
        "row whose aligned vector the graph holds (the reference site's when shared)",
    ),
    "counterparts": TableSpec(
        ("site", "id", "other_site", "other_id", "rank", "score", "transport", "method"),
        "each code's top counterparts at the reference site -> ALIGNED_WITH edges",
    ),
    "poincare": TableSpec(
        ("id", "role", "point", "norm", "depth"),
        "points on the ball (float64): codes, curated context, latent groups",
        "III",
    ),
    "candidates": TableSpec(
        ("id", "candidate", "rank", "score", "distance"),
        "ranked parent candidates, with each evidence source's score (by_<source>)",
        "III",
    ),
    "hierarchy": TableSpec(
        ("child", "parent", "score", "rank", "parent_label"), "-> MASH_IS_A edges", "III"
    ),
    "latent": TableSpec(
        ("id", "name", "domain", "size", "members", "norm"), "-> :Latent groups", "III"
    ),
    "holdout": TableSpec(
        ("id", "parent", "rank", "text_rank", "candidates"), "-> `mash-kg eval`", "III"
    ),
    "placement_weights": TableSpec(
        ("domain", "feature", "weight"), "the evidence weights Stage III chose", ""
    ),
    "rerank": TableSpec(("feature", "coefficient"), "Stage III's re-ranker, when kept", ""),
    "encoder_training": TableSpec(("step", "loss"), "the hierarchy encoder's training", ""),
    "content": TableSpec(
        ("id", "sites", "sync_hash", "edges_hash"),
        "per code what the graph should hold (content.py), for sync",
    ),
}


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


def _load_manifest(folder: Path) -> dict:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "not a build folder (no such directory)", hint=_NOT_A_BUILD)
    path = folder / "manifest.json"
    if not path.is_file():
        raise InputError(folder, "not a build folder (no manifest.json)", hint=_NOT_A_BUILD)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        first = str(exc).splitlines()[0]
        raise InputError(
            path, f"damaged manifest ({exc.__class__.__name__}: {first})", hint=_HINT
        ) from None
    if not isinstance(manifest, dict):
        kind = type(manifest).__name__
        raise InputError(path, f"damaged manifest (a JSON {kind}, not an object)", hint=_HINT)
    if not isinstance(manifest.get("id"), str) or not manifest["id"].strip():
        raise InputError(path, "damaged manifest (no build id)", hint=_HINT)
    if "tables" in manifest and not isinstance(manifest["tables"], dict):
        raise InputError(path, "damaged manifest (tables is not an object)", hint=_HINT)
    return manifest


def read_manifest(folder: Path) -> dict:
    """The manifest of a build folder, checked: one clear line when it is missing, unreadable,
    not an object, without an id, or of another layout version than this mash-kg's."""
    manifest = _load_manifest(folder)
    path = Path(folder) / "manifest.json"
    version = manifest.get("schema_version", 1)  # builds before the field: layout 1
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise InputError(
            path,
            f"build layout version {version!r} is newer than this mash-kg reads ({SCHEMA_VERSION})",
            hint="upgrade mash-kg",
        )
    if version < SCHEMA_VERSION:
        raise InputError(
            path,
            f"build layout version {version} is older than this mash-kg reads ({SCHEMA_VERSION})",
            hint="build again with `mash-kg build` (the graph keeps its content until then)",
        )
    return manifest


PREFETCH = {"embeddings": ("vector", "aligned")}  # the columns validate_build checks


class Build:
    """A build folder opened for reading; its tables are checked against the manifest's
    digests (when `verify`) and against `TABLES`' columns when read."""

    def __init__(self, path: Path, manifest: dict) -> None:
        self.path = Path(path)
        self.manifest = manifest
        self._bytes: dict[str, bytes] = {}  # verified tables: what was hashed is what is read
        self._columns: dict[tuple[str, str], pa.ChunkedArray] = {}  # decoded, of verified ones
        self._pending: tuple | None = None  # (file, future) of a check still running
        self._deferred: dict[str, object] = {}  # table name -> manifest entry, checked when read

    @classmethod
    def open(cls, folder: Path, verify: bool = True, defer: tuple[str, ...] = ()) -> Build:
        """The build in `folder`; with `verify`, every table its stages need and every table
        the manifest lists must be present and unchanged (a damaged build is refused whole).
        Tables named in `defer` (of `DEFERRABLE`) are checked whole when first read (see the
        module's docstring); at open only their presence, footer and row count."""
        build = cls(Path(folder), read_manifest(folder))
        if verify:
            build.verify(wait=False, defer=defer)
            try:
                build.validate()
            except InputError:
                build._settle()  # a table that differs from the manifest is named first
                raise
            build._settle()
        return build

    def _read_verified(self, file: str, entry: object) -> bytes | InputError:
        """The bytes of table file `file` if their SHA-256 is the manifest's `entry`, else the
        error to raise (returned: the largest table is checked on a second thread)."""
        path = self.path / file
        try:
            data = path.read_bytes()
        except OSError as exc:
            return InputError(path, f"cannot read it ({exc.strerror})", hint=_HINT)
        if isinstance(entry, dict) and hashlib.sha256(data).hexdigest() == entry.get("sha256"):
            return data
        return _differs(path)

    @property
    def id(self) -> str:
        return self.manifest["id"]

    @property
    def stages(self) -> list[str]:
        return list(self.manifest.get("stages") or [])

    @property
    def has_hierarchy(self) -> bool:
        return "III" in self.stages

    def file(self, name: str) -> Path:
        return self.path / TABLES[name].file(name)

    def has(self, name: str) -> bool:
        return self.file(name).is_file()

    def verify(self, wait: bool = True, defer: tuple[str, ...] = ()) -> None:
        """Every table of the build's stages and every table the manifest lists is present
        and, where indexed, has the SHA-256 the manifest records (`wait=False`: the largest
        table's check may still run when this returns; it is settled before that table is
        read; `defer`: those tables are hashed and checked when first read)."""
        index = self.manifest.get("tables") or {}
        stages = {"I", *self.stages}
        needed = [spec.file(n) for n, spec in TABLES.items() if spec.stage in stages]
        files = list(dict.fromkeys([*needed, *index]))  # every table once
        for file in files:
            if not (self.path / file).is_file():
                raise InputError(self.path / file, "missing from the build folder", hint=_HINT)
        for name in defer:
            file = TABLES[name].file(name)
            if name not in DEFERRABLE or file not in index:
                continue  # a table without an index entry has no digest to check later
            self._check_footer(file, index[file])
            self._deferred[name] = index[file]
        deferred = {TABLES[n].file(n) for n in self._deferred}
        indexed = [f for f in files if f in index and f not in deferred]
        sizes = {f: (self.path / f).stat().st_size for f in indexed}
        largest = max(indexed, key=sizes.__getitem__, default=None)
        # the largest table not deferred (the embeddings, unless deferred) is read, hashed and
        # its checked columns decoded on a second thread while the others are checked (file
        # reads, hashlib and Parquet release the GIL); settled when first read and before
        # `wait` returns
        if largest is not None:
            pool = ThreadPoolExecutor(max_workers=1)
            self._pending = (largest, pool.submit(self._verify_large, largest, index[largest]))
            pool.shutdown(wait=False)
        for file in indexed:
            if file != largest:
                got = self._read_verified(file, index[file])
                if isinstance(got, InputError):
                    raise got
                self._bytes[file] = got
        if wait:
            self._settle()

    def _check_footer(self, file: str, entry: object) -> None:
        """A deferred table is present now: a readable Parquet footer with the manifest's row
        count (a truncated or half-copied file is refused at open, as any other table)."""
        path = self.path / file
        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except (pa.ArrowException, OSError, ValueError):
            rows = None
        if not isinstance(entry, dict) or rows != entry.get("rows"):
            raise _differs(path)

    def _check_deferred(self, name: str) -> None:
        """The deferred table `name`, read now: its bytes hashed against the manifest, then
        its values checked (`DEFERRABLE`); later reads parse those same bytes."""
        entry = self._deferred[name]
        file = TABLES[name].file(name)
        got = self._read_verified(file, entry)
        if isinstance(got, InputError):
            raise got
        self._bytes[file] = got
        del self._deferred[name]
        try:
            DEFERRABLE[name](self)
        except InputError:  # refused again on every later read, never used unchecked
            self._deferred[name] = entry
            self._bytes.pop(file, None)
            self._columns = {k: v for k, v in self._columns.items() if k[0] != name}
            raise

    def _verify_large(self, file: str, entry: object) -> tuple:
        """(bytes or error, decoded columns) of the largest table (see `verify`)."""
        data = self._read_verified(file, entry)
        columns: dict = {}
        name = next((n for n in TABLES if TABLES[n].file(n) == file), None)
        if not isinstance(data, InputError) and name in PREFETCH:
            try:
                read = self._read(self.path / file, pa.BufferReader(data), PREFETCH[name])
                columns = {(name, c): read.column(c) for c in read.column_names}
            except InputError:
                pass  # `table` reads it again and raises the same line there
        return data, columns

    def _settle(self) -> None:
        """Wait for the largest table's check (raising its error, if any)."""
        if self._pending is None:
            return
        file, future = self._pending
        self._pending = None
        data, columns = future.result()
        if isinstance(data, InputError):
            raise data
        self._bytes[file] = data
        self._columns.update(columns)

    def table(self, name: str, columns: list[str] | None = None) -> pa.Table:
        """Table `name` (columns `columns`, else all) as Arrow; a damaged file or a missing
        column is one clear line."""
        path = self.file(name)
        if name in self._deferred:
            self._check_deferred(name)
        if self._pending is not None and self._pending[0] == path.name:
            self._settle()
        data = self._bytes.get(path.name)
        if data is not None and columns is not None:  # a verified table: each column decoded once
            todo = [c for c in dict.fromkeys(columns) if (name, c) not in self._columns]
            if todo:
                read = self._read(path, pa.BufferReader(data), todo)
                if lost := [c for c in todo if c not in read.column_names]:
                    raise InputError(path, f"missing column(s) {', '.join(lost)}", hint=_HINT)
                self._columns.update({(name, c): read.column(c) for c in todo})
            return pa.table({c: self._columns[(name, c)] for c in columns})
        table = self._read(path, pa.BufferReader(data) if data is not None else path, columns)
        missing = [c for c in TABLES[name].columns if c not in table.column_names]
        if columns is None and missing:
            raise InputError(path, f"missing column(s) {', '.join(missing)}", hint=_HINT)
        return table

    @staticmethod
    def _read(path: Path, source: object, columns: list[str] | None) -> pa.Table:
        try:
            table = pq.read_table(source, columns=None if columns is None else list(columns))
        except FileNotFoundError:
            raise InputError(path, "missing from the build folder", hint=_HINT) from None
        except (pa.ArrowException, OSError, ValueError, KeyError) as exc:
            missing = _missing(path, columns)
            what = f"missing column(s) {missing}" if missing else None
            what = what or f"not a readable Parquet table ({_first(exc)})"
            raise InputError(path, what, hint=_HINT) from None
        return table

    def validate(self) -> None:
        """Check the values sync and eval rely on (see `validate_build`)."""
        validate_build(self)

    def frame(self, name: str, columns: list[str] | None = None) -> pd.DataFrame:
        """Table `name` as a DataFrame (see `table`)."""
        return self.table(name, columns).to_pandas()

    def frame_or_empty(self, name: str) -> pd.DataFrame:
        """Table `name`, or an empty frame with its columns when the build has none (a Stage I
        build has no hierarchy)."""
        if not self.has(name):
            return empty_table(name)
        return self.frame(name)

    def write_report(self, name: str, report: dict) -> Path:
        """Write `<name>.json` beside the tables (a figure computed from the build, such as
        `mash-kg eval`'s), atomically; not part of the sealed content."""
        path = self.path / f"{name}.json"
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
        return path


def _differs(path: Path) -> InputError:
    """A table file that is not the one the manifest records."""
    return InputError(
        path, "differs from the build's manifest (truncated, replaced or half-copied)", hint=_HINT
    )


def _bad(build: Build, name: str, row: int, problem: str) -> InputError:
    return InputError(
        build.file(name),
        problem,
        row=row + 1,
        hint="the build is damaged or was edited after it was made: build again",
    )


def _check_finite(build: Build, name: str, column: str) -> None:
    """Every value of a numeric or vector column is finite (no NaN, no infinity)."""
    table = build.table(name, [column])
    col = table.column(column).combine_chunks()
    if pa.types.is_list(col.type) or pa.types.is_fixed_size_list(col.type):
        flat = pc.list_flatten(col)
        if pa.types.is_floating(flat.type):
            if pc.all(pc.is_finite(flat), skip_nulls=False).as_py() is True:
                return  # the common case, decided in Arrow without a copy (a null: below)
        values = np.asarray(flat.to_numpy(zero_copy_only=False), dtype=float)
        lengths = np.asarray(pc.list_value_length(col).to_numpy(zero_copy_only=False))
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.searchsorted(np.cumsum(lengths), np.flatnonzero(bad)[0], side="right"))
            raise _bad(build, name, row, f"{column} holds a NaN or infinite value")
        return
    values = np.asarray(col.to_numpy(zero_copy_only=False), dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise _bad(build, name, row, f"{column} = {values[row]} is not a finite number")


def _check_points(build: Build) -> None:
    """Every Poincaré point lies strictly inside the unit ball."""
    col = build.table("poincare", ["point"]).column("point").combine_chunks()
    values = np.asarray(pc.list_flatten(col).to_numpy(zero_copy_only=False), dtype=float)
    lengths = np.asarray(pc.list_value_length(col).to_numpy(zero_copy_only=False))
    if not len(lengths):
        return
    norms = np.sqrt(np.add.reduceat(values**2, np.r_[0, np.cumsum(lengths)[:-1]]))
    norms[lengths == 0] = 0.0
    bad = ~(norms < 1.0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise _bad(build, "poincare", row, f"point of norm {norms[row]:.4f} lies outside the ball")


def _check_refs(build: Build, name: str, column: str, known: set, mask=None) -> None:
    """Every value of `column` (in rows `mask`, default all) is one of `known`."""
    col = build.table(name, [column]).column(column)
    try:  # the common case (every value known), decided in Arrow
        value_set = pa.array(list(known), type=col.type)
        inside = pc.is_in(col, value_set=value_set).to_numpy(zero_copy_only=False)
    except (pa.ArrowException, TypeError, ValueError):
        inside = np.zeros(len(col), dtype=bool)  # a value of another type: checked one by one
    if mask is not None:
        inside = inside | ~np.asarray(mask, dtype=bool)
    if inside.all():
        return
    values = col.to_pylist()
    for row, value in enumerate(values):
        if (mask is None or mask[row]) and value not in known:
            raise _bad(
                build, name, row, f"{column} {str(value)[:60]!r} is not defined in the build"
            )


def _settings_top_k(manifest: dict) -> object:
    """The `top_k` the build was made with, wherever its settings record it (None if not)."""
    stack = [manifest.get("settings")]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "top_k" in item:
                return item["top_k"]
            stack.extend(item.values())
    return None


def validate_build(build: Build) -> None:
    """The values sync and eval rely on, checked once the checksums matched: finite scores and
    vectors, points inside the ball, counterparts whose both codes the build has, hierarchy
    edges whose child (a code or latent group) and latent parent it defines, a top_k >= 1."""
    top_k = _settings_top_k(build.manifest)
    if isinstance(top_k, int) and top_k < 1:
        raise InputError(
            build.path / "manifest.json",
            f"the build was made with top_k = {top_k}: it has no counterparts to sync",
            hint="set [model] top_k to 1 or more and build again",
        )
    codes = set(build.table("codes", ["id"]).column("id").to_pylist())
    if not codes:  # an empty build: sync and eval refuse it in their own words
        return
    _check_finite(build, "counterparts", "score")
    _check_refs(build, "counterparts", "id", codes)
    _check_refs(build, "counterparts", "other_id", codes)
    if build.has_hierarchy:
        _check_finite(build, "hierarchy", "score")
        _check_points(build)
        latent = set(build.table("latent", ["id"]).column("id").to_pylist())
        _check_refs(build, "hierarchy", "child", codes | latent)  # a group has a parent too
        labels = build.table("hierarchy", ["parent_label"]).column("parent_label").to_pylist()
        _check_refs(build, "hierarchy", "parent", latent, [lab == "Latent" for lab in labels])
    if "embeddings" not in build._deferred:  # last: the largest table, checked meanwhile
        _check_embeddings(build)


def _check_embeddings(build: Build) -> None:
    """Every vector of the embeddings table is finite."""
    for column in PREFETCH["embeddings"]:
        _check_finite(build, "embeddings", column)


# tables a reader may defer (Build.open's `defer`) and the value checks made when first read
DEFERRABLE = {"embeddings": _check_embeddings}


def empty_table(name: str) -> pd.DataFrame:
    """Table `name` with its columns and no rows."""
    return pd.DataFrame(columns=list(TABLES[name].columns))


def _missing(path: Path, columns: list[str] | None) -> str:
    """The requested columns a readable table lacks ('' when unreadable or none missing)."""
    try:
        names = pq.read_schema(path).names
    except (pa.ArrowException, OSError, ValueError):
        return ""
    return ", ".join(c for c in columns or [] if c not in names)


def _first(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__


def _created(folder: Path) -> datetime | None:
    """When the build in `folder` was made: its manifest's created_at, else (a manifest
    without it) when the manifest was written; None when there is no manifest."""
    path = folder / "manifest.json"
    try:
        written = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        manifest = json.loads(path.read_text(encoding="utf-8"))
        created = datetime.fromisoformat(str(manifest["created_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return written if path.is_file() else None
    return created if created.tzinfo else created.replace(tzinfo=UTC)


def latest_build(builds: Path) -> Path:
    """The newest complete build under `builds`: the one whose manifest was created last (a
    folder's name says nothing: a copy named `old-copy-...` is not newer)."""
    builds = Path(builds)
    found = [(c, p.name, p) for p in builds.glob("*") if (c := _created(p)) is not None]
    if not found:
        raise InputError(builds, "no build yet", hint="run `mash-kg build` first")
    return max(found)[2]


class BuildWriter:
    """A build being written: tables go into a temporary folder under `builds`; `seal` adds
    the manifest and renames the folder to the build id. Used as a context manager, a build
    that fails leaves nothing behind."""

    def __init__(self, builds: Path) -> None:
        self.builds = Path(builds)
        self.builds.mkdir(parents=True, exist_ok=True)
        self.path = self.builds / f".build-{os.getpid()}-{time.time_ns()}.tmp"
        self.path.mkdir()

    def __enter__(self) -> BuildWriter:
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if kind is not None:
            shutil.rmtree(self.path, ignore_errors=True)  # never leave half a build behind

    def write(self, name: str, data: pd.DataFrame | pa.Table) -> None:
        """Write table `name`, which must have the columns `TABLES` gives it."""
        columns = data.column_names if isinstance(data, pa.Table) else list(data.columns)
        missing = [c for c in TABLES[name].columns if c not in columns]
        if missing:  # a programming error in a stage, not a user's input
            raise ValueError(f"table {name} lacks column(s) {', '.join(missing)}")
        path = self.path / TABLES[name].file(name)
        if isinstance(data, pa.Table):
            pq.write_table(data, path)
        else:
            data.to_parquet(path, index=False)

    def reading(self) -> Build:
        """The tables written so far, for reading (not verified: there is no manifest yet)."""
        return Build(self.path, {"id": self.path.name})

    def seal(self, manifest: dict) -> Path:
        """Check that every table of the manifest's stages was written, write the manifest
        (`write_manifest`) and rename the folder to `<builds>/<manifest id>`."""
        stages = {"I", *(manifest.get("stages") or [])}
        missing = [n for n, spec in TABLES.items() if spec.stage in stages and not self.has(n)]
        if missing:  # a programming error in the build, not a user's input
            raise ValueError(f"a build of stages {sorted(stages)} lacks {', '.join(missing)}")
        write_manifest(self.path, manifest)
        final = self.builds / manifest["id"]
        self.path.rename(final)
        return final

    def has(self, name: str) -> bool:
        return (self.path / TABLES[name].file(name)).is_file()


def write_manifest(folder: Path, manifest: dict) -> None:
    """Write `manifest` into a build folder whose tables are complete, with its layout version
    and a fresh table index; the manifest is written last and atomically (a temporary file
    renamed), so a folder with a manifest is complete. (A build derived from another, with
    edited tables, is resealed by `content.reseal`, which rewrites the content table first.)"""
    folder = Path(folder)
    manifest = {**manifest, "schema_version": SCHEMA_VERSION, "tables": table_index(folder)}
    tmp = folder / ".manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(folder / "manifest.json")
