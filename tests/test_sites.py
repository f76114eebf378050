"""Site inputs: codes, counts and events tables (CSV and Parquet), one-line errors."""

from __future__ import annotations

import pandas as pd
import pytest

from mash_kg.errors import InputError
from mash_kg.sites import code_id, load_site, read_codes, read_counts, read_events

CODES = """code,vocab,name,domain,frequency
2345-7,LOINC,Glucose [Mass/volume] in Serum or Plasma,lab,10
1000137972,LOCAL_LAB,GLUCOSE SER,lab,
E11.9,ICD10CM,Type 2 diabetes mellitus without complications,diagnosis,3
"""


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_codes_get_graph_ids_standard_shared_local_prefixed(tmp_path):
    codes = read_codes("VA", _write(tmp_path, "codes.csv", CODES))
    assert list(codes["id"]) == ["LOINC:2345-7", "VA/LOCAL_LAB:1000137972", "ICD10CM:E11.9"]
    assert codes["frequency"].isna().tolist() == [False, True, False]
    assert code_id("VA", "RXNORM", "860975") == "RXNORM:860975"


@pytest.mark.parametrize(
    "text, row, problem",
    [
        ("code,vocab\nA,B\n", 1, "missing column(s) name"),
        ("code,vocab,name\nA,X,\n", 2, "empty 'name'"),
        ("code,vocab,name,domain\nA,X,n,lab\nB,X,m,labs\n", 3, "unknown domain"),
        ("code,vocab,name\nA,X,n\nA,X,m\n", 3, "code listed twice"),
        ("code,vocab,name,frequency\nA,X,n,-1\n", 2, "frequency is not"),
    ],
)
def test_bad_codes_name_file_and_row(tmp_path, text, row, problem):
    path = _write(tmp_path, "codes.csv", text)
    with pytest.raises(InputError) as err:
        read_codes("S", path)
    assert err.value.row == row and problem in str(err.value) and str(path) in str(err.value)


def test_events_resolve_codes_and_name_bad_rows(tmp_path):
    codes = read_codes("VA", _write(tmp_path, "codes.csv", CODES))
    ok = _write(
        tmp_path, "ev.csv", "patient_id,date,code\np1,2020-01-02,2345-7\np1,2020-01-05,1000137972\n"
    )
    ev = read_events(ok, codes)
    assert list(ev["code"]) == ["LOINC:2345-7", "VA/LOCAL_LAB:1000137972"]
    assert str(ev["date"].dtype).startswith("datetime64")
    bad_date = _write(
        tmp_path, "bd.csv", "patient_id,date,code\np1,2020-01-02,2345-7\np1,02/03/2020,2345-7\n"
    )
    with pytest.raises(InputError, match="row 3: date is not YYYY-MM-DD"):
        read_events(bad_date, codes)
    unknown = _write(tmp_path, "uk.csv", "patient_id,date,code\np1,2020-01-02,9999-9\n")
    with pytest.raises(InputError, match="row 2: code is not in the site's codes table"):
        read_events(unknown, codes)


def test_ambiguous_code_needs_a_vocab_column(tmp_path):
    codes = read_codes(
        "S", _write(tmp_path, "c.csv", "code,vocab,name\n100,LOCAL_LAB,a\n100,LOCAL_RX,b\n")
    )
    amb = _write(tmp_path, "e.csv", "patient_id,date,code\np,2020-01-01,100\n")
    with pytest.raises(InputError, match="several vocabularies"):
        read_events(amb, codes)
    ok = _write(tmp_path, "e2.csv", "patient_id,date,code,vocab\np,2020-01-01,100,local_rx\n")
    assert list(read_events(ok, codes)["code"]) == ["S/LOCAL_RX:100"]


def test_counts_parquet_symmetric_pairs_summed(tmp_path):
    codes = read_codes("VA", _write(tmp_path, "codes.csv", CODES))
    counts = pd.DataFrame(
        {"code_a": ["2345-7", "E11.9"], "code_b": ["E11.9", "2345-7"], "count": [3, 4]}
    )
    path = tmp_path / "counts.parquet"
    counts.to_parquet(path)
    out = read_counts(path, codes)
    assert out.to_dict("records") == [
        {"code_a": "ICD10CM:E11.9", "code_b": "LOINC:2345-7", "count": 7}
    ]
    neg = _write(tmp_path, "n.csv", "code_a,code_b,count\n2345-7,E11.9,2.5\n")
    with pytest.raises(InputError, match="row 2: count is not a non-negative integer"):
        read_counts(neg, codes)


def test_a_site_needs_exactly_one_of_counts_or_events(tmp_path):
    codes = _write(tmp_path, "codes.csv", CODES)
    with pytest.raises(InputError, match="exactly one of counts or events"):
        load_site("VA", codes)
