"""`mash-kg export`: the merged hierarchy as OMOP vocabulary-style tables and plain edge lists.

Written to a folder (tab-separated, as Athena ships them):
- CONCEPT.csv: one row per code; concept_id = 2,000,000,001 + its position among all code ids
  sorted (OMOP's range for local concepts; stable while the code set is); `invalid_reason` D
  for retired codes. concept_map.csv pairs concept_id and mash-kg id.
- CONCEPT_RELATIONSHIP.csv: curated IS_A as 'Is a' / 'Subsumes', learned MASH_IS_A as
  'MASH is a' / 'MASH subsumes', MAPS_TO as 'Maps to' / 'Mapped from', ALIGNED_WITH as
  'MASH aligned with' (learned relationships are told apart by their relationship_id).
- CONCEPT_ANCESTOR.csv: every ancestor-descendant pair (itself included, level 0) of the
  merged IS_A + MASH_IS_A hierarchy, with min and max levels of separation.
- edges.csv: start, end, type, vocab_or_source, score, build: every relationship, plain.
- build.csv: the synced build whose learned content was exported (build, version, synced;
  no row when none was synced): the active one, read in the same transaction as the rest.

Everything is read in one read transaction, and read again when a load or sync committed
meanwhile (a stamp of the graph taken before and after differs), so the files describe one
state of the graph. Text fields never carry a raw line break, tab or other control character:
those (and the backslash) are written as backslash escapes (`\\n`, `\\t`, `\\x1b`, `\\\\`).
The files are written to temporary files created exclusively in OUT (a link planted at any
name is never followed) and renamed into place once all are complete; a failure (disk full)
removes them and leaves OUT as it was.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections import deque
from pathlib import Path

import pandas as pd
from neo4j import READ_ACCESS, Driver

from mash_kg.errors import InputError, MashError

FIRST_ID = 2_000_000_001
DOMAIN = {
    "diagnosis": "Condition",
    "medication": "Drug",
    "lab": "Measurement",
    "procedure": "Procedure",
    "other": "Observation",
}
RELATIONSHIPS = {
    "IS_A": ("Is a", "Subsumes"),
    "MASH_IS_A": ("MASH is a", "MASH subsumes"),
    "MAPS_TO": ("Maps to", "Mapped from"),
    "ALIGNED_WITH": ("MASH aligned with", None),
}
# rows of CONCEPT_ANCESTOR at most (it grows with the square of a chain's depth: a 100,000-deep
# chain has 5 billion); MASH_KG_EXPORT_MAX_ANCESTOR_ROWS raises it
MAX_ANCESTOR_ROWS = 20_000_000
SNAPSHOT_TRIES = 20  # reads that a concurrent commit spoiled before export gives up


def ancestors(edges: pd.DataFrame, max_rows: int | None = None) -> pd.DataFrame:
    """(ancestor, descendant, min, max levels) of a child->parent DAG, self pairs included.
    Iterative (parents before children), so any depth works; more than `max_rows` rows
    (default `MAX_ANCESTOR_ROWS`) is one clear error. Codes on a cycle (bad input) get the
    levels of the parents computed before them."""
    limit = max_rows or int(os.environ.get("MASH_KG_EXPORT_MAX_ANCESTOR_ROWS", MAX_ANCESTOR_ROWS))
    parents: dict[str, list[str]] = {}
    children: dict[str, list[str]] = {}
    for c, p in zip(edges["start"], edges["end"], strict=True):
        parents.setdefault(c, []).append(p)
        children.setdefault(p, []).append(c)
    nodes = sorted(set(edges["start"]) | set(edges["end"]))
    waiting = {n: len(parents.get(n, ())) for n in nodes}
    ready = deque(n for n in nodes if not waiting[n])
    order: list[str] = []
    while ready:
        node = ready.popleft()
        order.append(node)
        for child in children.get(node, ()):
            waiting[child] -= 1
            if not waiting[child]:
                ready.append(child)
    done = set(order)
    order += [n for n in nodes if n not in done]  # on a cycle
    memo: dict[str, dict[str, tuple[int, int]]] = {}
    total = 0
    for node in order:
        out = {node: (0, 0)}
        for p in parents.get(node, ()):
            for a, (lo, hi) in memo.get(p, {}).items():
                old = out.get(a, (lo + 1, hi + 1))
                out[a] = (min(old[0], lo + 1), max(old[1], hi + 1))
        memo[node] = out
        total += len(out)
        if total > limit:
            deepest = max(hi for _, hi in out.values())
            raise MashError(
                f"the merged hierarchy's CONCEPT_ANCESTOR table would have more than {limit:,} "
                f"rows (a chain at least {deepest:,} levels deep): raise "
                "MASH_KG_EXPORT_MAX_ANCESTOR_ROWS if that is intended"
            )
    rows = [(a, node, lo, hi) for node in nodes for a, (lo, hi) in memo[node].items()]
    return pd.DataFrame(rows, columns=["ancestor", "descendant", "min_levels", "max_levels"])


def check_folder(out: Path) -> Path:
    """An output folder that can be made and written, checked before anything is read."""
    out = out.expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise InputError(out, "exists and is not a folder", hint="choose a new folder name")
    real = Path(os.path.realpath(out))
    if any(real == Path(s) or Path(s) in real.parents for s in ("/proc", "/sys", "/dev")):
        raise InputError(
            out, "is on a system filesystem (/proc, /sys or /dev)", hint="choose a folder on a disk"
        )
    base = out
    while not base.exists():
        base = base.parent
    if not base.is_dir():
        raise InputError(out, f"{base} is a file, not a folder", hint="choose another path")
    if not os.access(base, os.W_OK | os.X_OK):
        raise InputError(out, f"{base} is not writable", hint="choose a folder you can write")
    return out


CODES = (
    "MATCH (n:Code) RETURN n.id AS id, n.name AS name, n.vocab AS vocab, "
    "n.code AS code, n.domain AS domain, n.kind AS kind, n.status AS status, "
    "n.site AS site ORDER BY id"
)
# learned content as the active build's version holds it (graph/versions.py)
LATENT = (
    "MATCH (n:Latent) WHERE coalesce(n.valid_from, 0) <= $v AND coalesce(n.valid_to, $v + 1) > $v "
    "RETURN n.id AS id, n.name AS name, n.build AS build ORDER BY id"
)
EDGES = (
    "MATCH (a)-[r:IS_A|MASH_IS_A|MAPS_TO|ALIGNED_WITH]->(b) "
    "WHERE coalesce(r.valid_from, 0) <= $v AND coalesce(r.valid_to, $v + 1) > $v "
    "RETURN a.id AS start, b.id AS end, type(r) AS type, "
    "coalesce(r.vocab, r.source, r.method) AS vocab_or_source, "
    "r.score AS score, r.build AS build ORDER BY start, end, type"
)
ACTIVE = (
    "MATCH (b:Build {active: true}) WHERE b.seq IS NOT NULL "
    "RETURN b.id AS build, b.seq AS version, b.synced_at AS synced"
)
VALID = {"valid_start_date": "19700101", "valid_end_date": "20991231"}


STAMP = (
    "CALL { MATCH (n) RETURN count(n) AS nodes } "
    "CALL { MATCH ()-[r]->() RETURN count(r) AS rels } "
    "CALL { OPTIONAL MATCH (v:Vocabulary) RETURN max(v.loaded_at) AS loaded } "
    "CALL { OPTIONAL MATCH (b:Build) RETURN max(b.synced_at) AS synced } "
    "CALL { OPTIONAL MATCH (l:SyncLock) RETURN count(l) AS locks } "
    "RETURN [nodes, rels, toString(loaded), toString(synced), locks] AS stamp"
)


def _frame(tx, query: str, **params) -> pd.DataFrame:
    result = tx.run(query, params)
    keys = result.keys()
    return pd.DataFrame([r.values() for r in result], columns=keys)


def _read_state(tx) -> tuple[pd.DataFrame, ...] | None:
    """The active build, codes, and the latent groups and edges of the active build's version,
    read in one transaction; None when a write committed (or the write lock was taken or
    released) meanwhile."""
    before = tx.run(STAMP).single()["stamp"]
    build = _frame(tx, ACTIVE)
    v = int(build["version"].iloc[0]) if len(build) else 0
    codes, latent, edges = (_frame(tx, q, v=v) for q in (CODES, LATENT, EDGES))
    if tx.run(STAMP).single()["stamp"] != before:
        return None
    return build, codes, latent, edges


def read_snapshot(driver: Driver, database: str = "neo4j"):
    """Codes, latent groups and edges of one state of the graph (see `_read_state`), read
    again while loads or syncs commit, for up to `SNAPSHOT_TRIES` tries. An edge whose end is
    neither a code nor a latent group is one clear error."""
    for attempt in range(SNAPSHOT_TRIES):
        with driver.session(database=database, default_access_mode=READ_ACCESS) as session:
            state = session.execute_read(_read_state)
        if state is not None:
            _, codes, latent, edges = state
            ends = set(edges["start"]) | set(edges["end"])
            stray = sorted(map(str, ends - set(codes["id"]) - set(latent["id"])))
            if stray:
                raise MashError(
                    f"{len(stray)} node(s) with hierarchy or mapping edges are neither :Code "
                    f"nor :Latent (e.g. {stray[0][:80]!r}): they cannot be exported as concepts"
                )
            return state
        time.sleep(min(0.2 * 2**attempt, 5.0))
    raise MashError(
        "the graph kept changing during the export (a load or sync was writing): "
        "run `mash-kg export` again when it has finished"
    )


_CONTROL = re.compile(r"[\\\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_field(value: object) -> object:
    """A text field with line breaks, tabs, other control characters and the backslash written
    as backslash escapes, so each record is one line of its file."""
    if not isinstance(value, str) or not _CONTROL.search(value):
        return value
    return _CONTROL.sub(
        lambda m: (
            _NAMED.get(m[0])
            or (f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}")
        ),
        value,
    )


def _escaped(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for col in df.columns:
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col]):
            df[col] = df[col].map(escape_field)
    return df


def export_graph(driver: Driver, out: Path, database: str = "neo4j") -> dict[str, int]:
    """Write the export folder; returns rows per file."""
    out = check_folder(Path(out))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            out, f"cannot create the folder ({exc.strerror})", hint="choose a folder you can write"
        ) from None
    build, codes, latent, edges = read_snapshot(driver, database)
    ids = sorted(set(codes["id"]) | set(latent["id"]))
    cid = {i: FIRST_ID + k for k, i in enumerate(ids)}
    tables = {
        "CONCEPT.csv": concept_table(codes, latent, cid),
        "CONCEPT_RELATIONSHIP.csv": relationship_table(edges, cid),
        "CONCEPT_ANCESTOR.csv": ancestor_table(edges, cid),
        "concept_map.csv": pd.DataFrame({"concept_id": [cid[i] for i in ids], "id": ids}),
        "edges.csv": edges,
        "build.csv": build,
    }
    write_files(out, {name: _escaped(df) for name, df in tables.items()})
    return {name: len(df) for name, df in tables.items()}


def write_files(out: Path, tables: dict[str, pd.DataFrame]) -> None:
    """Write every table into `out`: each to a temporary file created exclusively (never
    through a planted link), all renamed into place once every one is complete; on failure
    the temporary files are removed and `out` keeps what it held."""
    mask = os.umask(0)
    os.umask(mask)
    tmps: dict[str, str] = {}
    try:
        for name, df in tables.items():
            fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".tmp")
            tmps[name] = tmp
            os.fchmod(fd, 0o666 & ~mask)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                sep = "\t" if name.startswith("CONCEPT") else ","
                df.to_csv(fh, sep=sep, index=False, lineterminator="\n")
                fh.flush()
                os.fsync(fh.fileno())
        for name in list(tmps):
            os.replace(tmps.pop(name), out / name)
    except OSError as exc:
        raise InputError(
            out,
            f"could not write the export ({exc.strerror or exc.__class__.__name__}); "
            "the files were not replaced",
            hint="free space or choose another folder",
        ) from None
    finally:
        for tmp in tmps.values():
            Path(tmp).unlink(missing_ok=True)


def concept_table(codes: pd.DataFrame, latent: pd.DataFrame, cid: dict[str, int]) -> pd.DataFrame:
    """OMOP CONCEPT rows: the codes (retired ones invalid_reason D), then the latent groups."""
    concept = pd.DataFrame(
        {
            "concept_id": [cid[i] for i in codes["id"]],
            "concept_name": codes["name"].fillna(codes["id"]).str.slice(0, 255),
            "domain_id": codes["domain"].map(DOMAIN).fillna("Observation"),
            "vocabulary_id": codes["vocab"].fillna(""),
            "concept_class_id": codes["kind"].fillna("Code"),
            "standard_concept": "",
            "concept_code": codes["code"].fillna(codes["id"]),
            **VALID,
            "invalid_reason": (codes["status"] == "retired").map({True: "D", False: ""}),
        }
    )
    if not len(latent):
        return concept
    groups = pd.DataFrame(
        {
            "concept_id": [cid[i] for i in latent["id"]],
            "concept_name": latent["name"],
            "domain_id": "Observation",
            "vocabulary_id": "MASH",
            "concept_class_id": "Latent",
            "standard_concept": "",
            "concept_code": latent["id"],
            **VALID,
            "invalid_reason": "",
        }
    )
    return pd.concat([concept, groups], ignore_index=True)


def relationship_table(edges: pd.DataFrame, cid: dict[str, int]) -> pd.DataFrame:
    """OMOP CONCEPT_RELATIONSHIP rows: each edge forward and (where it has one) backward."""
    rows = []
    for s, e, t in zip(edges["start"], edges["end"], edges["type"], strict=True):
        forward, backward = RELATIONSHIPS[t]
        rows.append((cid[s], cid[e], forward))
        if backward:
            rows.append((cid[e], cid[s], backward))
    relationship = pd.DataFrame(rows, columns=["concept_id_1", "concept_id_2", "relationship_id"])
    return relationship.assign(**VALID, invalid_reason="")


def ancestor_table(edges: pd.DataFrame, cid: dict[str, int]) -> pd.DataFrame:
    """OMOP CONCEPT_ANCESTOR rows of the merged IS_A + MASH_IS_A hierarchy."""
    anc = ancestors(edges[edges["type"].isin(["IS_A", "MASH_IS_A"])])
    return pd.DataFrame(
        {
            "ancestor_concept_id": anc["ancestor"].map(cid),
            "descendant_concept_id": anc["descendant"].map(cid),
            "min_levels_of_separation": anc["min_levels"],
            "max_levels_of_separation": anc["max_levels"],
        }
    )
