"""FHIR R4 extracts -> a site's codes and events (Stage I input).

Reads bulk-data NDJSON (one resource per line, e.g. ``Condition.ndjson``) and Bundle JSON
(one bundle per patient, as Synthea writes them), from files or folders. Kept resources:
Condition (diagnosis), Observation and its components (lab), MedicationRequest (medication),
Procedure (procedure). Each coded resource becomes one event ``(patient_id, date, code,
vocab)``; the first coding of a concept is the site's code, its ``display`` the name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from mash_kg.errors import InputError
from mash_kg.sites import SiteData, site_from_events

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
}
DOMAIN = {
    "Condition": "diagnosis",
    "Observation": "lab",
    "MedicationRequest": "medication",
    "Procedure": "procedure",
}
# where each resource keeps its concept and its clinically relevant time, in order of preference
CONCEPT = {"MedicationRequest": "medicationCodeableConcept"}
WHEN = {
    "Condition": ("onsetDateTime", "onsetPeriod.start", "recordedDate"),
    "Observation": ("effectiveDateTime", "effectivePeriod.start", "effectiveInstant", "issued"),
    "MedicationRequest": ("authoredOn",),
    "Procedure": ("performedDateTime", "performedPeriod.start"),
}


def _get(resource: dict, dotted: str) -> object:
    value: object = resource
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _resources(path: Path) -> Iterator[tuple[str, dict]]:
    """(where, resource) for every resource in an NDJSON or JSON file; where = 'line N' etc."""
    try:
        if path.suffix.lower() == ".ndjson":
            with path.open(encoding="utf-8") as fh:
                for n, line in enumerate(fh, start=1):
                    if line.strip():
                        yield f"line {n}", json.loads(line)
            return
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON ({exc.msg}, line {exc.lineno})") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc.reason})") from None
    if not isinstance(doc, dict) or "resourceType" not in doc:
        raise InputError(path, "not a FHIR resource or Bundle (no resourceType)")
    if doc["resourceType"] == "Bundle":
        for n, entry in enumerate(doc.get("entry") or [], start=1):
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                yield f"entry {n}", entry["resource"]
    else:
        yield "resource", doc


def _files(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix.lower() in (".ndjson", ".json"))
        elif p.is_file():
            out.append(p)
        else:
            raise InputError(p, "file or folder not found")
    if not out:
        raise InputError(", ".join(map(str, paths)), "no .ndjson or .json files found")
    return out


def _patient(resource: dict) -> str | None:
    ref = _get(resource, "subject.reference") or _get(resource, "patient.reference")
    if not isinstance(ref, str) or not ref:
        return None
    return ref.removeprefix("urn:uuid:").split("/")[-1]


def _codings(resource: dict, rtype: str) -> list[dict]:
    concepts = [resource.get(CONCEPT.get(rtype, "code")) or {}]
    if rtype == "Observation":  # panels carry their measured parts as components
        concepts += [c.get("code") or {} for c in resource.get("component") or []]
    return [(c.get("coding") or [{}])[0] for c in concepts if c.get("coding")]


def read_events(paths: list[Path], systems: dict[str, str] | None = None) -> pd.DataFrame:
    """Raw events: patient_id, date, code, vocab, domain, name (the coding's display)."""
    systems = {**SYSTEMS, **(systems or {})}
    rows: list[tuple[str, str, str, str, str, str]] = []
    for path in _files(paths):
        for where, res in _resources(path):
            rtype = res.get("resourceType")
            if rtype not in DOMAIN:
                continue
            codings = _codings(res, rtype)
            if not codings:
                continue
            patient = _patient(res)
            when = next((v for k in WHEN[rtype] if isinstance(v := _get(res, k), str)), None)
            if not patient or not when:
                missing = "subject.reference" if not patient else " or ".join(WHEN[rtype])
                raise InputError(
                    path, f"{where}: {rtype} {res.get('id', '')} has no {missing}",
                    hint="every coded resource needs a patient and a date",
                )  # fmt: skip
            if not re.match(r"\d{4}-\d{2}-\d{2}", when):
                raise InputError(
                    path,
                    f"{where}: {rtype} {res.get('id', '')} date {when!r} "
                    "is not ISO 8601 (YYYY-MM-DD...)",
                )
            for coding in codings:
                code = coding.get("code")
                if not code:
                    raise InputError(path, f"{where}: {rtype} coding without a code")
                vocab = systems.get(coding.get("system", ""), "LOCAL")
                name = coding.get("display") or ""
                rows.append((patient, when[:10], str(code), vocab, DOMAIN[rtype], name))
    return pd.DataFrame(rows, columns=["patient_id", "date", "code", "vocab", "domain", "name"])


def load_site(site: str, paths: list[Path], systems: dict[str, str] | None = None) -> SiteData:
    """A site from FHIR extracts: codes (named by their displays, counted) and events."""
    raw = read_events(paths, systems)
    if raw.empty:
        raise InputError(
            ", ".join(map(str, paths)),
            "no Condition, Observation, MedicationRequest or Procedure with a code found",
        )
    return site_from_events(site, raw, Path(", ".join(map(str, paths))))
