"""The counting plan as SQL that DuckDB and Spark SQL both run (one plan, two engines).

A backend registers each input file as a view of trimmed strings ('' for missing), and runs
the queries below. The plan mirrors the in-memory adapters (`mash_kg.sites`,
`loaders/omop.py`) and `mash_kg.cooccurrence` exactly:

- events are resolved to (vocab, code) the way the adapter does, validated in the adapter's
  order of checks (empty fields, dates, codes), and deduplicated per (patient, day, code);
- two events of a patient co-occur when their days are at most `window_days` apart and their
  codes differ; each unordered pair of events counts once.

The pair join is bucketed: days fall into buckets of `max(window, 1)` days, and an event meets
only the events of its own and the two neighbouring buckets of the same patient, so the work
follows the co-occurring pairs (as in memory), not a patient's whole record squared.
"""

from __future__ import annotations

from dataclasses import dataclass

from mash_kg.loaders.omop import LOCAL, TABLES, VOCABS

EVENT_CHECKS_TABLES = ("patient_id", "date", "code")


@dataclass
class Check:
    """One validation of an input table: rows where `where` holds are bad."""

    view: str  # the resolved view the check reads
    where: str  # SQL condition over that view
    problem: str  # the message; {value} is the offending value
    value: str  # SQL expression shown in the message
    hint: str = ""


def empty_checks(view: str, columns: list[str]) -> list[Check]:
    """The adapter's first checks: a required field left empty."""
    return [Check(view, f"{c} = ''", f"empty {c!r}", f"{c}") for c in columns]


# ------------------------------------------------------------------------------------ tables


def tables_resolved(src: str, day: str, keep: bool = False) -> str:
    """Events of a `tables` site with their code positions, both ways `sites._Resolver` may
    resolve them: by (vocab, code) when the file's vocab column is complete (`idx_pair`),
    else by code among the codes used by one vocabulary only (`idx_code`, `ambiguous`)."""
    row = "s._row, " if keep else ""
    return (
        f"SELECT {row}s.patient_id, s.date, s.code, s.vocab, {day.format(x='s.date')} AS day, "
        "cp.idx AS idx_pair, cu.idx AS idx_code, "
        "CASE WHEN ca.code IS NULL THEN 0 ELSE 1 END AS ambiguous "
        f"FROM {src} s LEFT JOIN codes cp ON cp.vocab = upper(s.vocab) AND cp.code = s.code "
        "LEFT JOIN codes_unique cu ON cu.code = s.code "
        "LEFT JOIN codes_ambiguous ca ON ca.code = s.code"
    )


def tables_checks(view: str, by_pair: bool) -> list[Check]:
    out = [
        *empty_checks(view, list(EVENT_CHECKS_TABLES)),
        Check(view, "day IS NULL", "date is not YYYY-MM-DD", "date"),
    ]
    if not by_pair:
        out.append(
            Check(
                view,
                "ambiguous = 1",
                "code is used by several vocabularies of this site",
                "code",
                hint="add a vocab column",
            )
        )
    idx = "idx_pair" if by_pair else "idx_code"
    out.append(
        Check(
            view,
            f"{idx} IS NULL",
            "code is not in the site's codes table",
            "code",
            hint="add it to the codes table or drop the row",
        )
    )
    return out


# -------------------------------------------------------------------------------------- omop


def _vocab(expr: str) -> str:
    cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in VOCABS.items())
    return f"upper(CASE {expr} {cases} ELSE upper(replace({expr}, ' ', '_')) END)"


