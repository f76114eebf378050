"""Stage III with patients (issue 21, point 1) -> task icd10cm_patient_placement of
bench/results/hierarchy.json.

Sites: clinosim populations (one seed each; ICD-10-CM diagnoses, LOINC labs, RxNorm drugs as
simulated: see bench/patient_data.py for provenance). At every site a share of the ICD-10-CM
diagnosis codes is relabelled to opaque local codes with degraded names; their curated parents
are hidden and are what the task scores. Each method is one `mash-kg build` (subprocess, the
CLI a user runs) of the same site inputs (`format = "tables"`, with events, so co-occurrence
exists) against a scratch Neo4j holding ICD-10-CM (`mash-kg load icd10cm`); only the
[hierarchy] section differs between methods. Scores come from the build's `candidates` table
(its ranked parent candidates; the rank-1 row is the MASH_IS_A edge when it clears the
threshold): hit@1, hit@10, MRR of the true parent (a true parent not among a code's
candidates is a miss).

text_nn (same run, same candidates): the frozen text model's cosine between a local code's
name and the name of every curated node of the build's context (what Stage III's candidate
set is: the ICD-10-CM nodes `graph.reader.read_context` gives for the sites' codes).
`equivalent_at_1`: share of codes whose first pick is the very code they relabel (a sibling
of the parent, not the parent); `coverage`: share whose true parent is in that context.

Methods: `default` (the build as configured by default: every source it has; the GNN is off
by default), `default_gnn` (gnn_layers = 2: the GNN added), `no_counterparts` (the default less
Stage I's counterparts), `only_<source>` (each source alone), through `[hierarchy] sources`
(mash_kg.settings.SOURCE_NAMES); a method the installed mash-kg refuses is recorded with its
error. Results are saved after every method.

Run: python bench/hierarchy_patients.py [--quick] [--methods default,only_name,...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))

from _common import RESULTS, machine, scratch_neo4j  # noqa: E402
from patient_data import (  # noqa: E402
    CLINOSIM,
    END,
    START,
    PatientSite,
    clinosim_population,
    parents_of,
    relabel_share,
    write_tables,
)

from mash_kg.loaders import get_loader  # noqa: E402
from mash_kg.loaders.fhir import load_site  # noqa: E402
from mash_kg.settings import CacheSettings  # noqa: E402
from mash_kg.text_embed import TextEmbedder  # noqa: E402

TASK = "icd10cm_patient_placement"
MASH_KG = str(Path(sys.executable).parent / "mash-kg")
ALL = ["name", "family", "spelling", "gnn", "counterparts"]
# method -> [hierarchy] keys of its build (TOML values), in the order a full run measures them
METHODS: dict[str, dict] = {
    "default": {},
    "default_gnn": {"gnn_layers": 2},
    "no_counterparts": {"sources": ["name", "family", "spelling"]},
    "only_counterparts": {"sources": ["counterparts"]},
    "only_gnn": {"sources": ["gnn"], "gnn_layers": 2},
    **{f"only_{s}": {"sources": [s]} for s in ("name", "family", "spelling")},
}
QUICK = {"seeds": [1, 2], "population": 300, "methods": ["default"]}
FULL = {"seeds": [1, 2], "population": 300, "methods": list(METHODS)}


def make_sites(seeds: list[int], population: int, share: float, seed: int) -> list[PatientSite]:
    """One clinosim population per seed as sites A, B, C...; `share` of each site's
    ICD-10-CM codes relabelled."""
    parents = parents_of(get_loader("icd10cm")().edges)
    out = []
    for k, s in enumerate(seeds):
        name = chr(ord("A") + k)
        site = load_site(name, clinosim_population(s, population))
        out.append(relabel_share(site, share, parents, seed + k))
    return out


def _toml(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value) if isinstance(value, str) else str(value)


def project_file(folder: Path, site_files: dict[str, dict], hierarchy: dict) -> Path:
    """mash-kg.toml of one method's build: the shared site inputs, its [hierarchy] keys."""
    lines = ['[project]\nname = "patients"\nbuilds = "builds"\n', "[model]"]
    lines.append(f'reference_site = "{next(iter(site_files))}"\n')
    lines.append("[hierarchy]")
    lines += [f"{k} = {_toml(v)}" for k, v in hierarchy.items()]
    for sid, files in site_files.items():
        lines.append(f'\n[[sites]]\nid = "{sid}"\nformat = "tables"')
        lines.append(f'codes = "{files["codes"]}"\nevents = "{files["events"]}"')
    folder.mkdir(parents=True, exist_ok=True)
    cfg = folder / "mash-kg.toml"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def _env(settings) -> dict:
    env = dict(os.environ)
    env.update(
        NEO4J_URI=settings.bolt_uri, NEO4J_USER=settings.user, NEO4J_PASSWORD=settings.password
    )
    return env


