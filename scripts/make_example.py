"""Write examples/two_sites from two Synthea populations (seeds 1 and 2, 80 patients each,
reference date 2025-01-01; generated into the cache by bench/synthea_task.py when missing).

Site A is given as tables (codes.csv, events.csv) of 12 patients; site B as FHIR R4 bulk
NDJSON of 6 patients, each resource trimmed to the fields mash-kg reads (id, subject, code,
date) to keep the example small. Run: python scripts/make_example.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from synthea_task import synthea_population  # noqa: E402

from mash_kg.loaders.fhir import CONCEPT, WHEN, _get, _resources, load_site  # noqa: E402

OUT = ROOT / "examples" / "two_sites"
KEEP = ("Condition", "Observation", "MedicationRequest", "Procedure")


def site_a(folder: Path, n: int) -> None:
    files = sorted(folder.glob("*.json"))[:n]
    site = load_site("A", files)
    out = OUT / "site_a"
    out.mkdir(parents=True, exist_ok=True)
    site.codes[["code", "vocab", "name", "domain", "frequency"]].to_csv(
        out / "codes.csv", index=False
    )
    code_of = dict(zip(site.codes["id"], site.codes["code"], strict=True))
    vocab_of = dict(zip(site.codes["id"], site.codes["vocab"], strict=True))
    ev = site.events.assign(
        vocab=site.events["code"].map(vocab_of), code=site.events["code"].map(code_of),
        date=site.events["date"].dt.strftime("%Y-%m-%d"),
    )  # fmt: skip
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
