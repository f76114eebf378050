"""FHIR R4 extracts (`mash_kg.loaders.fhir`) -> codes and events; bad lines named by file and
line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mash_kg.errors import InputError
from mash_kg.loaders import fhir

EXAMPLE = Path(__file__).parents[2] / "examples" / "two_sites"
PATIENT = {"reference": "urn:uuid:p1"}
LOINC, RXNORM = "http://loinc.org", "http://www.nlm.nih.gov/research/umls/rxnorm"


def _bundle(*resources):
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": r} for r in resources],
    }


def test_bundle_resources_become_events_with_domains(tmp_path):
    bundle = _bundle(
        {"resourceType": "Patient", "id": "p1"},
        {
            "resourceType": "Condition",
            "id": "c",
            "subject": PATIENT,
            "code": {
                "coding": [
                    {
                        "system": "http://snomed.info/sct",
                        "code": "44054006",
                        "display": "Diabetes mellitus type 2 (disorder)",
                    }
                ]
            },
            "onsetDateTime": "2020-03-01T10:00:00+00:00",
        },
        {
            "resourceType": "Observation",
            "id": "o",
            "subject": PATIENT,
            "code": {"coding": [{"system": LOINC, "code": "85354-9", "display": "BP panel"}]},
            "component": [
                {
                    "code": {
                        "coding": [
                            {
                                "system": "http://loinc.org",
                                "code": "8480-6",
                                "display": "Systolic blood pressure",
                            }
                        ]
                    }
                }
            ],
            "effectiveDateTime": "2020-03-02",
        },
        {
            "resourceType": "MedicationRequest",
            "id": "m",
            "subject": PATIENT,
            "medicationCodeableConcept": {
                "coding": [{"system": RXNORM, "code": "860975", "display": "metformin"}]
            },
            "authoredOn": "2020-03-03",
        },
        {
            "resourceType": "Procedure",
            "id": "x",
            "subject": PATIENT,
            "code": {"coding": [{"system": "http://hospital.example/px", "code": "P7"}]},
            "performedPeriod": {"start": "2020-03-04T00:00:00Z"},
        },
    )
    path = tmp_path / "p1.json"
    path.write_text(json.dumps(bundle))
    site = fhir.load_site("H", [tmp_path])
    codes = site.codes.set_index("id")
    assert set(codes.index) == {
        "SNOMED:44054006",
        "LOINC:85354-9",
        "LOINC:8480-6",
        "RXNORM:860975",
        "H/LOCAL_PX:P7",
    }
    assert codes.loc["RXNORM:860975", "domain"] == "medication"
    assert codes.loc["H/LOCAL_PX:P7", "name"] == "P7"  # no display: the code stands in
    assert any("http://hospital.example/px (1 codings) is not mapped" in n for n in site.notes)
    assert site.events["patient_id"].unique().tolist() == ["p1"]
    assert site.events["date"].dt.strftime("%Y-%m-%d").tolist()[-1] == "2020-03-04"


def test_bulk_ndjson_example_site_loads():
    site = fhir.load_site("B", [EXAMPLE / "site_b" / "fhir"])
    assert len(site.codes) > 100 and len(site.events) > 1000
    assert set(site.codes["domain"]) == {"diagnosis", "lab", "medication", "procedure"}


def test_fhir_errors_name_file_and_line(tmp_path):
    nd = tmp_path / "Condition.ndjson"
    good = {
        "resourceType": "Condition",
        "id": "a",
        "subject": PATIENT,
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "1"}]},
        "onsetDateTime": "2020-01-01",
    }
    nd.write_text(json.dumps(good) + "\n" + json.dumps({**good, "onsetDateTime": None}) + "\n")
    with pytest.raises(InputError, match=r"Condition.ndjson: line 2: Condition a has no onset"):
        fhir.load_site("H", [nd])
    broken = tmp_path / "b.json"
    broken.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        fhir.load_site("H", [broken])
    with pytest.raises(InputError, match="file or folder not found"):
        fhir.load_site("H", [tmp_path / "missing"])


def _obs(n, *codings, text=None):
    """An Observation as bulk exports write it (one NDJSON line)."""
    concept = {"coding": list(codings), **({"text": text} if text else {})}
    return {
        "resourceType": "Observation",
        "id": f"o{n}",
        "subject": {"reference": f"Patient/p{n % 3}"},
        "code": concept,
        "effectiveDateTime": f"2021-01-{1 + n % 28:02d}T08:00:00Z",
    }


DE_LAB = "http://example.org/de/labor"


def _ndjson(path, resources):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in resources))
    return path


def test_every_coding_is_read_the_own_code_first_the_others_anchors(tmp_path):
    glucose = "Glucose [Mass/volume] in Serum"
    lines = [
        _obs(
            i,
            {"system": LOINC, "code": "2345-7", "display": glucose},
            {"system": DE_LAB, "code": "GLU", "display": "Glukose im Serum"},
            text="Glukose",
        )
        for i in range(6)
    ]
    nd = _ndjson(tmp_path / "Observation.ndjson", lines)
    site = fhir.load_site("DE", [nd], systems={DE_LAB: "DE_LAB"})
    # default order: the site's own (local) vocabulary first, then the standard ones
    assert list(site.codes["id"]) == ["DE/DE_LAB:GLU"]
    row = site.codes.iloc[0]
    assert row["name"] == "Glukose im Serum" and row["name_coding"].startswith("Glucose")
    assert row["name_text"] == "Glukose" and row["frequency"] == 6
    cw = site.crosswalk
    assert cw[["id", "other_id", "source"]].values.tolist() == [
        ["DE/DE_LAB:GLU", "LOINC:2345-7", "fhir_coding"]
    ]
    # a stated preference order picks LOINC as the site's code; the local one becomes the map
    pref = fhir.load_site("DE", [nd], systems={DE_LAB: "DE_LAB"}, code_preference=["LOINC"])
    assert list(pref.codes["id"]) == ["LOINC:2345-7"]
    assert pref.crosswalk["other_id"].tolist() == ["DE/DE_LAB:GLU"]
    # without the systems map the national system is read as a local lab vocabulary, said so
    unmapped = fhir.load_site("DE", [nd])
    assert list(unmapped.codes["id"]) == ["DE/LOCAL_LAB:GLU"]
    assert any(DE_LAB in n and "not mapped" in n for n in unmapped.notes)


def test_a_bad_coding_is_skipped_with_file_and_line_up_to_max_bad_rows(tmp_path, caplog):
    good = [_obs(i, {"system": LOINC, "code": "2345-7", "display": "Glucose"}) for i in range(200)]
    empty = _obs(7, {"system": LOINC, "code": "", "display": "Glucose"})
    nd = _ndjson(tmp_path / "Observation.ndjson", [*good[:50], empty, *good[50:]])
    with caplog.at_level("WARNING"):
        site = fhir.load_site("H", [nd])  # 1 of 201 < max_bad_rows 0.01
    assert len(site.events) == 200
    assert f"{nd}: line 51: Observation coding 1 has no code (skipped)" in caplog.text
    assert "1 of 201 resources skipped" in site.notes[0]
    with pytest.raises(InputError) as err:
        fhir.load_site("H", [nd], max_bad_rows=0.0)
    msg = str(err.value)
    assert msg.startswith(f"{nd}: line 51: Observation coding 1 has no code: 1 of 201 resources")
    assert "max_bad_rows" in msg and "\n" not in msg


@pytest.mark.parametrize(
    "line, problem",
    [
        ("[1,2,3]", "line 2: a JSON array, not a FHIR resource object"),
        (json.dumps(_obs(1, "2345-7")), "line 2: Observation coding 1 is a str, not an object"),
        (
            json.dumps({**_obs(1), "code": {"coding": {"code": "1"}}}),
            "line 2: Observation coding is a dict, not a list",
        ),
        ("{not json", "line 2: not valid JSON"),
    ],
)
def test_unreadable_resources_beyond_max_bad_rows_stop_in_one_line(tmp_path, line, problem):
    good = json.dumps(_obs(0, {"system": LOINC, "code": "2345-7"}))
    nd = _ndjson(tmp_path / "Observation.ndjson", [good, line, good])
    with pytest.raises(InputError) as err:
        fhir.load_site("H", [nd])
    msg = str(err.value)
    assert f"{nd}: {problem}" in msg and "1 of 3 resources unreadable" in msg
    assert "\n" not in msg


def _cond(n, code="44054006", display="Diabetes mellitus type 2 (disorder)"):
    return {
        "resourceType": "Condition",
        "id": f"c{n}",
        "subject": {"reference": f"Patient/p{n % 3}"},
        "onsetDateTime": f"2021-02-{1 + n % 28:02d}",
        "code": {
            "coding": [{"system": "http://snomed.info/sct", "code": code, "display": display}]
        },
    }


def test_an_export_folder_reads_its_data_and_names_the_other_files_in_one_line(tmp_path, caplog):
    _ndjson(tmp_path / "Condition.ndjson", [_cond(i) for i in range(4)])
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "p1.json").write_text(json.dumps(_bundle(_cond(9, "38341003"))))
    (tmp_path / "_generator_metadata.json").write_text('{"generator": "sim", "seed": 1}')
    (tmp_path / "README.md").write_text("# export of site B\n")
    with caplog.at_level("WARNING"):
        site = fhir.load_site("B", [tmp_path])
    assert len(site.events) == 5 and set(site.codes["code"]) == {"44054006", "38341003"}
    (line,) = [n for n in site.notes if n.startswith("skipped")]
    assert "skipped 2 file(s)" in line
    assert "_generator_metadata.json (JSON without resourceType)" in line
    assert "README.md (not .ndjson or .json)" in line
    assert line in caplog.text
    # named explicitly, the same metadata file is an error, not a skip
    with pytest.raises(InputError, match="not a FHIR resource or Bundle"):
        fhir.load_site("B", [tmp_path / "_generator_metadata.json"])


def test_a_bulk_data_manifest_names_the_files_and_types_to_read(tmp_path):
    _ndjson(tmp_path / "Condition.ndjson", [_cond(i) for i in range(3)])
    _ndjson(tmp_path / "Observation.ndjson", [_obs(1, {"system": LOINC, "code": "2345-7"})])
    _ndjson(tmp_path / "Patient.ndjson", [{"resourceType": "Patient", "id": "p1"}])
    # written beside the export by hand: not in the manifest, so not part of it
    _ndjson(tmp_path / "Procedure.ndjson", ["{broken"])
    manifest = {
        "transactionTime": "2026-01-01T00:00:00Z",
        "request": "https://fhir.example/$export",
        "requiresAccessToken": True,
        "output": [
            {"type": "Condition", "url": "https://fhir.example/files/Condition.ndjson"},
            {"type": "Patient", "url": "https://fhir.example/files/Patient.ndjson"},
            {"type": "Observation", "url": "Observation.ndjson"},
        ],
        "error": [],
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    site = fhir.load_site("B", [tmp_path])
    assert sorted(set(site.codes["domain"])) == ["diagnosis", "lab"] and len(site.events) == 4
    (line,) = [n for n in site.notes if n.startswith("skipped")]
    assert "Procedure.ndjson (not in the export manifest)" in line and "manifest.json" not in line
    # a file the manifest names must be there
    (tmp_path / "Patient.ndjson").unlink()
    with pytest.raises(InputError) as err:
        fhir.load_site("B", [tmp_path])
    assert str(err.value).startswith(f"{tmp_path / 'manifest.json'}: output 2 (Patient) names")


def test_files_globs_read_exports_with_other_names_and_a_resource_once(tmp_path):
    # one resource in two documents of a patient (as some generators write them): read once
    (tmp_path / "summary.fhir").write_text(json.dumps(_bundle(_cond(1), _cond(2, "38341003"))))
    (tmp_path / "discharge.fhir").write_text(json.dumps(_bundle(_cond(1))))
    (tmp_path / "conditions.txt").write_text(
        "".join(json.dumps(_cond(n, "195662009")) + "\n" for n in range(10, 13))
    )
    (tmp_path / "notes.txt").write_text("not data\n")
    with pytest.raises(InputError, match="no .ndjson or .json files found"):
        fhir.load_site("B", [tmp_path])
    site = fhir.load_site("B", [tmp_path], files=["*.fhir", "cond*.txt"])
    assert len(site.events) == 5  # c1 once, c2, three NDJSON lines
    assert any("1 resources read again in another file" in n for n in site.notes)
    with pytest.raises(InputError, match=r"files = \['\*\.xml'\] match no file"):
        fhir.load_site("B", [tmp_path], files=["*.xml"])
    with pytest.raises(InputError, match="notes.txt: not valid JSON"):
        fhir.load_site("B", [tmp_path], files=["*.txt"])


def test_files_in_sites_is_a_glob_or_a_list_for_fhir_sites(tmp_path):
    from mash_kg.config import load_config
    from mash_kg.project import load_project

    cfg = tmp_path / "mash-kg.toml"
    cfg.write_text('[[sites]]\nid = "B"\nformat = "fhir"\npath = "fhir"\nfiles = "**/*.txt"\n')
    assert load_project(load_config(cfg)).sites[0].files == ["**/*.txt"]
    cfg.write_text('[[sites]]\nid = "B"\nformat = "fhir"\npath = "x"\nfiles = [1]\n')
    with pytest.raises(InputError, match="files must be glob patterns"):
        load_project(load_config(cfg))
    cfg.write_text('[[sites]]\nid = "A"\ncodes = "c.csv"\nevents = "e.csv"\nfiles = ["*.csv"]\n')
    with pytest.raises(InputError, match="files is read by format 'fhir' only"):
        load_project(load_config(cfg))


def test_a_named_json_file_of_ndjson_lines_is_read_as_ndjson_and_broken_json_is_one_line(tmp_path):
    lines = tmp_path / "conditions.json"  # NDJSON content under a .json name, given by name
    lines.write_text("\n".join(json.dumps(_cond(i)) for i in range(3)) + "\n")
    assert len(fhir.load_site("B", [lines]).events) == 3
    broken = tmp_path / "broken.json"
    broken.write_text('{"resourceType": "Condition", ')
    with pytest.raises(InputError, match=r"not valid JSON \(Expecting"):
        fhir.load_site("B", [broken])
