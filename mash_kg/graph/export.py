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
  no row when none was synced): the active one, read once.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
from neo4j import Driver, RoutingControl

from mash_kg.errors import InputError

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


def _read(driver: Driver, query: str, database: str, **params) -> pd.DataFrame:
    records, _, keys = driver.execute_query(
        query, params, database_=database, routing_=RoutingControl.READ
    )
    return pd.DataFrame([dict(r) for r in records], columns=keys)


def ancestors(edges: pd.DataFrame) -> pd.DataFrame:
    """(ancestor, descendant, min, max levels) of a child->parent DAG, self pairs included."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))  # depth = the DAG's depth
    parents: dict[str, list[str]] = {}
    for c, p in zip(edges["start"], edges["end"], strict=True):
        parents.setdefault(c, []).append(p)
    memo: dict[str, dict[str, tuple[int, int]]] = {}

    def levels(node: str) -> dict[str, tuple[int, int]]:
        """Ancestor -> (min, max) levels; a node's table is built from its parents' tables."""
        if node not in memo:
            memo[node] = {}  # guards against a cycle in bad input
            out = {node: (0, 0)}
            for p in parents.get(node, []):
                for a, (lo, hi) in levels(p).items():
                    old = out.get(a, (lo + 1, hi + 1))
                    out[a] = (min(old[0], lo + 1), max(old[1], hi + 1))
            memo[node] = out
        return memo[node]

    rows = []
    for node in sorted(set(edges["start"]) | set(edges["end"])):
        rows += [(a, node, lo, hi) for a, (lo, hi) in levels(node).items()]
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


def export_graph(driver: Driver, out: Path, database: str = "neo4j") -> dict[str, int]:
    """Write the export folder; returns rows per file."""
    out = check_folder(Path(out))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            out, f"cannot create the folder ({exc.strerror})", hint="choose a folder you can write"
        ) from None
    build = _read(driver, ACTIVE, database)  # the build exported, named in build.csv
    v = int(build["version"].iloc[0]) if len(build) else 0
    codes = _read(driver, CODES, database)
    latent = _read(driver, LATENT, database, v=v)
    edges = _read(driver, EDGES, database, v=v)
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
    for name, df in tables.items():
        tmp = out / f".{name}.tmp"
        df.to_csv(tmp, sep="\t" if name.startswith("CONCEPT") else ",", index=False)
        tmp.rename(out / name)
    return {name: len(df) for name, df in tables.items()}


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
