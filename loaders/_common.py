"""Helpers shared by the loaders: reading delimited files with row numbers, code formats."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pandas as pd

from mash_kg.errors import InputError


def package_version(dist: str) -> str:
    try:
        return f"{dist} {metadata.version(dist)}"
    except metadata.PackageNotFoundError:
        raise InputError(dist, "package not installed", hint=f"pip install {dist}") from None


def vocab_table(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["id", "version", "source"])


def require_file(files: list[Path] | None, source: str, hint: str) -> Path:
    """The one file a source reads; absent or missing is a clear error."""
    if not files:
        raise InputError(source, "this source needs its file", hint=hint)
    path = Path(files[0])
    if not path.exists():
        raise InputError(path, "file not found")
    return path


def read_rows(
    path: Path,
    required: list[str],
    delimiter: str = ",",
    header: list[str] | None = None,
    verbatim: tuple[str, ...] = (),
) -> Iterator[tuple[int, dict]]:
    """Yield (row number, row) of a delimited file; row 1 is the header when the file has one.

    Checks the header has the `required` columns and every row has a value for each of them;
    a file that is not UTF-8 text is one error naming the first bad line. Values lose their
    leading and trailing spaces, except in the `verbatim` columns (names: kept as published).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    if path.is_dir():
        raise InputError(path, "is a folder, not a file", hint="pass the file itself")
    try:
        yield from _rows(path, required, delimiter, header, set(verbatim))
    except UnicodeDecodeError as exc:
        raise InputError(
            path,
            f"not UTF-8 text ({exc.reason})",
            row=first_bad_line(path),
            hint="convert it, e.g. iconv -f latin1 -t utf-8",
        ) from None


def first_bad_line(path: Path) -> int | None:
    """The 1-based number of the first line that is not UTF-8 (a decode error's offset
    counts from the chunk that failed, not from the start of the file)."""
    with path.open("rb") as fh:
        for n, line in enumerate(fh, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return n
    return None


def _rows(
    path: Path, required: list[str], delimiter: str, header: list[str] | None, verbatim: set[str]
) -> Iterator[tuple[int, dict]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        first = 1
        if header is None:
            try:
                header = [h.strip() for h in next(reader)]
            except StopIteration:
                raise InputError(path, "file is empty") from None
            first = 2
        missing = [c for c in required if c not in header]
        if missing:
            raise InputError(
                path,
                f"missing column(s) {', '.join(missing)}",
                row=1,
                hint=f"expected columns: {', '.join(required)}",
            )
        idx = {c: header.index(c) for c in header}
        try:
            for n, values in enumerate(reader, start=first):
                if not values or (len(values) == 1 and not values[0].strip()):
                    continue
                if len(values) < len(required) and len(values) < len(header):
                    raise InputError(
                        path, f"expected {len(header)} fields, found {len(values)}", row=n
                    )
                row = {
                    c: (values[i] if c in verbatim else values[i].strip())
                    if i < len(values)
                    else ""
                    for c, i in idx.items()
                }
                for c in required:
                    if not row[c].strip():
                        raise InputError(path, f"empty {c!r}", row=n)
                yield n, row
        except csv.Error as exc:
            raise InputError(path, f"unreadable CSV ({exc})", row=reader.line_num) from None


def icd9_dotted(code: str) -> str:
    """CMS writes ICD-9-CM codes without the dot (0010, E8490, V010): add it back."""
    code = code.strip().upper()
    head = 4 if code.startswith("E") else 3
    return code if len(code) <= head or "." in code else f"{code[:head]}.{code[head:]}"


def icd10_dotted(code: str) -> str:
    code = code.strip().upper()
    return code if len(code) <= 3 or "." in code else f"{code[:3]}.{code[3:]}"
