"""Hand-made sites for the summary tests: events whose counts are known, written as a tables
site."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mash_kg.project import SiteSpec
from mash_kg.summary import count_site
from mash_kg.summary.folder import suppress

EXAMPLE = Path(__file__).parents[2] / "examples" / "two_sites"


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
