"""A Poincaré-disk picture of one subtree of the learned space (PNG, matplotlib).

The build's points live on a 32-dimensional ball; the picture keeps each point's distance from
the origin (its depth in the hierarchy) and lays the directions out by a 2-D PCA of the unit
directions, so parents sit nearer the centre than their children as in the model. Curated
IS_A edges are grey, learned MASH_IS_A edges red; latent groups are drawn as squares.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def disk_layout(points: np.ndarray) -> np.ndarray:
    """2-D positions with the original Euclidean norms (< 1) and PCA directions."""
    norms = np.linalg.norm(points, axis=1, keepdims=True)
    dirs = points / np.maximum(norms, 1e-12)
    centred = dirs - dirs.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    flat = centred @ vt[:2].T
    flat /= np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-12)
    return flat * norms


def draw_subtree(
    nodes: pd.DataFrame, edges: pd.DataFrame, points: dict[str, np.ndarray], out: Path,
    title: str, labels: int = 12,
) -> Path:  # fmt: skip
    """Draw the nodes that have a point; label the `labels` nearest the centre."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    have = nodes[nodes["id"].isin(points)].reset_index(drop=True)
    if len(have) < 3:
        raise ValueError(f"only {len(have)} nodes of the subtree have points; nothing to draw")
    xy = disk_layout(np.stack([points[i] for i in have["id"]]))
    pos = dict(zip(have["id"], xy, strict=True))
    fig, ax = plt.subplots(figsize=(9, 9))
    ax.add_patch(plt.Circle((0, 0), 1.0, fill=False, color="black", lw=1))
    for e in edges.itertuples():
        if e.child in pos and e.parent in pos:
            a, b = pos[e.child], pos[e.parent]
            learned = e.type == "MASH_IS_A"
            ax.plot([a[0], b[0]], [a[1], b[1]], color="tab:red" if learned else "0.7",
                    lw=1.2 if learned else 0.6, zorder=1)  # fmt: skip
    latent = have["id"].str.startswith("LATENT:").to_numpy()
    ax.scatter(xy[~latent, 0], xy[~latent, 1], s=10, color="tab:blue", zorder=2, label="code")
    ax.scatter(xy[latent, 0], xy[latent, 1], s=30, marker="s", color="tab:orange", zorder=3,
               label="latent group")  # fmt: skip
    order = np.argsort(np.linalg.norm(xy, axis=1))[:labels]
    for i in order:
        ax.annotate(str(have["name"].iat[i])[:40], xy[i], fontsize=7, zorder=4)
    ax.plot([], [], color="0.7", label="IS_A (curated)")
    ax.plot([], [], color="tab:red", label="MASH_IS_A (learned)")
    ax.legend(loc="lower left", fontsize=8)
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return out


def build_points(folder: Path) -> dict[str, np.ndarray]:
    """Point on the ball of every node of a Stage II-III build, by id."""
    df = pd.read_parquet(Path(folder) / "poincare.parquet")
    return {i: np.asarray(p, dtype=np.float64) for i, p in zip(df["id"], df["point"], strict=True)}
