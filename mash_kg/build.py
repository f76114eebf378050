"""`mash-kg build`: Stage I from a project file into a build folder of Parquet tables.

A build folder ``<builds>/<build id>/`` holds (written to a temporary folder first and renamed
when complete, so a half-written build never exists under its id):

- ``codes.parquet``: id, site, vocab, code, name, domain, frequency
- ``cooccurrence.parquet``: site, code_a, code_b, count (after the small-cell rule)
- ``embeddings.parquet``: id, site, text, cooc, context, vector ([text; cooc], Stage I),
  aligned (the alignment features mapped into the reference site's space); float32 lists
- ``counterparts.parquet``: site, id, other_site, other_id, rank, score (CSLS), transport
  (plan probability, NaN for methods without a plan), method -> ALIGNED_WITH edges
- Stages II-III (unless ``[hierarchy] enabled = false``; see stage2.py and stage3.py):
  ``poincare.parquet`` (id, role, point (float64), norm, depth: every code and curated
  context code, and the latent groups), ``candidates.parquet`` (id, candidate, rank,
  score, distance),
  ``hierarchy.parquet`` (child, parent, score, rank, parent_label -> MASH_IS_A edges),
  ``latent.parquet`` (id, name, domain, size, members, norm -> :Latent nodes),
  ``holdout.parquet`` (id, parent, rank, text_rank, candidates -> `mash-kg eval`)
  ``encoder/`` (the hierarchy encoder: an ordinary local model folder, usable as
  ``text_model``) and ``encoder_training.parquet`` (step, pairs, loss, clustering,
  centripetal, infonce, seconds), when the encoder was trained
- ``manifest.json``: build id, schema_version, created_at, config_hash, version, settings,
  per-stage figures, and ``tables`` (rows and SHA-256 of every table; see artefact.py)
- ``content.parquet``: id, sites, sync_hash, edges_hash (what sync compares; content.py)
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mash_kg import __version__, artefact
from mash_kg.config import Neo4jSettings
from mash_kg.cooccurrence import matrix_to_counts
from mash_kg.errors import InputError
from mash_kg.loaders import get_site_adapter
from mash_kg.names import site_names
from mash_kg.project import Project, SiteSpec
from mash_kg.sites import SiteData, share_ids
from mash_kg.stage1 import SiteVectors, align_to_reference, site_vectors
from mash_kg.text_embed import TextEmbedder

log = logging.getLogger(__name__)
Step = Callable[[str, int | None], Callable[[int], None]]  # (description, total) -> advance


def load_site(spec: SiteSpec) -> SiteData:
    """One site's inputs through its format's adapter (loaders.SITE_FORMATS)."""
    adapter = get_site_adapter(spec.format)
    if spec.format == "fhir":
        return adapter(
            spec.id,
            [spec.path],
            systems=spec.systems,
            code_preference=spec.code_preference,
            max_bad_rows=spec.max_bad_rows,
        )
    if spec.format == "omop":
        return adapter(spec.id, spec.path, prefer=spec.prefer)
    if spec.format == "summary":
        return adapter(spec.id, spec.path)
    return adapter(spec.id, spec.codes, counts=spec.counts, events=spec.events)


def site_crosswalks(sites: list[SiteData], settings: Neo4jSettings | None) -> pd.DataFrame:
    """Crosswalks that anchor Stage I: the sites' own (a concept's other FHIR codings) and,
    with a graph (`settings`), its MAPS_TO edges touching the sites' codes."""
    parts = [s.crosswalk for s in sites if s.crosswalk is not None and len(s.crosswalk)]
    if settings is not None:
        from mash_kg.graph import connect
        from mash_kg.graph.reader import read_crosswalks

        ids = sorted({c for s in sites for c in s.codes["id"]})
        driver = connect(settings, schema=False)
        try:
            parts.append(read_crosswalks(driver, ids, settings.database))
        finally:
            driver.close()
    cols = ["id", "other_id", "source"]
    return (
        pd.concat([p[cols] for p in parts], ignore_index=True)
        if parts
        else pd.DataFrame(columns=cols)
    )


