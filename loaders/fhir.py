"""FHIR R4 extracts -> a site's codes, events and crosswalk (Stage I input).

Reads bulk-data NDJSON (one resource per line, e.g. ``Condition.ndjson``) and Bundle JSON
(one bundle per patient, as Synthea writes them), from files or folders. Kept resources:
Condition (diagnosis), Observation and its components (lab), MedicationRequest (medication),
Procedure (procedure). Each coded concept becomes one event ``(patient_id, date, code,
vocab)``.

Every coding of a concept is read. Coding systems map to vocabularies through `SYSTEMS` and
the site's own `systems` (``[[sites]] systems`` in mash-kg.toml); an unmapped system is local
to the site (``LOCAL_LAB`` etc., reported). The site's own code is the first coding in the
preference order: the vocabularies of ``code_preference`` in their order, then site-local
vocabularies, then standard ones, each in coding order. The concept's other codings become
crosswalk rows (own code -> other code: anchors when the other site has that code), and their
displays and the concept's ``text`` become alternative names (``name_coding``, ``name_text``:
the build embeds the names the text model reads best).

A folder is read as exported: its ``.ndjson`` and ``.json`` files with FHIR resources; other
files (a generator's metadata JSON without ``resourceType``, README, ...) are skipped and
named in one line. A bulk-data ``$export`` manifest (JSON with an ``output`` list) says which
NDJSON files hold which resource types: only those are read, and only of the kept types.
``files`` (``[[sites]] files``) lists glob patterns under the folder to read instead, in any
file name (each must hold FHIR resources). A resource in several files (one per document, as
some generators write them) is read once, by type and id.

A bad resource (a line that is not a JSON object, a coding that is not an object or has no
code, no patient or date) is reported with file and line and skipped; when more than
``max_bad_rows`` of the resources are bad, loading stops with one line naming the first.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

import pandas as pd

from mash_kg.errors import InputError
from mash_kg.inputs import InvalidJson, load_json
from mash_kg.sites import STANDARD_VOCABS, SiteData, code_id, site_from_events

log = logging.getLogger(__name__)

SYSTEMS = {
    "http://snomed.info/sct": "SNOMED",
    "http://loinc.org": "LOINC",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RXNORM",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD10CM",
    "http://hl7.org/fhir/sid/icd-10": "ICD10",
    "http://hl7.org/fhir/sid/icd-9-cm": "ICD9CM",
    "http://www.ama-assn.org/go/cpt": "CPT4",
    "http://hl7.org/fhir/sid/cvx": "CVX",
    "http://hl7.org/fhir/sid/ndc": "NDC",
    "http://www.whocc.no/atc": "ATC",
}
DOMAIN = {
    "Condition": "diagnosis",
    "Observation": "lab",
    "MedicationRequest": "medication",
    "Procedure": "procedure",
}
# vocabulary of a coding whose system nobody mapped (as the OMOP adapter names local codes)
LOCAL = {
    "diagnosis": "LOCAL_DX",
    "lab": "LOCAL_LAB",
    "medication": "LOCAL_RX",
    "procedure": "LOCAL_PX",
}
# where each resource keeps its concept and its clinically relevant time, in order of preference
CONCEPT = {"MedicationRequest": "medicationCodeableConcept"}
WHEN = {
    "Condition": ("onsetDateTime", "onsetPeriod.start", "recordedDate"),
    "Observation": ("effectiveDateTime", "effectivePeriod.start", "effectiveInstant", "issued"),
    "MedicationRequest": ("authoredOn",),
    "Procedure": ("performedDateTime", "performedPeriod.start"),
}
EVENT_COLUMNS = [
    "patient_id",
    "date",
    "code",
    "vocab",
    "domain",
    "name",
    "name_coding",
    "name_text",
]
CROSSWALK_COLUMNS = ["vocab", "code", "other_vocab", "other_code"]


class BadResource(Exception):
    """One resource that cannot be read; skipped and reported (up to max_bad_rows)."""


class NotFhir(Exception):
    """A found file that holds no FHIR resources (metadata, a manifest): skipped and named."""


NDJSON_SUFFIXES = (".ndjson", ".jsonl")
MANIFEST_MAX_BYTES = 1 << 20  # a bulk-data manifest lists files; larger JSON is data


@dataclass
class Source:
    """A file to read: its path, whether it was named explicitly (then it must hold FHIR),
    and the resource types a bulk-data manifest says it holds (None: not said)."""

    path: Path
    explicit: bool = False
    types: frozenset[str] | None = None


@dataclass
class FhirRead:
    """What a FHIR extract gave: raw events, the codings' crosswalk, and what was skipped."""

    events: pd.DataFrame  # EVENT_COLUMNS
    crosswalk: pd.DataFrame  # CROSSWALK_COLUMNS (own code -> another coding of the concept)
    resources: int = 0  # resources of the kept types, plus lines that were not resources
    bad: list[str] = field(default_factory=list)  # "file: line N: problem", in order
    unknown_systems: dict[str, int] = field(default_factory=dict)  # system -> codings
    skipped: list[str] = field(default_factory=list)  # "file (why)": found, not FHIR data
    duplicates: int = 0  # resources read again in another file (same type and id), ignored