def run_cli(args: list[str], env: dict, log: Path) -> tuple[int, float, str]:
    """A mash-kg command; (exit code, seconds, its last output lines)."""
    start = time.perf_counter()
    with log.open("w") as fh:
        res = subprocess.run([MASH_KG, *args], env=env, stdout=fh, stderr=subprocess.STDOUT)
    tail = "\n".join(log.read_text().strip().splitlines()[-3:])
    return res.returncode, time.perf_counter() - start, tail


def context_pool(settings, sites: list[PatientSite]) -> pd.DataFrame:
    """The curated ICD-10-CM nodes of the sites' context (Stage III's candidates)."""
    from mash_kg.graph.connection import open_driver
    from mash_kg.graph.reader import read_context

    ids = sorted({c for s in sites for c in s.site.codes["id"]})
    with open_driver(settings, schema=False) as driver:
        nodes, _ = read_context(driver, ids, settings.database)
    return nodes[nodes["vocab"] == "ICD10CM"].reset_index(drop=True)


def ranks_from_build(build: Path, gold: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, dict]:
    """Per held-out code: rank of its true parent among the build's candidates (inf: not
    among them), whether its first pick is the code it relabels; the build's figures."""
    cand = pd.read_parquet(build / "candidates.parquet")
    first = cand[cand["rank"] == 1].set_index("id")["candidate"]
    truth = gold.groupby("local_id")["parent"].agg(set)
    hit = cand[[p in truth.get(i, ()) for i, p in zip(cand["id"], cand["candidate"], strict=True)]]
    best = hit.groupby("id")["rank"].min()
    codes = truth.index
    rank = np.array([float(best.get(c, np.inf)) for c in codes])
    original = gold.drop_duplicates("local_id").set_index("local_id")["original_id"]
    equiv = np.array([first.get(c) == original[c] for c in codes])
    manifest = json.loads((build / "manifest.json").read_text())
    return rank, equiv, manifest


def metrics(rank: np.ndarray, equiv: np.ndarray) -> dict:
    return {
        "hit_at_1": round(float((rank == 1).mean()), 4),
        "hit_at_10": round(float((rank <= 10).mean()), 4),
        "mrr": round(float((1.0 / rank).mean()), 4),
        "equivalent_at_1": round(float(equiv.mean()), 4),
    }


def text_nn(pool: pd.DataFrame, sites: list[PatientSite]) -> tuple[dict, float]:
    """Frozen text cosine of each local name to every pool node's name; its metrics."""
    gold = pd.concat([s.gold for s in sites], ignore_index=True)
    names = pd.concat([s.site.codes for s in sites]).set_index("id")["name"]
    codes = gold.drop_duplicates("local_id")
    start = time.perf_counter()
    emb = TextEmbedder(cache_dir=CacheSettings().text, batch_size=128)
    q = emb.embed([str(names[c]) for c in codes["local_id"]]).astype(np.float64)
    t = emb.embed([str(n) for n in pool["name"]]).astype(np.float64)
    sims = q @ t.T
    pos = {c: i for i, c in enumerate(pool["id"])}
    truth = gold.groupby("local_id")["parent"].agg(set)
    rank = np.full(len(codes), np.inf)
    for r, c in enumerate(codes["local_id"]):
        cols = [pos[p] for p in truth[c] if p in pos]
        if cols:
            rank[r] = 1 + (sims[r] > sims[r, cols].max()).sum()
    top = sims.argmax(axis=1)
    equiv = pool["id"].to_numpy()[top] == codes["original_id"].to_numpy()
    out = metrics(rank, equiv)
    out["coverage"] = round(float(np.isfinite(rank).mean()), 4)
    return out, time.perf_counter() - start


def one_method(name: str, keys: dict, work: Path, files: dict, env: dict, gold) -> dict:
    folder = work / name
    cfg = project_file(folder, files, keys)
    print(f"{TASK}: {name} ({keys or 'defaults'}) ...", flush=True)
    code, seconds, tail = run_cli(["--config", str(cfg), "build"], env, folder / "build.log")
    if code != 0:
        print(f"  failed: {tail}", flush=True)
        return {"error": tail, "config": keys, "seconds": round(seconds, 1)}
    (build,) = (folder / "builds").iterdir()
    rank, equiv, manifest = ranks_from_build(build, gold)
    out = {**metrics(rank, equiv), "seconds": round(seconds, 1), "config": keys}
    weights = build / "placement_weights.parquet"  # the fusion the build chose, if any
    if weights.is_file():
        w = pd.read_parquet(weights)
        w = w[w["domain"].isin(["diagnosis", "*"])]
        out["weights"] = {
            f: round(float(v), 4) for f, v in zip(w["feature"], w["weight"], strict=True)
        }
    out["build_seconds"] = manifest.get("seconds")
    print(f"  {out}", flush=True)
    return out


