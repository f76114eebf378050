"""Co-occurrence counts (`mash_kg.cooccurrence`) on small cases with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from mash_kg.cooccurrence import (
    cooccurrence_matrix,
    counts_to_matrix,
    drop_small_cells,
    matrix_to_counts,
)
from mash_kg.errors import InputError


def brute_force(events: pd.DataFrame, window: int) -> dict[tuple[str, str], int]:
    ev = events.drop_duplicates().assign(day=pd.to_datetime(events["date"]).dt.normalize())
    ev = ev.drop_duplicates(["patient_id", "day", "code"]).reset_index(drop=True)
    out: dict[tuple[str, str], int] = {}
    for i in range(len(ev)):
        for j in range(i + 1, len(ev)):
            a, b = ev.iloc[i], ev.iloc[j]
            if a.patient_id != b.patient_id or a.code == b.code:
                continue
            if abs((a.day - b.day).days) <= window:
                key = tuple(sorted((a.code, b.code)))
                out[key] = out.get(key, 0) + 1
    return out


def test_window_counts_match_brute_force():
    rng = np.random.default_rng(3)
    n = 400
    events = pd.DataFrame(
        {
            "patient_id": rng.integers(0, 12, n).astype(str),
            "date": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 200, n), unit="D"),
            "code": rng.choice(list("ABCDEFG"), n),
        }
    )
    m, codes = cooccurrence_matrix(events, window_days=30)
    assert (m != m.T).nnz == 0 and m.diagonal().sum() == 0
    table = matrix_to_counts(m, codes)
    got = {(a, b): c for a, b, c in table.itertuples(index=False)}
    assert got == brute_force(events, 30)


def test_hand_made_timeline():
    events = pd.DataFrame(
        {
            "patient_id": ["p1", "p1", "p1", "p1", "p2", "p2"],
            "date": [
                "2020-01-01",
                "2020-01-01",
                "2020-01-31",
                "2020-03-15",
                "2020-01-01",
                "2020-01-01",
            ],
            "code": ["A", "B", "C", "A", "A", "A"],  # p2's repeated A counts once, and never self
        }
    )
    m, codes = cooccurrence_matrix(events, window_days=30)
    c = pd.DataFrame(m.toarray(), index=codes, columns=codes)
    assert c.loc["A", "B"] == 1 and c.loc["A", "C"] == 1 and c.loc["B", "C"] == 1
    assert c.loc["A", "A"] == 0
    m29, _ = cooccurrence_matrix(events, window_days=29)
    assert pd.DataFrame(m29.toarray(), index=codes, columns=codes).loc["A", "C"] == 0


def test_chunking_gives_the_same_counts(monkeypatch):
    import mash_kg.cooccurrence as co

    rng = np.random.default_rng(0)
    events = pd.DataFrame(
        {
            "patient_id": rng.integers(0, 5, 300),
            "date": rng.integers(0, 90, 300),
            "code": rng.choice(list("ABCDE"), 300),
        }
    )
    whole, _ = cooccurrence_matrix(events)
    monkeypatch.setattr(co, "MAX_PAIRS_PER_CHUNK", 7)
    chunked, _ = cooccurrence_matrix(events)
    assert (whole != chunked).nnz == 0


def test_small_cells_dropped():
    m = sp.csr_matrix(np.array([[0, 3, 12], [3, 0, 11], [12, 11, 0]]))
    kept = drop_small_cells(m, 11).toarray()
    assert kept[0, 1] == 0 and kept[0, 2] == 12 and kept[1, 2] == 11


def test_bad_events_are_one_line():
    bad = pd.DataFrame({"patient_id": ["p"], "date": ["not a date"], "code": ["A"]})
    with pytest.raises(InputError, match="events.csv, row 2: date 'not a date'"):
        cooccurrence_matrix(bad, origin="events.csv")
    with pytest.raises(InputError, match="missing column"):
        cooccurrence_matrix(pd.DataFrame({"patient_id": [1]}))


def test_counts_table_round_trip():
    counts = pd.DataFrame({"code_a": ["A", "B"], "code_b": ["B", "C"], "count": [4, 2]})
    m, codes = counts_to_matrix(counts)
    assert codes == ["A", "B", "C"] and m[0, 1] == 4 and m[1, 0] == 4 and m[2, 1] == 2
    back = matrix_to_counts(m, codes)
    assert back.values.tolist() == [["A", "B", 4], ["B", "C", 2]]
    with pytest.raises(InputError, match="row 3: count 'x'"):
        counts_to_matrix(
            pd.DataFrame({"code_a": ["A", "B"], "code_b": ["B", "C"], "count": [1, "x"]})
        )