def _get(resource: dict, dotted: str) -> object:
    value: object = resource
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _lines(path: Path) -> Iterator[tuple[str, object]]:
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    yield f"line {n}", json.loads(line)
                except json.JSONDecodeError as exc:
                    yield f"line {n}", BadResource(f"not valid JSON ({exc.msg})")


def _resources(source: Source) -> Iterator[tuple[str, object]]:
    """(where, resource) for every resource in an NDJSON or JSON file; where = 'line N' etc.
    An NDJSON line that is not JSON comes back as a BadResource to count and skip; a found
    (not explicit) JSON file without resourceType raises NotFhir."""
    path = source.path
    try:
        if path.suffix.lower() in NDJSON_SUFFIXES:
            yield from _lines(path)
            return
        try:
            doc = load_json(path, "FHIR file", limit=4 * 2**30)  # bounded: file type, nesting
        except InvalidJson as exc:
            if source.explicit and exc.reason == "Extra data":  # several documents: NDJSON
                yield from _lines(path)
                return
            raise
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON ({exc.msg}, line {exc.lineno})") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc.reason})") from None
    if not isinstance(doc, dict) or "resourceType" not in doc:
        if not source.explicit:
            raise NotFhir("JSON without resourceType")
        raise InputError(path, "not a FHIR resource or Bundle (no resourceType)")
    if doc["resourceType"] == "Bundle":
        entries = doc.get("entry") or []
        for n, entry in enumerate(entries if isinstance(entries, list) else [], start=1):
            res = entry.get("resource") if isinstance(entry, dict) else None
            yield (
                f"entry {n}",
                res
                if isinstance(res, dict)
                else BadResource("Bundle entry without a resource object"),
            )
    else:
        yield "resource", doc


def bulk_manifest(path: Path) -> dict | None:
    """The bulk-data `$export` manifest `path` holds (a JSON object with an `output` list
    and no resourceType), else None."""
    if path.suffix.lower() != ".json" or path.stat().st_size > MANIFEST_MAX_BYTES:
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if isinstance(doc, dict) and "resourceType" not in doc and isinstance(doc.get("output"), list):
        return doc
    return None


def _manifest_sources(folder: Path, manifest_path: Path, manifest: dict) -> dict[Path, Source]:
    """The files a bulk-data manifest's `output` names (by the file name of each url, in the
    manifest's folder), with their types; a named file that is missing is an error."""
    out: dict[Path, Source] = {}
    for n, entry in enumerate(manifest["output"], start=1):
        url = entry.get("url") if isinstance(entry, dict) else None
        rtype = entry.get("type") if isinstance(entry, dict) else None
        if not isinstance(url, str) or not isinstance(rtype, str):
            raise InputError(manifest_path, f"output {n} has no url and type strings")
        name = PurePosixPath(urlparse(url).path).name
        f = manifest_path.parent / name
        if not f.is_file():
            raise InputError(
                manifest_path,
                f"output {n} ({rtype}) names {name}, which is not in {manifest_path.parent}",
                hint="copy the exported files beside their manifest",
            )
        src = out.setdefault(f, Source(f, types=frozenset()))
        src.types = (src.types or frozenset()) | {rtype}
    return out


