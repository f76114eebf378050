"""Counting a site (`mash_kg.summary.count_site`, summary/engine.py): the DuckDB engine agrees with
the in-memory reference on edge cases and random sites of every format; the embedded engine is
picked by size; bad rows are named by file, row and problem. Spark:
tests/summary/test_backends.py."""

from __future__ import annotations

import pandas as pd
import pytest

from mash_kg.errors import InputError
from mash_kg.project import SiteSpec
from mash_kg.summary import count_site, summarize
from tests.summary.helpers import EMBEDDED, EXAMPLE, edge_case_events, pairs_of, write_tables_site


@pytest.mark.parametrize("parquet", [False, True])
def test_engines_count_the_edge_cases_as_the_reference(tmp_path, parquet):
    spec = write_tables_site(tmp_path, edge_case_events(), parquet)
    results = {e: pairs_of(spec, e) for e in EMBEDDED}
    counts, codes, pairs, _ = results["in_memory"]
    got = {(a, b): n for _, a, _, b, n in pairs.itertuples(index=False)}
    assert got == {("A", "B"): 3, ("A", "C"): 2, ("B", "C"): 1, ("C", "D"): 2}
    assert dict(zip(codes["code"], codes["patients"], strict=True)) == {
        "A": 3,
        "B": 2,
        "C": 2,
        "D": 2,
        "E": 1,
        "F": 0,
    }
    assert (counts.date_min, counts.date_max) == ("1969-12-20", "2021-06-01")
    for engine, (c2, codes2, pairs2, _) in results.items():
        assert codes2.equals(codes) and pairs2.equals(pairs), engine
        assert (c2.date_min, c2.date_max) == (counts.date_min, counts.date_max)


def test_one_patient_site_and_a_zero_day_window(tmp_path):
    events = pd.DataFrame(
        {
            "patient_id": ["only"] * 4,
            "date": ["2020-01-01", "2020-01-01", "2020-01-02", "2020-01-02"],
            "code": ["A", "B", "A", "C"],
        }
    )
    spec = write_tables_site(tmp_path, events)
    for window, want in (
        (0, {("A", "B"): 1, ("A", "C"): 1}),
        (1, {("A", "B"): 2, ("A", "C"): 2, ("B", "C"): 1}),
    ):
        for engine in EMBEDDED:
            _, _, pairs, _ = pairs_of(spec, engine, window=window)
            got = {(a, b): n for _, a, _, b, n in pairs.itertuples(index=False)}
            assert got == want, (engine, window)


def test_random_sites_all_formats_agree(tmp_path):
    """OMOP CDM (source and local codes), FHIR and tables: DuckDB = the adapters in memory."""
    import numpy as np

    rng = np.random.default_rng(7)
    n = 3000
    omop = tmp_path / "omop"
    omop.mkdir()
    concept = pd.DataFrame(
        {
            "concept_id": [str(i) for i in range(1, 41)],
            "concept_name": [f"concept {i}" for i in range(1, 41)],
            "vocabulary_id": ["ICD10CM"] * 20 + ["LOINC"] * 20,
            "concept_code": [f"X{i}" for i in range(1, 41)],
        }
    )
    concept.to_csv(omop / "concept.csv", sep="\t", index=False)
    days = pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D")
    cond = pd.DataFrame(
        {
            "person_id": rng.integers(1, 60, n),
            "condition_start_date": days.strftime("%Y-%m-%d"),
            "condition_concept_id": rng.integers(1, 21, n),
            "condition_source_concept_id": rng.choice([0, 3, 5, 7], n),
            "condition_source_value": rng.choice(["", "loc1", "loc2"], n),
        }
    )
    cond.to_csv(omop / "condition_occurrence.csv", index=False)
    meas = pd.DataFrame(
        {
            "person_id": rng.integers(1, 60, n),
            "measurement_date": days,
            "measurement_concept_id": rng.integers(21, 41, n),
            "measurement_source_value": rng.choice(["", "LAB9"], n),
        }
    )
    meas.to_parquet(omop / "measurement.parquet", index=False)
    specs = [
        SiteSpec(id="O", format="omop", path=omop),
        SiteSpec(id="O", format="omop", path=omop, prefer="standard"),
        SiteSpec(
            id="A",
            format="tables",
            codes=EXAMPLE / "site_a" / "codes.csv",
            events=EXAMPLE / "site_a" / "events.csv",
        ),
        SiteSpec(id="B", format="fhir", path=EXAMPLE / "site_b" / "fhir"),
    ]
    for spec in specs:
        ref = pairs_of(spec, "in_memory", k=2)
        got = pairs_of(spec, "duckdb", k=2)
        assert got[1].equals(ref[1]) and got[2].equals(ref[2]), spec
        assert got[3] == ref[3] and len(ref[2]) > 10