def _vectors_column(x: np.ndarray) -> pa.Array:
    x = np.ascontiguousarray(x, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), x.shape[1])


def _write_tables(
    tmp: Path,
    sites: list[SiteData],
    vectors: list[SiteVectors],
    aligned: dict[str, np.ndarray],
    counterparts: pd.DataFrame,
    ids: list[str],
) -> None:
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


def run_hierarchy(
    project: Project,
    settings: Neo4jSettings,
    codes: pd.DataFrame,
    counterparts: pd.DataFrame,
    cooc: pd.DataFrame,
    embedder: TextEmbedder,
    step: Step,
    work: Path,
) -> tuple[dict[str, pd.DataFrame], dict]:
    """Stages II-III: the curated context read from Neo4j, the hierarchy encoder (written to
    `work`/encoder), the Poincaré space, the learned hierarchy; returns the tables to write
    and their figures."""
    from mash_kg.graph import connect
    from mash_kg.graph.reader import read_context
    from mash_kg.stage2 import node_table, run_stage2
    from mash_kg.stage3 import run_stage3

    h, enc = project.hierarchy, project.encoder
    advance = step("reading the curated context from Neo4j", 1)
    driver = connect(settings, schema=False)
    try:
        ctx_nodes, ctx_edges = read_context(driver, sorted(set(codes["id"])), settings.database)
    finally:
        driver.close()
    advance(1)
    vocabs = graph_vocabularies(settings)
    # curated = of a loaded vocabulary: codes an earlier sync created are no parents
    ctx_nodes = ctx_nodes[ctx_nodes["vocab"].isin(set(vocabs))].reset_index(drop=True)
    keep = set(ctx_nodes["id"])
    ctx_edges = ctx_edges[ctx_edges["child"].isin(keep) & ctx_edges["parent"].isin(keep)]
    warnings = check_meeting(codes, ctx_nodes, vocabs, project.path)
    nodes = node_table(codes, ctx_nodes)
    advance = step(f"text embeddings of the context ({len(nodes)} codes)", len(nodes))
    text = embedder.embed(list(nodes["name"]), progress=advance).astype(np.float32)
    what = (
        f"Stage II: hierarchy encoder (at most {enc.steps} steps, {enc.max_seconds:.0f} s)"
        if enc.enabled
        else "Stage II: Poincaré space"
    )
    advance = step(what, enc.steps if enc.enabled else 1)
    space = run_stage2(
        codes,
        ctx_nodes,
        ctx_edges,
        text,
        counterparts,
        cooc,
        h,
        enc,
        text_model=project.model.text_model,
        encoder_dir=work / "encoder",
        seed=project.model.seed,
        log=advance,
    )
    if not enc.enabled:
        advance(1)
    advance = step("Stage III: parents and latent groups", 1)
    result = run_stage3(space, h)
    advance(1)
    tables = {
        "poincare": result.points,
        "candidates": result.candidates,
        "hierarchy": result.hierarchy,
        "latent": result.latent.drop(columns=["point"]),
        "holdout": result.holdout,
    }
    if len(space.encoder_training):
        tables["encoder_training"] = space.encoder_training
    return tables, {"stage2": space.figures, "stage3": result.figures, "warnings": warnings}


def graph_vocabularies(settings: Neo4jSettings) -> dict[str, int]:
    """The vocabularies loaded in the graph -> their codes (graph.reader.read_vocabularies)."""
    from mash_kg.graph import connect
    from mash_kg.graph.reader import read_vocabularies

    driver = connect(settings, schema=False)
    try:
        return read_vocabularies(driver, settings.database)
    finally:
        driver.close()