def _folder_sources(folder: Path) -> tuple[list[Source], list[str]]:
    """The files of an export folder to read, and the others named with why they are not."""
    found = sorted(f for f in folder.rglob("*") if f.is_file())
    manifests = {f: m for f in found if (m := bulk_manifest(f)) is not None}
    listed: dict[Path, Source] = {}
    for f, m in manifests.items():
        listed.update(_manifest_sources(folder, f, m))
    sources, skipped = [], []
    for f in found:
        rel = f.relative_to(folder)
        if f in manifests:
            continue  # understood, not data
        if manifests and f not in listed and f.parent in {m.parent for m in manifests}:
            skipped.append(f"{rel} (not in the export manifest)")
        elif f in listed:
            sources.append(listed[f])
        elif f.suffix.lower() in (".ndjson", ".json"):
            sources.append(Source(f))
        else:
            skipped.append(f"{rel} (not .ndjson or .json)")
    return sources, skipped


def _files(paths: list[Path], patterns: list[str] | None = None) -> tuple[list[Source], list[str]]:
    """The files to read and the found files skipped ("name (why)"); `patterns`: globs under
    each folder naming the files to read instead (each must hold FHIR resources)."""
    out: list[Source] = []
    skipped: list[str] = []
    for p in map(Path, paths):
        if p.is_dir() and patterns:
            hits = sorted({f for pat in patterns for f in p.glob(pat) if f.is_file()})
            if not hits:
                raise InputError(
                    p,
                    f"files = {patterns!r} match no file in this folder",
                    hint="[[sites]] files are glob patterns relative to path, e.g. "
                    '["**/*.ndjson.txt"]',
                )
            out += [Source(f, explicit=True) for f in hits]
        elif p.is_dir():
            found, skip = _folder_sources(p)
            out += found
            skipped += skip
        elif p.is_file():
            out.append(Source(p, explicit=True))
        else:
            raise InputError(p, "file or folder not found")
    if not out:
        raise InputError(", ".join(map(str, paths)), "no .ndjson or .json files found")
    return out, skipped


def _patient(resource: dict) -> str | None:
    ref = _get(resource, "subject.reference") or _get(resource, "patient.reference")
    if not isinstance(ref, str) or not ref:
        return None
    return ref.removeprefix("urn:uuid:").split("/")[-1]


def _concepts(resource: dict, rtype: str) -> list[dict]:
    concepts = [resource.get(CONCEPT.get(rtype, "code"))]
    if rtype == "Observation":  # panels carry their measured parts as components
        comps = resource.get("component") or []
        concepts += [
            c.get("code") if isinstance(c, dict) else c
            for c in (comps if isinstance(comps, list) else [comps])
        ]
    out = []
    for c in concepts:
        if c is None:
            continue
        if not isinstance(c, dict):
            raise BadResource(f"{rtype} concept is a {type(c).__name__}, not an object")
        out.append(c)
    return out


class _Codings:
    """Turns a concept's codings into (own coding, others), mapping systems to vocabularies."""

    def __init__(self, systems: dict[str, str], preference: list[str]) -> None:
        self.systems = {**SYSTEMS, **systems}
        self.rank = {v.upper(): i for i, v in enumerate(preference)}
        self.unknown: dict[str, int] = {}

    def read(self, concept: dict, rtype: str) -> list[tuple[str, str, str]]:
        """(vocab, code, display) of every coding, the site's own code first."""
        codings = concept.get("coding")
        if codings is None:
            return []
        if not isinstance(codings, list):
            raise BadResource(f"{rtype} coding is a {type(codings).__name__}, not a list")
        out = []
        for n, c in enumerate(codings, start=1):
            if not isinstance(c, dict):
                raise BadResource(f"{rtype} coding {n} is a {type(c).__name__}, not an object")
            code, system = c.get("code"), c.get("system", "")
            if isinstance(code, int | float) and not isinstance(code, bool):
                code = str(code)
            if not isinstance(code, str) or not code.strip():
                raise BadResource(f"{rtype} coding {n} has no code")
            if not isinstance(system, str):
                raise BadResource(f"{rtype} coding {n} has a system that is not a string")
            vocab = self.systems.get(system)
            if vocab is None:
                vocab = LOCAL[DOMAIN[rtype]]
                key = system or "(no system)"
                self.unknown[key] = self.unknown.get(key, 0) + 1
            display = c.get("display")
            out.append((vocab.upper(), code.strip(), display if isinstance(display, str) else ""))
        return sorted(out, key=self._order)  # stable: coding order within a rank

    def _order(self, coding: tuple[str, str, str]) -> tuple[int, int]:
        vocab = coding[0]
        if vocab in self.rank:
            return (0, self.rank[vocab])
        return (1, 0) if vocab not in STANDARD_VOCABS else (2, 0)


