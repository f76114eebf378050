"""`mash-kg build`: Stages I-III from a project file into a build folder.

The folder's tables, their columns and the manifest are defined in one place,
`mash_kg.artefact` (`TABLES`); this module runs the stages and hands their tables to an
`artefact.BuildWriter`, which seals the folder (manifest with the table index) and renames it
to the build id, so a half-written build never exists under its id.

Steps: read the sites (`read_sites`), Stage I (`run_stage1`: names, text, co-occurrence,
alignment), Stages II-III (`run_hierarchy`, unless ``[hierarchy] enabled = false``), then
write and seal (`write_build`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from mash_kg import __version__, artefact
from mash_kg.config import Neo4jSettings
from mash_kg.content import content_table
from mash_kg.cooccurrence import matrix_to_counts
from mash_kg.errors import InputError
from mash_kg.loaders import get_site_adapter
from mash_kg.names import site_names, table_names
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
            files=spec.files or None,
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
        from mash_kg.graph.connection import open_driver
        from mash_kg.graph.reader import read_crosswalks

        ids = sorted({c for s in sites for c in s.codes["id"]})
        with open_driver(settings, schema=False) as driver:
            parts.append(read_crosswalks(driver, ids, settings.database))
    cols = ["id", "other_id", "source"]
    return (
        pd.concat([p[cols] for p in parts], ignore_index=True)
        if parts
        else pd.DataFrame(columns=cols)
    )


def _vectors_column(x: np.ndarray, dtype=np.float32) -> pa.Array:
    x = np.ascontiguousarray(x, dtype=dtype)
    return pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), x.shape[1])


def in_graph(codes: pd.DataFrame, reference: str) -> np.ndarray:
    """Per row of `codes`, whether its vector is the one the graph holds for the code: the
    reference site's row when several sites have the code, else the first site's."""
    order = np.argsort(codes["site"].to_numpy() != reference, kind="stable")
    first = ~pd.Series(codes["id"].to_numpy()[order]).duplicated().to_numpy()
    keep = np.zeros(len(codes), dtype=bool)
    keep[order[first]] = True
    return keep


def embeddings_table(stage1: Stage1, reference: str) -> pa.Table:
    """The embeddings table (see artefact.TABLES) of Stage I's vectors."""
    vectors, codes = stage1.vectors, stage1.codes
    return pa.table(
        {
            "id": pa.array(codes["id"].astype(str)),
            "site": pa.array(codes["site"].astype(str)),
            "text": _vectors_column(np.concatenate([sv.text for sv in vectors])),
            "cooc": _vectors_column(np.concatenate([sv.cooc for sv in vectors])),
            "context": _vectors_column(np.concatenate([sv.context for sv in vectors])),
            "vector": _vectors_column(np.concatenate([sv.vector for sv in vectors])),
            "aligned": _vectors_column(np.concatenate([stage1.aligned[s] for s in stage1.ids])),
            "in_graph": pa.array(in_graph(codes, reference)),
        }
    )