def test_embedded_engine_picks_by_size(tmp_path, monkeypatch):
    import mash_kg.summary as summary

    spec = write_tables_site(tmp_path / "in", edge_case_events())
    assert summary.choose_engine(spec, "embedded") == "in_memory"
    monkeypatch.setattr(summary, "IN_MEMORY_MAX_EVENTS", 2)  # 245 bytes of CSV: ~4 events
    m = summarize(spec, tmp_path / "s", engine="embedded")
    assert m["engine"] == "duckdb" and m["tables"]["cooccurrence"]["rows"] == 4


BAD_ROWS = [
    # (events rows, parquet, expected message) - row numbers as the file shows them
    (
        [("p1", "2020-01-01", "A"), ("p1", "2020-02-30", "B")],
        False,
        "events.csv, row 3: date is not YYYY-MM-DD",
    ),
    (
        [("p1", "2020-01-01", "A"), ("p2", "2020-01-01", "Z")],
        False,
        "events.csv, row 3: code is not in the site's codes table",
    ),
    (
        [("p1", "2020-01-01", "A"), ("", "2020-01-01", "A")],
        False,
        "events.csv, row 3: empty 'patient_id'",
    ),
    (
        [("p", "2020-01-01", "A")] * 7 + [("p", "2020-1-1x", "A")],
        True,
        "events.parquet, row 8: date is not YYYY-MM-DD (Parquet row group 1)",
    ),
]


@pytest.mark.parametrize("rows,parquet,message", BAD_ROWS)
@pytest.mark.parametrize("engine", EMBEDDED)
def test_bad_rows_name_file_row_and_problem(tmp_path, rows, parquet, message, engine):
    events = pd.DataFrame(rows, columns=["patient_id", "date", "code"])
    spec = write_tables_site(tmp_path, events, parquet)
    with pytest.raises(InputError) as err:
        count_site(spec, 30, engine)
    if engine == "in_memory":  # the adapters read whole tables: no row group to name
        message = message.split(" (Parquet")[0]
    assert message in str(err.value)


def test_malformed_csv_and_missing_concept_are_one_line(tmp_path):
    spec = write_tables_site(tmp_path, edge_case_events())
    spec.events.write_text("patient_id,date,code\np1,2020-01-01,A\np1,2020-01-02,B,extra\n")
    with pytest.raises(InputError, match=r"events.csv: unreadable .*line 3"):
        count_site(spec, 30, "duckdb")
    omop = tmp_path / "omop"
    omop.mkdir()
    pd.DataFrame(
        {
            "concept_id": ["1"],
            "concept_name": ["x"],
            "vocabulary_id": ["LOINC"],
            "concept_code": ["1-1"],
        }
    ).to_csv(omop / "concept.csv", index=False)
    pd.DataFrame(
        {
            "person_id": ["1", "2"],
            "measurement_date": ["2020-01-01"] * 2,
            "measurement_concept_id": ["1", "99"],
        }
    ).to_csv(omop / "measurement.csv", index=False)
    for engine in EMBEDDED:
        with pytest.raises(InputError) as err:
            count_site(SiteSpec(id="O", format="omop", path=omop), 30, engine)
        assert (
            "measurement.csv, row 3: measurement_concept_id '99' is not in the concept table"
        ) in str(err.value)