def check_meeting(
    codes: pd.DataFrame, ctx_nodes: pd.DataFrame, vocabs: dict[str, int], origin: Path
) -> list[str]:
    """Stages II-III place codes among the curated nodes their site codes meet: none met is
    an error naming the sites' and the graph's vocabularies; a site that meets none is a
    warning (its codes can only form latent groups)."""
    met = codes["id"].isin(set(ctx_nodes["id"]))
    held = ", ".join(f"{v} ({n:,} codes)" for v, n in sorted(vocabs.items())) or "nothing"

    def site_vocabs(rows: pd.DataFrame) -> str:
        vc = rows["vocab"].value_counts()
        return ", ".join(f"{v} ({n:,})" for v, n in vc.head(6).items())

    if not met.any():
        raise InputError(
            origin,
            f"no site code is in the curated graph: the sites code in "
            f"{site_vocabs(codes)}; the graph holds {held}",
            hint="load the ontology the codes belong to (mash-kg load obo/edges/...) under the "
            "vocab the sites use, or map a site's name onto a loaded vocabulary in [[sites]] "
            'vocabularies = {LOCAL = "LOADED"}; [hierarchy] enabled = false builds Stage I alone',
        )
    warnings = []
    for site, rows in codes[~met].groupby("site", sort=True):
        if not met[codes["site"] == site].any():
            warnings.append(
                f"site {site}: none of its {len(rows):,} codes ({site_vocabs(rows)}) is in the "
                f"curated graph (it holds {held}); they can only go into latent groups: load "
                "their ontology or map the site's vocabulary in [[sites]] vocabularies"
            )
    return warnings


def _write_points(df: pd.DataFrame, path: Path) -> None:
    """Points in float64: deep codes sit where float32 cannot tell them apart."""
    pts = (
        np.ascontiguousarray(np.stack(df["point"].to_numpy()), dtype=np.float64)
        if len(df)
        else np.zeros((0, 1))
    )
    table = pa.table(
        {
            "id": pa.array(df["id"].astype(str)),
            "role": pa.array(df["role"].astype(str)),
            "point": pa.FixedSizeListArray.from_arrays(pa.array(pts.ravel()), pts.shape[1]),
            "norm": pa.array(df["norm"].astype(float)),
            "depth": pa.array(df["depth"].astype("int64")),
        }
    )
    pq.write_table(table, path)


def _quiet_step(description: str, total: int | None) -> Callable[[int], None]:
    return lambda n: None


