"""A Poincaré-disk picture of one subtree of the merged hierarchy (PNG, matplotlib).

The picture is a two-dimensional hyperbolic embedding of the subtree itself, not two
coordinates of the build's 32-dimensional ball: every node sits at the hyperbolic radius of
its depth below the root (`tree_embedding.node_radius`, as in the build's space), inside an
angular wedge of its parent's wedge proportional to the leaves below it, so the tree reads
from the centre outwards (chapter, blocks, categories, codes). Curated IS_A edges are grey,
learned MASH_IS_A edges red; latent groups are drawn as squares.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mash_kg.hierarchy.tree_embedding import node_radius
from mash_kg.poincare import radius_to_norm
from mash_kg.settings import TreeSettings

DISK = TreeSettings(root_radius=0.0, step=1.6)  # the root at the centre, a level per 1.6


def disk_tree_layout(ids: list[str], child: list[str], parent: list[str], root: str) -> np.ndarray:
    """2-D points in the unit disk for `ids` under `root` (edges child -> parent; a node with
    several parents is drawn under the first); ids not below root go to the rim at angle 0."""
    kids: dict[str, list[str]] = {}
    first: dict[str, str] = {}
    for c, p in zip(child, parent, strict=True):
        if c not in first and c != p:
            first[c] = p
            kids.setdefault(p, []).append(c)
    leaves: dict[str, int] = {}

    def count(v: str, trail: frozenset) -> int:
        if v not in leaves:
            ks = [k for k in kids.get(v, ()) if k not in trail]
            leaves[v] = max(1, sum(count(k, trail | {k}) for k in ks))
        return leaves[v]

    count(root, frozenset({root}))
    pos: dict[str, tuple[float, int]] = {}  # angle, depth
    todo = [(root, 0.0, 2 * np.pi, 1)]
    while todo:
        v, lo, hi, depth = todo.pop()
        if v in pos:
            continue
        pos[v] = ((lo + hi) / 2, depth)
        ks = sorted((k for k in kids.get(v, ()) if k not in pos), key=str)
        total = sum(leaves.get(k, 1) for k in ks) or 1
        at = lo
        for k in ks:
            width = (hi - lo) * leaves.get(k, 1) / total
            todo.append((k, at, at + width, depth + 1))
            at += width
    out = np.zeros((len(ids), 2))
    for i, v in enumerate(ids):
        angle, depth = pos.get(v, (0.0, 0))
        r = radius_to_norm(node_radius(depth, DISK)) if depth else 0.98
        out[i] = r * np.cos(angle), r * np.sin(angle)
    return out


def draw_subtree(
    nodes: pd.DataFrame,
    edges: pd.DataFrame,
    root: str,
    out: Path,
    title: str,
    labels: int = 12,
) -> Path:
    """Draw the subtree of `root` (nodes: id, name; edges: child, parent, type) into the PNG
    `out`; label the `labels` nodes nearest the centre."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    have = nodes.drop_duplicates("id").reset_index(drop=True)
    if len(have) < 3:
        raise ValueError(f"the subtree of {root} has only {len(have)} nodes; nothing to draw")
    order = edges.assign(learned=edges["type"] == "MASH_IS_A").sort_values(
        ["learned", "child", "parent"], kind="stable"
    )  # curated parents drawn first
    xy = disk_tree_layout(list(have["id"]), list(order["child"]), list(order["parent"]), root)
    fig, ax = plt.subplots(figsize=(9, 9))
    ax.add_patch(plt.Circle((0, 0), 1.0, fill=False, color="black", lw=1))
    _draw_edges(ax, edges, dict(zip(have["id"], xy, strict=True)))
    _draw_nodes(ax, have, xy, labels)
    _finish(ax, title)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return out


def _draw_edges(ax, edges: pd.DataFrame, pos: dict[str, np.ndarray]) -> None:
    """Curated IS_A edges thin and grey, learned MASH_IS_A edges red."""
    for e in edges.itertuples():
        if e.child in pos and e.parent in pos:
            a, b = pos[e.child], pos[e.parent]
            learned = e.type == "MASH_IS_A"
            ax.plot(
                [a[0], b[0]],
                [a[1], b[1]],
                color="tab:red" if learned else "0.7",
                lw=1.2 if learned else 0.6,
                zorder=1,
            )


def _draw_nodes(ax, have: pd.DataFrame, xy: np.ndarray, labels: int) -> None:
    """Codes as dots, latent groups as squares; the `labels` nodes nearest the centre named."""
    latent = have["id"].str.startswith("LATENT:").to_numpy()
    ax.scatter(xy[~latent, 0], xy[~latent, 1], s=10, color="tab:blue", zorder=2, label="code")
    ax.scatter(
        xy[latent, 0],
        xy[latent, 1],
        s=30,
        marker="s",
        color="tab:orange",
        zorder=3,
        label="latent group",
    )
    for i in np.argsort(np.linalg.norm(xy, axis=1))[:labels]:
        ax.annotate(str(have["name"].iat[i])[:40], xy[i], fontsize=7, zorder=4)


def _finish(ax, title: str) -> None:
    """Legend, the unit disk's frame, no axes."""
    ax.plot([], [], color="0.7", label="IS_A (curated)")
    ax.plot([], [], color="tab:red", label="MASH_IS_A (learned)")
    ax.legend(loc="lower left", fontsize=8)
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=10)