def omop_resolved(table: str, src: str, prefer: str, day: str, keep: bool = False) -> str:
    """One CDM table's rows as raw events (patient, day, vocab, code, name, domain, ord),
    choosing each row's code as `loaders/omop.py` does; `use` = 'none' marks a bad row."""
    prefix, date_col, domain = TABLES[table]
    cid, sid, sval = f"{prefix}_concept_id", f"{prefix}_source_concept_id", f"{prefix}_source_value"
    has_src = f"(cs.concept_id IS NOT NULL AND s.{sid} <> '0')"
    has_std = f"(cd.concept_id IS NOT NULL AND s.{cid} <> '0')"
    has_val = f"(s.{sval} <> '')"
    order = [("src", has_src), ("val", has_val), ("std", has_std)]
    if prefer == "standard":
        order = [("std", has_std), ("src", has_src), ("val", has_val)]
    use = "CASE " + " ".join(f"WHEN {c} THEN '{u}'" for u, c in order) + " ELSE 'none' END"
    ordinal = list(TABLES).index(table)
    row, s_row = ("_row, ", "s._row, ") if keep else ("", "")
    when = day.format(x=f"s.{date_col}")
    return f"""
SELECT {row}patient, {date_col}, {cid}, day, use, '{domain}' AS domain, {ordinal} AS ord,
  CASE use WHEN 'val' THEN val WHEN 'src' THEN src_code ELSE std_code END AS code,
  CASE use WHEN 'val' THEN '{LOCAL[domain]}' WHEN 'src' THEN {_vocab("src_vocab")}
           ELSE {_vocab("std_vocab")} END AS vocab,
  CASE use WHEN 'val' THEN val WHEN 'src' THEN src_name ELSE std_name END AS name
FROM (
  SELECT {s_row}s.person_id AS patient, s.{date_col}, s.{cid}, {when} AS day,
    {use} AS use, s.{sval} AS val,
    cs.concept_code AS src_code, cs.vocabulary_id AS src_vocab, cs.concept_name AS src_name,
    cd.concept_code AS std_code, cd.vocabulary_id AS std_vocab, cd.concept_name AS std_name
  FROM {src} s
  LEFT JOIN concept cs ON cs.concept_id = s.{sid}
  LEFT JOIN concept cd ON cd.concept_id = s.{cid}
) r"""


def omop_checks(table: str, view: str) -> list[Check]:
    _, date_col, _ = TABLES[table]
    cid = f"{TABLES[table][0]}_concept_id"
    return [
        Check(view, "patient = ''", "empty 'person_id'", "patient"),
        *empty_checks(view, [date_col, cid]),
        Check(view, "day IS NULL", f"{date_col} is not YYYY-MM-DD", date_col),
        Check(
            view,
            "use = 'none'",
            f"{cid} {{value!r}} is not in the concept table and the row has no source value",
            cid,
            hint="export the concepts the extract uses",
        ),
    ]


CONCEPT_DEDUP = """
SELECT concept_id, min(concept_name) AS concept_name, min(vocabulary_id) AS vocabulary_id,
       min(concept_code) AS concept_code
FROM concept_src GROUP BY concept_id"""

# the codes of raw events, as `sites.codes_from_events` makes them
CODE_FREQUENCY = "SELECT vocab, code, count(*) AS frequency FROM raw GROUP BY vocab, code"
CODE_NAMES = (
    "SELECT vocab, code, name, count(*) AS n FROM raw WHERE name <> '' GROUP BY vocab, code, name"
)
CODE_DOMAINS = "SELECT vocab, code, domain, min(ord) AS ord FROM raw GROUP BY vocab, code, domain"
RAW_EVENTS = (
    "SELECT r.patient, r.day AS d, c.idx FROM raw r "
    "JOIN codes c ON c.vocab = r.vocab AND c.code = r.code"
)

# ----------------------------------------------------------------------------------- counting

# distinct (code, patient) first: a plain grouping spills to disk, a DISTINCT aggregate may not
PATIENTS = (
    "SELECT idx, count(*) AS patients FROM (SELECT DISTINCT idx, patient FROM ev) t GROUP BY idx"
)
DATES = "SELECT min(d) AS lo, max(d) AS hi, count(*) AS n FROM ev"


def pairs_sql(window_days: int) -> str:
    """Pair counts (a < b by code position) of the deduplicated events `ev(patient, d, idx)`."""
    width = max(window_days, 1)
    return f"""
WITH b AS (SELECT patient, d, idx, CAST(floor(d / {width}) AS BIGINT) AS bk FROM ev),
x AS (SELECT b.patient, b.d, b.idx, b.bk + o.off AS bk FROM b CROSS JOIN offsets o)
SELECT x.idx AS a, y.idx AS b, count(*) AS n
FROM x JOIN b y ON y.patient = x.patient AND y.bk = x.bk
WHERE x.idx < y.idx AND abs(y.d - x.d) <= {window_days}
GROUP BY x.idx, y.idx"""