def run(quick: bool, methods: list[str], share: float, seed: int, save_each: bool) -> dict:
    size = QUICK if quick else FULL
    start = time.perf_counter()
    sites = make_sites(size["seeds"], size["population"], share, seed)
    gold = pd.concat([s.gold for s in sites], ignore_index=True)
    tasks: dict = {}
    with tempfile.TemporaryDirectory(prefix="mash-kg-patients-") as tmp, scratch_neo4j() as neo:
        work = Path(tmp)
        files = {s.site.site: write_tables(s.site, work / "sites" / s.site.site) for s in sites}
        env = _env(neo)
        code, load_s, tail = run_cli(["load", "icd10cm"], env, work / "load.log")
        if code != 0:
            sys.exit(f"mash-kg load icd10cm failed: {tail}")
        pool = context_pool(neo, sites)
        results = {}
        results["text_nn"], tn_s = text_nn(pool, sites)
        results["text_nn"]["seconds"] = round(tn_s, 1)
        for m in methods:
            results[m] = one_method(m, METHODS[m], work, files, env, gold)
            tasks[TASK] = describe(sites, size, share, pool, load_s, results, start)
            if save_each:  # a late failure keeps the methods measured so far
                print(save(tasks), flush=True)
    return tasks


def describe(sites, size, share, pool, load_s, results, start) -> dict:
    per_site = {
        s.site.site: {
            "seed": seed,
            "patients": int(s.site.events["patient_id"].nunique()),
            "events": len(s.site.events),
            "codes": len(s.site.codes),
            "icd10cm_codes": int((s.site.codes["vocab"] == "ICD10CM").sum()),
            "relabelled": int(s.gold["local_id"].nunique()),
        }
        for s, seed in zip(sites, size["seeds"], strict=True)
    }
    n = sum(v["relabelled"] for v in per_site.values())
    return {
        "n": n,
        "candidates": len(pool),
        "sites": per_site,
        "patients": sum(v["patients"] for v in per_site.values()),
        "load_seconds": round(load_s, 1),
        "total_seconds": round(time.perf_counter() - start, 1),
        "provenance": f"{CLINOSIM} (PyPI, MIT): US populations of {size['population']} "
        f"(catchment), {START}..{END}, one seed per site; diagnoses ICD-10-CM as simulated "
        "(no crosswalk), labs LOINC, drugs RxNorm; tree: ICD-10-CM from simple-icd-10-cm "
        "(`mash-kg load icd10cm`)",
        "note": f"{share:.0%} of each site's ICD-10-CM codes relabelled to opaque LOCAL_DX "
        "codes with degraded names (synthea_task.name_variant), their parents hidden; each "
        "method one `mash-kg build` of the same tables inputs; text_nn: frozen "
        "all-MiniLM-L6-v2 cosine to every curated node of the build's context",
        "measured_by": {
            "command": "python bench/hierarchy_patients.py " + " ".join(sys.argv[1:]),
            "date": date.today().isoformat(),
            "machine": machine(),
        },
        "methods": results,
    }


def save(tasks: dict) -> Path:
    """Add or replace this task in hierarchy.json, keeping every other task (atomic)."""
    path = RESULTS / "hierarchy.json"
    doc = json.loads(path.read_text()) if path.is_file() else {}
    if not doc:
        mark = next(iter(tasks.values()))["measured_by"]
        doc = {**mark, "tasks": {}}
    doc.setdefault("tasks", {}).update(tasks)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the default build and text_nn only")
    ap.add_argument("--methods", help=f"comma-separated, of: {', '.join(METHODS)}")
    ap.add_argument("--share", type=float, default=0.5, help="share of ICD codes relabelled")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-save", action="store_true", help="print, do not write results")
    args = ap.parse_args()
    methods = (
        args.methods.split(",") if args.methods else (QUICK if args.quick else FULL)["methods"]
    )
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        ap.error(f"unknown methods {unknown}; known: {', '.join(METHODS)}")
    tasks = run(args.quick, methods, args.share, args.seed, not args.no_save)
    m = tasks[TASK]["methods"]
    if "default" in m and "hit_at_1" in m["default"]:
        gap = m["default"]["hit_at_1"] - m["text_nn"]["hit_at_1"]
        print(f"default - text_nn hit@1: {gap:+.4f} (target +0.10)")
    if args.no_save:
        print(json.dumps(tasks, indent=2))
    else:
        print(save(tasks))


if __name__ == "__main__":
    main()
