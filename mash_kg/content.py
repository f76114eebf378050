"""What a build puts into the graph, read from its folder: the target of `mash-kg sync`.

A build's codes, learned edges and groups come as tables; their vectors (the aligned
embedding, the Poincaré point) are read only when a code has to be written. ``digests`` says in
a few bytes per code what the graph should hold on it (``sync_hash``: its sites, embedding and
point; ``edges_hash``: its outgoing ALIGNED_WITH and MASH_IS_A edges), so that a sync finds what
changed by comparing short strings. A build stores them as ``content.parquet`` (written with
its manifest); a build without that table has them computed when synced.
Pure: no Neo4j here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mash_kg import artefact
from mash_kg.errors import InputError

# the two labels a MASH_IS_A end can have (the graph's shape never comes from data)
END_LABELS = ("Code", "Latent")


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


def _matrix(column, where: Path | None = None) -> np.ndarray:
    """A Parquet column of equal-length float lists as one (rows, dim) array, without a
    Python object per row; lists of unequal length or with nulls are a damaged build."""
    import pyarrow.compute as pc

    flat = column.combine_chunks()
    if len(flat) == 0:
        return np.zeros((0, 0))
    lengths = pc.list_value_length(flat)
    low, high = pc.min_max(lengths).values()
    if flat.null_count or low.as_py() != high.as_py() or flat.flatten().null_count:
        raise InputError(
            where or "build",
            "vectors of unequal length or missing values",
            hint="the build folder is damaged: build again",
        )
    values = flat.flatten().to_numpy(zero_copy_only=False)
    return values.reshape(len(flat), -1)


def _read_embedding(build: artefact.Build) -> Vectors:
    """The aligned vector of each code the graph holds (the row the build marked in_graph),
    unit norm, float32."""
    emb = build.table("embeddings", ["id", "aligned", "in_graph"])
    keep = emb.column("in_graph").to_numpy(zero_copy_only=False).astype(bool)
    vectors = _matrix(emb.column("aligned"), build.file("embeddings")).astype(np.float32)[keep]
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))[:, None]
    # unit norm, kept in float32: the values written are the same on every run
    vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    ids = [i for i, k in zip(emb.column("id").to_pylist(), keep, strict=True) if k]
    return Vectors(ids, vectors)


def _read_points(build: artefact.Build) -> Vectors:
    """Each code's and group's point on the ball (float64: deep codes need it); none for a
    Stage I build."""
    if not build.has("poincare"):
        return Vectors([], np.zeros((0, 0)))
    pts = build.table("poincare", ["id", "role", "point"])
    keep = np.array([r != "context" for r in pts.column("role").to_pylist()], dtype=bool)
    points = _matrix(pts.column("point"), build.file("poincare")).astype(np.float64)
    ids = pts.column("id").to_pylist()
    return Vectors([i for i, k in zip(ids, keep, strict=True) if k], points[keep])


@dataclass
class Target:
    """A build read from its folder (tables now, vectors and digests when first asked for)."""

    source: artefact.Build
    codes: pd.DataFrame
    counterparts: pd.DataFrame
    hierarchy: pd.DataFrame
    latent: pd.DataFrame
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def folder(self) -> Path:
        return self.source.path

    @property
    def manifest(self) -> dict:
        return self.source.manifest

    @property
    def build(self) -> str:
        return self.source.id

    @property
    def embedding(self) -> Vectors:
        if "embedding" not in self._cache:
            self._cache["embedding"] = _read_embedding(self.source)
        return self._cache["embedding"]

    @property
    def poincare(self) -> Vectors:
        if "poincare" not in self._cache:
            self._cache["poincare"] = _read_points(self.source)
        return self._cache["poincare"]

    @property
    def written_dim(self) -> int:
        """The embedding's dimension once the vectors were read (0 before)."""
        emb = self._cache.get("embedding")
        return emb.dim if emb is not None and len(emb) else 0

    @property
    def digest_rows(self) -> dict[str, dict]:
        """id -> {sites, sync_hash, edges_hash} of each code (the `digests` table as a map,
        made once: sync looks codes up in it while reading the graph and while diffing)."""
        if "digest_rows" not in self._cache:
            dig = self.digests
            cols = [dig[c].tolist() for c in ("id", "sites", "sync_hash", "edges_hash")]
            self._cache["digest_rows"] = {
                i: {"sites": s, "sync_hash": h, "edges_hash": e}
                for i, s, h, e in zip(*cols, strict=True)
            }
        return self._cache["digest_rows"]

    @property
    def digests(self) -> pd.DataFrame:
        """id, sites, sync_hash, edges_hash per code: a sealed build's content table (read by
        `read_target`), else computed from the other tables (a build being sealed)."""
        if "digests" not in self._cache:
            self._cache["digests"] = digests(self)
        return self._cache["digests"]


def read_target(folder: Path) -> Target:
    """The build in `folder`, checked against its manifest: an empty, damaged or incomplete
    build, or a parent_label other than Code or Latent, is one clear line."""
    # the vectors are verified when a code's state is written: a sync that writes none (a
    # no-op, changed edges only) never reads the largest table (artefact: deferred tables)
    build = artefact.Build.open(folder, defer=("embeddings",))
    target = _tables(build)
    target._cache["digests"] = build.frame("content")  # read now, before a sync takes its lock
    if target.codes.empty:
        raise InputError(
            target.source.file("codes"),
            "the build has no codes: syncing it would remove all learned content",
            hint="check the build's site inputs and build again",
        )
    bad = ~target.hierarchy["parent_label"].isin(list(END_LABELS))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        label = str(target.hierarchy["parent_label"].iat[row])[:40]
        raise InputError(
            target.source.file("hierarchy"),
            f"parent_label {label!r} is not Code or Latent",
            row=row + 1,
            hint="the build folder is damaged or was edited: build again",
        )
    return target


