"""A site's inputs to Stage I: its codes, and co-occurrence counts or patient-level events.

Tables (CSV or Parquet, columns by name, extra columns ignored):

- codes: ``code, vocab, name`` (+ optional ``domain``, ``frequency``, ``name_<lang>``)
- counts: ``code_a, code_b, count`` (+ optional ``vocab_a, vocab_b`` when a code string is
  used by two vocabularies of the site), aggregate counts in a co-occurrence window
- events: ``patient_id, date, code`` (+ optional ``vocab``), one row per coded fact

Every code gets a graph id: ``VOCAB:code`` for a standard vocabulary (shared across sites:
these are the anchors of the alignment), ``SITE/VOCAB:code`` for anything local to the site.
Validation stops at the first bad row with one line: file, row, problem, what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mash_kg.errors import InputError

# vocabularies whose codes mean the same at every site (ids without a site prefix)
STANDARD_VOCABS = frozenset(
    {
        "ICD10CM",
        "ICD10",
        "ICD9CM",
        "ICD10PCS",
        "PHECODE",
        "PHECODEX",
        "ATC",
        "RXNORM",
        "LOINC",
        "SNOMED",
        "CPT4",
        "HCPCS",
        "NDC",
        "CVX",
    }
)
DOMAINS = ("diagnosis", "medication", "lab", "procedure", "other")

CODES_COLUMNS = ["code", "vocab", "name"]
COUNTS_COLUMNS = ["code_a", "code_b", "count"]
EVENTS_COLUMNS = ["patient_id", "date", "code"]


def code_id(
    site: str, vocab: str, code: str, shared: frozenset[str] | set[str] = STANDARD_VOCABS
) -> str:
    """The graph id of a site's code: shared (`VOCAB:code`) for a vocabulary in `shared`,
    site-prefixed else. A build shares every vocabulary the graph holds too (`share_ids`)."""
    return f"{vocab}:{code}" if vocab in shared else f"{site}/{vocab}:{code}"


@dataclass
class SiteData:
    """One site's validated Stage I inputs; codes are referred to by graph id everywhere."""

    site: str
    codes: pd.DataFrame  # id, site, vocab, code, name, domain, frequency
    counts: pd.DataFrame | None = None  # code_a, code_b, count (ids; each pair once, a<b)
    events: pd.DataFrame | None = None  # patient_id, date, code (id)
    # id, other_id, source: other codes of the same concept (FHIR's other codings): anchors
    crosswalk: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)  # what was skipped or read as local


def read_table(path: Path, required: list[str]) -> tuple[pd.DataFrame, int]:
    """A CSV or Parquet table as strings, and the row number of its first record (CSV: 2)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found", hint="check the path in mash-kg.toml")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            df, first = pd.read_parquet(path), 1
        else:
            with path.open(encoding="utf-8", errors="replace") as fh:
                head = fh.readline()
            # OMOP/Athena files are often tab-separated whatever their suffix
            sep = "\t" if "\t" in head and "," not in head else ","
            df = pd.read_csv(path, dtype=str, keep_default_na=False, sep=sep, encoding="utf-8")
            first = 2
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc.reason})") from None
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        raise InputError(path, f"unreadable table ({str(exc).splitlines()[0]})") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(
            path,
            f"missing column(s) {', '.join(missing)}",
            row=1 if first == 2 else None,
            hint=f"expected columns: {', '.join(required)}",
        )
    for c in df.columns:
        if df[c].dtype == object or c in required:
            df[c] = df[c].astype("string").fillna("").str.strip()
    for c in required:
        empty = np.flatnonzero((df[c] == "").to_numpy())
        if len(empty):
            raise InputError(path, f"empty {c!r}", row=int(empty[0]) + first)
    return df, first


def check_rows(path: Path, mask: pd.Series, first: int, problem: str, hint: str = "") -> None:
    """Raise for the first row where `mask` holds (row number = position + `first`)."""
    bad = np.flatnonzero(mask.to_numpy())
    if len(bad):
        i = int(bad[0])
        raise InputError(path, problem.format(i=i), row=i + first, hint=hint)


def read_codes(site: str, path: Path) -> pd.DataFrame:
    """The site's codes table, validated, with graph ids."""
    df, first = read_table(path, CODES_COLUMNS)
    vocab = df["vocab"].str.upper()
    if "domain" not in df.columns:
        df["domain"] = "other"
    domain = df["domain"].str.lower().replace("", "other")
    check_rows(
        path,
        ~domain.isin(DOMAINS),
        first,
        "unknown domain",
        hint=f"use one of {', '.join(DOMAINS)}",
    )
    freq = pd.Series(np.nan, index=df.index)
    if "frequency" in df.columns:
        freq = pd.to_numeric(df["frequency"].replace("", np.nan), errors="coerce")
        check_rows(
            path,
            (df["frequency"] != "") & (freq.isna() | (freq < 0)),
            first,
            "frequency is not a non-negative number",
        )
    ids = [code_id(site, v, c) for v, c in zip(vocab, df["code"], strict=True)]
    out = pd.DataFrame(
        {
            "id": ids,
            "site": site,
            "vocab": vocab,
            "code": df["code"],
            "name": df["name"],
            "domain": domain,
            "frequency": freq,
        }
    )
    for c in df.columns:  # names in other languages: name_de, name_en, ... (stage1 picks one)
        if c.startswith("name_"):
            out[c] = df[c].astype(str)
    check_rows(
        path,
        out["id"].duplicated(),
        first,
        "code listed twice for its vocabulary",
        hint="one row per (vocab, code)",
    )
    return out.astype({"id": str, "vocab": str, "code": str, "name": str, "domain": str})


