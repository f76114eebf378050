"""The steps of `mash-kg demo` that are not presentation: the bundled two-site example, its
sites' summaries (the federated flow), the showcase reads. The command (`cli.demo`) runs them
in order and prints what they return.

The demo starts the local Neo4j (unless NEO4J_URI names another), loads ICD-10-CM, ICD-9-CM
with the GEMs and PheCode 1.2 / X, runs Stages I-III on examples/two_sites (Synthea sites:
tables + FHIR; hyperbolic embeddings over the curated graph read back from Neo4j; the learned
hierarchy), scores the build on its held-out edges, syncs it, imports the example phenotypes
and expands one at site A, prints example views and draws a Poincaré-disk picture (PNG) of the
respiratory chapter with the codes Stage III placed in it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from mash_kg.config import Config, load_config
from mash_kg.errors import InputError

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "two_sites" / "mash-kg.toml"

PHENOTYPES = EXAMPLE.parent.parent / "phenotypes"
PICTURE_ROOT = "ICD10CM:10"  # Diseases of the respiratory system (J00-J99)
PICTURE_TITLE = "ICD-10-CM chapter 10 (respiratory) with site codes placed by Stage III"
# loaded in order: every ICD release the PheCode maps point at (WHO ICD-10 included, so no map
# row is skipped for a vocabulary the demo could have loaded) before the maps
VOCABULARIES = ("icd10cm", "icd10who", "icd9cm", "phecode")

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
PHENOTYPE_EXAMPLE = (
    {"phenotype": "type2_diabetes", "site": "A"},
    "Phenotype type2_diabetes (examples/phenotypes) at site A, with reasons",
)


def example_config(config: Config) -> Config:
    """The bundled two-site project, on the graph and cache of `config`."""
    if not EXAMPLE.is_file():
        raise InputError(
            EXAMPLE,
            "the bundled two-site example is missing",
            hint="run the demo from a clone of the repository",
        )
    return replace(load_config(EXAMPLE), neo4j=config.neo4j, cache=config.cache)


def federated(project, folder: Path, echo: Callable[[str], None] = print):
    """`project` with each site replaced by the summary folder that site would send (the
    federated flow): what the central build sees is counts, never events. `echo` is told one
    line per site."""
    from mash_kg.project import SiteSpec
    from mash_kg.summary import summarize

    sites = []
    for spec in project.sites:
        out = folder / spec.id
        m = project.model
        manifest = summarize(
            spec, out, window_days=m.window_days, min_cell_count=m.min_cell_count, force=True
        )
        echo(f"  site {spec.id}: {out} ({summary_line(manifest)})")
        sites.append(SiteSpec(spec.id, format="summary", path=out, vocabularies=spec.vocabularies))
    return replace(project, sites=sites)


def summary_line(manifest: dict) -> str:
    """A site summary's size: its codes and co-occurrence cells."""
    tables = manifest.get("tables") or {}
    rows = {k.split(".")[0]: v.get("rows") for k, v in tables.items() if isinstance(v, dict)}
    return f"{rows.get('codes', '?')} codes, {rows.get('cooccurrence', '?')} co-occurrence cells"


def import_example_phenotypes(driver, database: str) -> None:
    """Every definition in examples/phenotypes, into the graph."""
    from mash_kg.graph.phenotypes import write_phenotypes
    from mash_kg.loaders.phenotype import read_phenotypes

    for f in sorted(PHENOTYPES.glob("*")):
        write_phenotypes(driver, read_phenotypes(f), database)


def draw_example_picture(driver, database: str, folder: Path) -> Path:
    """The Poincaré-disk PNG of the respiratory chapter, into the build folder."""
    from mash_kg.graph.reader import read_subtree
    from mash_kg.plot import draw_subtree

    nodes, edges = read_subtree(driver, PICTURE_ROOT, depth=4, database=database)
    return draw_subtree(
        nodes, edges, PICTURE_ROOT, folder / "poincare_respiratory.png", PICTURE_TITLE
    )
