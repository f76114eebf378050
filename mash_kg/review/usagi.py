"""Decisions as CSV with Usagi-like columns (OHDSI Usagi's export: sourceCode, sourceName,
targetConceptId..., mappingStatus, statusSetBy, statusSetOn, comment), so a site can review
offline and a reviewed set can be shared.

Columns: sourceCode (the edge's child id), sourceName, sourceSite, targetCode (the parent or
counterpart id), targetName, relation (MASH_IS_A or ALIGNED_WITH; empty: MASH_IS_A),
matchScore (the edge's confidence when decided), mappingStatus (APPROVED, REJECTED or FLAGGED;
the words accept, reject and discuss are read too), statusSetBy, statusSetOn (ISO 8601 or
Usagi's epoch milliseconds), comment, build (the build the edge was shown from), movedTo,
movedFrom (the two halves of a move). Reading checks every row before anything is written:
the first bad one is `file, row N: problem`.
"""

from __future__ import annotations

import csv
import math
from datetime import UTC, datetime
from pathlib import Path

from mash_kg.errors import InputError
from mash_kg.graph.decisions import RELATIONS, Decision, decision_key

COLUMNS = [
    "sourceCode",
    "sourceName",
    "sourceSite",
    "targetCode",
    "targetName",
    "relation",
    "matchScore",
    "mappingStatus",
    "statusSetBy",
    "statusSetOn",
    "comment",
    "build",
    "movedTo",
    "movedFrom",
]
REQUIRED = ["sourceCode", "targetCode", "mappingStatus"]
STATUS = {"accept": "APPROVED", "reject": "REJECTED", "discuss": "FLAGGED"}
READ_STATUS = {**{v.lower(): k for k, v in STATUS.items()}, **{k: k for k in STATUS}}


def write_csv(rows: list[dict], path: Path) -> int:
    """Write decision rows (graph.decisions.export_rows) as CSV, atomically; returns rows."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        out = csv.DictWriter(fh, fieldnames=COLUMNS)
        out.writeheader()
        for r in rows:
            out.writerow(
                {
                    "sourceCode": r["child"],
                    "sourceName": r.get("child_name") or "",
                    "sourceSite": r.get("site") or "",
                    "targetCode": r["parent"],
                    "targetName": r.get("parent_name") or "",
                    "relation": r["relation"],
                    "matchScore": "" if r.get("score") is None else f"{r['score']:.6g}",
                    "mappingStatus": STATUS[r["decision"]],
                    "statusSetBy": r.get("reviewer") or "",
                    "statusSetOn": r.get("decided_at") or "",
                    "comment": r.get("comment") or "",
                    "build": r.get("build") or "",
                    "movedTo": r.get("moved_to") or "",
                    "movedFrom": r.get("moved_from") or "",
                }
            )
    tmp.replace(path)
    return len(rows)


def _when(text: str, path: Path, n: int) -> str:
    text = text.strip()
    if not text:
        return ""
    try:
        if text.isdigit():  # Usagi writes epoch milliseconds
            return datetime.fromtimestamp(int(text) / 1000, UTC).isoformat(timespec="seconds")
        when = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        raise InputError(
            path, f"statusSetOn {text!r} is not a date (ISO 8601 or epoch ms)", row=n
        ) from None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="seconds")


def _score(text: str, path: Path, n: int) -> float | None:
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(path, f"matchScore {text!r} is not a number", row=n) from None
    if not math.isfinite(value):
        raise InputError(path, f"matchScore {text!r} is not a finite number", row=n)
    return value


def _decision(row: dict, path: Path, n: int, reviewer: str) -> Decision:
    get = lambda k: (row.get(k) or "").strip()  # noqa: E731
    for k in REQUIRED:
        if not get(k):
            raise InputError(path, f"empty {k}", row=n)
    relation = get("relation") or "MASH_IS_A"
    if relation not in RELATIONS:
        raise InputError(path, f"relation {relation!r} is not one of {', '.join(RELATIONS)}", row=n)
    status = READ_STATUS.get(get("mappingStatus").lower())
    if status is None:
        raise InputError(
            path,
            f"mappingStatus {get('mappingStatus')!r} is not APPROVED, REJECTED or FLAGGED",
            row=n,
        )
    if get("sourceCode") == get("targetCode"):
        raise InputError(path, f"{get('sourceCode')} cannot be its own parent", row=n)
    return Decision(
        relation,
        get("sourceCode"),
        get("targetCode"),
        status,
        get("statusSetBy") or reviewer,
        get("build") or None,
        get("comment"),
        _score(get("matchScore"), path, n),
        _when(get("statusSetOn"), path, n),
        get("movedTo") or None,
        get("movedFrom") or None,
    )


def read_csv(path: Path, reviewer: str) -> tuple[list[Decision], list[int]]:
    """Every row of a decisions CSV, checked (rows without statusSetBy get `reviewer`), and
    each one's row number; the first problem is one line naming the file and row."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                raise InputError(
                    path,
                    f"missing column(s) {', '.join(missing)}",
                    row=1,
                    hint="the header needs " + ", ".join(REQUIRED),
                )
            out, numbers, seen = [], [], {}
            for row in reader:
                n = reader.line_num  # blank lines skipped by the reader still count
                if None in row:
                    raise InputError(path, "more fields than the header has", row=n)
                d = _decision(row, path, n, reviewer)
                key = decision_key(d.relation, d.child, d.parent)
                if key in seen:
                    raise InputError(path, f"the same edge as row {seen[key]}", row=n)
                seen[key] = n
                out.append(d)
                numbers.append(n)
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8 text") from None
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except csv.Error as exc:
        raise InputError(path, f"not a readable CSV ({exc})") from None
    if not out:
        raise InputError(path, "no decisions in the file (a header alone)")
    return out, numbers
