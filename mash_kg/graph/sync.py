"""`mash-kg sync`: make Neo4j hold a build's learned content, writing only the difference.

What a build owns in the graph (curated ontology content is never touched):
- ``:Site`` nodes; ``:Code`` nodes the build brings that no load created (``origin: 'build'``,
  e.g. a site's local lab codes), retired (``status: 'retired'``) when a later build drops them;
- on every code of the build: ``sites`` (where it is seen), ``embedding`` (aligned vector, unit
  norm), ``poincare`` (Stage II) and ``sync_hash`` (a digest of the three, so that the next
  sync finds changed codes without reading every vector back); removed again from codes a
  later build no longer has;
- ``ALIGNED_WITH {score, transport, rank, method, build}`` edges; ``build`` names the build that
  last wrote the edge, so an unchanged edge is not rewritten;
- Stages II-III: ``:Latent {id, name, domain, size, poincare, build}`` nodes (deleted with
  their edges when a later build no longer has them), ``MASH_IS_A {score, rank, build}`` edges
  from codes and latent groups to their learned parents;
- ``:Build {id, created_at, config_hash, version, metrics, synced_at, current}``.

The difference is applied in ONE transaction of batched UNWIND statements: a sync killed or
cut off midway is rolled back by Neo4j, readers see the old build or the new one, and the
next run recomputes the difference from what the graph really holds, so it converges to
exactly the state of a clean sync. One sync at a time: a ``:SyncLock`` node (unique id) is
created before and deleted after; a stale one (a killed process) is cleared with
``mash-kg sync --break-lock``.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from neo4j import Driver
from neo4j.exceptions import ConstraintError

from mash_kg.errors import InputError, MashError
from mash_kg.graph.writer import DEFAULT_BATCH, _batches

LOCK_ID = "sync"
# properties a build owns on its codes; sync_hash digests the first three, edges_hash the
# code's outgoing ALIGNED_WITH and MASH_IS_A edges (only codes whose edges_hash changed have
# their edges read back and compared)
NODE_KEYS = ("sites", "embedding", "poincare", "sync_hash", "edges_hash")
CREATED_KEYS = ("vocab", "code", "name", "domain", "site")  # on codes it creates


@dataclass
class SyncReport:
    build: str
    codes_added: int = 0
    codes_changed: int = 0
    codes_retired: int = 0
    aligned_added: int = 0
    aligned_changed: int = 0
    aligned_removed: int = 0
    sites_added: int = 0
    latent_added: int = 0
    latent_changed: int = 0
    latent_removed: int = 0
    learned_added: int = 0
    learned_changed: int = 0
    learned_removed: int = 0
    dry_run: bool = False
    seconds: float = 0.0

    @property
    def changes(self) -> int:
        return (self.codes_added + self.codes_changed + self.codes_retired + self.aligned_added
                + self.aligned_changed + self.aligned_removed + self.sites_added
                + self.latent_added + self.latent_changed + self.latent_removed
                + self.learned_added + self.learned_changed + self.learned_removed)  # fmt: skip


class SyncLocked(MashError):
    """Another sync holds the lock."""


class Vectors:
    """Rows of one matrix looked up by id (a build's embeddings or points)."""

    def __init__(self, ids: list[str], matrix: np.ndarray) -> None:
        self.matrix = matrix
        self.row = {i: k for k, i in enumerate(ids)}

    def __contains__(self, cid: str) -> bool:
        return cid in self.row

    def __getitem__(self, cid: str) -> np.ndarray:
        return self.matrix[self.row[cid]]

    def __len__(self) -> int:
        return len(self.row)

    @property
    def dim(self) -> int:
        return self.matrix.shape[1] if self.matrix.ndim == 2 else 0

    def take(self, ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(rows of `ids`, zeros where missing; mask of the ids present)."""
        idx = np.array([self.row.get(i, -1) for i in ids], dtype=np.int64)
        have = idx >= 0
        out = np.zeros((len(ids), self.dim))
        if self.dim:
            out[have] = self.matrix[idx[have]]
        return out, have


def _matrix(column) -> np.ndarray:
    """A Parquet column of equal-length float lists as one (rows, dim) array, without a
    Python object per row."""
    flat = column.combine_chunks()
    if len(flat) == 0:
        return np.zeros((0, 0))
    values = flat.flatten().to_numpy(zero_copy_only=False)
    return values.reshape(len(flat), -1)


def read_build(folder: Path) -> tuple[dict, pd.DataFrame, pd.DataFrame, Vectors]:
    """(manifest, codes, counterparts, embedding by code id) of a build folder."""
    folder = Path(folder)
    need = ["manifest.json", "codes.parquet", "counterparts.parquet", "embeddings.parquet"]
    for name in need:
        if not (folder / name).is_file():
            raise InputError(folder / name, "missing from the build folder",
                             hint="run mash-kg build, then sync the folder it prints")  # fmt: skip
    manifest = json.loads((folder / "manifest.json").read_text())
    codes = pd.read_parquet(folder / "codes.parquet")
    counterparts = pd.read_parquet(folder / "counterparts.parquet")
    emb = pq.read_table(folder / "embeddings.parquet", columns=["id", "site", "aligned"])
    vectors = _matrix(emb.column("aligned")).astype(np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))[:, None]
    # unit norm, kept in float32: the values written are the same on every run
    vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    ref = manifest.get("reference_site")
    sites = emb.column("site").to_pylist()
    order = sorted(range(emb.num_rows), key=lambda i: sites[i] != ref)
    ids = emb.column("id").to_pylist()
    keep: dict[str, int] = {}
    for i in order:  # a shared code keeps the reference site's vector
        keep.setdefault(ids[i], i)
    rows = list(keep.values())
    return manifest, codes, counterparts, Vectors(list(keep), vectors[rows])


def read_hierarchy(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, Vectors]:
    """(MASH_IS_A edges, latent groups, point on the ball by id) of a Stage III build; empty
    tables for a Stage I build."""
    folder = Path(folder)
    if not (folder / "hierarchy.parquet").is_file():
        empty = pd.DataFrame(columns=["child", "parent", "score", "rank", "parent_label"])
        return (
            empty,
            pd.DataFrame(columns=["id", "name", "domain", "size"]),
            Vectors([], np.zeros((0, 0))),
        )
    hierarchy = pd.read_parquet(folder / "hierarchy.parquet")
    latent = pd.read_parquet(folder / "latent.parquet")
    pts = pq.read_table(folder / "poincare.parquet", columns=["id", "role", "point"])
    keep = [r != "context" for r in pts.column("role").to_pylist()]
    points = _matrix(pts.column("point")).astype(np.float64)  # deep codes need float64
    ids = pts.column("id").to_pylist()
    return hierarchy, latent, Vectors([i for i, k in zip(ids, keep, strict=True) if k],
                                      points[np.array(keep, dtype=bool)])  # fmt: skip


_MIX = np.random.default_rng(20261126).integers(1, 2**63, size=(2, 256), dtype=np.uint64) | 1


def content_hashes(
    ids: list[str], sites_of: dict[str, list[str]], embedding: Vectors, poincare: Vectors
) -> dict[str, str]:
    """What a build puts on each code (sites, embedding, point), as one short string: the sync
    compares these instead of reading every vector back. Vectors are digested together, as
    two 64-bit multiply-add sums over their float32 bits (change detection, not security)."""
    if not ids:
        return {}
    emb, _ = embedding.take(ids)
    pts, has = poincare.take(ids)
    bits = np.hstack([emb.astype(np.float32), pts.astype(np.float32), has[:, None]])
    bits = np.ascontiguousarray(bits, dtype=np.float32).view(np.uint32).astype(np.uint64)
    mix = np.resize(_MIX, (2, bits.shape[1]))
    h1, h2 = (bits * mix[0]).sum(axis=1), (np.roll(bits, 1, axis=1) * mix[1]).sum(axis=1)
    combos = {c: hashlib.blake2b("|".join(c).encode(), digest_size=4).hexdigest()
              for c in {tuple(sites_of[i]) for i in ids}}  # fmt: skip
    return {i: f"{a:016x}{b:016x}{combos[tuple(sites_of[i])]}"
            for i, a, b in zip(ids, h1.tolist(), h2.tolist(), strict=True)}  # fmt: skip


def _round(x: float) -> float:
    return float(np.float32(x))  # scores as float32 values: stable across runs and reads


def clear_lock(driver: Driver, database: str = "neo4j") -> bool:
    """Delete the sync lock; True when there was one."""
    records, _, _ = driver.execute_query(
        "MATCH (l:SyncLock {id: $id}) DELETE l RETURN count(*) AS n", id=LOCK_ID,
        database_=database,
    )  # fmt: skip
    return records[0]["n"] > 0


def _take_lock(driver: Driver, build: str, database: str) -> None:
    try:
        driver.execute_query(
            "CREATE (:SyncLock {id: $id, build: $build, pid: $pid, host: $host, since: $since})",
            id=LOCK_ID, build=build, pid=os.getpid(), host=socket.gethostname(),
            since=datetime.now(UTC).isoformat(timespec="seconds"), database_=database,
        )  # fmt: skip
    except ConstraintError:
        records, _, _ = driver.execute_query(
            "MATCH (l:SyncLock {id: $id}) RETURN properties(l) AS p", id=LOCK_ID,
            database_=database,
        )  # fmt: skip
        p = records[0]["p"] if records else {}
        raise SyncLocked(
            f"another sync holds the lock (build {p.get('build')}, pid {p.get('pid')} on "
            f"{p.get('host')}, since {p.get('since')}); if that process is gone, run "
            "`mash-kg sync --break-lock`"
        ) from None


def sync_build(
    driver: Driver, folder: Path, *, database: str = "neo4j", batch_size: int = DEFAULT_BATCH,
    dry_run: bool = False, progress: Callable[[int], None] | None = None,
    _fail_after: int | None = None,
) -> SyncReport:  # fmt: skip
    """Make the graph hold the build in `folder` (see the module docstring)."""
    t0 = time.perf_counter()
    manifest, codes, counterparts, embedding = read_build(folder)
    build = manifest["id"]
    report = SyncReport(build=build, dry_run=dry_run)

    # target state ----------------------------------------------------------------------
    pairs = codes[["id", "site"]].drop_duplicates().sort_values(["id", "site"])
    shared = pairs["id"].duplicated(keep=False).to_numpy()  # codes several sites have
    sites_of = {
        cid: [site]
        for cid, site in zip(
            pairs["id"].to_numpy()[~shared], pairs["site"].to_numpy()[~shared], strict=True
        )
    }
    for cid, site in zip(pairs["id"].to_numpy()[shared], pairs["site"].to_numpy()[shared],
                         strict=True):  # fmt: skip
        sites_of.setdefault(cid, []).append(site)
    hierarchy, latent, poincare = read_hierarchy(folder)
    target_hash = content_hashes(list(sites_of), sites_of, embedding, poincare)

    def node_props(i: str) -> dict:  # what a build writes on a code (vectors as lists)
        return {"sites": sites_of[i], "embedding": embedding[i].tolist(),
                "poincare": poincare[i].tolist() if i in poincare else None,
                "sync_hash": target_hash[i], "edges_hash": edge_hash[i]}  # fmt: skip

    target_latent = {
        r.id: {"name": r.name, "size": int(r.size),
               "poincare": poincare[r.id].tolist() if r.id in poincare else None,
               **({} if r.domain is None or pd.isna(r.domain) else {"domain": r.domain})}
        for r in latent.itertuples()
    }  # fmt: skip
    label = {r.id: "Latent" for r in latent.itertuples()}
    target_learned = {
        (r.child, r.parent): {"score": _round(r.score), "rank": int(r.rank),
                              "labels": (label.get(r.child, "Code"), r.parent_label)}
        for r in hierarchy.itertuples()
    }  # fmt: skip
    target_edges = {
        (r.id, r.other_id): {"score": float(r.score), "rank": int(r.rank), "method": r.method,
                             **({} if pd.isna(r.transport) else {"transport": float(r.transport)})}
        for r in counterparts.itertuples()
    }  # fmt: skip
    # a code's hash also covers its outgoing learned edges: only the edges of codes whose hash
    # changed are read back and compared
    outgoing: dict[str, list] = {}
    for (a, b), p in target_edges.items():
        outgoing.setdefault(a, []).append(("A", b, p["score"], p["rank"], p["method"],
                                           p.get("transport", -1.0)))  # fmt: skip
    for (a, b), p in target_learned.items():
        outgoing.setdefault(a, []).append(("M", b, p["score"], p["rank"], *p["labels"], -1.0))
    edge_hash = {cid: hashlib.blake2b(repr(sorted(outgoing[cid])).encode(), digest_size=8)
                 .hexdigest() if cid in outgoing else "-" for cid in target_hash}  # fmt: skip

    # what the graph holds ----------------------------------------------------------------
    # codes are compared by their content hash: no vector is read back
    # (each read returns one record holding a list: far less Bolt traffic than a record per row)
    fields = ("collect([n.id, n.sync_hash, n.sites IS NOT NULL, n.origin, n.status, "
              "n.edges_hash]) AS rows")  # fmt: skip
    held, _, _ = driver.execute_query(
        "MATCH (n:Code) WHERE n.sites IS NOT NULL OR n.origin = 'build' RETURN " + fields,
        database_=database,
    )  # fmt: skip
    keys = ("id", "hash", "has_sites", "origin", "status", "edges_hash")
    held_nodes = {r[0]: dict(zip(keys, r, strict=True)) for r in held[0]["rows"]}
    unseen = [cid for cid in target_hash if cid not in held_nodes]  # curated, or new codes
    if unseen:
        more, _, _ = driver.execute_query(
            "UNWIND $ids AS id MATCH (n:Code {id: id}) RETURN " + fields, ids=unseen,
            database_=database,
        )  # fmt: skip
        held_nodes.update({r[0]: dict(zip(keys, r, strict=True)) for r in more[0]["rows"]})
    dirty = {cid for cid, d in edge_hash.items()
             if cid not in held_nodes or held_nodes[cid]["edges_hash"] != d}  # fmt: skip
    dirty |= {cid for cid in held_nodes if cid not in target_hash}
    edges, _, _ = driver.execute_query(
        "UNWIND $ids AS id MATCH (a:Code {id: id})-[r:ALIGNED_WITH]->(b:Code) "
        "RETURN collect([a.id, b.id, properties(r)]) AS rows", ids=sorted(dirty),
        database_=database,
    )  # fmt: skip
    held_edges = {(s_, e): p for s_, e, p in edges[0]["rows"]}
    target_edges = {k: v for k, v in target_edges.items() if k[0] in dirty}
    sites_held, _, _ = driver.execute_query("MATCH (s:Site) RETURN s.id AS id", database_=database)
    new_sites = sorted(set(codes["site"]) - {r["id"] for r in sites_held})
    held_lat, _, _ = driver.execute_query(
        "MATCH (n:Latent) RETURN n.id AS id, properties(n) AS p", database_=database
    )
    held_latent = {r["id"]: r["p"] for r in held_lat}
    mash_rows = "collect([a.id, b.id, properties(r), " \
        "CASE WHEN a:Latent THEN 'Latent' ELSE 'Code' END, " \
        "CASE WHEN b:Latent THEN 'Latent' ELSE 'Code' END]) AS rows"  # fmt: skip
    from_codes, _, _ = driver.execute_query(
        "UNWIND $ids AS id MATCH (a:Code {id: id})-[r:MASH_IS_A]->(b) RETURN " + mash_rows,
        ids=sorted(dirty), database_=database,
    )  # fmt: skip
    from_latent, _, _ = driver.execute_query(
        "MATCH (a:Latent)-[r:MASH_IS_A]->(b) RETURN " + mash_rows, database_=database
    )
    held_mash = from_codes[0]["rows"] + from_latent[0]["rows"]
    held_learned = {(a, b): p for a, b, p, _, _ in held_mash}
    held_labels = {(a, b): (la, lb) for a, b, _, la, lb in held_mash}
    target_learned = {k: v for k, v in target_learned.items()
                      if k[0] in dirty or k[0] in target_latent}  # fmt: skip

    # the difference --------------------------------------------------------------------
    create, update, retire, strip = [], [], [], []
    missing = [cid for cid in target_hash if cid not in held_nodes]
    first = (codes[codes["id"].isin(missing)].drop_duplicates("id").set_index("id")
             .to_dict("index"))  # fmt: skip
    for cid, digest in target_hash.items():
        old = held_nodes.get(cid)
        if old is None:
            row = first[cid]
            extra = {k: row[k] for k in CREATED_KEYS if k in row and not pd.isna(row[k])}
            if extra.get("vocab") and not str(cid).startswith(f"{extra.get('site')}/"):
                extra.pop("site", None)  # standard codes have no site
            props = {k: v for k, v in node_props(cid).items() if v is not None}
            create.append({"id": cid, "props": {**extra, **props, "origin": "build",
                                                "status": "active"}})  # fmt: skip
        elif old["hash"] != digest or (old["origin"] == "build" and old["status"] != "active"):
            props = node_props(cid)  # a None (a code losing its point) removes the property
            update.append({"id": cid, "props": {**props, "status": "active"}
                           if old["origin"] == "build" else props})  # fmt: skip
    rewritten = {r["id"] for r in create + update}
    marks = [
        {"id": cid, "h": edge_hash[cid]}
        for cid in sorted(dirty)
        if cid in target_hash and cid not in rewritten
    ]  # edges changed, the code did not
    for cid, old in held_nodes.items():
        if cid in target_hash:
            continue
        if old["origin"] == "build" and old["status"] != "retired":
            retire.append({"id": cid})
        elif old["has_sites"]:
            strip.append({"id": cid})
    e_create = [{"s": s, "e": e, "p": {**p, "build": build}}
                for (s, e), p in target_edges.items() if (s, e) not in held_edges]  # fmt: skip
    e_update = [
        {"s": s, "e": e, "p": {**p, "build": build}}
        for (s, e), p in target_edges.items()
        if (s, e) in held_edges
        and {k: v for k, v in held_edges[(s, e)].items() if k != "build"} != p
    ]
    e_delete = [{"s": s, "e": e} for (s, e) in held_edges if (s, e) not in target_edges]
    l_create = [{"id": i, "p": {**p, "id": i, "build": build}}
                for i, p in target_latent.items() if i not in held_latent]  # fmt: skip
    l_update = [
        {"id": i, "p": {**p, "id": i, "build": build}}
        for i, p in target_latent.items()
        if i in held_latent
        and {k: v for k, v in held_latent[i].items() if k not in ("build", "id")}
        != {k: v for k, v in p.items() if v is not None}
    ]
    l_delete = [{"id": i} for i in held_latent if i not in target_latent]
    m_create, m_update = [], []
    for (a, b), p in target_learned.items():
        row = {"s": a, "e": b, "labels": p["labels"],
               "p": {"score": p["score"], "rank": p["rank"], "build": build}}  # fmt: skip
        old = held_learned.get((a, b))
        if old is None:
            m_create.append(row)
        elif old.get("score") != p["score"] or old.get("rank") != p["rank"]:
            m_update.append(row)
    m_delete = [{"s": a, "e": b, "labels": held_labels[(a, b)]}
                for (a, b) in held_learned if (a, b) not in target_learned]  # fmt: skip
    report.latent_added, report.latent_changed = len(l_create), len(l_update)
    report.latent_removed = len(l_delete)
    report.learned_added, report.learned_changed = len(m_create), len(m_update)
    report.learned_removed = len(m_delete)
    report.codes_added, report.codes_changed = len(create), len(update) + len(strip)
    report.codes_retired = len(retire)
    report.aligned_added, report.aligned_changed = len(e_create), len(e_update)
    report.aligned_removed, report.sites_added = len(e_delete), len(new_sites)
    build_changed = report.changes > 0 or not _is_current(driver, build, database)
    if dry_run:
        report.seconds = time.perf_counter() - t0
        return report

    _take_lock(driver, build, database)
    try:
        done = 0

        def run(tx, query: str, rows: list, **params) -> None:
            nonlocal done
            for batch in _batches(rows, batch_size):
                tx.run(query, rows=batch, **params).consume()
                done += 1
                if _fail_after is not None and done >= _fail_after:
                    os._exit(137)  # test hook: the process dies mid-transaction, like kill -9
                if progress:
                    progress(len(batch))

        with driver.session(database=database) as session, session.begin_transaction() as tx:
            run(tx, "UNWIND $rows AS id MERGE (:Site {id: id})", new_sites)
            run(tx, "UNWIND $rows AS row CREATE (n:Code {id: row.id}) SET n += row.props", create)
            run(tx, "UNWIND $rows AS row MATCH (n:Code {id: row.id}) SET n += row.props", update)
            run(tx, "UNWIND $rows AS row MATCH (n:Code {id: row.id}) SET n.edges_hash = row.h",
                marks)  # fmt: skip
            run(tx, "UNWIND $rows AS row MATCH (n:Code {id: row.id}) "
                "SET n.status = 'retired', n.sites = null, n.embedding = null, n.poincare = null, "
                "n.sync_hash = null, n.edges_hash = null",
                retire)  # fmt: skip
            run(tx, "UNWIND $rows AS row MATCH (n:Code {id: row.id}) "
                "SET n.sites = null, n.embedding = null, n.poincare = null, n.sync_hash = null, "
                "n.edges_hash = null",
                strip)  # fmt: skip
            match = "UNWIND $rows AS row MATCH (a:Code {id: row.s}) MATCH (b:Code {id: row.e}) "
            run(tx, match + "CREATE (a)-[r:ALIGNED_WITH]->(b) SET r = row.p", e_create)
            run(tx, match + "MATCH (a)-[r:ALIGNED_WITH]->(b) SET r = row.p", e_update)
            run(tx, match + "MATCH (a)-[r:ALIGNED_WITH]->(b) DELETE r", e_delete)
            for labels in sorted({r["labels"] for r in m_delete}):
                run(tx, _mash_match(labels) + "MATCH (a)-[r:MASH_IS_A]->(b) DELETE r",
                    [r for r in m_delete if r["labels"] == labels])  # fmt: skip
            run(tx, "UNWIND $rows AS row MATCH (n:Latent {id: row.id}) DETACH DELETE n", l_delete)
            run(tx, "UNWIND $rows AS row CREATE (n:Latent) SET n = row.p", l_create)
            run(tx, "UNWIND $rows AS row MATCH (n:Latent {id: row.id}) SET n = row.p", l_update)
            for labels in sorted({r["labels"] for r in m_create + m_update}):
                m = _mash_match(labels)
                run(tx, m + "CREATE (a)-[r:MASH_IS_A]->(b) SET r = row.p",
                    [r for r in m_create if r["labels"] == labels])  # fmt: skip
                run(tx, m + "MATCH (a)-[r:MASH_IS_A]->(b) SET r = row.p",
                    [r for r in m_update if r["labels"] == labels])  # fmt: skip
            if build_changed:
                tx.run(
                    "MATCH (b:Build) WHERE b.id <> $id SET b.current = false "
                    "WITH count(*) AS _ MERGE (b:Build {id: $id}) "
                    "SET b.created_at = $created, b.config_hash = $hash, b.version = $version, "
                    "b.metrics = $metrics, b.synced_at = $now, b.current = true",
                    id=build, created=manifest.get("created_at"),
                    hash=manifest.get("config_hash"), version=manifest.get("version"),
                    metrics=json.dumps(manifest.get("sites", {}), sort_keys=True),
                    now=datetime.now(UTC).isoformat(timespec="seconds"),
                ).consume()  # fmt: skip
            tx.commit()
    finally:
        clear_lock(driver, database)
    if len(embedding):
        ensure_vector_index(driver, embedding.dim, database)
    report.seconds = time.perf_counter() - t0
    return report


def _mash_match(labels: tuple[str, str]) -> str:
    """Both ends of a MASH_IS_A row, each by its label's unique id (labels are from a fixed
    pair of names, never from input)."""
    assert set(labels) <= {"Code", "Latent"}
    return (f"UNWIND $rows AS row MATCH (a:{labels[0]} {{id: row.s}}) "
            f"MATCH (b:{labels[1]} {{id: row.e}}) ")  # fmt: skip


def ensure_vector_index(driver: Driver, dimensions: int, database: str = "neo4j") -> None:
    """The cosine vector index `code_embedding` over Code.embedding, at the build's dimension
    (schema statements cannot share the data transaction, so this follows the commit)."""
    records, _, _ = driver.execute_query(
        "SHOW INDEXES YIELD name, options WHERE name = 'code_embedding' RETURN options",
        database_=database,
    )
    if records:
        config = records[0]["options"].get("indexConfig", {})
        if config.get("vector.dimensions") == dimensions:
            return
        driver.execute_query("DROP INDEX code_embedding", database_=database)
    driver.execute_query(
        "CREATE VECTOR INDEX code_embedding IF NOT EXISTS FOR (n:Code) ON n.embedding "
        "OPTIONS {indexConfig: {`vector.dimensions`: $dims, "
        "`vector.similarity_function`: 'cosine'}}",
        dims=dimensions, database_=database,
    )  # fmt: skip
    driver.execute_query("CALL db.awaitIndexes(300)", database_=database)


def _is_current(driver: Driver, build: str, database: str) -> bool:
    records, _, _ = driver.execute_query(
        "MATCH (b:Build {id: $id, current: true}) RETURN count(b) AS n", id=build,
        database_=database,
    )  # fmt: skip
    return records[0]["n"] > 0