class _Resolver:
    """Turns (code[, vocab]) columns of a site file into graph ids, naming unknown codes."""

    def __init__(self, codes: pd.DataFrame) -> None:
        pairs = zip(codes["vocab"], codes["code"], strict=True)
        self.by_pair = dict(zip(pairs, codes["id"], strict=True))
        by_code = codes.groupby("code")["id"].agg(list)
        self.by_code = {c: ids[0] for c, ids in by_code.items() if len(ids) == 1}
        self.ambiguous = {c for c, ids in by_code.items() if len(ids) > 1}

    def resolve(
        self, path: Path, df: pd.DataFrame, first: int, code_col: str, vocab_col: str
    ) -> pd.Series:
        if vocab_col in df.columns and (df[vocab_col] != "").all():
            keys = zip(df[vocab_col].str.upper(), df[code_col], strict=True)
            ids = pd.Series([self.by_pair.get(k) for k in keys], index=df.index, dtype=object)
        else:
            amb = df[code_col].isin(self.ambiguous)
            check_rows(
                path,
                amb,
                first,
                f"{code_col} is used by several vocabularies of this site",
                hint=f"add a {vocab_col} column",
            )
            ids = df[code_col].map(self.by_code)
        check_rows(
            path,
            ids.isna(),
            first,
            f"{code_col} is not in the site's codes table",
            hint="add it to the codes table or drop the row",
        )
        return ids.astype(str)


def read_counts(path: Path, codes: pd.DataFrame) -> pd.DataFrame:
    """Aggregate co-occurrence counts, validated, by graph id; symmetric pairs summed once."""
    df, first = read_table(path, COUNTS_COLUMNS)
    count = pd.to_numeric(df["count"], errors="coerce")
    check_rows(
        path,
        count.isna() | (count < 0) | (count != count.round()),
        first,
        "count is not a non-negative integer",
    )
    res = _Resolver(codes)
    a = res.resolve(path, df, first, "code_a", "vocab_a")
    b = res.resolve(path, df, first, "code_b", "vocab_b")
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    out = pd.DataFrame({"code_a": lo, "code_b": hi, "count": count.astype(np.int64)})
    return out.groupby(["code_a", "code_b"], as_index=False, sort=True)["count"].sum()


def read_events(path: Path, codes: pd.DataFrame) -> pd.DataFrame:
    """Patient-level events, validated, with codes as graph ids and dates parsed."""
    df, first = read_table(path, EVENTS_COLUMNS)
    return events_frame(path, df, first, codes)


def events_frame(path: Path, df: pd.DataFrame, first: int, codes: pd.DataFrame) -> pd.DataFrame:
    dates = pd.to_datetime(df["date"].astype(str).str[:10], errors="coerce", format="%Y-%m-%d")
    check_rows(path, dates.isna(), first, "date is not YYYY-MM-DD")
    ids = _Resolver(codes).resolve(path, df, first, "code", "vocab")
    return pd.DataFrame(
        {"patient_id": df["patient_id"].astype(str), "date": dates, "code": ids}
    ).reset_index(drop=True)


