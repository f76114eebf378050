"""`mash-kg demo`: the main job on the bundled real terminologies and a two-site example.

Starts the local Neo4j (unless NEO4J_URI names another), loads ICD-10-CM, ICD-9-CM with the
GEMs and PheCode 1.2 / X, runs Stages I-III on examples/two_sites (Synthea sites: tables +
FHIR; hyperbolic embeddings over the curated graph read back from Neo4j; the learned
hierarchy), scores the build on its held-out edges, syncs it, imports the example phenotypes
and expands one at site B, prints example views and draws a Poincaré-disk picture (PNG) of the
respiratory chapter with the codes Stage III placed in it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rich.console import Console

from mash_kg.config import Config, load_config
from mash_kg.errors import InputError

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "two_sites" / "mash-kg.toml"

PHENOTYPES = EXAMPLE.parent.parent / "phenotypes"
PICTURE_ROOT = "ICD10CM:10"  # Diseases of the respiratory system (J00-J99)

EXAMPLES = [
    ("ancestors", {"code": "ICD10CM:E11.9"}, "Ancestors of ICD10CM:E11.9"),
    ("phecode_of", {"code": "ICD10CM:E11.9"}, "PheCodes of ICD10CM:E11.9"),
    ("codes_per_chapter", {"vocab": "ICD10CM"}, "ICD-10-CM codes per chapter"),
    ("equivalents", {"code": "LOINC:8480-6"}, "Site A counterparts of site B's LOINC:8480-6"),
    ("similar", {"code": "LOINC:8480-6", "k": 5}, "Codes embedded nearest to LOINC:8480-6"),
    (
        "ancestors",
        {"code": "SNOMED:10509002", "which": "both"},
        "Site B's SNOMED 'Acute bronchitis' in the merged hierarchy (learned, then curated)",
    ),
    ("review_queue", {"threshold": 0.5, "limit": 8}, "Least confident learned edges"),
]


def federated(project, folder: Path, console: Console):
    """`project` with each site replaced by the summary folder that site would send (the
    federated flow): what the central build sees is counts, never events."""
    from mash_kg.project import SiteSpec
    from mash_kg.summary import summarize

    sites = []
    for spec in project.sites:
        out = folder / spec.id
        m = project.model
        manifest = summarize(
            spec, out, window_days=m.window_days, min_cell_count=m.min_cell_count, force=True
        )
        console.print(f"  site {spec.id}: {out} ({_summary_line(manifest)})", highlight=False)
        sites.append(SiteSpec(spec.id, format="summary", path=out, vocabularies=spec.vocabularies))
    return replace(project, sites=sites)


def _summary_line(manifest: dict) -> str:
    tables = manifest.get("tables") or {}
    rows = {k.split(".")[0]: v.get("rows") for k, v in tables.items() if isinstance(v, dict)}
    return f"{rows.get('codes', '?')} codes, {rows.get('cooccurrence', '?')} co-occurrence cells"


def run_demo(config: Config, console: Console) -> None:
    from mash_kg.cli import load_source, print_report, print_rows
    from mash_kg.graph import connect
    from mash_kg.graph.views import run_view
    from mash_kg.neo4j_server import server

    settings = config.neo4j
    if settings.uri is None:
        with console.status("Starting the local Neo4j ..."):
            st = server.start(
                settings,
                echo=lambda m: console.print(m, highlight=False),
                cache=config.cache.root,
            )
        console.print(f"Neo4j {st.version} on {st.address} (data: {st.home})", highlight=False)
    for source in ("icd10cm", "icd9cm", "phecode"):
        print_report(load_source(config, source))
    if not EXAMPLE.is_file():
        raise InputError(
            EXAMPLE,
            "the bundled two-site example is missing",
            hint="run the demo from a clone of the repository",
        )
    from mash_kg.cli import run_build_with_progress
    from mash_kg.graph.sync import sync_build

    example = load_config(EXAMPLE)
    example = replace(example, neo4j=settings, cache=config.cache)
    summaries = config.cache.root / "demo-summaries"
    console.print(
        "Each site summarises its own records (`mash-kg site summarize`: codes and "
        f"co-occurrence counts only, nothing patient-level) into {summaries} ...",
        highlight=False,
    )
    console.print("Stages I-III on the two sites' summaries (A: tables, B: FHIR R4) ...")
    folder = run_build_with_progress(
        example,
        builds=config.cache.root / "demo-builds",
        transform=lambda project: federated(project, summaries, console),
    )
    from mash_kg.evaluate import evaluate_build
    from mash_kg.graph.phenotypes import write_phenotypes
    from mash_kg.graph.reader import read_subtree
    from mash_kg.loaders.phenotype import read_phenotypes
    from mash_kg.plot import draw_subtree

    m = evaluate_build(folder)
    console.print(
        f"held-out curated edges ({m['heldout_codes']} codes): hit@1 {m['model']['hit@1']} / "
        f"hit@10 {m['model']['hit@10']} (text model alone {m['text_only']['hit@1']} / "
        f"{m['text_only']['hit@10']})",
        highlight=False,
    )
    sp = m.get("space") or {}
    if sp.get("reconstruction_map") is not None:
        console.print(
            f"Poincaré space: curated closure reconstructed with MAP {sp['reconstruction_map']}"
            f", depth-norm Spearman {sp['depth_norm_spearman']}",
            highlight=False,
        )
    driver = connect(settings, schema=False)
    try:
        report = sync_build(driver, folder, database=settings.database)
        console.print(f"synced build {report.build}: {report.changes} changes", highlight=False)
        for view, params, title in EXAMPLES:
            print_rows(run_view(driver, view, params, settings.database), title)
        for f in sorted(PHENOTYPES.glob("*")):
            write_phenotypes(driver, read_phenotypes(f), settings.database)
        rows = run_view(
            driver,
            "phenotype_codes",
            {"phenotype": "type2_diabetes", "site": "A"},
            settings.database,
        )
        print_rows(rows, "Phenotype type2_diabetes (examples/phenotypes) at site A, with reasons")
        nodes, edges = read_subtree(driver, PICTURE_ROOT, depth=4, database=settings.database)
    finally:
        driver.close()
    title = "ICD-10-CM chapter 10 (respiratory) with site codes placed by Stage III"
    png = draw_subtree(nodes, edges, PICTURE_ROOT, folder / "poincare_respiratory.png", title)
    console.print(f"Poincaré-disk picture: {png}", highlight=False)
    console.print(
        f"Browse the graph: Neo4j Browser at http://127.0.0.1:{settings.http_port}/browser/ "
        f"(connect to {settings.bolt_uri}, user {settings.user}), or cypher-shell -a "
        f"{settings.bolt_uri} -u {settings.user}. Stop the server with `mash-kg neo4j stop`.",
        highlight=False,
    )
