"""OMOP CDM tables -> a site's codes and events (Stage I input).

Reads a folder with ``concept`` and any of ``condition_occurrence``, ``drug_exposure``,
``measurement``, ``procedure_occurrence`` (CSV, tab-separated CSV as Athena writes it, or
Parquet; lower- or upper-case names). The site's own coding is what MASH harmonises, so each
row's code is, in order: its source concept (``*_source_concept_id``, when in ``concept``),
else its source value as a local code (vocab ``LOCAL_LAB`` etc., the usual home of
unmapped local lab codes), else its standard concept. ``prefer="standard"`` reverses that.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mash_kg.errors import InputError
from mash_kg.sites import SiteData, check_rows, read_table, site_from_events

# table -> (concept column prefix, date column, domain)
TABLES = {
    "condition_occurrence": ("condition", "condition_start_date", "diagnosis"),
    "drug_exposure": ("drug", "drug_exposure_start_date", "medication"),
    "measurement": ("measurement", "measurement_date", "lab"),
    "procedure_occurrence": ("procedure", "procedure_date", "procedure"),
}
VOCABS = {"RxNorm": "RXNORM", "RxNorm Extension": "RXNORM_EXT", "SNOMED": "SNOMED"}
LOCAL = {
    "diagnosis": "LOCAL_DX",
    "medication": "LOCAL_RX",
    "lab": "LOCAL_LAB",
    "procedure": "LOCAL_PX",
}


def _find(folder: Path, name: str) -> Path | None:
    for f in sorted(folder.iterdir()):
        stem = f.name.split(".")[0].lower()
        if stem == name and f.suffix.lower() in (".csv", ".tsv", ".parquet", ".pq", ".txt"):
            return f
    return None


def _vocab(vocabulary_id: str) -> str:
    return VOCABS.get(vocabulary_id, vocabulary_id.upper().replace(" ", "_"))


def read_events(folder: Path, prefer: str = "source") -> pd.DataFrame:
    """Raw events: patient_id, date, code, vocab, domain, name, from the CDM tables."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "OMOP folder not found")
    if prefer not in ("source", "standard"):
        raise InputError(folder, f"prefer={prefer!r} is not 'source' or 'standard'")
    concept_file = _find(folder, "concept")
    if concept_file is None:
        raise InputError(folder, "no concept table", hint="export CONCEPT next to the CDM tables")
    concept, _ = read_table(
        concept_file, ["concept_id", "concept_name", "vocabulary_id", "concept_code"]
    )
    concept = concept.drop_duplicates("concept_id").set_index("concept_id")
    parts = []
    for table, (prefix, date_col, domain) in TABLES.items():
        path = _find(folder, table)
        if path is None:
            continue
        cid, sid = f"{prefix}_concept_id", f"{prefix}_source_concept_id"
        sval = f"{prefix}_source_value"
        df, first = read_table(path, ["person_id", date_col, cid])
        n = len(df)
        dates = pd.to_datetime(df[date_col].str[:10], errors="coerce", format="%Y-%m-%d")
        check_rows(path, dates.isna(), first, f"{date_col} is not YYYY-MM-DD")
        src = df[sid] if sid in df.columns else pd.Series([""] * n, index=df.index)
        val = df[sval] if sval in df.columns else pd.Series([""] * n, index=df.index)
        has_src = src.isin(concept.index) & (src != "0")
        has_std = df[cid].isin(concept.index) & (df[cid] != "0")
        has_val = val != ""
        if prefer == "source":
            use = np.select([has_src, has_val, has_std], ["src", "val", "std"], "none")
        else:
            use = np.select([has_std, has_src, has_val], ["std", "src", "val"], "none")
        bad = np.flatnonzero(use == "none")
        if len(bad):
            raise InputError(
                path,
                f"{cid} {df[cid].iloc[bad[0]]!r} is not in the concept table and the row "
                "has no source value",
                row=int(bad[0]) + first,
                hint="export the concepts the extract uses",
            )
        concept_ids = np.where(use == "src", src, df[cid])
        hit = concept.reindex(concept_ids)
        local = use == "val"
        parts.append(
            pd.DataFrame(
                {
                    "patient_id": df["person_id"].to_numpy(),
                    "date": df[date_col].to_numpy(),
                    "code": np.where(local, val, hit["concept_code"].to_numpy()),
                    "vocab": np.where(
                        local, LOCAL[domain], [_vocab(v) for v in hit["vocabulary_id"].fillna("")]
                    ),
                    "domain": domain,
                    "name": np.where(local, val, hit["concept_name"].to_numpy()),
                }
            )
        )
    if not parts:
        raise InputError(
            folder,
            "no CDM event table found",
            hint=f"expected one of {', '.join(TABLES)} (.csv or .parquet)",
        )
    return pd.concat(parts, ignore_index=True)


def load_site(site: str, folder: Path, prefer: str = "source") -> SiteData:
    """A site from OMOP CDM tables: codes (named from concept, counted) and events."""
    return site_from_events(site, read_events(folder, prefer), Path(folder))
