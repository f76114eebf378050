"""`mash-kg build`: Stage I from a project file into a build folder of Parquet tables.

A build folder ``<builds>/<build id>/`` holds (written to a temporary folder first and renamed
when complete, so a half-written build never exists under its id):

- ``codes.parquet``: id, site, vocab, code, name, domain, frequency
- ``cooccurrence.parquet``: site, code_a, code_b, count (after the small-cell rule)
- ``embeddings.parquet``: id, site, text, cooc, context, vector ([text; cooc], Stage I),
  aligned (the alignment features mapped into the reference site's space); float32 lists
- ``counterparts.parquet``: site, id, other_site, other_id, rank, score (CSLS), transport
  (plan probability, NaN for methods without a plan), method -> ALIGNED_WITH edges
- ``manifest.json``: build id, created_at, config_hash, version, settings, per-stage figures
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mash_kg import __version__
from mash_kg.config import Neo4jSettings
from mash_kg.cooccurrence import matrix_to_counts
from mash_kg.loaders import get_site_adapter
from mash_kg.project import Project, SiteSpec
from mash_kg.sites import SiteData
from mash_kg.stage1 import SiteVectors, align_to_reference, site_vectors
from mash_kg.text_embed import TextEmbedder

Step = Callable[[str, int | None], Callable[[int], None]]  # (description, total) -> advance


def load_site(spec: SiteSpec) -> SiteData:
    """One site's inputs through its format's adapter (loaders.SITE_FORMATS)."""
    adapter = get_site_adapter(spec.format)
    if spec.format == "fhir":
        return adapter(spec.id, [spec.path])
    if spec.format == "omop":
        return adapter(spec.id, spec.path, prefer=spec.prefer)
    return adapter(spec.id, spec.codes, counts=spec.counts, events=spec.events)


def _vectors_column(x: np.ndarray) -> pa.Array:
    x = np.ascontiguousarray(x, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), x.shape[1])


def _write_tables(
    tmp: Path, sites: list[SiteData], vectors: list[SiteVectors], aligned: dict[str, np.ndarray],
    counterparts: pd.DataFrame, ids: list[str],
) -> None:  # fmt: skip
    """The Parquet tables of a build (see the module docstring for their columns)."""
    codes = pd.concat([sv.codes for sv in vectors], ignore_index=True)
    codes.to_parquet(tmp / "codes.parquet", index=False)
    pairs = [
        matrix_to_counts(sv.counts, list(sv.codes["id"])).assign(site=s.site)
        for s, sv in zip(sites, vectors, strict=True)
    ]
    pd.concat(pairs, ignore_index=True)[["site", "code_a", "code_b", "count"]].to_parquet(
        tmp / "cooccurrence.parquet", index=False
    )
    emb = pa.table(
        {
            "id": pa.array(codes["id"].astype(str)),
            "site": pa.array(codes["site"].astype(str)),
            "text": _vectors_column(np.concatenate([sv.text for sv in vectors])),
            "cooc": _vectors_column(np.concatenate([sv.cooc for sv in vectors])),
            "context": _vectors_column(np.concatenate([sv.context for sv in vectors])),
            "vector": _vectors_column(np.concatenate([sv.vector for sv in vectors])),
            "aligned": _vectors_column(np.concatenate([aligned[s] for s in ids])),
        }
    )
    pq.write_table(emb, tmp / "embeddings.parquet")
    counterparts.to_parquet(tmp / "counterparts.parquet", index=False)


def _quiet_step(description: str, total: int | None) -> Callable[[int], None]:
    return lambda n: None


def run_build(
    project: Project, settings: Neo4jSettings | None = None, step: Step = _quiet_step
) -> Path:
    """Run Stage I of `project`; returns the build folder."""
    settings = settings or Neo4jSettings()
    m = project.model
    started = time.perf_counter()
    figures: dict[str, dict] = {}

    sites = []
    advance = step("reading site inputs", len(project.sites))
    for spec in project.sites:
        sites.append(load_site(spec))
        advance(1)
    n_codes = sum(len(s.codes) for s in sites)
    embedder = TextEmbedder(m.text_model, cache_dir=settings.cache / "text")
    advance = step(f"text embeddings ({n_codes} codes)", n_codes)
    text = [embedder.embed(list(s.codes["name"]), progress=advance) for s in sites]
    advance = step("co-occurrence, SPPMI, SVD", len(sites))
    vectors = site_vectors(
        sites, text, dim=m.dim, window_days=m.window_days, min_cell_count=m.min_cell_count,
        sppmi_shift=m.sppmi_shift, seed=m.seed,
    )  # fmt: skip
    advance(len(sites))
    ids = [s.site for s in sites]
    reference = ids.index(m.reference_site)
    advance = step(f"aligning sites onto {m.reference_site} ({m.align_method})", 1)
    aligned, table = align_to_reference(
        vectors, reference, m.align_method, top_k=m.top_k,
        anchor_vocabs=m.anchor_vocabs or None, weights=tuple(m.feature_weights),
        epochs=m.epochs, seed=m.seed,
    )  # fmt: skip
    advance(1)
    for s, sv in zip(sites, vectors, strict=True):
        figures[s.site] = {
            "codes": len(s.codes),
            "events": None if s.events is None else len(s.events),
            "pairs": int(sv.counts.nnz // 2),
        }

    created = datetime.now(UTC)
    build_id = f"{created:%Y%m%dT%H%M%S}-{project.config_hash()[:8]}"
    project.builds.mkdir(parents=True, exist_ok=True)
    tmp = project.builds / f".{build_id}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        _write_tables(tmp, sites, vectors, aligned, table, ids)
        manifest = {
            "id": build_id,
            "created_at": created.isoformat(timespec="seconds"),
            "config_hash": project.config_hash(),
            "version": __version__,
            "project": project.name,
            "config": str(project.path),
            "model": dict(vars(m)),
            "reference_site": m.reference_site,
            "sites": figures,
            "stages": ["I"],
            "seconds": round(time.perf_counter() - started, 1),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # never leave half a build behind
        raise
    final = project.builds / build_id
    tmp.rename(final)
    return final
