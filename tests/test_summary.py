"""`mash-kg site summarize`: engines agree with the in-memory reference on edge cases, the
summary folder is atomic and byte-identical on a rerun, bad rows are named, and `build` on
summaries equals `build` on the raw sites. Spark: tests/test_summary_spark.py."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from mash_kg.cli import cli
from mash_kg.errors import InputError
from mash_kg.project import SiteSpec
from mash_kg.summary import count_site, summarize
from mash_kg.summary.folder import read_summary, suppress
from mash_kg.summary.site import load_site

EXAMPLE = Path(__file__).parent.parent / "examples" / "two_sites"
EMBEDDED = ["in_memory", "duckdb"]


def edge_case_events() -> pd.DataFrame:
    """Hand-made records whose counts are known (window 30, threshold 2)."""
    rows = [
        # p1: A and B on day 0 (same-day pair), B repeated the same day (counts once),
        # C on day 30 (window boundary: pairs with A and B), D on day 31 (not with A/B)
        ("p1", "2020-01-01", "A"),
        ("p1", "2020-01-01", "B"),
        ("p1", "2020-01-01", "B"),
        ("p1", "2020-01-31", "C"),
        ("p1", "2020-02-01", "D"),
        # p2: A and B the same day, again 40 days later (two pairs), A twice the same day
        ("p2", "2020-03-01", "A"),
        ("p2", "2020-03-01", "B"),
        ("p2", "2020-03-01", "A"),
        ("p2", "2020-04-10", "A"),
        ("p2", "2020-04-10", "B"),
        # p3: one event only; E is seen once in the whole site
        ("p3", "2021-06-01", "E"),
        # p4: before 1970 (negative day numbers) across a window boundary
        ("p4", "1969-12-20", "A"),
        ("p4", "1970-01-19", "C"),
        ("p4", "1970-01-20", "D"),
    ]
    return pd.DataFrame(rows, columns=["patient_id", "date", "code"])


def write_tables_site(folder: Path, events: pd.DataFrame, parquet: bool = False) -> SiteSpec:
    folder.mkdir(parents=True, exist_ok=True)
    codes = pd.DataFrame(
        {
            "code": list("ABCDEF"),
            "vocab": "LOCAL",
            "name": [f"code {c}" for c in "ABCDEF"],
            "domain": "lab",
        }
    )
    suffix = "parquet" if parquet else "csv"
    paths = {"codes": folder / f"codes.{suffix}", "events": folder / f"events.{suffix}"}
    for name, df in (("codes", codes), ("events", events)):
        if parquet:
            df.to_parquet(paths[name], index=False, row_group_size=5)
        else:
            df.to_csv(paths[name], index=False)
    return SiteSpec(id="S", format="tables", codes=paths["codes"], events=paths["events"])


def pairs_of(spec: SiteSpec, engine: str, window: int = 30, k: int = 0):
    counts, used = count_site(spec, window, engine)
    assert used == engine
    codes, pairs, figures = suppress(counts, k)
    return counts, codes, pairs, figures


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


@pytest.mark.parametrize("engine", EMBEDDED)
def test_suppression_at_the_threshold(tmp_path, engine):
    spec = write_tables_site(tmp_path, edge_case_events())
    _, codes, pairs, figures = pairs_of(spec, engine, k=2)
    # cells of exactly 2 stay, 1 goes; codes in exactly 2 patients stay, E (1) and F (0) go
    got = {(a, b): n for _, a, _, b, n in pairs.itertuples(index=False)}
    assert got == {("A", "B"): 3, ("A", "C"): 2, ("C", "D"): 2}
    assert list(codes["code"]) == ["A", "B", "C", "D"]
    assert figures == {
        "codes_suppressed": 2,
        "cells_suppressed_small": 1,
        "cells_suppressed_with_code": 0,
    }
    _, codes3, pairs3, fig3 = pairs_of(spec, engine, k=3)
    assert list(codes3["code"]) == ["A"] and pairs3.empty
    assert fig3["cells_suppressed_with_code"] == 1  # A-B (3) goes with B (2 patients)


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


def _digests(folder: Path) -> dict[str, str]:
    return {
        f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.glob("*.parquet"))
    }


def test_summary_folder_is_atomic_and_reruns_byte_identical(tmp_path, monkeypatch):
    spec = write_tables_site(tmp_path / "in", edge_case_events())
    out = tmp_path / "summary"
    m1 = summarize(spec, out, min_cell_count=2, engine="duckdb")
    first = _digests(out)
    assert set(first) == {"codes.parquet", "cooccurrence.parquet"}
    with pytest.raises(InputError, match="already exists"):
        summarize(spec, out, engine="duckdb")
    m2 = summarize(spec, out, min_cell_count=2, engine="in_memory", force=True)
    assert _digests(out) == first  # another engine, same bytes
    assert m1["tables"] == m2["tables"] and m2["engine"] == "in_memory"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["min_cell_count"] == 2 and manifest["codes_suppressed"] == 2
    assert "patient_id" not in json.dumps(manifest) and manifest["date_min"] == "1969-12-20"

    import mash_kg.summary.folder as folder

    def fail(df, path):
        raise OSError("disk full")

    monkeypatch.setattr(folder, "_write_parquet", fail)
    with pytest.raises(OSError):
        summarize(spec, out, min_cell_count=5, engine="duckdb", force=True)
    assert _digests(out) == first  # the old summary stands, no temporary folder is left
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_embedded_engine_picks_by_size(tmp_path, monkeypatch):
    import mash_kg.summary as summary

    spec = write_tables_site(tmp_path / "in", edge_case_events())
    assert summary.choose_engine(spec, "embedded") == "in_memory"
    monkeypatch.setattr(summary, "IN_MEMORY_MAX_EVENTS", 2)  # 245 bytes of CSV: ~4 events
    m = summarize(spec, tmp_path / "s", engine="embedded")
    assert m["engine"] == "duckdb" and m["tables"]["cooccurrence"]["rows"] == 4


def test_a_changed_summary_table_is_refused(tmp_path):
    spec = write_tables_site(tmp_path / "in", edge_case_events())
    summarize(spec, tmp_path / "s", engine="duckdb")
    assert len(load_site("S", tmp_path / "s").counts) == 4
    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "s" / "codes.parquet")
    with pytest.raises(InputError, match="does not match the sha256"):
        read_summary(tmp_path / "s")


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


def test_cli_summarize_then_build_equals_the_raw_build(tmp_path):
    """The federated flow on the example: each site summarized, the build on the summaries
    has the raw build's codes, counts, vectors and counterparts."""
    project = tmp_path / "two_sites"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("builds"))
    raw_cfg = project / "mash-kg.toml"
    text = raw_cfg.read_text().replace("epochs = 200", "epochs = 40")
    text = text.replace('align_method = "neural_ot"', 'align_method = "procrustes"')
    raw_cfg.write_text(text.replace("[hierarchy]", "[hierarchy]\nenabled = false"))
    run = CliRunner()
    for site, engine in (("A", "duckdb"), ("B", "embedded")):
        res = run.invoke(
            cli,
            [
                "--config",
                str(raw_cfg),
                "site",
                "summarize",
                "--site",
                site,
                "--engine",
                engine,
                str(project / f"summary_{site}"),
            ],
        )
        assert res.exit_code == 0, res.output
        assert "co-occurring pairs within 30 days" in res.output.replace("\n", " ").replace(
            "  ", " "
        )
    res = run.invoke(
        cli,
        [
            "site",
            "summarize",
            "--site",
            "A",
            "--format",
            "tables",
            "--codes",
            str(project / "nope.csv"),
            "--events",
            str(project / "nope.csv"),
            str(tmp_path / "x"),
        ],
    )
    assert res.exit_code == 1 and "nope.csv: file not found" in res.output.replace("\n", "")
    assert "Traceback" not in res.output and not (tmp_path / "x").exists()
    fed = raw_cfg.read_text().replace('builds = "builds"', 'builds = "builds_fed"')
    head, _, _ = fed.partition("[[sites]]")
    fed_cfg = project / "federated.toml"
    fed_cfg.write_text(
        head
        + "".join(
            f'[[sites]]\nid = "{s}"\nformat = "summary"\npath = "summary_{s}"\n\n' for s in "AB"
        )
    )
    for cfg in (raw_cfg, fed_cfg):
        res = run.invoke(cli, ["--config", str(cfg), "build"])
        assert res.exit_code == 0, res.output
    (raw,) = (project / "builds").iterdir()
    (fed_build,) = (project / "builds_fed").iterdir()
    for table in ("codes", "cooccurrence", "embeddings", "counterparts"):
        a = pd.read_parquet(raw / f"{table}.parquet")
        b = pd.read_parquet(fed_build / f"{table}.parquet")
        pd.testing.assert_frame_equal(a, b, obj=table)
    bad = fed_cfg.read_text().replace("window_days = 30", "window_days = 14")
    fed_cfg.write_text(bad)
    res = run.invoke(cli, ["--config", str(fed_cfg), "build"])
    assert res.exit_code == 1 and "counted with a 30-day window, the project uses 14" in (
        res.output.replace("\n", "")
    )
