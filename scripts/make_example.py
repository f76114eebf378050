"""Write examples/two_sites from two Synthea populations (seeds 1 and 2, 80 patients each,
reference date 2025-01-01; generated into the cache by bench/synthea_task.py when missing).

Site A is given as tables (codes.csv, events.csv) of 12 patients; site B as FHIR R4 bulk
NDJSON of 6 patients, each resource trimmed to the fields mash-kg reads (id, subject, code,
date) to keep the example small. Run: python scripts/make_example.py

Site A bills its diagnoses in ICD-10-CM, as US hospitals do, while site B keeps Synthea's
SNOMED CT: the two sites then code the same conditions in different vocabularies, and site A's
diagnoses hang in the curated ICD-10-CM tree (what Stage II trains on and `mash-kg eval`
scores). No SNOMED-to-ICD map is available here, so each SNOMED condition is given the
billable ICD-10-CM code whose description is nearest to its own in the text model: a stand-in
for a site's coder, not a clinical mapping.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from synthea_task import synthea_population  # noqa: E402

from mash_kg.loaders.fhir import CONCEPT, WHEN, _get, _resources, load_site  # noqa: E402
from mash_kg.sites import SiteData  # noqa: E402

OUT = ROOT / "examples" / "two_sites"
KEEP = ("Condition", "Observation", "MedicationRequest", "Procedure")


SEMANTIC_TAG = re.compile(
    r"\s*\((finding|disorder|situation|morphologic abnormality|"
    r"observable entity|person|event)\)$"
)


def bill_in_icd10cm(site: SiteData) -> SiteData:
    """Site A's SNOMED diagnoses recoded to their text-nearest billable ICD-10-CM code."""
    from mash_kg.loaders import icd10cm
    from mash_kg.text_embed import TextEmbedder

    tables = icd10cm.load()
    icd, parents = tables.nodes, set(tables.edges["end"])
    billable = icd[~icd["id"].isin(parents) & icd["kind"].isin(["category", "subcategory"])]
    embedder = TextEmbedder(cache_dir=Path.home() / ".cache" / "mash-kg" / "text")
    target = embedder.embed(list(billable["name"]))
    dx = site.codes[(site.codes["vocab"] == "SNOMED") & (site.codes["domain"] == "diagnosis")]
    query = embedder.embed([SEMANTIC_TAG.sub("", n) for n in dx["name"]])
    best = billable.iloc[(query @ target.T).argmax(axis=1)]
    recode = dict(zip(dx["id"], best["id"], strict=True))
    names = dict(zip(billable["id"], billable["name"], strict=True))
    codes = site.codes[~site.codes["id"].isin(recode)]
    events = site.events.assign(code=site.events["code"].replace(recode))
    used = sorted(set(recode.values()))
    freq = events[events["code"].isin(used)].groupby("code")["patient_id"].nunique()
    icd_rows = pd.DataFrame(
        {
            "id": used,
            "code": [u.split(":", 1)[1] for u in used],
            "site": site.site,
            "vocab": "ICD10CM",
            "name": [names[u] for u in used],
            "domain": "diagnosis",
            "frequency": [int(freq[u]) for u in used],
        }
    )
    codes = pd.concat([codes, icd_rows], ignore_index=True)
    return replace(site, codes=codes, events=events.drop_duplicates())


def site_a(folder: Path, n: int) -> None:
    files = sorted(folder.glob("*.json"))[:n]
    site = bill_in_icd10cm(load_site("A", files))
    out = OUT / "site_a"
    out.mkdir(parents=True, exist_ok=True)
    site.codes[["code", "vocab", "name", "domain", "frequency"]].to_csv(
        out / "codes.csv", index=False
    )
    code_of = dict(zip(site.codes["id"], site.codes["code"], strict=True))
    vocab_of = dict(zip(site.codes["id"], site.codes["vocab"], strict=True))
    ev = site.events.assign(
        vocab=site.events["code"].map(vocab_of),
        code=site.events["code"].map(code_of),
        date=site.events["date"].dt.strftime("%Y-%m-%d"),
    )
    ev[["patient_id", "date", "code", "vocab"]].to_csv(out / "events.csv", index=False)


def site_b(folder: Path, n: int) -> None:
    out = OUT / "site_b" / "fhir"
    out.mkdir(parents=True, exist_ok=True)
    streams = {t: (out / f"{t}.ndjson").open("w") for t in KEEP}
    for f in sorted(folder.glob("*.json"))[:n]:
        for _, res in _resources(f):
            t = res.get("resourceType")
            if t not in KEEP:
                continue
            slim = {"resourceType": t, "id": res["id"], "subject": res["subject"]}
            key = CONCEPT.get(t, "code")
            slim[key] = res[key]
            for k in WHEN[t]:
                if _get(res, k) is not None:
                    head = k.split(".")[0]
                    slim[head] = res[head]
                    break
            if t == "Observation" and res.get("component"):
                slim["component"] = [{"code": c["code"]} for c in res["component"]]
            streams[t].write(json.dumps(slim, separators=(",", ":")) + "\n")
    for s in streams.values():
        s.close()


if __name__ == "__main__":
    site_a(synthea_population(1, 80), 12)
    site_b(synthea_population(2, 80), 6)
    print(f"wrote {OUT}")
