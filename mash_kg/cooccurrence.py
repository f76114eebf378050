"""Co-occurrence of codes within a time window of each patient's record (Stage I input).

Tables
- events: `patient_id`, `date` (date or datetime, or days as integers), `code`.
- counts: `code_a`, `code_b`, `count` with code_a < code_b; one row per unordered pair.

Two events of one patient co-occur when their dates are at most `window_days` apart and their
codes differ; a repeated (patient, date, code) event counts once. The work grows with the number
of co-occurring event pairs (events sorted by patient and date; each event's window found by a
binary search; pairs generated in bounded chunks), never with patients x codes^2.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mash_kg.errors import InputError

EVENT_COLUMNS = ["patient_id", "date", "code"]
COUNT_COLUMNS = ["code_a", "code_b", "count"]
MAX_PAIRS_PER_CHUNK = 20_000_000


def _days(dates: pd.Series, origin: str) -> np.ndarray:
    if pd.api.types.is_integer_dtype(dates):
        return dates.to_numpy(dtype=np.int64)
    parsed = pd.to_datetime(dates, errors="coerce")
    bad = parsed.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            origin, f"date {dates.iloc[row]!r} is not a date (YYYY-MM-DD)", row=row + 2
        )
    return parsed.to_numpy(dtype="datetime64[D]").astype(np.int64)


def cooccurrence_matrix(
    events: pd.DataFrame,
    window_days: int = 30,
    *,
    codes: list[str] | None = None,
    origin: str = "events",
    progress: Callable[[int], None] | None = None,
) -> tuple[sp.csr_matrix, list[str]]:
    """Symmetric code x code counts (zero diagonal) and the code order of its rows.

    `codes` fixes the row order (events with other codes are an error); by default the sorted
    codes of the events. `progress` is called with the number of events done per chunk.
    """
    missing = [c for c in EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise InputError(
            origin,
            f"missing column(s) {', '.join(missing)}",
            row=1,
            hint="events need patient_id, date, code",
        )
    if window_days < 0:
        raise InputError(origin, f"window of {window_days} days: must be >= 0")
    empty = events["code"].isna() | events["patient_id"].isna()
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0])
        raise InputError(origin, "empty patient_id or code", row=row + 2)
    day = _days(events["date"], origin)
    code_values = events["code"].astype(str).to_numpy()
    if codes is None:
        vocab, code_idx = np.unique(code_values, return_inverse=True)
        codes = vocab.tolist()
    else:
        index = pd.Index(codes)
        code_idx = index.get_indexer(code_values)
        if (code_idx < 0).any():
            row = int(np.flatnonzero(code_idx < 0)[0])
            raise InputError(
                origin, f"code {code_values[row]!r} is not in the codes table", row=row + 2
            )
    patient_idx = pd.factorize(events["patient_id"])[0].astype(np.int64)
    # unique (patient, day, code), sorted by patient then day
    frame = pd.DataFrame({"p": patient_idx, "d": day, "c": code_idx}).drop_duplicates()
    frame = frame.sort_values(["p", "d"], kind="stable")
    # one sortable key per event: patients are `span` days apart, so no window crosses two
    d = frame["d"].to_numpy()
    d0 = int(d.min()) if len(d) else 0
    span = int(d.max()) - d0 + window_days + 1 if len(d) else 1
    key = frame["p"].to_numpy() * span + (d - d0)
    code_arr = frame["c"].to_numpy()
    n_codes, n = len(codes), len(key)
    end = np.searchsorted(key, key + window_days, side="right")
    per_event = end - np.arange(n) - 1  # partners after each event within its window
    total = sp.csr_matrix((n_codes, n_codes), dtype=np.int64)
    start = 0
    while start < n:
        # grow the chunk until it holds about MAX_PAIRS_PER_CHUNK pairs
        cum = np.cumsum(per_event[start:])
        stop = start + max(1, int(np.searchsorted(cum, MAX_PAIRS_PER_CHUNK, side="right")))
        stop = min(stop, n)
        counts = per_event[start:stop]
        if counts.sum():
            first = np.repeat(np.arange(start, stop), counts)
            offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            second = first + 1 + offsets
            a, b = code_arr[first], code_arr[second]
            keep = a != b
            a, b = a[keep], b[keep]
            lo, hi = np.minimum(a, b), np.maximum(a, b)
            chunk = sp.coo_matrix(
                (np.ones(len(lo), dtype=np.int64), (lo, hi)), shape=(n_codes, n_codes)
            ).tocsr()
            total = total + chunk
        if progress:
            progress(stop - start)
        start = stop
    total = (total + total.T).tocsr()
    total.sum_duplicates()
    return total, list(codes)


def drop_small_cells(matrix: sp.csr_matrix, min_count: int) -> sp.csr_matrix:
    """Zero every count below `min_count`: small cells can identify patients."""
    out = matrix.tocsr(copy=True)
    if min_count > 1:
        out.data[out.data < min_count] = 0
        out.eliminate_zeros()
    return out


def matrix_to_counts(matrix: sp.csr_matrix, codes: list[str]) -> pd.DataFrame:
    """The counts table (one row per unordered pair) of a symmetric matrix."""
    upper = sp.triu(matrix, k=1).tocoo()
    names = np.asarray(codes, dtype=object)
    return pd.DataFrame(
        {
            "code_a": names[upper.row],
            "code_b": names[upper.col],
            "count": upper.data.astype(np.int64),
        }
    )


def counts_to_matrix(
    counts: pd.DataFrame, codes: list[str] | None = None, origin: str = "counts"
) -> tuple[sp.csr_matrix, list[str]]:
    """Symmetric matrix of a counts table (pairs given in either order are added up)."""
    missing = [c for c in COUNT_COLUMNS if c not in counts.columns]
    if missing:
        raise InputError(origin, f"missing column(s) {', '.join(missing)}", row=1)
    values = pd.to_numeric(counts["count"], errors="coerce")
    bad = values.isna() | (values < 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            origin, f"count {counts['count'].iloc[row]!r} is not a number >= 0", row=row + 2
        )
    a, b = counts["code_a"].astype(str), counts["code_b"].astype(str)
    if codes is None:
        codes = sorted(set(a) | set(b))
    index = pd.Index(codes)
    ia, ib = index.get_indexer(a), index.get_indexer(b)
    unknown = (ia < 0) | (ib < 0)
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise InputError(origin, "code not in the codes table", row=row + 2)
    keep = ia != ib
    m = sp.coo_matrix(
        (values.to_numpy()[keep], (ia[keep], ib[keep])), shape=(len(codes), len(codes))
    ).tocsr()
    return (m + m.T).tocsr(), list(codes)