def run_hierarchy(
    project: Project,
    settings: Neo4jSettings,
    codes: pd.DataFrame,
    counterparts: pd.DataFrame,
    cooc: pd.DataFrame,
    embedder: TextEmbedder,
    step: Step,
    work: Path,
    negatives: pd.DataFrame | None = None,
) -> tuple[dict[str, pd.DataFrame], dict]:
    """Stages II-III: the curated context read from Neo4j, the hierarchy encoder (written to
    `work`/encoder), the Poincaré space, the learned hierarchy; returns the tables to write
    and their figures. `negatives` (child, parent): pairs a reviewer rejected, never
    proposed and used as hard negatives."""
    from mash_kg.graph.connection import open_driver
    from mash_kg.graph.reader import read_context, read_decisions
    from mash_kg.hierarchy.stage2 import choose_holdout, node_table, run_stage2
    from mash_kg.hierarchy.stage3 import run_stage3

    h, enc = project.hierarchy, project.encoder
    advance = step("reading the curated context and the review decisions from Neo4j", 1)
    seeds = context_seeds(project, settings, codes)
    with open_driver(settings, schema=False) as driver:
        decisions = read_decisions(driver, settings.database)
        accepted = decisions[(decisions["decision"] == "accept")]
        ids = sorted(set(seeds.ids) | set(accepted["parent"]))  # a parent a reviewer chose
        ctx_nodes, ctx_edges = read_context(driver, ids, settings.database)
    advance(1)
    vocabs = graph_vocabularies(settings)
    # curated = of a loaded vocabulary: codes an earlier sync created are no parents
    ctx_nodes = ctx_nodes[ctx_nodes["vocab"].isin(set(vocabs))].reset_index(drop=True)
    keep = set(ctx_nodes["id"])
    ctx_edges = ctx_edges[ctx_edges["child"].isin(keep) & ctx_edges["parent"].isin(keep)]
    # the held-out split is drawn from the curated edges alone, so decisions never change it
    is_a = ctx_edges[ctx_edges["type"] == "IS_A"][["child", "parent"]]
    heldout = choose_holdout(codes["id"], is_a, h.holdout, project.model.seed)
    reviewed, rejected, review = review_edges(decisions, set(codes["id"]), keep, is_a)
    negatives = (
        pd.concat([negatives, rejected], ignore_index=True) if negatives is not None else rejected
    )
    ctx_edges = pd.concat([ctx_edges, reviewed.assign(type="IS_A")], ignore_index=True)
    warnings = seeds.warnings
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
        nodes,
        text,
        counterparts,
        cooc,
        h,
        enc,
        text_model=project.model.text_model,
        encoder_dir=work / "encoder",
        seed=project.model.seed,
        log=advance,
        heldout=heldout,
    )
    if not enc.enabled:
        advance(1)
    advance = step("Stage III: parents and latent groups", 1)
    result = run_stage3(space, h, counterparts, negatives)
    advance(1)
    tables = {
        "poincare": result.points,
        "candidates": result.candidates,
        "hierarchy": result.hierarchy,
        "latent": result.latent.drop(columns=["point"]),
        "holdout": result.holdout,
        "placement_weights": result.weights,
        "rerank": result.rerank,
    }
    if len(space.encoder_training):
        tables["encoder_training"] = space.encoder_training
    placement = result.figures.pop("placement")
    warnings += [f"Stage III: {n}" for n in placement.get("notes", [])]
    figures = {"stage2": space.figures, "stage3": result.figures, "placement": placement}
    return tables, {**figures, "warnings": warnings, "review": review}