def codes_from_events(site: str, raw: pd.DataFrame) -> pd.DataFrame:
    """A codes table from raw events (code, vocab, domain, name per event): one row per code,
    named by its most frequent non-empty name, frequency = number of events."""
    raw = raw.assign(vocab=raw["vocab"].str.upper())
    names = (
        raw[raw["name"] != ""]
        .groupby(["vocab", "code", "name"])
        .size()
        .rename("n")
        .reset_index()
        .sort_values(["vocab", "code", "n", "name"], ascending=[True, True, False, True])
        .drop_duplicates(["vocab", "code"])[["vocab", "code", "name"]]
    )
    g = raw.groupby(["vocab", "code"], sort=True)
    out = g.agg(domain=("domain", "first"), frequency=("patient_id", "size")).reset_index()
    out = out.merge(names, on=["vocab", "code"], how="left")
    out["name"] = out["name"].fillna(out["code"]).astype(str)
    out["id"] = [code_id(site, v, c) for v, c in zip(out["vocab"], out["code"], strict=True)]
    out["site"] = site
    return out[["id", "site", "vocab", "code", "name", "domain", "frequency"]]


def site_from_events(site: str, raw: pd.DataFrame, origin: Path) -> SiteData:
    """A site from an adapter's raw events (patient_id, date, code, vocab, domain, name)."""
    codes = codes_from_events(site, raw)
    return SiteData(site, codes, events=events_frame(origin, raw, 1, codes))


def load_site(
    site: str, codes: Path, counts: Path | None = None, events: Path | None = None
) -> SiteData:
    """A site from its own tables: a codes table and either counts or events."""
    if (counts is None) == (events is None):
        raise InputError(
            codes,
            f"site {site!r} needs exactly one of counts or events",
            hint="set counts = ... or events = ... for the site in mash-kg.toml",
        )
    table = read_codes(site, codes)
    if counts is not None:
        return SiteData(site, table, counts=read_counts(counts, table))
    return SiteData(site, table, events=read_events(events, table))


def share_ids(
    data: SiteData, shared: set[str], rename: dict[str, str] | None = None, origin: object = ""
) -> SiteData:
    """The site with its local vocabulary names mapped onto graph vocabularies (`rename`:
    the site's name -> the graph's, from [[sites]] vocabularies in mash-kg.toml) and every
    code of a shared vocabulary (standard, held by the graph, or a `rename` target) under its
    shared id ``VOCAB:code``; counts, events and crosswalk follow the new ids."""
    from dataclasses import replace

    rename = {k.upper(): v.upper() for k, v in (rename or {}).items()}
    have = set(data.codes["vocab"])
    unused = sorted(set(rename) - have)
    if unused:
        raise InputError(
            origin,
            f"site {data.site!r}: vocabularies maps {unused[0]}, but the "
            f"site has no code of that vocabulary (it has {', '.join(sorted(have))})",
            hint="name the vocab the site's codes table uses",
        )
    shared = set(shared) | STANDARD_VOCABS | set(rename.values())
    codes = data.codes.copy()
    codes["vocab"] = codes["vocab"].map(lambda v: rename.get(v, v))
    ids = [
        code_id(data.site, v, c, shared) for v, c in zip(codes["vocab"], codes["code"], strict=True)
    ]
    if ids == list(data.codes["id"]) and codes["vocab"].equals(data.codes["vocab"]):
        return data
    dup = pd.Series(ids).duplicated(keep=False).to_numpy()
    if dup.any():
        first = codes[dup].sort_values("code").iloc[0]
        both = sorted(data.codes.loc[dup & (codes["code"] == first["code"]).to_numpy(), "vocab"])
        raise InputError(
            origin,
            f"site {data.site!r}: code {first['code']} is listed under "
            f"{' and '.join(both)}, which both become {first['vocab']}",
            hint="map only one of them in [[sites]] vocabularies",
        )
    new = dict(zip(data.codes["id"], ids, strict=True))
    codes["id"] = ids
    counts = data.counts
    if counts is not None:
        a, b = counts["code_a"].map(new), counts["code_b"].map(new)
        counts = pd.DataFrame(
            {"code_a": np.minimum(a, b), "code_b": np.maximum(a, b), "count": counts["count"]}
        )
        counts = counts.groupby(["code_a", "code_b"], as_index=False, sort=True)["count"].sum()
    events = None if data.events is None else data.events.assign(code=data.events["code"].map(new))
    cross = data.crosswalk
    if cross is not None and len(cross):
        cross = cross.assign(
            id=cross["id"].map(lambda x: new.get(x, x)),
            other_id=cross["other_id"].map(lambda x: new.get(x, x)),
        )
    return replace(data, codes=codes, counts=counts, events=events, crosswalk=cross)
