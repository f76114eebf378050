"""Patient sites of the hierarchy patient task (bench/hierarchy_patients.py).

Provenance: the patients come from `clinosim` (PyPI, MIT licence), a physiology-driven
hospital simulator whose US output codes diagnoses in ICD-10-CM (its own ICD-10-CM table,
CMS/NCHS codes), labs in LOINC and drugs in RxNorm, written as FHIR R4 bulk NDJSON. No
crosswalk is involved: the diagnoses are ICD-10-CM as simulated, so each one's curated parent
is its parent in the ICD-10-CM release `mash-kg load icd10cm` loads (simple-icd-10-cm).
Each site is one clinosim population (its own seed), generated once into the cache.

Relabelling (as bench/synthea_task.py's synthea_sites does for Synthea): at every site a share
of its ICD-10-CM diagnosis codes is replaced by opaque local codes (``LOCAL_DX``, a shuffled
six-digit number, drawn per site) with a degraded name (synthea_task.name_variant:
abbreviations, reordered words, upper case). Every event of such a code carries the local code,
so the site's inputs hold no trace of the ICD-10-CM code or its parent; the parent is kept
aside as the gold (`PatientSite.gold`). The other codes (the rest of the diagnoses, every lab
and drug) keep their standard codes, so co-occurrence ties local codes to curated ones.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from mash_kg.errors import MashError
from mash_kg.settings import CacheSettings
from mash_kg.sites import SiteData

sys.path.insert(0, str(Path(__file__).parent))

from synthea_task import name_variant  # noqa: E402

CLINOSIM = "clinosim==0.6.5"  # the version the published figures were generated with
DX_VOCAB = "ICD10CM"
LOCAL_VOCAB = "LOCAL_DX"
RESOURCES = (
    "Condition",
    "Observation",
    "MedicationRequest",
    "Procedure",
)  # what loaders.fhir reads
START, END = "2024-01-01", "2025-12-31"  # fixed: clinosim's default end is today


@dataclass
class PatientSite:
    """A site as the build reads it, and the hidden truth of its relabelled codes."""

    site: SiteData
    gold: pd.DataFrame  # local_id, original_id, parent (the original code's curated parents)


def clinosim_population(
    seed: int, population: int, start: str = START, end: str = END
) -> list[Path]:
    """The FHIR R4 files (RESOURCES) of a clinosim US population, generated once into the
    cache."""
    out = CacheSettings().root / "clinosim" / f"seed-{seed}-p-{population}-{start}-{end}"
    if (out / "fhir_r4").is_dir():
        return [out / "fhir_r4" / f"{r}.ndjson" for r in RESOURCES]
    try:
        import clinosim  # noqa: F401
    except ImportError:
        raise MashError(
            f"the patient task needs clinosim (bench-only): uv pip install {CLINOSIM}"
        ) from None
    tmp = out.with_suffix(".tmp")
    args = ["-p", str(population), "-s", str(seed), "--country", "US"]
    args += ["--start", start, "--end", end, "-o", str(tmp), "--format", "fhir-r4"]
    res = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "clinosim.simulator.cli", "simulate", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if res.returncode != 0 or not (tmp / "fhir_r4").is_dir():
        raise MashError(f"clinosim failed for seed {seed}: {res.stderr.strip()[-400:]}")
    tmp.rename(out)
    return [out / "fhir_r4" / f"{r}.ndjson" for r in RESOURCES]


def parents_of(edges: pd.DataFrame) -> dict[str, list[str]]:
    """child id -> its curated (IS_A) parents."""
    isa = edges[edges["type"] == "IS_A"]
    return isa.groupby("start")["end"].agg(sorted).to_dict()


def relabel_share(
    site: SiteData, share: float, parents: dict[str, list[str]], seed: int
) -> PatientSite:
    """`share` of the site's ICD-10-CM codes that have a curated parent, replaced by opaque
    local codes with degraded names (module docstring); the others untouched."""
    rng = np.random.default_rng(seed)
    codes = site.codes.reset_index(drop=True)
    eligible = np.flatnonzero(
        (codes["vocab"] == DX_VOCAB).to_numpy() & codes["id"].isin(parents).to_numpy()
    )
    chosen = np.sort(rng.permutation(eligible)[: int(round(share * len(eligible)))])
    numbers = rng.permutation(900000)[: len(chosen)] + 100000  # opaque, no order kept
    local = [f"{n:06d}" for n in numbers]
    new_ids = [f"{site.site}/{LOCAL_VOCAB}:{c}" for c in local]
    originals = codes["id"].to_numpy()[chosen]
    to_local = dict(zip(originals, new_ids, strict=True))
    table = codes.copy()
    table.loc[chosen, "id"] = new_ids
    table.loc[chosen, "vocab"] = LOCAL_VOCAB
    table.loc[chosen, "code"] = local
    table.loc[chosen, "name"] = [name_variant(str(n), rng) for n in codes["name"].iloc[chosen]]
    for alt in ("name_coding", "name_text"):  # the FHIR reader's other names: the originals'
        if alt in table:
            table.loc[chosen, alt] = table.loc[chosen, "name"]
    events = site.events.assign(code=site.events["code"].replace(to_local))
    gold = pd.DataFrame(
        [(to_local[o], o, p) for o in originals for p in parents[o]],
        columns=["local_id", "original_id", "parent"],
    )
    out = replace(site, codes=table, events=events, crosswalk=None)
    return PatientSite(out, gold)


def write_tables(site: SiteData, folder: Path) -> dict[str, Path]:
    """The site as `format = "tables"` inputs (codes.csv, events.csv) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    codes = site.codes[["code", "vocab", "name", "domain", "frequency"]]
    codes.to_csv(folder / "codes.csv", index=False)
    code_of = dict(zip(site.codes["id"], site.codes["code"], strict=True))
    vocab_of = dict(zip(site.codes["id"], site.codes["vocab"], strict=True))
    ev = site.events
    out = pd.DataFrame(
        {
            "patient_id": ev["patient_id"],
            "date": pd.to_datetime(ev["date"]).dt.strftime("%Y-%m-%d"),
            "code": ev["code"].map(code_of),
            "vocab": ev["code"].map(vocab_of),
        }
    )
    out.to_csv(folder / "events.csv", index=False)
    return {"codes": folder / "codes.csv", "events": folder / "events.csv"}
