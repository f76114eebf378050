"""Throughput and peak memory of windowed co-occurrence counting (mash_kg.cooccurrence).

    python bench/cooccurrence.py [--events 1000000] [--runs 3] [--quick]

Events are synthetic but shaped like EHR extracts: patients with Zipf-distributed code use,
visits spread over three years, several codes per visit. Times are medians of --runs; peak
memory is the tracemalloc peak of the counting (numpy buffers included).
Writes bench/results/cooccurrence.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))

from _common import write_results  # noqa: E402

from mash_kg.cooccurrence import cooccurrence_matrix  # noqa: E402


def synthetic_events(n_events: int, n_patients: int, n_codes: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_visits = n_events // 4
    visit_patient = rng.integers(0, n_patients, n_visits)
    visit_day = rng.integers(0, 3 * 365, n_visits)
    visit = rng.integers(0, n_visits, n_events)
    code = np.minimum(rng.zipf(1.3, n_events), n_codes) - 1
    return pd.DataFrame(
        {
            "patient_id": visit_patient[visit],
            "date": visit_day[visit],
            "code": pd.Series(code).map(lambda c: f"C{c:05d}"),
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="100k events, 1 run")
    args = ap.parse_args()
    n, runs = (100_000, 1) if args.quick else (args.events, args.runs)
    events = synthetic_events(n, n_patients=max(100, n // 50), n_codes=5000)
    seconds, peak, pairs = [], 0, 0
    for _ in range(runs):
        tracemalloc.start()
        t0 = time.perf_counter()
        m, codes = cooccurrence_matrix(events, window_days=30)
        seconds.append(time.perf_counter() - t0)
        peak = max(peak, tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        pairs = int(m.sum() // 2)
    med = statistics.median(seconds)
    print(
        f"{n} events, {len(codes)} codes, {pairs} co-occurring pairs, {m.nnz // 2} cells: "
        f"{med:.2f} s median of {runs} -> {n / med:,.0f} events/s, peak {peak / 2**20:.0f} MiB"
    )
    task = "events_1m" if n == 1_000_000 else f"events_{n}"
    write_results(
        "cooccurrence",
        {
            task: {
                "n": n,
                "methods": {
                    "scipy_sparse_window": {
                        "events_per_second": round(n / med),
                        "peak_mib": round(peak / 2**20, 1),
                        "seconds": round(med, 3),
                        "runs": runs,
                        "window_days": 30,
                        "codes": len(codes),
                        "cooccurring_event_pairs": pairs,
                        "nonzero_cells": int(m.nnz // 2),
                    }
                },
            }
        },
    )


if __name__ == "__main__":
    main()
