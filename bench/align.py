"""Alignment quality (issue 3, task a and b) -> bench/results/align.json.

icd10cm_who: ICD-10-CM and WHO ICD-10 as two sites. The WHO site's codes are replaced by
opaque ids (its own tree kept), 20% of the 8,686 shared subcategory codes are anchors, the
other 80% are evaluated: each WHO code's counterpart is searched among the shared ICD-10-CM
codes (reference protocol) and, harder, among all ICD-10-CM codes
(task icd10cm_who_all_candidates). `*_differing`: pairs whose descriptions differ.

synthea_sites: Synthea populations with different seeds as sites; one site's codes relabelled
to opaque local codes with name variants; see synthea_task.py.

few_anchors, cross_vocabulary, atc_languages (issue 15): see few_anchors.py; the default
method `fused` is compared with text_nn of the same run in every task and anchor share.

fhir_end_to_end (issue 20): `mash-kg build` with default settings on two FHIR export folders
as a generator writes them (metadata files included), one site coding diagnoses and labs in
its own vocabularies; see fhir_export.py.

Run: python bench/align.py [--quick] [--task NAME ...] [--atc .../atc_only-utf8.csv]
[--patients N]
(with --task, the other tasks of bench/results/align.json are kept as they were)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from _common import RESULTS, write_results  # noqa: E402

from mash_kg.align import METHODS, align_sites, counterparts, csls_topk  # noqa: E402
from mash_kg.features import parent_index, tree_context  # noqa: E402
from mash_kg.fusion import View, fuse  # noqa: E402
from mash_kg.loaders import get_loader  # noqa: E402
from mash_kg.settings import CacheSettings  # noqa: E402
from mash_kg.text_embed import TextEmbedder  # noqa: E402


def _scores(top: np.ndarray, gold: np.ndarray, differing: np.ndarray, suffix: str = "") -> dict:
    hit1, hit5 = top[:, 0] == gold, (top[:, :5] == gold[:, None]).any(axis=1)
    return {
        f"p_at_1{suffix}": round(float(hit1.mean()), 4),
        f"p_at_5{suffix}": round(float(hit5.mean()), 4),
        f"p_at_1_differing{suffix}": round(float(hit1[differing].mean()), 4),
        f"p_at_5_differing{suffix}": round(float(hit5[differing].mean()), 4),
    }


def icd10cm_who(quick: bool, seed: int = 0) -> dict:
    cm, who = get_loader("icd10cm")(), get_loader("icd10who")()
    cmn, whn = cm.nodes.reset_index(drop=True), who.nodes.reset_index(drop=True)
    if quick:  # chapters A-E only
        cmn = cmn[cmn["code"].str[0].isin(list("ABCDE"))].reset_index(drop=True)
        whn = whn[whn["code"].str[0].isin(list("ABCDE"))].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    # the WHO site as a site would bring it: opaque local ids, its own tree over them
    opaque = {c: f"WHO_SITE/LOCAL:{i:05d}" for i, c in enumerate(rng.permutation(whn["id"]))}
    w_ids = [opaque[c] for c in whn["id"]]
    w_par = parent_index(
        w_ids,
        [opaque.get(c, "") for c in who.edges["start"]],
        [opaque.get(c, "") for c in who.edges["end"]],
    )
    c_par = parent_index(list(cmn["id"]), list(cm.edges["start"]), list(cm.edges["end"]))
    embedder = TextEmbedder(cache_dir=CacheSettings().text, batch_size=128)
    t0 = time.perf_counter()
    tc, tw = embedder.embed(list(cmn["name"])), embedder.embed(list(whn["name"]))
    embed_seconds = time.perf_counter() - t0
    fc, fw = tree_context(tc, c_par), tree_context(tw, w_par)

    # gold pairs: WHO subcategories whose code ICD-10-CM also has (hidden from the methods)
    c_row = {c: i for i, c in enumerate(cmn["code"])}
    shared = [
        (i, c_row[c])
        for i, (c, k) in enumerate(zip(whn["code"], whn["kind"], strict=True))
        if k == "subcategory" and c in c_row
    ]
    src = np.array([s for s, _ in shared])
    cand = np.array([t for _, t in shared])  # reference protocol: the shared CM codes
    differing = np.array([whn["name"][s] != cmn["name"][t] for s, t in shared])
    order = rng.permutation(len(shared))
    n_anchor = len(shared) // 5
    anchors_pos, eval_pos = order[:n_anchor], order[n_anchor:]
    anchors = np.stack([anchors_pos, anchors_pos], axis=1)  # rows of src / cand
    gold_ref = eval_pos  # position in cand
    gold_all = cand[eval_pos]  # row in all CM codes
    diff_eval = differing[eval_pos]

    ref: dict = {}
    hard: dict = {}
    t = time.perf_counter()
    sims = tw[src[eval_pos]] @ tc[cand].T
    top = np.argsort(-sims, axis=1)[:, :5]
    ref["text_nn"] = {**_scores(top, gold_ref, diff_eval), "seconds": 0.0}
    ref["text_nn"]["seconds"] = round(time.perf_counter() - t, 2)
    hard["text_nn"] = _nn_all(tw[src[eval_pos]], tc, gold_all, diff_eval)
    for method in METHODS:
        print(f"icd10cm_who: {method} ...", flush=True)
        al = align_sites(fw[src], fc[cand], anchors, method=method, seed=seed)
        idx, _, _ = counterparts(al, fc[cand], k=5)
        ref[method] = {
            **_scores(idx[eval_pos], gold_ref, diff_eval),
            "seconds": round(al.seconds, 2),
        }
        idx_all, _ = csls_topk(al.mapped[eval_pos], fc, k=5)
        hard[method] = {**_scores(idx_all, gold_all, diff_eval), "seconds": round(al.seconds, 2)}
        print(f"  {ref[method]}", flush=True)
    # the build's default: text and the transport map weighted on held-out anchors
    print("icd10cm_who: fused ...", flush=True)
    views = {"text": View(tw[src], tc[cand]), "transport": View(fw[src], fc[cand], "sinkhorn")}
    f = fuse(views, anchors, k=5)
    ref["fused"] = {
        **_scores(f.idx[eval_pos], gold_ref, diff_eval),
        "seconds": round(f.seconds, 2),
        "weights": f.weights,
        "notes": f.notes,
    }
    views = {"text": View(tw[src], tc), "transport": View(fw[src], fc, "sinkhorn")}
    f = fuse(views, np.stack([anchors_pos, cand[anchors_pos]], axis=1), k=5)
    hard["fused"] = {
        **_scores(f.idx[eval_pos], gold_all, diff_eval),
        "seconds": round(f.seconds, 2),
        "weights": f.weights,
        "notes": f.notes,
    }
    print(f"  {ref['fused']}\n  {hard['fused']}", flush=True)
    common = {
        "features": "text: all-MiniLM-L6-v2 (bundled); structure: the text of each code's "
        "parent, grandparent, great-grandparent in its own site's tree (weights 1, 1, 0.5, "
        "0.25); text_nn uses the code's own text only, plain cosine",
        "anchors": int(n_anchor),
        "shared": len(shared),
        "differing": int(diff_eval.sum()),
        "embed_seconds": round(embed_seconds, 1),
    }
    return {
        "icd10cm_who": {
            "n": int(len(eval_pos)),
            "candidates": int(len(cand)),
            **common,
            "methods": ref,
        },
        "icd10cm_who_all_candidates": {
            "n": int(len(eval_pos)),
            "candidates": int(len(cmn)),
            **common,
            "methods": hard,
        },
    }


def _nn_all(q: np.ndarray, t: np.ndarray, gold: np.ndarray, differing: np.ndarray) -> dict:
    start = time.perf_counter()
    top = np.zeros((len(q), 5), dtype=np.int64)
    for i in range(0, len(q), 2048):
        s = q[i : i + 2048] @ t.T
        part = np.argpartition(-s, 4, axis=1)[:, :5]
        order = np.argsort(-np.take_along_axis(s, part, axis=1), axis=1)
        top[i : i + 2048] = np.take_along_axis(part, order, axis=1)
    return {**_scores(top, gold, differing), "seconds": round(time.perf_counter() - start, 2)}


def never_worse(tasks: dict) -> str:
    """One line per task with a `fused` method: its p@1 against text_nn's of the same run."""
    lines = []
    for name, t in tasks.items():
        m = t.get("methods", {})
        if "fused" in m and "text_nn" in m:
            ok = m["fused"]["p_at_1"] >= m["text_nn"]["p_at_1"]
            lines.append(
                f"{'ok   ' if ok else 'WORSE'} {name}: fused {m['fused']['p_at_1']} "
                f"text_nn {m['text_nn']['p_at_1']}"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="chapters A-E / small populations")
    ap.add_argument(
        "--task",
        action="append",
        choices=[
            "icd10cm_who",
            "synthea_sites",
            "few_anchors",
            "cross_vocabulary",
            "atc_languages",
            "fhir_end_to_end",
        ],
    )
    ap.add_argument("--atc", type=Path, help="GNUmed's atc_only-utf8.csv (task atc_languages)")
    ap.add_argument(
        "--patients",
        type=int,
        help="Synthea patients per site of task fhir_end_to_end (default 50, --quick 20)",
    )
    args = ap.parse_args()
    tasks_wanted = args.task or [
        "icd10cm_who",
        "synthea_sites",
        "few_anchors",
        "cross_vocabulary",
        "atc_languages",
        "fhir_end_to_end",
    ]
    previous = RESULTS / "align.json"
    tasks = json.loads(previous.read_text())["tasks"] if previous.exists() and args.task else {}
    if "icd10cm_who" in tasks_wanted:
        tasks.update(icd10cm_who(args.quick))
    if "synthea_sites" in tasks_wanted:
        from synthea_task import synthea_sites

        tasks.update(synthea_sites(args.quick))
    if "fhir_end_to_end" in tasks_wanted:
        from fhir_export import fhir_end_to_end

        tasks.update(fhir_end_to_end(n_patients=args.patients or (20 if args.quick else 50)))
    import few_anchors as fa

    chapters = fa.QUICK_CHAPTERS if args.quick else fa.ALL_CHAPTERS
    if "atc_languages" in tasks_wanted and args.atc is None:
        ap.error("task atc_languages needs --atc .../atc_only-utf8.csv (see README)")
    if "cross_vocabulary" in tasks_wanted:
        tasks.update(fa.cross_vocabulary(chapters))
    if "atc_languages" in tasks_wanted:
        tasks.update(fa.atc_languages(args.atc))
    if "few_anchors" in tasks_wanted:
        tasks.update(
            {
                f"few_anchors_icd10cm_who_{k}": v
                for k, v in fa.few_anchors_icd10cm_who(chapters).items()
            }
        )
        tasks.update({f"few_anchors_synthea_{k}": v for k, v in fa.few_anchors_synthea().items()})
    print(never_worse(tasks))
    print(write_results("align", tasks))


if __name__ == "__main__":
    main()
