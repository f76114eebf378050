"""`mash-kg eval`: a build's learned hierarchy scored against the curated edges it held out.

A build made with ``[hierarchy] holdout = h`` hid the curated parent edges of a share h of its
codes that have one; Stage III placed those codes like any code without a parent, and
``holdout.parquet`` records where each true parent ranked among the candidates (Stage II
model, and the text model alone as the reference of the same split). From it and the learned
edges (``hierarchy.parquet``):

- hit@1, hit@10, MRR, mean rank of the true parent, for the model and for text alone;
- precision / recall of the MASH_IS_A edges drawn for held-out codes (at parent_threshold);
- the share of held-out codes that got no parent and went to a latent group instead;
- for the build's Poincaré space (Stage II's figures): Nickel & Kiela reconstruction of the
  curated closure (MAP, mean rank) and the Spearman correlation of depth and norm.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from mash_kg.errors import InputError


def _ranks(ranks: pd.Series) -> dict:
    r = ranks.dropna().to_numpy(dtype=float)
    if not len(r):
        return {"hit@1": None, "hit@10": None, "mrr": None, "mean_rank": None}
    return {
        "hit@1": round(float((r <= 1).mean()), 4),
        "hit@10": round(float((r <= 10).mean()), 4),
        "mrr": round(float((1 / r).mean()), 4),
        "mean_rank": round(float(r.mean()), 2),
    }


def evaluate_build(folder: Path) -> dict:
    """Metrics of the build in `folder` (see the module docstring); also written to
    `<folder>/eval.json`."""
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise InputError(folder, "not a build folder (no manifest.json)",
                         hint="pass a folder that `mash-kg build` printed")  # fmt: skip
    manifest = json.loads(manifest_path.read_text())
    if "III" not in manifest.get("stages", []):
        raise InputError(folder, "this build has no Stage III", hint="build with [hierarchy] "
                         "enabled = true (the default)")  # fmt: skip
    holdout = pd.read_parquet(folder / "holdout.parquet")
    if holdout.empty:
        raise InputError(manifest_path, "the build held out no curated edges",
                         hint="set [hierarchy] holdout = 0.2 and build again")  # fmt: skip
    learned = pd.read_parquet(folder / "hierarchy.parquet")
    # one row per held-out code: its best-ranked true parent (a code may have several)
    best = holdout.sort_values("rank").drop_duplicates("id")
    best_text = holdout.sort_values("text_rank").drop_duplicates("id")
    truth = set(zip(holdout["id"], holdout["parent"], strict=True))
    held = set(holdout["id"])
    drawn = learned[learned["child"].isin(held)]
    to_codes = drawn[drawn["parent_label"] == "Code"]
    hits = sum((c, p) in truth for c, p in zip(to_codes["child"], to_codes["parent"],
                                                strict=True))  # fmt: skip
    latent_only = held - set(to_codes["child"])
    metrics = {
        "build": manifest["id"],
        "heldout_codes": len(held),
        "candidates_per_code": float(np.mean(holdout["candidates"])),
        "model": _ranks(best["rank"]),
        "text_only": _ranks(best_text["text_rank"]),
        "edges": {
            "drawn": int(len(to_codes)),
            "precision": round(hits / len(to_codes), 4) if len(to_codes) else None,
            "recall": round(hits / len(truth), 4),
            "threshold": manifest.get("hierarchy", {}).get("parent_threshold"),
        },
        "to_latent_or_none": round(len(latent_only) / len(held), 4),
        "space": {k: (manifest.get("stage2") or {}).get(k) for k in (
            "reconstruction_map", "reconstruction_mean_rank", "reconstruction_nodes",
            "depth_norm_spearman")},
    }  # fmt: skip
    (folder / "eval.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
