"""A summary folder as a site of `mash-kg build` (format ``summary``): codes and counts, no
events. The build sees what it would have computed from the site's records, minus what the
site suppressed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mash_kg.sites import SiteData, code_id
from mash_kg.summary.folder import read_summary


def _ids(site: str, vocab: pd.Series, code: pd.Series) -> list[str]:
    return [code_id(site, v, c) for v, c in zip(vocab, code, strict=True)]


def load_site(site: str, path: Path) -> SiteData:
    """The site's codes (graph ids under `site`) and co-occurrence counts from its summary."""
    _, tables = read_summary(path)
    raw = tables["codes"]
    codes = raw.drop(columns=["patients"]).assign(site=site)
    codes.insert(0, "id", _ids(site, raw["vocab"], raw["code"]))
    front = ["id", "site", "vocab", "code", "name", "domain", "frequency"]
    codes = codes[front + [c for c in codes.columns if c not in front]]
    pairs = tables["cooccurrence"]
    a = np.asarray(_ids(site, pairs["vocab_a"], pairs["code_a"]), dtype=object)
    b = np.asarray(_ids(site, pairs["vocab_b"], pairs["code_b"]), dtype=object)
    lo, hi = np.where(a < b, a, b), np.where(a < b, b, a)
    counts = pd.DataFrame({"code_a": lo, "code_b": hi, "count": pairs["count"].astype(np.int64)})
    counts = counts.groupby(["code_a", "code_b"], as_index=False, sort=True)["count"].sum()
    data = SiteData(site, codes.reset_index(drop=True), counts=counts)
    if "crosswalk" in tables and hasattr(data, "crosswalk"):
        cw = tables["crosswalk"]
        data.crosswalk = pd.DataFrame(
            {
                "id": _ids(site, cw["vocab"], cw["code"]),
                "other_id": _ids(site, cw["other_vocab"], cw["other_code"]),
                "source": cw["source"],
            }
        )
    return data