def run_build(
    project: Project, settings: Neo4jSettings | None = None, step: Step = _quiet_step
) -> Path:
    """Run Stages I-III of `project` (I only when [hierarchy] is disabled); returns the build
    folder."""
    settings = settings or Neo4jSettings()
    m = project.model
    started = time.perf_counter()
    figures: dict[str, dict] = {}

    sites = []
    advance = step("reading site inputs", len(project.sites))
    for spec in project.sites:
        sites.append(load_site(spec))
        advance(1)
    # a site's codes of any vocabulary the graph holds (or that [[sites]] vocabularies maps
    # onto one) get the graph's ids, so they meet the loaded nodes
    graph_vocabs = graph_vocabularies(settings) if project.hierarchy.enabled else {}
    sites = [
        share_ids(s, set(graph_vocabs), spec.vocabularies, origin=project.path)
        for s, spec in zip(sites, project.sites, strict=True)
    ]
    n_codes = sum(len(s.codes) for s in sites)
    embedder = TextEmbedder(m.text_model, cache_dir=settings.cache / "text")
    advance = step(f"text embeddings ({n_codes} codes)", n_codes)
    # per site the names the model reads best (name_<lang> columns, FHIR displays)
    names, name_figures, stage1_warnings = site_names(
        [s.codes for s in sites], embedder.path, m.text_model
    )
    text = [embedder.embed(n, progress=advance) for n in names]
    advance = step("co-occurrence, SPPMI, SVD", len(sites))
    vectors = site_vectors(
        sites,
        text,
        dim=m.dim,
        window_days=m.window_days,
        min_cell_count=m.min_cell_count,
        sppmi_shift=m.sppmi_shift,
        seed=m.seed,
    )
    advance(len(sites))
    ids = [s.site for s in sites]
    reference = ids.index(m.reference_site)
    advance = step(f"aligning sites onto {m.reference_site} ({m.align_method})", 1)
    crosswalk = site_crosswalks(sites, settings if project.hierarchy.enabled else None)
    aligned, table, alignment = align_to_reference(
        vectors,
        reference,
        m.align_method,
        top_k=m.top_k,
        anchor_vocabs=m.anchor_vocabs or None,
        weights=tuple(m.feature_weights),
        crosswalk=crosswalk,
        transport=m.transport,
        min_anchors=m.min_anchors,
        epochs=m.epochs,
        seed=m.seed,
    )
    advance(1)
    for s, sv, nf in zip(sites, vectors, name_figures, strict=True):
        figures[s.site] = {
            "codes": len(s.codes),
            "events": None if s.events is None else len(s.events),
            "pairs": int(sv.counts.nnz // 2),
            "names": nf,
            "notes": s.notes,
            "alignment": alignment.get(s.site),
        }
        stage1_warnings += [
            f"site {s.site}: {n}" for n in (alignment.get(s.site) or {}).get("notes", [])
        ]
    for w in stage1_warnings:  # the build says what it could not do (also in the manifest)
        log.warning("%s", w)
    figures["warnings"] = stage1_warnings

    project.builds.mkdir(parents=True, exist_ok=True)
    # everything is written under a temporary folder first, renamed when complete
    tmp = project.builds / f".build-{os.getpid()}-{time.time_ns()}.tmp"
    tmp.mkdir()
    try:
        extra_tables: dict[str, pd.DataFrame] = {}
        stages = ["I"]
        if project.hierarchy.enabled:
            codes_all = pd.concat([sv.codes for sv in vectors], ignore_index=True)
            cooc_all = pd.concat(
                [matrix_to_counts(sv.counts, list(sv.codes["id"])) for sv in vectors],
                ignore_index=True,
            )
            extra_tables, fig = run_hierarchy(
                project, settings, codes_all, table, cooc_all, embedder, step, tmp
            )
            figures.update(fig)
            figures["warnings"] = stage1_warnings + (fig.get("warnings") or [])
            stages += ["II", "III"]

        created = datetime.now(UTC)
        build_id = f"{created:%Y%m%dT%H%M%S}-{project.config_hash()[:8]}"
        _write_tables(tmp, sites, vectors, aligned, table, ids)
        for name, df in extra_tables.items():
            if name == "poincare":
                _write_points(df, tmp / "poincare.parquet")
            else:
                df.to_parquet(tmp / f"{name}.parquet", index=False)
        manifest = {
            "id": build_id,
            "schema_version": artefact.SCHEMA_VERSION,
            "created_at": created.isoformat(timespec="seconds"),
            "config_hash": project.config_hash(),
            "version": __version__,
            "project": project.name,
            "config": str(project.path),
            "model": dict(vars(m)),
            "reference_site": m.reference_site,
            "sites": {
                k: v for k, v in figures.items() if k not in ("stage2", "stage3", "warnings")
            },
            "hierarchy": dict(vars(project.hierarchy)),
            "encoder": dict(vars(project.encoder)),
            "stage2": figures.get("stage2"),
            "stage3": figures.get("stage3"),
            "warnings": figures.get("warnings") or [],
            "stages": stages,
            "seconds": round(time.perf_counter() - started, 1),
        }
        # content digests for sync, then the manifest with every table's rows and SHA-256
        artefact.write_manifest(tmp, manifest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # never leave half a build behind
        raise
    final = project.builds / build_id
    tmp.rename(final)
    return final
