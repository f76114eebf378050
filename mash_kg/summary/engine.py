"""One site's records -> `SiteCounts`, by the SQL plan on a backend or in memory.

`count_with_backend` stages each input file as the adapter would read it, validates it (the
first bad row is located with file, row and Parquet row group, and the adapter's message),
builds the codes table, deduplicates events per (patient, day, code) and counts pairs.
`count_in_memory` is the reference: the site's own adapter and `cooccurrence_matrix`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp

from mash_kg.errors import InputError
from mash_kg.project import SiteSpec
from mash_kg.sites import EVENTS_COLUMNS, read_codes
from mash_kg.summary import plan
from mash_kg.summary.backends import DuckDBBackend, chunks
from mash_kg.summary.folder import SiteCounts

CONCEPT_COLUMNS = ["concept_id", "concept_name", "vocabulary_id", "concept_code"]
CODE_COLUMNS = ["vocab", "code", "name", "domain", "frequency"]


@dataclass
class Input:
    """One input file: how it is read, resolved and checked."""

    view: str
    path: Path
    required: list[str]
    optional: list[str]
    resolved: Callable[[str, str, bool], str]  # (source view, day template, keep _row) -> SQL
    candidates: list[plan.Check]  # every check the file may need, in the adapter's order
    stats: dict[str, str] = field(default_factory=dict)  # extra figures the choice needs
    choose: Callable[[dict], list[plan.Check]] | None = None  # the checks that apply
    columns: list[str] = field(default_factory=list)  # the file's columns, once registered

    @property
    def src(self) -> str:
        return f"{self.view}_src"


def _day_string(days: int | None) -> str | None:
    return None if days is None else str(np.datetime64(int(days), "D"))


def _validate(be, item: Input, deps: Callable[[object], None]) -> dict:
    """Stage and check one input; raises at the first bad row; returns its figures."""
    item.columns = be.register_file(item.src, item.path, item.required, item.optional)
    be.stage(item.view, item.resolved(item.src, be.day, False))
    exprs = [
        f"SUM(CASE WHEN {c.where} THEN 1 ELSE 0 END) AS c{i}" for i, c in enumerate(item.candidates)
    ]
    exprs += [f"SUM(CASE WHEN {e} THEN 1 ELSE 0 END) AS {k}" for k, e in item.stats.items()]
    try:
        figures = be.fetch(f"SELECT count(*) AS rows, {', '.join(exprs)} FROM {item.view}")
    except Exception as exc:  # a file the engine cannot parse: say where, as pandas would
        for _ in chunks(item.path):
            pass
        raise InputError(
            item.path, f"unreadable ({str(exc).strip().splitlines()[0][:300]})"
        ) from None
    stats = {k: v or 0 for k, v in figures.to_pylist()[0].items()}
    checks = item.choose(stats) if item.choose else item.candidates
    for check in checks:
        if stats[f"c{item.candidates.index(check)}"]:
            _locate(item, check, deps, stats[f"c{item.candidates.index(check)}"])
    return stats


def _locate(item: Input, check: plan.Check, deps: Callable[[object], None], n: int) -> None:
    """Find the first row failing `check` by reading the file again in chunks (error path)."""
    local = DuckDBBackend(None, threads=1)
    try:
        deps(local)
        for df, first, group in chunks(item.path):
            df["_row"] = np.arange(first, first + len(df))
            local.register_chunk(item.src, df, item.required, item.optional)
            hit = local.fetch(
                f"SELECT _row, {check.value} AS v FROM ({item.resolved(item.src, local.day, True)})"
                f" t WHERE {check.where} ORDER BY _row LIMIT 1"
            ).to_pylist()
            if hit:
                problem = check.problem.format(value=hit[0]["v"])
                if group is not None:
                    problem += f" (Parquet row group {group})"
                raise InputError(item.path, problem, row=int(hit[0]["_row"]), hint=check.hint)
    finally:
        local.close()
    raise InputError(item.path, f"{check.problem.format(value='?')} in {n} rows", hint=check.hint)


def _tables(be, spec: SiteSpec) -> tuple[pd.DataFrame, dict, list[Path]]:
    if spec.events is None:
        raise InputError(
            spec.codes or spec.id,
            "the site gives aggregate counts, not events: nothing to summarize",
            hint="ship its codes and counts tables as they "
            "are, or point events = at the patient-level table",
        )
    codes = read_codes(spec.id, spec.codes)
    by_code = codes.groupby("code")["vocab"].transform("size")
    frames = {
        "codes": pd.DataFrame(
            {"idx": np.arange(len(codes)), "vocab": codes["vocab"], "code": codes["code"]}
        ),
        "codes_unique": pd.DataFrame(
            {"idx": np.flatnonzero(by_code == 1), "code": codes["code"][by_code == 1]}
        ),
        "codes_ambiguous": pd.DataFrame(
            {"code": sorted(set(codes["code"][by_code > 1]))}, dtype=str
        ),
    }

    def deps(b) -> None:
        for name, df in frames.items():
            b.register_frame(name, df.reset_index(drop=True))

    deps(be)
    candidates = plan.tables_checks("events", True) + plan.tables_checks("events", False)
    item = Input(
        "events",
        Path(spec.events),
        list(EVENTS_COLUMNS),
        ["vocab"],
        plan.tables_resolved,
        candidates,
        stats={"vocab_empty": "vocab = ''"},
    )
    n_by_pair = len(plan.tables_checks("events", True))

    def choose(stats: dict) -> list[plan.Check]:
        by_pair = "vocab" in item.columns and not stats["vocab_empty"]
        return candidates[:n_by_pair] if by_pair else candidates[n_by_pair:]

    item.choose = choose
    stats = _validate(be, item, deps)
    idx = "idx_pair" if "vocab" in item.columns and not stats["vocab_empty"] else "idx_code"
    be.distinct("ev", f"SELECT patient_id AS patient, day AS d, {idx} AS idx FROM events")
    out = codes.drop(columns=["id", "site"])
    return out, {item.path.name: stats["rows"]}, [item.path]


def _omop(be, spec: SiteSpec) -> tuple[pd.DataFrame, dict, list[Path]]:
    from mash_kg.loaders.omop import TABLES, _find

    folder = Path(spec.path)
    if not folder.is_dir():
        raise InputError(folder, "OMOP folder not found")
    if spec.prefer not in ("source", "standard"):
        raise InputError(folder, f"prefer={spec.prefer!r} is not 'source' or 'standard'")
    concept_file = _find(folder, "concept")
    if concept_file is None:
        raise InputError(folder, "no concept table", hint="export CONCEPT next to the CDM tables")
    concept = Input(
        "concept",
        concept_file,
        CONCEPT_COLUMNS,
        [],
        lambda src, day, keep: f"SELECT * FROM {src}",
        plan.empty_checks("concept", CONCEPT_COLUMNS),
    )

    def deps(b) -> None:
        b.register_file(concept.src, concept.path, concept.required)
        b.view("concept", plan.CONCEPT_DEDUP.replace("concept_src", concept.src))

    rows = {concept_file.name: _validate(be, concept, lambda b: None)["rows"]}
    be.stage("concept", plan.CONCEPT_DEDUP.replace("concept_src", concept.src))
    parts, files = [], [concept_file]
    for table, (prefix, date_col, _) in TABLES.items():
        path = _find(folder, table)
        if path is None:
            continue
        cid = f"{prefix}_concept_id"
        item = Input(
            table,
            path,
            ["person_id", date_col, cid],
            [f"{prefix}_source_concept_id", f"{prefix}_source_value"],
            lambda src, day, keep, t=table: plan.omop_resolved(t, src, spec.prefer, day, keep),
            plan.omop_checks(table, table),
        )
        rows[path.name] = _validate(be, item, deps)["rows"]
        parts.append(f"SELECT patient, day, vocab, code, name, domain, ord FROM {table}")
        files.append(path)
    if not parts:
        raise InputError(
            folder,
            "no CDM event table found",
            hint=f"expected one of {', '.join(TABLES)} (.csv or .parquet)",
        )
    be.view("raw", " UNION ALL ".join(parts))
    agg = be.fetch(
        "SELECT vocab, code, name, domain, count(*) AS n, min(ord) AS ord FROM raw "
        "GROUP BY vocab, code, name, domain"
    ).to_pandas()
    codes = _codes_from_aggregate(agg)
    be.register_frame(
        "codes",
        pd.DataFrame(
            {"idx": np.arange(len(codes)), "vocab": codes["vocab"], "code": codes["code"]}
        ),
    )
    be.distinct("ev", plan.RAW_EVENTS)
    return codes, rows, files


def _codes_from_aggregate(agg: pd.DataFrame) -> pd.DataFrame:
    """`sites.codes_from_events` from (vocab, code, name, domain, n, ord) groups: sorted by
    (vocab, code); the most frequent non-empty name (ties: the smaller), else the code; the
    domain of the first table; frequency = events."""
    freq = agg.groupby(["vocab", "code"], sort=True)["n"].sum()
    named = agg[agg["name"] != ""].groupby(["vocab", "code", "name"])["n"].sum().reset_index()
    named = named.sort_values(["vocab", "code", "n", "name"], ascending=[True, True, False, True])
    names = named.drop_duplicates(["vocab", "code"]).set_index(["vocab", "code"])["name"]
    dom = agg.sort_values(["vocab", "code", "ord"]).drop_duplicates(["vocab", "code"])
    domains = dom.set_index(["vocab", "code"])["domain"]
    out = freq.rename("frequency").reset_index()
    keys = pd.MultiIndex.from_frame(out[["vocab", "code"]])
    out["name"] = names.reindex(keys).to_numpy()
    out["name"] = out["name"].fillna(out["code"]).astype(str)
    out["domain"] = domains.reindex(keys).to_numpy()
    out["frequency"] = out["frequency"].astype(np.int64)
    return out[CODE_COLUMNS].reset_index(drop=True)


def _adapter_events(be, spec: SiteSpec) -> tuple[pd.DataFrame, dict, list[Path], object]:
    """FHIR (or any format) through the site's own adapter; its events counted by `be`."""
    from mash_kg.build import load_site

    data = load_site(spec)
    if data.events is None:
        raise InputError(
            spec.path or spec.id,
            "the site gives aggregate counts, not events: nothing to summarize",
        )
    idx = pd.Index(data.codes["id"]).get_indexer(data.events["code"])
    day = data.events["date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    ev = pd.DataFrame({"patient": data.events["patient_id"].astype(str), "d": day, "idx": idx})
    be.register_frame("ev", ev.drop_duplicates().reset_index(drop=True))
    codes = data.codes.drop(columns=["id", "site"])
    return codes, {"events": len(data.events)}, [Path(spec.path)], data


def count_with_backend(be, spec: SiteSpec, window_days: int) -> SiteCounts:
    """The site's codes, patients and pair counts computed by the SQL plan on `be`."""
    data = None
    if spec.format == "tables":
        codes, rows, _ = _tables(be, spec)
    elif spec.format == "omop":
        codes, rows, _ = _omop(be, spec)
    else:
        codes, rows, _, data = _adapter_events(be, spec)
    be.register_frame("offsets", pd.DataFrame({"off": np.array([-1, 0, 1], dtype=np.int64)}))
    patients = be.fetch(plan.PATIENTS).to_pandas()
    codes = codes.reset_index(drop=True)
    codes["patients"] = np.zeros(len(codes), dtype=np.int64)
    codes.loc[patients["idx"].to_numpy(), "patients"] = patients["patients"].to_numpy()
    dates = be.fetch(plan.DATES).to_pylist()[0]
    pairs = be.fetch(plan.pairs_sql(window_days))
    pairs = pa.table(
        {
            "a": pairs.column("a").cast(pa.int64()),
            "b": pairs.column("b").cast(pa.int64()),
            "count": pairs.column("n").cast(pa.int64()),
        }
    )
    return SiteCounts(
        codes=codes,
        pairs=pairs,
        date_min=_day_string(dates["lo"]),
        date_max=_day_string(dates["hi"]),
        source_rows=rows,
        crosswalk=_crosswalk(spec.id, data),
        notes=list(getattr(data, "notes", []) or []),
    )


def _split_id(site: str, gid: str) -> tuple[str, str]:
    vocab, _, code = gid.removeprefix(f"{site}/").partition(":")
    return vocab, code


def _crosswalk(site: str, data) -> pd.DataFrame | None:
    """The adapter's crosswalk (ids) as vocab/code pairs, so the summary names no site."""
    cw = getattr(data, "crosswalk", None)
    if cw is None or not len(cw):
        return None
    own = [_split_id(site, i) for i in cw["id"]]
    other = [_split_id(site, i) for i in cw["other_id"]]
    return pd.DataFrame(
        {
            "vocab": [v for v, _ in own],
            "code": [c for _, c in own],
            "other_vocab": [v for v, _ in other],
            "other_code": [c for _, c in other],
            "source": cw["source"].astype(str) if "source" in cw else "",
        }
    )


def count_in_memory(spec: SiteSpec, window_days: int) -> SiteCounts:
    """The reference: the site's adapter and `mash_kg.cooccurrence.cooccurrence_matrix`."""
    from mash_kg.build import load_site
    from mash_kg.cooccurrence import cooccurrence_matrix

    data = load_site(spec)
    if data.events is None:
        raise InputError(
            spec.codes or spec.path or spec.id,
            "the site gives aggregate counts, not events: nothing to summarize",
        )
    ids = list(data.codes["id"])
    m, _ = cooccurrence_matrix(data.events, window_days, codes=ids, origin=spec.id)
    upper = sp.triu(m, k=1).tocoo()
    order = np.lexsort((upper.col, upper.row))
    pairs = pa.table(
        {
            "a": upper.row[order].astype(np.int64),
            "b": upper.col[order].astype(np.int64),
            "count": upper.data[order].astype(np.int64),
        }
    )
    ev = data.events
    per_code = ev.drop_duplicates(["patient_id", "code"]).groupby("code").size()
    codes = data.codes.drop(columns=["id", "site"]).reset_index(drop=True)
    codes["patients"] = per_code.reindex(ids).fillna(0).to_numpy().astype(np.int64)
    lo = ev["date"].min() if len(ev) else None
    hi = ev["date"].max() if len(ev) else None
    return SiteCounts(
        codes=codes,
        pairs=pairs,
        date_min=None if lo is None else str(pd.Timestamp(lo).date()),
        date_max=None if hi is None else str(pd.Timestamp(hi).date()),
        source_rows={"events": len(ev)},
        crosswalk=_crosswalk(spec.id, data),
        notes=list(getattr(data, "notes", []) or []),
    )
