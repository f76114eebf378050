"""`mash-kg eval`: a build's learned hierarchy scored against the curated edges it held out.

A build made with ``[hierarchy] holdout = h`` hid the curated parent edges of a share h of its
codes that have one; Stage III placed those codes like any code without a parent, and
``holdout.parquet`` records where each true parent ranked among the candidates (Stage II
model, and the text model alone as the reference of the same split). From it and the learned
edges (``hierarchy.parquet``):

- hit@1, hit@10, MRR of the true parent over every held-out code (a code whose true parent
  was not among its candidates is a miss: rank infinite), for the model and for text alone;
  mean rank among the codes whose true parent was a candidate;
- coverage: the share of held-out codes whose true parent was a candidate at all;
- precision / recall of the MASH_IS_A edges drawn for held-out codes (at parent_threshold);
- the share of held-out codes that got no parent and went to a latent group instead;
- for the build's Poincaré space (Stage II's figures): Nickel & Kiela reconstruction of the
  curated closure (MAP, mean rank) and the Spearman correlation of depth and norm.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mash_kg.errors import InputError


def _ranks(ranks: pd.Series) -> dict:
    """Over every held-out code: a missing rank (true parent not a candidate) is a miss."""
    r = pd.to_numeric(ranks, errors="coerce").to_numpy(dtype=float)
    if not len(r):
        return {"hit@1": None, "hit@10": None, "mrr": None, "mean_rank": None}
    covered = r[np.isfinite(r)]
    inv = np.where(np.isfinite(r), 1 / np.where(np.isfinite(r), r, 1), 0.0)
    return {
        "hit@1": round(float((np.nan_to_num(r, nan=np.inf) <= 1).mean()), 4),
        "hit@10": round(float((np.nan_to_num(r, nan=np.inf) <= 10).mean()), 4),
        "mrr": round(float(inv.mean()), 4),
        "mean_rank": round(float(covered.mean()), 2) if len(covered) else None,
    }


def _nothing_held_out(path: Path, manifest: dict) -> InputError:
    """Why a build has no held-out code, from its settings and Stage III's figures."""
    share = (manifest.get("hierarchy") or {}).get("holdout") or 0
    s3 = manifest.get("stage3") or {}
    parented = s3.get("codes_with_curated_parent")
    if not share:
        return InputError(
            path,
            "nothing to score: the build held out no curated edges ([hierarchy] holdout = 0)",
            hint="set [hierarchy] holdout = 0.2 and build again",
        )
    if parented == 0:
        return InputError(
            path,
            f"nothing to score: none of the build's codes has a curated "
            f"parent in the graph, so holdout = {share} had nothing to hide (its "
            "sites' codes do not meet a loaded hierarchy; see the build's "
            "warnings)",
            hint="load the ontology the sites code in, or map "
            "a site's vocabulary in [[sites]] vocabularies; build again",
        )
    return InputError(
        path,
        f"nothing to score: holdout = {share} of the {parented} codes with "
        "a curated parent rounds to none",
        hint="raise [hierarchy] holdout or build with more codes",
    )


def evaluate_build(folder: Path) -> dict:
    """Metrics of the build in `folder` (see the module docstring); also written to
    `<folder>/eval.json`."""
    from mash_kg.artefact import Build

    build = Build.open(folder)
    manifest = build.manifest
    if not build.has_hierarchy:
        raise InputError(
            build.path,
            "this build has no Stage III",
            hint="build with [hierarchy] enabled = true (the default)",
        )
    holdout = build.frame("holdout")
    if holdout.empty:
        raise _nothing_held_out(build.path / "manifest.json", manifest)
    learned = build.frame("hierarchy")
    # one row per held-out code: its best-ranked true parent (a code may have several)
    best = holdout.sort_values("rank", na_position="last").drop_duplicates("id")
    best_text = holdout.sort_values("text_rank", na_position="last").drop_duplicates("id")
    covered = int(best["rank"].notna().sum())
    truth = set(zip(holdout["id"], holdout["parent"], strict=True))
    held = set(holdout["id"])
    drawn = learned[learned["child"].isin(held)]
    to_codes = drawn[drawn["parent_label"] == "Code"]
    hits = sum((c, p) in truth for c, p in zip(to_codes["child"], to_codes["parent"], strict=True))
    latent_only = held - set(to_codes["child"])
    metrics = {
        "build": manifest["id"],
        "heldout_codes": len(held),
        "candidates_per_code": float(np.mean(holdout["candidates"])),
        # share of held-out codes whose true parent was a candidate: hit@k can't exceed it
        "coverage": round(covered / len(held), 4),
        "not_a_candidate": len(held) - covered,
        "model": _ranks(best["rank"]),
        "text_only": _ranks(best_text["text_rank"]),
        "edges": {
            "drawn": int(len(to_codes)),
            "precision": round(hits / len(to_codes), 4) if len(to_codes) else None,
            "recall": round(hits / len(truth), 4),
            "threshold": manifest.get("hierarchy", {}).get("parent_threshold"),
        },
        "to_latent_or_none": round(len(latent_only) / len(held), 4),
        "space": {
            k: (manifest.get("stage2") or {}).get(k)
            for k in (
                "reconstruction_map",
                "reconstruction_mean_rank",
                "reconstruction_nodes",
                "depth_norm_spearman",
            )
        },
    }
    metrics["placement"] = placement_summary(manifest)
    build.write_report("eval", metrics)
    return metrics


def placement_summary(manifest: dict) -> dict:
    """Which evidence sources carried weight in the build's Stage III, per domain, and
    whether its re-ranker was kept (from the manifest)."""
    p = manifest.get("placement") or {}
    return {
        "sources_with_weight": p.get("sources_with_weight"),
        "weights": p.get("weights"),
        "rerank": (p.get("rerank") or {}).get("kept"),
    }


def placement_line(summary: dict) -> str | None:
    """One line: the sources that carried weight (and the leaf rule) per domain."""
    weights = summary.get("weights")
    if not weights:
        return None
    parts = []
    for d, w in sorted(weights.items()):
        terms = ", ".join(f"{k} {v:g}" for k, v in w.items())
        parts.append(f"{'all domains' if d == '*' else d}: {terms}")
    rr = summary.get("rerank")
    return "evidence weights " + "; ".join(parts) + f"; re-ranker: {rr or 'none kept'}"
