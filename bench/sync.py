"""Speed of `mash-kg sync` on an ICD-10-CM-sized build -> bench/results/sync.json.

Task icd10cm_build. A throwaway bundled Neo4j gets the curated ICD-10-CM release (98,505 codes).
The build synced into it is made here from real material with mash-kg's own pieces, at the size
a full ICD-10-CM + WHO ICD-10 project has (it measures sync throughput, not model quality):
- site CM: every ICD-10-CM code; site WHO: every WHO ICD-10 code as a local code
  (``WHO/ICD10:...``, created by the sync), so ~111k codes get ``sites`` and a 128-dim
  ``embedding`` (the text model's vectors through one PCA, as Stage I's text half);
- ALIGNED_WITH: each WHO code's top-5 ICD-10-CM codes by text cosine (62k edges);
- MASH_IS_A: each WHO code's parents among ICD-10-CM codes that have children, scored by
  Stage III's rule (placement.score_candidates against the candidates' own names) - up to 3 per
  code at threshold 0.3,
  and each code's ``poincare`` point (the first 32 PCA dimensions, scaled into the ball).
The builds are sealed as `mash-kg build` seals them (content digests and the table index; that
time is reported as seal_seconds, a cost of the build). Timed: the full sync onto the bare
curated graph; a second sync of the same build (no-op); a build in which 1% of the learned
edges changed (scores of 1% of MASH_IS_A and of 1% of ALIGNED_WITH edges, a new build id);
the no-op and the 1% syncs three times each from the same state (median); the full sync
once. Every sync writes a new version (graph/versions.py); then rollback (the 1% build's version
made active again and the full one after it, three times each, median) and one prune to the
newest version. Floors (issue 25): the 1% sync at most 5% of the full one, the no-op sync under
1 s, rollback under 5 s and 5% of the full sync.

With --before REV the benchmark of git revision REV then runs on that code (a worktree of it,
same machine, same run) and its figures are recorded beside as method `before_versions` (the
unversioned sync: d86ad05 is main before the versions).

Run: python bench/sync.py [--keep DIR] [--before REV]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parent))

from _common import before, scratch_neo4j, write_results  # noqa: E402

from mash_kg.artefact import TABLES, BuildWriter, empty_table  # noqa: E402
from mash_kg.build import _vectors_column as _vectors  # noqa: E402
from mash_kg.content import content_table, derive  # noqa: E402
from mash_kg.graph.connection import open_driver  # noqa: E402
from mash_kg.graph.sync import sync_build  # noqa: E402
from mash_kg.graph.versions import prune, rollback  # noqa: E402
from mash_kg.graph.writer import write_tables  # noqa: E402
from mash_kg.hierarchy.placement import score_candidates  # noqa: E402
from mash_kg.loaders import get_loader  # noqa: E402
from mash_kg.settings import CacheSettings  # noqa: E402
from mash_kg.text_embed import TextEmbedder  # noqa: E402


def make_build(folder: Path) -> dict:
    cm = get_loader("icd10cm")()
    who = get_loader("icd10who")()
    cm_nodes, who_nodes = cm.nodes.reset_index(drop=True), who.nodes.reset_index(drop=True)
    embedder = TextEmbedder(cache_dir=CacheSettings().text, batch_size=128)
    t_cm = embedder.embed(list(cm_nodes["name"])).astype(np.float64)
    t_who = embedder.embed(list(who_nodes["name"])).astype(np.float64)
    allv = np.concatenate([t_cm, t_who])
    mean = allv.mean(axis=0)
    basis = np.linalg.svd(allv[::5] - mean, full_matrices=False)[2][:128].T
    pca = (allv - mean) @ basis
    pca /= np.linalg.norm(pca, axis=1, keepdims=True)
    who_ids = ("WHO/ICD10:" + who_nodes["code"].astype(str)).tolist()
    codes = pd.concat(
        [
            pd.DataFrame(
                {
                    "id": cm_nodes["id"],
                    "site": "CM",
                    "vocab": "ICD10CM",
                    "code": cm_nodes["code"],
                    "name": cm_nodes["name"],
                    "domain": "diagnosis",
                    "frequency": 1,
                }
            ),
            pd.DataFrame(
                {
                    "id": who_ids,
                    "site": "WHO",
                    "vocab": "ICD10",
                    "code": who_nodes["code"],
                    "name": who_nodes["name"],
                    "domain": "diagnosis",
                    "frequency": 1,
                }
            ),
        ],
        ignore_index=True,
    )
    # counterparts: WHO -> CM top-5 by text cosine
    rows, parents = [], []
    internal = np.flatnonzero(cm_nodes["id"].isin(set(cm.edges["end"])).to_numpy())
    for i in range(0, len(t_who), 2048):
        sim = t_who[i : i + 2048] @ t_cm.T
        top = np.argsort(-sim, axis=1)[:, :5]
        for k in range(len(top)):
            for r, j in enumerate(top[k], start=1):
                rows.append((who_ids[i + k], cm_nodes["id"].iat[j], r, float(sim[k, j])))
        scores, _ = score_candidates(t_who[i : i + 2048], t_cm[internal], 0.05)
        order = np.argsort(-scores, axis=1)[:, :3]
        for k in range(len(order)):
            for r, j in enumerate(order[k], start=1):
                if scores[k, j] >= 0.3:
                    parents.append(
                        (
                            who_ids[i + k],
                            cm_nodes["id"].iat[internal[j]],
                            float(scores[k, j]),
                            r,
                            "Code",
                        )
                    )
    counterparts = pd.DataFrame(rows, columns=["id", "other_id", "rank", "score"]).assign(
        site="WHO", other_site="CM", transport=np.nan, method="text_nn"
    )
    hierarchy = pd.DataFrame(parents, columns=["child", "parent", "score", "rank", "parent_label"])
    pts = pca[:, :32] / np.linalg.norm(pca[:, :32], axis=1, keepdims=True) * 0.8
    manifest = {
        "id": folder.name,
        "created_at": "bench",
        "config_hash": "bench",
        "version": "bench",
        "reference_site": "CM",
        "sites": {},
        "stages": ["I", "II", "III"],
    }
    t = time.perf_counter()
    with BuildWriter(folder.parent) as out:  # sealed as `mash-kg build` seals: digests + index
        out.write("codes", codes)
        out.write("cooccurrence", empty_table("cooccurrence"))
        out.write("counterparts", counterparts)
        vec = _vectors(pca)
        out.write(
            "embeddings",
            pa.table(
                {
                    "id": codes["id"],
                    "site": codes["site"],
                    **dict.fromkeys(["text", "cooc", "context", "vector", "aligned"], vec),
                    "in_graph": pa.array(np.ones(len(codes), dtype=bool)),
                }
            ),
        )
        out.write("hierarchy", hierarchy)
        out.write("latent", empty_table("latent"))
        out.write("candidates", empty_table("candidates"))
        out.write("holdout", empty_table("holdout"))
        out.write(
            "poincare",
            pa.table(
                {
                    "id": codes["id"],
                    "role": pa.array(["code"] * len(codes)),
                    "point": _vectors(pts),
                    "norm": pa.array(np.linalg.norm(pts, axis=1)),
                    "depth": pa.array(np.ones(len(codes), dtype=np.int64)),
                }
            ),
        )
        out.write("content", content_table(out.reading()))
        out.seal(manifest)
    return {
        "codes": len(codes),
        "aligned_with": len(counterparts),
        "mash_is_a": len(hierarchy),
        "seal_seconds": round(time.perf_counter() - t, 2),
    }


def changed_copy(src: Path, dest: Path, share: float, seed: int = 0) -> int:
    """`src` with the scores of `share` of its MASH_IS_A and ALIGNED_WITH edges changed."""
    rng = np.random.default_rng(seed)
    changed = []

    def edit(folder: Path) -> None:
        for name in ("hierarchy", "counterparts"):
            path = folder / TABLES[name].file(name)
            df = pd.read_parquet(path)
            pick = rng.choice(len(df), max(1, int(share * len(df))), replace=False)
            df.loc[pick, "score"] = df.loc[pick, "score"] * 0.9
            df.to_parquet(path, index=False)
            changed.append(len(pick))

    derive(src, dest, dest.name, edit)  # sealed like a build
    return sum(changed)


def main() -> None:
    import argparse
    import shutil
    import tempfile

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="make the builds here once and reuse them")
    ap.add_argument(
        "--before",
        metavar="REV",
        help="also run this benchmark as it was at git revision REV on that code, after this "
        "one, recorded as method before_versions (the code before a change, same run)",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mash-kg-sync-bench-") as scratch:
        tmp = args.keep or Path(scratch)
        t0 = time.perf_counter()
        if (tmp / "full" / "manifest.json").is_file():  # a sealed build (artefact.BuildWriter)
            sizes = json.loads((tmp / "sizes.json").read_text())
        else:
            shutil.rmtree(tmp / "full", ignore_errors=True)
            sizes = make_build(tmp / "full")
            (tmp / "sizes.json").write_text(json.dumps(sizes))
        print(f"build ready in {time.perf_counter() - t0:.0f} s: {sizes}", flush=True)
        shutil.rmtree(tmp / "changed", ignore_errors=True)
        changed = changed_copy(tmp / "full", tmp / "changed", 0.01)
        with scratch_neo4j(heap="4g", pagecache="2g") as settings:
            with open_driver(settings) as driver:
                write_tables(driver, get_loader("icd10cm")())
                full = sync_build(driver, tmp / "full")
                print(f"full sync: {full.seconds:.1f} s, {full.changes} changes", flush=True)
                noops, ones = [], []
                for _ in range(3):
                    noops.append(sync_build(driver, tmp / "full"))
                    ones.append(sync_build(driver, tmp / "changed"))
                    sync_build(driver, tmp / "full")  # back to the full build's state
                noop = sorted(noops, key=lambda r: r.seconds)[1]
                one = sorted(ones, key=lambda r: r.seconds)[1]
                print(
                    f"no-op sync: {[round(r.seconds, 2) for r in noops]} s, {noop.changes} changes",
                    flush=True,
                )
                print(
                    f"1% sync: {[round(r.seconds, 2) for r in ones]} s, {one.changes} changes",
                    flush=True,
                )
                # the full build is active, the 1% build the version before it: roll back to
                # it and forward again, three times each (median of the six)
                backs = []
                for _ in range(3):
                    for to in ("changed", "full"):
                        t = time.perf_counter()
                        rollback(driver, to)
                        backs.append(time.perf_counter() - t)
                back = sorted(backs)[len(backs) // 2]
                print(f"rollback: {[round(s, 3) for s in backs]} s", flush=True)
                t = time.perf_counter()
                pruned = prune(driver, keep=1)
                prune_seconds = time.perf_counter() - t
                print(f"prune --keep 1: {prune_seconds:.1f} s, {pruned}", flush=True)
    ratio = one.seconds / full.seconds
    result = {
        "icd10cm_build": {
            "n": sizes["codes"],
            **sizes,
            "note": "build made from ICD-10-CM + WHO ICD-10 names by the text model (see the "
            "docstring); one transaction per sync; seconds include reading the graph "
            "state and computing the difference",
            "methods": {
                "sync": {
                    "full_seconds": round(full.seconds, 2),
                    "full_changes": full.changes,
                    "noop_seconds": round(noop.seconds, 2),
                    "noop_changes": noop.changes,
                    "one_percent_seconds": round(one.seconds, 2),
                    "one_percent_changes": one.changes,
                    "one_percent_edges_changed": changed,
                    "one_percent_over_full": round(ratio, 4),
                    "floor_met": bool(ratio <= 0.05 and noop.seconds < 1),
                    "rollback_seconds": round(back, 3),
                    "rollback_over_full": round(back / full.seconds, 5),
                    "prune_seconds": round(prune_seconds, 2),
                    "prune_rows": pruned["rows"],
                    "runs": {
                        "full": 1,
                        "noop": 3,
                        "one_percent": 3,
                        "rollback": 6,
                        "prune": 1,
                        "statistic": "median",
                    },
                }
            },
        }
    }
    if args.before:
        keep = ["--keep", str(args.keep / "before")] if args.keep else []
        earlier = before(args.before, "sync.py", "icd10cm_build", "sync", *keep)
        earlier.pop("floor_met", None)  # that script's own floor, not this one's
        result["icd10cm_build"]["methods"]["before_versions"] = earlier
    print(write_results("sync", result))


if __name__ == "__main__":
    main()