def read_extract(
    paths: list[Path],
    systems: dict[str, str] | None = None,
    code_preference: list[str] | None = None,
    files: list[str] | None = None,
) -> FhirRead:
    """Raw events, crosswalk, bad resources and skipped files of FHIR files (nothing is
    stopped here but a file that cannot be read at all)."""
    codings = _Codings(systems or {}, code_preference or [])
    rows: list[tuple] = []
    cross: set[tuple[str, str, str, str]] = set()
    read = FhirRead(pd.DataFrame(), pd.DataFrame())
    sources, read.skipped = _files(paths, files)
    seen: set[tuple[str, str]] = set()  # resources of the files read before this one
    for source in sources:
        if source.types is not None and not source.types & set(DOMAIN):
            continue  # the manifest says: Patient, Encounter, ... only
        here: set[tuple[str, str]] = set()
        try:
            for where, res in _resources(source):
                if isinstance(res, dict) and res.get("resourceType") not in DOMAIN:
                    continue  # Patient, Encounter, ...: not coded facts of Stage I
                if isinstance(res, dict) and isinstance(res.get("id"), str):
                    key = (str(res["resourceType"]), res["id"])
                    if key in seen:  # the same resource in another document of the export
                        read.duplicates += 1
                        continue
                    here.add(key)
                read.resources += 1
                try:
                    if not isinstance(res, dict):
                        kind = "JSON array" if isinstance(res, list) else type(res).__name__
                        raise (
                            res
                            if isinstance(res, BadResource)
                            else BadResource(f"a {kind}, not a FHIR resource object")
                        )
                    rows += _events(res, codings, cross)
                except BadResource as exc:
                    read.bad.append(f"{source.path}: {where}: {exc}")
        except NotFhir as exc:
            read.skipped.append(f"{_shown(source.path, paths)} ({exc})")
        seen |= here
    read.events = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    read.crosswalk = pd.DataFrame(sorted(cross), columns=CROSSWALK_COLUMNS)
    read.unknown_systems = codings.unknown
    return read


def _shown(path: Path, roots: list[Path]) -> str:
    """`path` relative to the folder it was found in."""
    for r in map(Path, roots):
        if r.is_dir() and path.is_relative_to(r):
            return str(path.relative_to(r))
    return str(path)


def skipped_line(skipped: list[str], shown: int = 6) -> str:
    """One line naming the files of a folder that were not read."""
    more = f", and {len(skipped) - shown} more" if len(skipped) > shown else ""
    return (
        f"skipped {len(skipped)} file(s) that hold no FHIR data to read: "
        f"{', '.join(skipped[:shown])}{more} (list files in [[sites]] files to read others)"
    )


