"""Small hand-made Stage II spaces for the Stage III tests (placement, latent groups, stage3)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mash_kg.hierarchy.stage2 import Space, curated_forest
from mash_kg.settings import HierarchySettings


def tiny_space(
    vectors: dict[str, tuple],
    edges: list[tuple[str, str]],
    codes: set[str],
    heldout: list[tuple[str, str]] = (),
    domains: dict[str, str] | None = None,
    s: HierarchySettings | None = None,
) -> Space:
    """A Space whose encoder vectors are `vectors` (unit-normalised; also the frozen text),
    curated forest of the training edges by construction, no spelling evidence. Nodes in
    `codes` are the build's codes, the others curated context; every node is curated except
    codes outside the edges."""
    s = s or HierarchySettings(dim=4)
    ids = sorted(vectors)
    row = {c: i for i, c in enumerate(ids)}
    e = pd.DataFrame(edges, columns=["child", "parent"])
    ends = set(e["child"]) | set(e["parent"])
    nodes = pd.DataFrame(
        {
            "id": ids,
            "name": [f"name of {i}" for i in ids],
            "domain": [(domains or {}).get(i, "diagnosis") for i in ids],
            "vocab": "X",
            "role": ["code" if i in codes else "context" for i in ids],
            "curated": [i not in codes or i in ends for i in ids],
        }
    )
    text = np.array([vectors[i] for i in ids], dtype=np.float64)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    h = pd.DataFrame(list(heldout), columns=["child", "parent"])
    train = e[~e["child"].isin(h["child"])].reset_index(drop=True)
    points, depth, figures = curated_forest(nodes, row, train, s, seed=0)
    roots = int((depth == 1).sum())
    return Space(nodes, points, depth, text, train, h, e, figures, base_text=text, roots=roots)