def review_edges(
    decisions: pd.DataFrame, codes: set[str], context: set[str], is_a: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """What the review decisions (graph.decisions.decision_table) teach a build: (curated
    training edges, hard negatives, figures). Training: the accepted MASH_IS_A edges (a move's
    new parent included) of the build's codes whose parent is a curated node of the context;
    negatives: every rejected MASH_IS_A pair (Stage III never proposes one); the figures count
    both and what could not be used (an accepted group parent, a code the build lacks)."""
    mash = decisions[decisions["relation"] == "MASH_IS_A"]
    acc = mash[mash["decision"] == "accept"][["child", "parent"]].drop_duplicates()
    rej = mash[mash["decision"] == "reject"][["child", "parent"]].drop_duplicates()
    usable = acc["child"].isin(codes) & acc["parent"].isin(context)
    curated = set(zip(is_a["child"], is_a["parent"], strict=True))
    new = np.array([p not in curated for p in zip(acc["child"], acc["parent"], strict=True)])
    train = acc[usable.to_numpy() & new.astype(bool)] if len(acc) else acc
    aligned = decisions[decisions["relation"] == "ALIGNED_WITH"]["decision"].value_counts()
    figures = {
        "decisions": int(len(decisions)),
        "accepted_edges": int(len(acc)),
        "corrected_edges": int((mash["moved_from"].notna() & (mash["decision"] == "accept")).sum()),
        "training_edges": int(len(train)),
        "accepted_not_used": int((~usable).sum()),
        "hard_negatives": int(len(rej)),
        "discuss": int((mash["decision"] == "discuss").sum()),
        "aligned_accepted": int(aligned.get("accept", 0)),
        "aligned_rejected": int(aligned.get("reject", 0)),
    }
    return train.reset_index(drop=True), rej.reset_index(drop=True), figures


def graph_vocabularies(settings: Neo4jSettings) -> dict[str, int]:
    """The vocabularies loaded in the graph -> their codes (graph.reader.read_vocabularies)."""
    from mash_kg.graph.connection import open_driver
    from mash_kg.graph.reader import read_vocabularies

    with open_driver(settings, schema=False) as driver:
        return read_vocabularies(driver, settings.database)


@dataclass
class ContextSeeds:
    """Where Stages II-III place a build's codes: the graph codes that seed the curated context
    (build.read_context) and, per site, what it was seeded with (notes for the manifest)."""

    ids: list[str]
    warnings: list[str]


def _counted(rows: pd.DataFrame, column: str = "vocab") -> str:
    vc = rows[column].value_counts()
    return ", ".join(f"{v} ({n:,})" for v, n in vc.head(6).items())


def context_seeds(project: Project, settings: Neo4jSettings, codes: pd.DataFrame) -> ContextSeeds:
    """The seeds of the curated context: every site code (the loaded ones bring their
    ancestors and siblings), the whole loaded tree of each vocabulary a site's [[sites]]
    vocabularies maps onto, and, when no site code at all is in the graph, for a site that
    names no tree, the loaded trees of its codes' domains (when other sites' codes are in the
    graph, a site without any joins the context they bring: seeding whole trees would embed
    every name of ICD-10-CM for one FHIR site). Nothing to place into is one InputError naming
    the real cause; `run_build` asks before Stage I, before any text is embedded."""
    from mash_kg.graph.connection import open_driver
    from mash_kg.graph.reader import read_loaded_codes, read_loaded_trees

    ids = sorted(set(codes["id"]))
    with open_driver(settings, schema=False) as driver:
        trees = read_loaded_trees(driver, settings.database)
        met = set(read_loaded_codes(driver, ids, [], settings.database))
    seeded: dict[str, list[str]] = {}  # site -> vocabularies whose whole tree seeds it
    warnings = []
    for spec in project.sites:
        rows = codes[codes["site"] == spec.id]
        named = sorted({v.upper() for v in spec.vocabularies.values()} & set(trees))
        if named or rows["id"].isin(met).any():
            seeded[spec.id] = named
            continue
        if met:  # other sites' codes bring a curated context: this site's codes join it
            seeded[spec.id] = []
            warnings.append(
                f"site {spec.id}: none of its {len(rows):,} codes ({_counted(rows)}) is in the "
                "curated graph; they are placed into the context the other sites' codes bring "
                '(name a tree to place them into: vocabularies = {LOCAL = "LOADED"})'
            )
            continue
        domains = set(rows["domain"])
        by_domain = sorted(v for v, ds in trees.items() if domains & set(ds))
        seeded[spec.id] = by_domain
        where = (
            f"the loaded trees of its domains: {', '.join(by_domain)}"
            if by_domain
            else "no loaded tree has its domains, so they can only go into latent groups"
        )
        warnings.append(
            f"site {spec.id}: none of its {len(rows):,} codes ({_counted(rows)}) is in the "
            f"curated graph and its [[sites]] vocabularies names no loaded vocabulary; {where} "
            f'(name the tree to place them into: vocabularies = {{LOCAL = "LOADED"}})'
        )
    vocabs = sorted({v for named in seeded.values() for v in named})
    if not met and not vocabs:
        raise _nothing_to_place(project, codes, trees)
    with open_driver(settings, schema=False) as driver:
        members = read_loaded_codes(driver, [], vocabs, settings.database) if vocabs else []
    return ContextSeeds(sorted(set(ids) | set(members)), warnings)


def _nothing_to_place(project: Project, codes: pd.DataFrame, trees: dict) -> InputError:
    held = ", ".join(f"{v} ({', '.join(d)})" for v, d in sorted(trees.items())) or "nothing"
    mapped = {v.upper() for s in project.sites for v in s.vocabularies.values()}
    missing = ", ".join(sorted(mapped - set(trees)))
    unloaded = f"; [[sites]] vocabularies maps onto {missing}, which is not loaded" * bool(missing)
    return InputError(
        project.path,
        f"no site code is in the curated graph: the sites code in {_counted(codes)} "
        f"(domains {', '.join(sorted(set(codes['domain'])))}); the graph holds {held}"
        f"{unloaded}. Stages II-III place codes only into loaded trees: the ones the sites' "
        "codes are in, the one a site's [[sites]] vocabularies names, or one of their domain",
        hint="load the ontology (mash-kg load obo/edges/...) with the sites' domain, or name a "
        'loaded one in the site\'s [[sites]] vocabularies = {LOCAL = "LOADED"}; [hierarchy] '
        "enabled = false builds Stage I alone",
    )


def points_table(df: pd.DataFrame) -> pa.Table:
    """The poincare table: points in float64 (deep codes sit where float32 cannot tell them
    apart)."""
    pts = np.stack(df["point"].to_numpy()) if len(df) else np.zeros((0, 1))
    return pa.table(
        {
            "id": pa.array(df["id"].astype(str)),
            "role": pa.array(df["role"].astype(str)),
            "point": _vectors_column(pts, np.float64),
            "norm": pa.array(df["norm"].astype(float)),
            "depth": pa.array(df["depth"].astype("int64")),
        }
    )


def _quiet_step(description: str, total: int | None) -> Callable[[int], None]:
    return lambda n: None


@dataclass
class Stage1:
    """Stage I of a build: per site its vectors, the aligned vectors (reference space) and the
    counterparts table, with figures and warnings."""

    sites: list[SiteData]
    vectors: list[SiteVectors]
    aligned: dict[str, np.ndarray]
    counterparts: pd.DataFrame
    figures: dict[str, dict]
    warnings: list[str]

    @property
    def ids(self) -> list[str]:
        return [s.site for s in self.sites]

    @cached_property
    def codes(self) -> pd.DataFrame:
        return pd.concat([sv.codes for sv in self.vectors], ignore_index=True)

    @cached_property
    def cooccurrence(self) -> pd.DataFrame:
        """The cooccurrence table (site, code_a, code_b, count): one row per pair and site."""
        pairs = [
            matrix_to_counts(sv.counts, list(sv.codes["id"])).assign(site=site)
            for site, sv in zip(self.ids, self.vectors, strict=True)
        ]
        return pd.concat(pairs, ignore_index=True)[["site", "code_a", "code_b", "count"]]


def read_sites(project: Project, settings: Neo4jSettings, step: Step) -> list[SiteData]:
    """Every site's inputs; a site's codes of any vocabulary the graph holds (or that
    [[sites]] vocabularies maps onto one) get the graph's ids, so they meet the loaded
    nodes."""
    sites = []
    advance = step("reading site inputs", len(project.sites))
    for spec in project.sites:
        sites.append(load_site(spec))
        advance(1)
    graph_vocabs = graph_vocabularies(settings) if project.hierarchy.enabled else {}
    return [
        share_ids(s, set(graph_vocabs), spec.vocabularies, origin=project.path)
        for s, spec in zip(sites, project.sites, strict=True)
    ]


def run_stage1(
    project: Project,
    sites: list[SiteData],
    embedder: TextEmbedder,
    settings: Neo4jSettings,
    step: Step,
) -> Stage1:
    """Names, text embeddings, co-occurrence (SPPMI + SVD) and alignment onto the reference
    site."""
    m = project.model
    n_codes = sum(len(s.codes) for s in sites)
    advance = step(f"text embeddings ({n_codes} codes)", n_codes)
    # per code the name that identifies it (name_<lang> columns, FHIR displays; no placeholder)
    names, name_figures, warnings = site_names(
        [s.codes for s in sites], embedder.path, m.text_model
    )
    text = [embedder.embed(n, progress=advance) for n in names]
    for s, n in zip(sites, names, strict=True):  # a placeholder is no code's name in the build
        s.codes = s.codes.assign(name=table_names(s.codes, n))
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
    advance = step(f"aligning sites onto {m.reference_site} ({m.align_method})", 1)
    crosswalk = site_crosswalks(sites, settings if project.hierarchy.enabled else None)
    aligned, counterparts, alignment = align_to_reference(
        vectors,
        [s.site for s in sites].index(m.reference_site),
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
    figures = {}
    for s, sv, nf in zip(sites, vectors, name_figures, strict=True):
        found = alignment.get(s.site)
        figures[s.site] = {
            "codes": len(s.codes),
            "events": None if s.events is None else len(s.events),
            "pairs": int(sv.counts.nnz // 2),
            "names": nf,
            "notes": s.notes,
            "alignment": found,
        }
        warnings += [f"site {s.site}: {n}" for n in (found or {}).get("notes", [])]
    return Stage1(sites, vectors, aligned, counterparts, figures, warnings)


def build_manifest(project: Project, stage1: Stage1, hierarchy: dict, started: float) -> dict:
    """The manifest of a build (artefact.write_manifest adds the layout version and the
    table index)."""
    created = datetime.now(UTC)
    return {
        "id": f"{created:%Y%m%dT%H%M%S}-{project.config_hash()[:8]}",
        "created_at": created.isoformat(timespec="seconds"),
        "config_hash": project.config_hash(),
        "version": __version__,
        "project": project.name,
        "config": str(project.path),
        "model": dict(vars(project.model)),
        "reference_site": project.model.reference_site,
        "sites": stage1.figures,
        "hierarchy": dict(vars(project.hierarchy)),
        "encoder": dict(vars(project.encoder)),
        "stage2": hierarchy.get("stage2"),
        "stage3": hierarchy.get("stage3"),
        "review": hierarchy.get("review"),
        # the evidence sources that carried weight in Stage III, and what the build chose
        "placement": hierarchy.get("placement"),
        "warnings": stage1.warnings + (hierarchy.get("warnings") or []),
        "stages": ["I", "II", "III"] if hierarchy else ["I"],
        "seconds": round(time.perf_counter() - started, 1),
    }


def run_build(
    project: Project, settings: Neo4jSettings | None = None, step: Step = _quiet_step
) -> Path:
    """Run Stages I-III of `project` (I only when [hierarchy] is disabled); returns the build
    folder."""
    settings = settings or Neo4jSettings()
    started = time.perf_counter()
    sites = read_sites(project, settings, step)
    if project.hierarchy.enabled:  # nothing to place into: say so before embedding any text
        context_seeds(project, settings, pd.concat([s.codes for s in sites], ignore_index=True))
    embedder = TextEmbedder(project.model.text_model, cache_dir=project.cache.text)
    stage1 = run_stage1(project, sites, embedder, settings, step)
    for w in stage1.warnings:  # the build says what it could not do (also in the manifest)
        log.warning("%s", w)
    cooccurrence = stage1.cooccurrence
    with artefact.BuildWriter(project.builds) as out:
        tables, figures = {}, {}
        if project.hierarchy.enabled:
            tables, figures = run_hierarchy(
                project,
                settings,
                stage1.codes,
                stage1.counterparts,
                cooccurrence,
                embedder,
                step,
                out.path,
            )
        out.write("codes", stage1.codes)
        out.write("cooccurrence", cooccurrence)
        out.write("embeddings", embeddings_table(stage1, project.model.reference_site))
        out.write("counterparts", stage1.counterparts)
        for name, df in tables.items():
            out.write(name, points_table(df) if name == "poincare" else df)
        out.write("content", content_table(out.reading()))  # what sync compares per code
        return out.seal(build_manifest(project, stage1, figures, started))