def _events(res: dict, codings: _Codings, cross: set) -> list[tuple]:
    rtype = str(res["resourceType"])
    coded = [(c, codings.read(c, rtype)) for c in _concepts(res, rtype)]
    coded = [(c, cs) for c, cs in coded if cs]
    if not coded:
        return []
    patient = _patient(res)
    when = next((v for k in WHEN[rtype] if isinstance(v := _get(res, k), str)), None)
    if not patient or not when:
        missing = "subject.reference" if not patient else " or ".join(WHEN[rtype])
        raise BadResource(f"{rtype} {res.get('id', '')} has no {missing}")
    if not re.match(r"\d{4}-\d{2}-\d{2}", when):
        raise BadResource(
            f"{rtype} {res.get('id', '')} date {when!r} is not ISO 8601 (YYYY-MM-DD...)"
        )
    out = []
    for concept, cs in coded:
        (vocab, code, name), others = cs[0], cs[1:]
        alt = next((d for _, _, d in others if d), "")
        text = concept.get("text") if isinstance(concept.get("text"), str) else ""
        out.append((patient, when[:10], code, vocab, DOMAIN[rtype], name, alt, text))
        cross.update((vocab, code, v, c) for v, c, _ in others if (v, c) != (vocab, code))
    return out


def read_events(
    paths: list[Path], systems: dict[str, str] | None = None, files: list[str] | None = None
) -> pd.DataFrame:
    """Raw events: patient_id, date, code, vocab, domain, name (+ name_coding, name_text);
    bad resources are skipped (see `load_site` for the checked version)."""
    return read_extract(paths, systems, files=files).events


def _most_frequent(raw: pd.DataFrame, column: str) -> pd.DataFrame:
    named = raw[raw[column] != ""]
    return (
        named.groupby(["vocab", "code", column])
        .size()
        .rename("n")
        .reset_index()
        .sort_values(["vocab", "code", "n", column], ascending=[True, True, False, True])
        .drop_duplicates(["vocab", "code"])[["vocab", "code", column]]
    )


def load_site(
    site: str,
    paths: list[Path],
    systems: dict[str, str] | None = None,
    code_preference: list[str] | None = None,
    max_bad_rows: float = 0.01,
    files: list[str] | None = None,
) -> SiteData:
    """A site from FHIR extracts: codes (named by their displays, counted), events, and the
    crosswalk of its concepts' other codings; stops when bad resources exceed max_bad_rows.
    `files`: glob patterns of the files to read under a folder (default: as exported)."""
    where = ", ".join(map(str, paths))
    read = read_extract(paths, systems, code_preference, files)
    if read.bad:
        share = len(read.bad) / max(read.resources, 1)
        if share > max_bad_rows:
            raise InputError(
                read.bad[0],
                f"{len(read.bad)} of {read.resources} resources unreadable "
                f"({share:.1%}, more than max_bad_rows = {max_bad_rows:g})",
                hint="fix the file, or raise [[sites]] max_bad_rows to skip them",
            )
        for line in read.bad:
            log.warning("%s (skipped)", line)
    notes = (
        [
            f"{len(read.bad)} of {read.resources} resources skipped (bad coding or fields), "
            f"first: {read.bad[0]}"
        ]
        if read.bad
        else []
    )
    if read.skipped:
        notes.append(skipped_line(read.skipped))
        log.warning("site %s: %s", site, notes[-1])
    if read.duplicates:
        notes.append(f"{read.duplicates} resources read again in another file (same id): once")
    for system, n in sorted(read.unknown_systems.items()):
        notes.append(
            f"coding system {system} ({n} codings) is not mapped: read as a local "
            "vocabulary (map it in [[sites]] systems)"
        )
    raw = read.events
    if raw.empty:
        raise InputError(
            where, "no Condition, Observation, MedicationRequest or Procedure with a code found"
        )
    data = site_from_events(site, raw.drop(columns=["name_coding", "name_text"]), Path(where))
    codes = data.codes
    for column in ("name_coding", "name_text"):
        codes = codes.merge(_most_frequent(raw, column), on=["vocab", "code"], how="left")
        codes[column] = codes[column].fillna("").astype(str)
    data.codes = codes
    cw = read.crosswalk
    data.crosswalk = pd.DataFrame(
        {
            "id": [code_id(site, v, c) for v, c in zip(cw["vocab"], cw["code"], strict=True)],
            "other_id": [
                code_id(site, v, c)
                for v, c in zip(cw["other_vocab"], cw["other_code"], strict=True)
            ],
            "source": "fhir_coding",
        }
    ).drop_duplicates(ignore_index=True)
    data.notes = notes
    return data
