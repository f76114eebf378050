"""The Spark engine (PySpark, local[2], one session for the module) counts exactly what the in-
memory reference counts, and names bad rows the same way."""

from __future__ import annotations

import pandas as pd
import pytest

from mash_kg.errors import InputError
from mash_kg.project import SiteSpec
from mash_kg.summary import count_site
from mash_kg.summary.folder import suppress
from tests.summary.helpers import EXAMPLE, edge_case_events, write_tables_site


@pytest.fixture(scope="module", autouse=True)
def spark():
    from mash_kg.summary.backends import SparkBackend

    backend = SparkBackend("local[2]")  # later engines reuse this session (getOrCreate)
    yield backend.spark
    backend.spark.stop()


def _counts(spec: SiteSpec, engine: str):
    counts, used = count_site(spec, 30, engine, spark_master="local[2]")
    assert used == engine
    return counts


def test_spark_equals_the_reference_on_edge_cases_and_sites(tmp_path):
    specs = [
        write_tables_site(tmp_path / "csv", edge_case_events()),
        write_tables_site(tmp_path / "pq", edge_case_events(), parquet=True),
        SiteSpec(
            id="A",
            format="tables",
            codes=EXAMPLE / "site_a" / "codes.csv",
            events=EXAMPLE / "site_a" / "events.csv",
        ),
    ]
    for spec in specs:
        ref, got = _counts(spec, "in_memory"), _counts(spec, "spark")
        assert (got.date_min, got.date_max) == (ref.date_min, ref.date_max)
        for k in (0, 2):  # suppression at the threshold, on both engines' counts
            want, have = suppress(ref, k), suppress(got, k)
            assert have[0].equals(want[0]) and have[1].equals(want[1]), (spec, k)
            assert have[2] == want[2]


def test_spark_reads_omop_parquet_and_csv(tmp_path):
    omop = tmp_path / "omop"
    omop.mkdir()
    pd.DataFrame(
        {
            "concept_id": ["1", "2", "3"],
            "concept_name": ["a", "b", "c"],
            "vocabulary_id": ["LOINC", "SNOMED", "RxNorm"],
            "concept_code": ["1-1", "22", "33"],
        }
    ).to_csv(omop / "CONCEPT.csv", sep="\t", index=False)
    events = edge_case_events().query("code != 'E'")
    pd.DataFrame(
        {
            "person_id": events["patient_id"],
            "measurement_date": events["date"],
            "measurement_concept_id": events["code"].map({"A": "1", "B": "2"}).fillna("0"),
            "measurement_source_value": events["code"].map({"C": "lab C", "D": "lab D"}).fillna(""),
        }
    ).to_parquet(omop / "measurement.parquet", index=False)
    pd.DataFrame(
        {
            "person_id": ["p1", "p4"],
            "drug_exposure_start_date": ["2020-01-02"] * 2,
            "drug_concept_id": ["3", "3"],
        }
    ).to_csv(omop / "drug_exposure.csv", index=False)
    spec = SiteSpec(id="O", format="omop", path=omop)
    ref, got = suppress(_counts(spec, "in_memory"), 0), suppress(_counts(spec, "spark"), 0)
    assert got[0].equals(ref[0]) and got[1].equals(ref[1]) and len(ref[1]) == 8
    assert set(ref[0]["vocab"]) == {"LOINC", "SNOMED", "LOCAL_LAB", "RXNORM"}


def test_spark_names_bad_rows_and_refuses_fhir(tmp_path):
    events = pd.DataFrame(
        [("p1", "2020-01-01", "A"), ("p1", "2020-02-30", "B")],
        columns=["patient_id", "date", "code"],
    )
    spec = write_tables_site(tmp_path, events)
    with pytest.raises(InputError, match=r"events.csv, row 3: date is not YYYY-MM-DD"):
        count_site(spec, 30, "spark", spark_master="local[2]")
    fhir = SiteSpec(id="B", format="fhir", path=EXAMPLE / "site_b" / "fhir")
    with pytest.raises(InputError, match="spark engine reads events tables or OMOP"):
        count_site(fhir, 30, "spark")
