"""OMOP CDM extracts (`mash_kg.loaders.omop`) -> codes and events."""

from __future__ import annotations

from pathlib import Path

import pytest

from mash_kg.errors import InputError
from mash_kg.loaders import omop


def _omop(folder: Path, concept_sep: str = "\t") -> None:
    folder.mkdir()
    rows = [
        ["concept_id", "concept_name", "vocabulary_id", "concept_code", "domain_id"],
        ["201826", "Type 2 diabetes mellitus", "SNOMED", "44054006", "Condition"],
        [
            "45576876",
            "Type 2 diabetes mellitus without complications",
            "ICD10CM",
            "E11.9",
            "Condition",
        ],
        ["1503297", "metformin", "RxNorm", "6809", "Drug"],
        ["3004410", "Hemoglobin A1c/Hemoglobin.total in Blood", "LOINC", "4548-4", "Measurement"],
    ]
    (folder / "CONCEPT.csv").write_text("\n".join(concept_sep.join(r) for r in rows) + "\n")
    (folder / "condition_occurrence.csv").write_text(
        "person_id,condition_concept_id,condition_start_date,condition_source_value,"
        "condition_source_concept_id\n1,201826,2020-01-01,E11.9,45576876\n2,201826,2020-02-01,,0\n"
    )
    (folder / "drug_exposure.csv").write_text(
        "person_id,drug_concept_id,drug_exposure_start_date,drug_source_value\n1,1503297,2020-01-05,\n"
    )
    (folder / "measurement.csv").write_text(
        "person_id,measurement_concept_id,measurement_date,measurement_source_value\n"
        "1,0,2020-01-06,HGBA1C-LOCAL\n2,3004410,2020-02-02,\n"
    )


def test_omop_prefers_the_sites_own_codes(tmp_path):
    _omop(tmp_path / "cdm")
    site = omop.load_site("MGB", tmp_path / "cdm")
    ids = set(site.codes["id"])
    # source concept (ICD10CM) for row 1, standard SNOMED where no source, local lab value
    assert {
        "ICD10CM:E11.9",
        "SNOMED:44054006",
        "RXNORM:6809",
        "MGB/LOCAL_LAB:HGBA1C-LOCAL",
        "LOINC:4548-4",
    } == ids
    std = omop.load_site("MGB", tmp_path / "cdm", prefer="standard")
    assert "ICD10CM:E11.9" not in set(std.codes["id"])
    assert len(site.events) == 5


def test_omop_errors(tmp_path):
    _omop(tmp_path / "cdm", concept_sep=",")
    (tmp_path / "cdm" / "drug_exposure.csv").write_text(
        "person_id,drug_concept_id,drug_exposure_start_date\n1,1503297,2020-01-05\n1,42,2020-01-05\n"
    )
    with pytest.raises(
        InputError, match=r"drug_exposure.csv, row 3: drug_concept_id '42' is not in"
    ):
        omop.load_site("S", tmp_path / "cdm")
    (tmp_path / "cdm" / "drug_exposure.csv").write_text(
        "person_id,drug_concept_id,drug_exposure_start_date\n1,1503297,5/1/2020\n"
    )
    with pytest.raises(InputError, match=r"row 2: drug_exposure_start_date is not YYYY-MM-DD"):
        omop.load_site("S", tmp_path / "cdm")
    (tmp_path / "cdm" / "CONCEPT.csv").unlink()
    with pytest.raises(InputError, match="no concept table"):
        omop.load_site("S", tmp_path / "cdm")