def _tables(build: artefact.Build) -> Target:
    """The tables sync reads, as they are (a Stage I build: no hierarchy, no groups)."""
    return Target(
        build,
        build.frame("codes"),
        build.frame("counterparts"),
        build.frame_or_empty("hierarchy"),
        build.frame_or_empty("latent"),
    )


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
    combos = {
        c: hashlib.blake2b("|".join(c).encode(), digest_size=4).hexdigest()
        for c in {tuple(sites_of[i]) for i in ids}
    }
    return {
        i: f"{a:016x}{b:016x}{combos[tuple(sites_of[i])]}"
        for i, a, b in zip(ids, h1.tolist(), h2.tolist(), strict=True)
    }


def _round(x: float) -> float:
    return float(np.float32(x))  # scores as float32 values: stable across runs and reads


def sites_of(codes: pd.DataFrame) -> dict[str, list[str]]:
    """Each code id's sites, sorted."""
    pairs = codes[["id", "site"]].drop_duplicates().sort_values(["id", "site"])
    out: dict[str, list[str]] = {}
    for cid, site in zip(pairs["id"].to_numpy(), pairs["site"].to_numpy(), strict=True):
        out.setdefault(cid, []).append(site)
    return out


def learned_edges(target: Target, children: set[str] | None = None) -> dict[tuple, dict]:
    """MASH_IS_A edges (child, parent) -> score (float32 value), rank, labels of both ends;
    only those from `children` when given."""
    h = target.hierarchy
    if children is not None:
        h = h[h["child"].isin(children)]
    latent_ids = set(target.latent["id"])
    return {
        (c, p): {
            "score": _round(s),
            "rank": int(r),
            "labels": ("Latent" if c in latent_ids else "Code", lab),
        }
        for c, p, s, r, lab in zip(
            h["child"], h["parent"], h["score"], h["rank"], h["parent_label"], strict=True
        )
    }


def aligned_edges(target: Target, starts: set[str] | None = None) -> dict[tuple, dict]:
    """ALIGNED_WITH edges (code, counterpart) -> score, rank, method (+ transport, + the
    evidence that ranked it when the build records it)."""
    c = target.counterparts
    if starts is not None:
        c = c[c["id"].isin(starts)]
    evidence = c["evidence"] if "evidence" in c.columns else [None] * len(c)
    out = {}
    for a, b, s, r, m, t, e in zip(
        c["id"],
        c["other_id"],
        c["score"],
        c["rank"],
        c["method"],
        c["transport"],
        evidence,
        strict=True,
    ):
        p = {"score": float(s), "rank": int(r), "method": m}
        if not pd.isna(t):
            p["transport"] = float(t)
        if e is not None and not pd.isna(e):
            p["evidence"] = str(e)
        out[(a, b)] = p
    return out


def digests(target: Target) -> pd.DataFrame:
    """id, sites, sync_hash, edges_hash of every code of the build (see the module docstring)."""
    where = sites_of(target.codes)
    ids = list(where)
    sync_hash = content_hashes(ids, where, target.embedding, target.poincare)
    outgoing: dict[str, list] = {}
    for (a, b), p in aligned_edges(target).items():
        outgoing.setdefault(a, []).append(
            ("A", b, p["score"], p["rank"], p["method"], p.get("transport", -1.0))
        )
    for (a, b), p in learned_edges(target).items():
        outgoing.setdefault(a, []).append(("M", b, p["score"], p["rank"], *p["labels"], -1.0))
    edges_hash = [
        hashlib.blake2b(repr(sorted(outgoing[i])).encode(), digest_size=8).hexdigest()
        if i in outgoing
        else "-"
        for i in ids
    ]
    return pd.DataFrame(
        {
            "id": ids,
            "sites": [where[i] for i in ids],
            "sync_hash": [sync_hash[i] for i in ids],
            "edges_hash": edges_hash,
        }
    )


def content_table(build: artefact.Build) -> pd.DataFrame:
    """The content table (id, sites, sync_hash, edges_hash) of a build's other tables, written
    by the build before it is sealed."""
    return digests(_tables(build))


def reseal(folder: Path, manifest: dict) -> None:
    """Seal a build folder whose tables were edited (a build derived from another, in
    benchmarks and tests): its content table computed again, then its manifest."""
    folder = Path(folder)
    build = artefact.Build(folder, manifest)
    build.file("content").unlink(missing_ok=True)
    content_table(build).to_parquet(build.file("content"), index=False)
    artefact.write_manifest(folder, manifest)


def derive(source: Path, dest: Path, build_id: str, edit=None, **fields) -> Path:
    """A build made from another: `source` copied to `dest`, `edit(dest)` changes its tables,
    and the copy is resealed under `build_id` with the manifest's `fields` replaced."""
    import shutil

    manifest = artefact.read_manifest(source)
    shutil.copytree(source, dest)
    (dest / "manifest.json").unlink()
    if edit is not None:
        edit(dest)
    reseal(dest, {**manifest, **fields, "id": build_id})
    return dest
